"""Sentences stating how the run was made: the R mode, the change split, the 示意 stamp.

Reads settings and the change-split JSON; computes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.report.tables import fmt

__all__ = ["ILLUSTRATIVE_STAMP", "run_statements"]

ILLUSTRATIVE_STAMP = "示意 / illustrative"


def run_statements(
    *,
    lang: str,
    rainfall: Mapping,
    illustrative: Sequence[str] = (),
    change_split: Mapping | None = None,
) -> str:
    """The statements appended to the bulletin and report, in ``lang`` ("zh" or "en").

    Examples
    --------
    >>> print(run_statements(lang="en", rainfall={"mode": "reference_mean",
    ...       "reference_period": [2010, 2019]}))
    R mode: reference_mean — the mean annual R of 2010–2019, the same every year, so the change between years is the land's (the rain part is 0 by construction).
    """
    zh = lang == "zh"
    mode = rainfall.get("mode", "reference_mean")
    period = rainfall.get("reference_period")
    ptxt = (
        f"{period[0]}–{period[1]}"
        if period
        else ("记录中全部完整年份" if zh else "all complete years of the record")
    )
    method = rainfall.get("method", "zhang_wenbo")
    out = []
    stations = rainfall.get("stations")
    if method in ("raster", "constant"):
        src = (rainfall.get("r_raster") or {}).get("path") if method == "raster" else None
        what = f"{src}" if src else f"{rainfall.get('r_constant')}"
        out.append(
            f"降雨侵蚀力：采用给定{'栅格' if src else '常数'}（{what}），各年相同，年际变化即下垫面变化（降雨部分为 0）。"
            if zh
            else f"R: the given {'map' if src else 'constant'} ({what}), the same every year, so "
            "the change between years is the land's (the rain part is 0)."
        )
    elif method != "zhang_wenbo":
        out.append(
            f"降雨侵蚀力模式：{method}（评估年降雨）。"
            if zh
            else f"R: {method}, from the assessment year's rain."
        )
    elif mode == "reference_mean":
        out.append(
            f"降雨侵蚀力模式：reference_mean，取 {ptxt} 多年平均降雨侵蚀力，各年相同，年际变化即下垫面变化（降雨部分按定义为 0）。"
            if zh
            else f"R mode: reference_mean — the mean annual R of {ptxt}, the same every year, so "
            "the change between years is the land's (the rain part is 0 by construction)."
        )
    else:
        out.append(
            f"降雨侵蚀力模式：year，采用评估年降雨（α、β 取自 {ptxt}）。"
            if zh
            else f"R mode: year — the assessment year's own rain (α/β from {ptxt})."
        )
    if stations and method not in ("raster", "constant"):
        out.append(
            f"降雨侵蚀力由 {stations.get('path')} 所列各站分别计算，以薄板样条径向基函数插值到分析网格。"
            if zh
            else f"R computed per rain gauge of {stations.get('path')} and interpolated onto the "
            "grid by a thin-plate-spline RBF."
        )
    if change_split:
        c = change_split["erosion_change_ha"]
        y0, y1 = change_split.get("year0", ""), change_split.get("year1", "")
        out.append(
            f"{y0}—{y1} 年水土流失面积变化 {fmt(c['total'])} 公顷，其中降雨因素 {fmt(c['rain'])} 公顷、"
            f"下垫面（土地利用、植被、措施）因素 {fmt(c['land'])} 公顷（以 {y0} 年降雨侵蚀力重算 {y1} 年）。"
            if zh
            else f"Change of the erosion area {y0}–{y1}: {fmt(c['total'])} ha, of which rain "
            f"{fmt(c['rain'])} ha and land (land use, cover, measures) {fmt(c['land'])} ha "
            f"({y1} recomputed with {y0}'s R)."
        )
    if illustrative:
        keys = ", ".join(illustrative)
        out.append(
            f"【{ILLUSTRATIVE_STAMP}】本次计算使用了无出处的示意参数表（{keys}），结果仅作演示，不可作为监测成果。"
            if zh
            else f"[{ILLUSTRATIVE_STAMP}] This run uses illustrative tables without a cited source "
            f"({keys}); the figures are a demonstration, not monitoring results."
        )
    return "".join(out) if zh else " ".join(out)
