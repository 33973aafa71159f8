"""Treatment report pieces (#15): bulletin paragraph (zh/en), 重点乡镇 table, chart, map.

Reads the treatment stage's outputs (progress.json, evaluation.json, parcels_top.csv,
zones_township.csv) and formats them; computes nothing scientific. A sentence is
written only when all its figures exist (no placeholder is ever printed).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from pipeline.io import atomic_path, write_text
from pipeline.report.fonts import agg_figure, figure_style, resolve_lang

__all__ = ["bulletin_paragraph", "key_townships", "plot_parcels", "plot_progress"]


def _ok(*vals) -> bool:
    return all(v is not None and not (isinstance(v, float) and math.isnan(v)) for v in vals)


def _f(v, d=2) -> str:
    return f"{v:,.{d}f}"


def _w(v) -> str:
    """万亩 figure: 4 decimals below 1 万亩 (= 1 亩 resolution ≈ 0.0001), else 2."""
    return f"{v:,.4f}" if abs(v) < 1 else f"{v:,.2f}"


def _prog(progress: Mapping, metric: str) -> Mapping | None:
    for r in progress.get("progress", []):
        if r["zone_id"] == "district" and r["metric"] == metric:
            return r
    return None


def _achieved(progress: Mapping, metric: str) -> float | None:
    for r in progress.get("achieved", []):
        if r["zone_id"] == "district" and r["metric"] == metric:
            return float(r["area_ha"])
    return None


def key_townships(zones: pd.DataFrame, progress: Mapping | None, *, top: int = 3) -> pd.DataFrame:
    """Townships ranked by erosion area, 中度及以上 share and remaining target (mean rank).

    ``zones``: the statistics stage's ``zones_township.csv``. Columns out: ``rank,
    zone_id, zone_name, erosion_area_ha, moderate_plus_share_pct, remaining_ha``
    (``remaining_ha`` NaN without a township target), ``key`` (True for the first ``top``).
    """
    z = zones.copy()
    mod = z[["moderate_area_ha", "intense_area_ha", "very_intense_area_ha", "severe_area_ha"]]
    z["moderate_plus_share_pct"] = (
        mod.sum(axis=1) / z["erosion_area_ha"].where(z["erosion_area_ha"] > 0) * 100
    )
    remaining = {}
    for r in (progress or {}).get("progress", []):
        if r["metric"] == "treatment" and r["zone_id"] != "district":
            remaining[str(r["zone_id"])] = float(r["remaining_ha"])
    z["remaining_ha"] = [remaining.get(str(i), float("nan")) for i in z["zone_id"]]
    ranks = [
        z["erosion_area_ha"].rank(ascending=False),
        z["moderate_plus_share_pct"].rank(ascending=False),
    ]
    if z["remaining_ha"].notna().any():
        ranks.append(z["remaining_ha"].rank(ascending=False, na_option="bottom"))
    z["score"] = sum(ranks) / len(ranks)
    z = z.sort_values(["score", "erosion_area_ha"], ascending=[True, False], kind="stable")
    z.insert(0, "rank", range(1, len(z) + 1))
    z["key"] = z["rank"] <= top
    cols = ["rank", "zone_id", "zone_name", "erosion_area_ha", "moderate_plus_share_pct",
            "remaining_ha", "score", "key"]  # fmt: skip
    return z[cols].reset_index(drop=True)


def bulletin_paragraph(
    progress: Mapping,
    evaluation: Mapping | None,
    key: pd.DataFrame | None,
    *,
    lang: str = "zh",
    area_name: str = "全区",
) -> str:
    """The treatment paragraph of the bulletin, figures only."""
    zh = lang == "zh"
    y, base, end = progress["year"], progress["baseline_year"], progress["period_end"]
    parts = []
    t = _prog(progress, "treatment")
    r = _prog(progress, "restoration")
    at, ar = _achieved(progress, "treatment"), _achieved(progress, "restoration")

    def wanmu(ha):
        return ha * 3 / 2000  # unit conversion only: 1 万亩 = 2000/3 ha

    if y <= base:  # the baseline year itself: no cumulative figure yet
        s = (f"{y}年为基准年（{base + 1}—{end}年规划期）。" if zh
             else f"{y} is the plan's baseline year (period {base + 1}–{end}).")  # fmt: skip
    elif zh:
        s = f"{base + 1}—{y}年，{area_name}累计完成水土流失治理面积{_w(wanmu(at))}万亩（{_f(at)}公顷）"
        if t:
            s += f"（目标{_w(t['target_wanmu'])}万亩，完成{_f(t['completion_pct'], 1)}%）"
        s += f"，生态修复面积{_w(wanmu(ar))}万亩（{_f(ar)}公顷）"
        if r:
            s += f"（目标{_w(r['target_wanmu'])}万亩，完成{_f(r['completion_pct'], 1)}%）"
        s += "。"
        if t and t["years_left"] > 0:
            s += (f"到{end}年尚需年均完成治理面积{_w(t['remaining_per_year_wanmu'])}万亩"
                  f"（{_f(t['remaining_per_year_ha'], 1)}公顷）。")  # fmt: skip
    else:
        s = (f"In {base + 1}–{y} the district completed {_f(at)} ha ({_w(wanmu(at))} 10⁴ mu) of "
             "soil-erosion treatment")  # fmt: skip
        if t:
            s += f" (target {_f(t['target_ha'])} ha, {_f(t['completion_pct'], 1)} % done)"
        s += f" and {_f(ar)} ha ({_w(wanmu(ar))} 10⁴ mu) of ecological restoration"
        if r:
            s += f" (target {_f(r['target_ha'])} ha, {_f(r['completion_pct'], 1)} % done)"
        s += "."
        if t and t["years_left"] > 0:
            s += (f" Meeting the {end} target needs {_f(t['remaining_per_year_ha'], 1)} ha "
                  "of treatment per year.")  # fmt: skip
    parts.append(s)
    a = (evaluation or {}).get("all")
    if a and _ok(a["erosion_area_before_ha"], a["did_erosion_area_ha"]):
        e0, e1 = a["erosion_area_before_ha"], a["erosion_area_after_ha"]
        dec = e0 - e1
        pct = dec / e0 * 100 if e0 > 0 else float("nan")
        more = -a["did_erosion_area_ha"]
        lo, hi = -a["did_erosion_area_ci_high_ha"], -a["did_erosion_area_ci_low_ha"]
        n = evaluation["n_projects"]
        names = "、".join(evaluation["projects"][:1])
        b0 = evaluation["before_year"]
        pct_zh = f"（{_f(abs(pct), 1)}%）" if e0 > 0 else ""
        pct_en = f" ({_f(abs(pct), 1)} %)" if e0 > 0 else ""
        m0, m1 = a["mean_modulus_before_t_km2_a"], a["mean_modulus_after_t_km2_a"]
        if zh:
            s = (f"{names}等{n}个小流域综合治理项目区水土流失面积较{b0}年"
                 f"{'减少' if dec >= 0 else '增加'}{_f(abs(dec))}公顷{pct_zh}，较对照区"
                 f"{'多减少' if more >= 0 else '少减少'}{_f(abs(more))}公顷"
                 f"（95%置信区间{_f(lo)}～{_f(hi)}公顷）；"
                 f"平均土壤侵蚀模数由{_f(m0, 0)}变为{_f(m1, 0)} t/(km²·a)。")  # fmt: skip
        else:
            s = (f"In the {n} small-watershed projects the erosion area "
                 f"{'fell' if dec >= 0 else 'rose'} by {_f(abs(dec))} ha{pct_en} since {b0}; "
                 f"the difference-in-differences reduction against matched untreated land is "
                 f"{_f(more)} ha (95 % CI {_f(lo)} to {_f(hi)} ha); the mean soil-loss modulus "
                 f"went from {_f(m0, 0)} to {_f(m1, 0)} t/(km²·a).")  # fmt: skip
        parts.append(s)
    rates = progress.get("conservation_rate") or {}
    if str(y) in rates or y in rates:
        rate = (rates.get(str(y)) or rates.get(y))["soil_conservation_rate_pct"]
        tgt = progress.get("conservation_rate_target")
        if zh:
            s = f"{y}年{area_name}水土保持率{_f(rate)}%"
            s += f"（{tgt['year']}年目标{_f(tgt['pct'])}%）。" if tgt else "。"
        else:
            s = f"The soil-conservation rate was {_f(rate)} % in {y}"
            s += f" (target {_f(tgt['pct'])} % by {tgt['year']})." if tgt else "."
        parts.append(s)
    if key is not None and len(key):
        k = key[key["key"]]
        if zh:
            items = "、".join(
                f"{r.zone_name}（水土流失面积{_f(r.erosion_area_ha)}公顷，中度及以上占"
                f"{_f(r.moderate_plus_share_pct, 1)}%）"
                for r in k.itertuples()
            )
            parts.append(f"重点乡镇：{items}。")
        else:
            items = "; ".join(
                f"{r.zone_name} ({_f(r.erosion_area_ha)} ha eroding, "
                f"{_f(r.moderate_plus_share_pct, 1)} % moderate or above)"
                for r in k.itertuples()
            )
            parts.append(f"Priority townships: {items}.")
    return "".join(parts) if zh else " ".join(parts)


def plot_progress(progress: Mapping, achieved: pd.DataFrame, out_png, *, lang: str = "zh") -> Path:
    """Cumulative 治理 / 生态修复 area (万亩) by year vs target, and 水土保持率 vs target."""
    lang = resolve_lang(lang)
    zh = lang == "zh"
    d = achieved[achieved["zone_id"] == "district"]
    with figure_style():
        fig = agg_figure(figsize=(9, 3.6))
        ax1, ax2 = fig.subplots(1, 2)
        labels = {"treatment": ("治理面积", "treated"), "restoration": ("生态修复面积", "restored")}
        for metric, color in (("treatment", "#2b8cbe"), ("restoration", "#31a354")):
            s = d[d["metric"] == metric].sort_values("year")
            ax1.plot(s["year"], s["area_ha"] * 3 / 2000, "o-", color=color,
                     label=labels[metric][0 if zh else 1])  # fmt: skip
            p = _prog(progress, metric)
            if p:
                ax1.axhline(p["target_wanmu"], color=color, ls="--", lw=1)
        ax1.set_ylabel("万亩" if zh else "10⁴ mu")
        ax1.set_title("十四五累计完成" if zh else "Cumulative since baseline")
        ax1.legend(fontsize=8)
        ax1.xaxis.get_major_locator().set_params(integer=True)
        rates = progress.get("conservation_rate") or {}
        ys = sorted(int(k) for k in rates)
        ax2.plot(ys, [rates[str(k)]["soil_conservation_rate_pct"] if str(k) in rates
                      else rates[k]["soil_conservation_rate_pct"] for k in ys], "o-",
                 color="#636363")  # fmt: skip
        tgt = progress.get("conservation_rate_target")
        if tgt:
            ax2.axhline(tgt["pct"], color="#de2d26", ls="--", lw=1,
                        label=("目标" if zh else "target") + f" {tgt['year']}")  # fmt: skip
            ax2.legend(fontsize=8)
        ax2.set_title("水土保持率 (%)" if zh else "Soil-conservation rate (%)")
        ax2.xaxis.get_major_locator().set_params(integer=True)
        fig.tight_layout()
        with atomic_path(out_png, suffix=".png") as tmp:
            fig.savefig(tmp, format="png")
    return Path(out_png)


def plot_parcels(parcels, top: pd.DataFrame, out_png, *, townships=None, lang: str = "zh") -> Path:
    """Map of the top-N parcels (numbered by rank) over the township outlines."""
    lang = resolve_lang(lang)
    with figure_style():
        fig = agg_figure(figsize=(6.5, 6.5))
        ax = fig.subplots()
        if townships is not None:
            townships.boundary.plot(ax=ax, color="#999999", lw=0.6)
        sel = parcels[parcels["parcel_id"].isin(top["parcel_id"])]
        sel.plot(ax=ax, color="#de2d26", edgecolor="k", lw=0.3)
        for r in sel.itertuples():
            pt = r.geometry.representative_point()
            ax.annotate(str(int(r.rank_soil_loss)), (pt.x, pt.y), fontsize=7, ha="center")
        ax.set_title(
            "土壤流失量前列的未治理地块"
            if lang == "zh"
            else "Untreated parcels with the most soil loss"
        )
        ax.set_axis_off()
        with atomic_path(out_png, suffix=".png") as tmp:
            fig.savefig(tmp, format="png")
    return Path(out_png)


def write_paragraphs(paragraphs: Mapping[str, str], out: Mapping[str, os.PathLike]) -> None:
    for lang, text in paragraphs.items():
        write_text(text + "\n", out[lang])
