"""The bulletin paragraph and bulletin_{zh,en}.md, filled from the class table.

Fills a district template modelled on the 中国水土保持公报 (Ministry of Water Resources):

    水土流失面积为 X 公顷，占总面积的 Y%（其中轻度流失面积 a 公顷，占水土流失面积的
    pa%；中度流失面积 b 公顷，占 pb%；强烈…；极强烈…；剧烈…），较上年减少/增加 ΔX 公顷
    （ΔX/X₀ %）。

followed by the dominant erosion class ("属于轻度流失区"), the erosion type
("以水力侵蚀为主"), the 水土保持率 and a note stating the class breaks, the
boundary convention (lower ≤ A < upper), the 水土保持率 definition and the
rounding rule. Every printed number comes from
``pipeline.report.tables.display_class_table``: areas and shares rounded to two
decimals by largest remainder, so the printed class areas add up to the printed
erosion area and the printed shares to 100.00 %; the paragraph and the markdown
table therefore agree to the last digit. Written by hand: the template is
specific to Chinese soil-and-water-conservation bulletins.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.classify import (
    BOUNDARY_CONVENTION_ZH,
    CLASS_CODES,
    CLASSES,
    EROSION_CODES,
    REGION_NAMES,
)
from pipeline.errors import InputDataError
from pipeline.report.tables import (
    ROUNDING_RULE_EN,
    ROUNDING_RULE_ZH,
    display_class_table,
    fmt,
    round_shares,
)
from pipeline.stats import (
    SOIL_CONSERVATION_RATE_DEFINITION,
    SOIL_CONSERVATION_RATE_DEFINITION_EN,
)

_EN_CLASS = {2: "light", 3: "moderate", 4: "intense", 5: "very intense", 6: "severe"}


def _check_inputs(summary: Mapping, district_table: pd.DataFrame, lang: str):
    if lang not in ("zh", "en"):
        raise InputDataError(f"lang must be 'zh' or 'en', got {lang!r}")
    table = display_class_table(district_table)
    exact = district_table.set_index("class_code").loc[list(CLASS_CODES), "area_ha"]
    erosion = float(exact.loc[list(EROSION_CODES)].sum())
    if not np.isclose(summary["erosion_area_ha"], erosion, rtol=1e-9, atol=1e-6):
        raise InputDataError(
            f"summary erosion_area_ha {summary['erosion_area_ha']} does not match the district "
            f"table ({erosion}); pass the summary of the same table"
        )
    return table.set_index("class_code"), erosion


def _change_numbers(change: Mapping | None, *, year: int, erosion_ha: float):
    if change is None:
        return None
    for key in ("erosion_area_y1_ha", "erosion_area_change_ha", "erosion_area_change_pct"):
        if key not in change:
            raise InputDataError(f"change lacks {key!r}; pass pipeline.stats.change_summary output")
    if "year1" in change and int(change["year1"]) != int(year):
        raise InputDataError(f"change is for year {change['year1']}, the bulletin for {year}")
    y1 = float(change["erosion_area_y1_ha"])
    if abs(y1 - erosion_ha) > 0.01 + 1e-9 * erosion_ha:
        raise InputDataError(
            f"change erosion_area_y1_ha {y1:.4f} ha does not match this year's erosion area "
            f"{erosion_ha:.4f} ha (change matrix built on other rasters or masks?)"
        )
    return float(change["erosion_area_change_ha"]), float(change["erosion_area_change_pct"])


def _breaks(district_table: pd.DataFrame, breaks):
    if breaks is None:
        breaks = district_table.attrs.get("class_breaks_t_ha_yr")
    return None if breaks is None else [float(b) for b in breaks]


def _num(b: float) -> str:
    return f"{b:g}"


def bulletin_paragraph(
    summary: Mapping,
    district_table: pd.DataFrame,
    *,
    lang: str = "zh",
    district_name: str,
    year: int,
    change: Mapping | None = None,
    erosion_type_note: bool = True,
    breaks=None,
    type_region: str | None = None,
) -> str:
    """The bulletin paragraph (Chinese or English) for one district and year.

    Parameters
    ----------
    summary : dict
        ``pipeline.stats.summarize(district_table)``.
    district_table : pandas.DataFrame
        ``pipeline.stats.class_area_table`` output (areas in ha).
    lang : {"zh", "en"}
        Language.
    district_name : str
        District name as printed.
    year : int
        Bulletin year.
    change : dict, optional
        ``pipeline.stats.change_summary`` for (last year, ``year``); adds
        "较上年减少/增加 ΔX 公顷（…%）". Its year-1 erosion area must match.
    erosion_type_note : bool
        Add "水土流失类型以水力侵蚀为主" (only water erosion is modelled).
    breaks : sequence of 5 floats, optional
        Class breaks (t·ha⁻¹·a⁻¹) for the note; default from the table's attrs.
    type_region : str, optional
        SL 190-2007 type region key named in the note; default from the table's
        attrs (lost when the table was read back from CSV).

    Returns
    -------
    str
        The paragraph; numbers have two decimals, class shares sum to 100.00.

    Examples
    --------
    >>> from pipeline.stats import _class_table, summarize
    >>> t = _class_table(np.array([60.0, 30.0, 10.0, 0, 0, 0]))
    >>> p = bulletin_paragraph(summarize(t), t, district_name="示例区", year=2024)
    >>> p.split("（")[0]
    '2024年，示例区土地总面积 100.00 公顷，水土流失面积为 40.00 公顷，占总面积的 40.00%'
    """
    table, erosion = _check_inputs(summary, district_table, lang)
    delta = _change_numbers(change, year=year, erosion_ha=erosion)
    areas = table["area_ha"]
    land_p = float(areas.sum())
    x_p = float(areas.loc[list(EROSION_CODES)].sum())
    y_p = float(table.loc[list(EROSION_CODES), "share_of_district_pct"].sum())
    rate_p = float(table.loc[1, "share_of_district_pct"])  # = 100 − Y exactly (LR shares)
    dom = int(summary["dominant_class_code"])
    brk = _breaks(district_table, breaks)
    region = type_region or district_table.attrs.get("type_region")
    if brk is not None and region and not _standard_breaks(brk, region):
        region = None  # custom breaks: the note must not name a type region
    if lang == "zh":
        text = _paragraph_zh(
            table, district_name, year, land_p, x_p, y_p, rate_p, dom, delta, brk, region,
            erosion_type_note,
        )  # fmt: skip
    else:
        text = _paragraph_en(
            table, district_name, year, land_p, x_p, y_p, rate_p, dom, delta, brk, region,
            erosion_type_note,
        )  # fmt: skip
    return _with_district_figures(text, summary, lang)


def _standard_breaks(brk, region) -> bool:
    from pipeline.classify import class_breaks

    try:
        return tuple(float(b) for b in brk) == tuple(class_breaks(region))
    except Exception:  # unknown region key: do not name it
        return False


def _with_district_figures(text: str, summary: Mapping, lang: str) -> str:
    """Insert the mean modulus, total loss, the district's class, unassessed area and 面积平差.

    ``text`` is the paragraph; its "属于X流失区" / "the district is a X-erosion area" sentence
    (largest class) is replaced by the class of the area-weighted mean modulus (SL 190-2007
    grades intensity by the mean annual modulus), and the rule is added to the note.
    Summaries without ``mean_modulus_t_km2_a`` (older runs) leave the text unchanged.
    """
    if "mean_modulus_t_km2_a" not in summary:
        return text
    zh = lang == "zh"
    m = float(summary["mean_modulus_t_km2_a"])
    total_wt = float(summary["total_soil_loss_t_a"]) / 10_000.0
    code = int(summary["district_class_code"])
    dom = int(summary.get("dominant_class_code", 1))
    un_ha, un_pct = float(summary["unassessed_area_ha"]), float(summary["unassessed_pct"])
    head, sep, note = text.partition("注：" if zh else "Note: ")
    if zh:
        dz, cz = CLASSES[dom][1], CLASSES[code][1]
        kind = "侵蚀区" if code == 1 else "流失区"
        old = f"水土流失以{dz}流失为主，属于{dz}流失区。"
        new = (
            f"水土流失以{dz}流失为主。全区平均土壤侵蚀模数 {fmt(m)} t/(km²·a)，"
            f"土壤流失量 {fmt(total_wt)} 万t/a，属于{cz}{kind}。"
        )
        head = (
            head.replace(old, new)
            if old in head
            else head.replace("水土保持率为", new + "水土保持率为", 1)
        )
        head += f"未评估面积（因子缺失）{fmt(un_ha)} 公顷，占土地总面积的 {fmt(un_pct)}%。"
        if summary.get("official_area_ha"):
            head += (
                f"各面积已按国土面积 {fmt(summary['official_area_ha'])} 公顷作面积平差"
                f"（系数 {summary['area_scale_factor']:.6f}）。"
            )
        note = note.rstrip("。") + (
            "；全区强度按面积加权平均土壤侵蚀模数（土壤流失总量 ÷ 已评估土地面积）"
            "依 SL 190-2007 分级，不按面积最大的等级。"
        )
    else:
        de, ce = _EN_CLASS.get(dom, "slight"), _EN_CLASS.get(code, "slight")
        old = f"Erosion is mainly {de}: the district is a {de}-erosion area. "
        new = (
            f"Erosion is mainly {de}. The mean soil-loss modulus is {fmt(m)} t/(km²·a) and "
            f"the total soil loss {fmt(total_wt)} × 10⁴ t/a: the district is a {ce}-erosion "
            "area. "
        )
        head = (
            head.replace(old, new)
            if old in head
            else head.replace("The soil-conservation rate", new + "The soil-conservation rate", 1)
        )
        head += (
            f"Unassessed area (a factor missing): {fmt(un_ha)} ha, {fmt(un_pct)}% of the "
            "total land area. "
        )
        if summary.get("official_area_ha"):
            head += (
                f"Areas are adjusted to the official land area of "
                f"{fmt(summary['official_area_ha'])} ha (factor "
                f"{summary['area_scale_factor']:.6f}). "
            )
        note = note.rstrip(".") + (
            "; the district's intensity is the SL 190-2007 class of its area-weighted mean "
            "soil-loss modulus (total soil loss / assessed land area), not its largest class."
        )
    return head + sep + note


def _paragraph_zh(table, name, year, land, x, y, rate, dom, delta, brk, region, type_note):
    parts = [f"{year}年，{name}土地总面积 {fmt(land)} 公顷，"]
    if x > 0:
        items = []
        for i, code in enumerate(EROSION_CODES):
            area = fmt(table.loc[code, "area_ha"])
            share = fmt(table.loc[code, "share_of_erosion_pct"])
            zh = CLASSES[code][1]
            if i == 0:
                items.append(f"其中{zh}流失面积 {area} 公顷，占水土流失面积的 {share}%")
            else:
                items.append(f"{zh}流失面积 {area} 公顷，占 {share}%")
        parts.append(f"水土流失面积为 {fmt(x)} 公顷，占总面积的 {fmt(y)}%（{'；'.join(items)}）")
    else:
        parts.append("水土流失面积为 0.00 公顷，占总面积的 0.00%")
    if delta is not None:
        d, pct = delta
        if fmt(abs(d)) == "0.00":
            parts.append("，与上年持平")
        elif not np.isfinite(pct):
            parts.append(f"，较上年增加 {fmt(abs(d))} 公顷（上年无水土流失面积）")
        else:
            word, rate_word = ("减少", "减幅") if d < 0 else ("增加", "增幅")
            parts.append(f"，较上年{word} {fmt(abs(d))} 公顷（{rate_word} {fmt(abs(pct))}%）")
    parts.append("。")
    if x > 0:
        zh = CLASSES[dom][1]
        parts.append(f"水土流失以{zh}流失为主，属于{zh}流失区。")
    else:
        parts.append("全区均为微度侵蚀，无水土流失面积。")
    if type_note:
        parts.append("水土流失类型以水力侵蚀为主（本评估仅计水力侵蚀）。")
    parts.append(f"水土保持率为 {fmt(rate)}%。")
    note = ["注：强度分级依据《土壤侵蚀分类分级标准》（SL 190-2007）"]
    if brk is not None:
        region_zh = REGION_NAMES.get(region, ("",))[0] if region else ""
        tol = f"{region_zh}容许土壤流失量 {_num(brk[0])} t/(hm²·a)"
        note.append(
            f"，以{tol}为微度与轻度的分界，分级界限为 {'、'.join(_num(b) for b in brk)} t/(hm²·a)"
        )
    note.append(
        f"，各级区间取“{BOUNDARY_CONVENTION_ZH}”；微度侵蚀不计入水土流失面积；"
        f"{SOIL_CONSERVATION_RATE_DEFINITION}；{ROUNDING_RULE_ZH}。"
    )
    return "".join(parts) + "".join(note)


def _paragraph_en(table, name, year, land, x, y, rate, dom, delta, brk, region, type_note):
    parts = [f"In {year}, {name} had a total land area of {fmt(land)} ha. "]
    if x > 0:
        items = []
        for i, code in enumerate(EROSION_CODES):
            area = fmt(table.loc[code, "area_ha"])
            share = fmt(table.loc[code, "share_of_erosion_pct"])
            tail = " of the erosion area" if i == 0 else ""
            items.append(f"{_EN_CLASS[code]} erosion {area} ha, {share}%{tail}")
        parts.append(
            f"The soil-erosion area was {fmt(x)} ha, {fmt(y)}% of the total area "
            f"({'; '.join(items)})"
        )
    else:
        parts.append("The soil-erosion area was 0.00 ha, 0.00% of the total area")
    if delta is not None:
        d, pct = delta
        if fmt(abs(d)) == "0.00":
            parts.append(", unchanged from the previous year")
        elif not np.isfinite(pct):
            parts.append(
                f", an increase of {fmt(abs(d))} ha (the previous year had no erosion area)"
            )
        else:
            word = "a decrease" if d < 0 else "an increase"
            parts.append(f", {word} of {fmt(abs(d))} ha ({fmt(abs(pct))}%) from the previous year")
    parts.append(". ")
    if x > 0:
        en = _EN_CLASS[dom]
        parts.append(f"Erosion is mainly {en}: the district is a {en}-erosion area. ")
    else:
        parts.append("All land is in the slight class; there is no soil-erosion area. ")
    if type_note:
        parts.append("Water erosion is the main erosion type (only water erosion is assessed). ")
    parts.append(f"The soil-conservation rate is {fmt(rate)}%. ")
    note = ["Note: intensity classes follow SL 190-2007"]
    if brk is not None:
        region_en = REGION_NAMES.get(region, ("", ""))[1] if region else ""
        where = f" of the {region_en}" if region_en else ""
        note.append(
            f"; the slight/light break is the tolerable soil loss{where}, "
            f"{_num(brk[0])} t/(ha·a), and the breaks are "
            f"{', '.join(_num(b) for b in brk)} t/(ha·a)"
        )
    note.append(
        "; a class holds lower ≤ A < upper; slight (微度) erosion is not counted as "
        f"soil-erosion area; {SOIL_CONSERVATION_RATE_DEFINITION_EN}; {ROUNDING_RULE_EN}."
    )
    return "".join(parts) + "".join(note)


def bulletin_markdown(
    summary: Mapping,
    district_table: pd.DataFrame,
    *,
    lang: str = "zh",
    district_name: str,
    year: int,
    change: Mapping | None = None,
    erosion_type_note: bool = True,
    breaks=None,
    type_region: str | None = None,
) -> str:
    """The full bulletin_zh.md / bulletin_en.md text: title, paragraph, class table, method.

    Parameters are those of ``bulletin_paragraph``. The markdown table prints
    the same rounded numbers as the paragraph (``display_class_table``), with a
    total row and an erosion-area row; with ``change`` a second table gives each
    class's area in both years and the net change.

    Examples
    --------
    >>> from pipeline.stats import _class_table, summarize
    >>> t = _class_table(np.array([60.0, 30.0, 10.0, 0, 0, 0]))
    >>> md = bulletin_markdown(summarize(t), t, district_name="示例区", year=2024)
    >>> md.splitlines()[0]
    '# 示例区 2024 年水土流失状况'
    """
    paragraph = bulletin_paragraph(
        summary,
        district_table,
        lang=lang,
        district_name=district_name,
        year=year,
        change=change,
        erosion_type_note=erosion_type_note,
        breaks=breaks,
        type_region=type_region,
    )
    table = display_class_table(district_table).set_index("class_code")
    zh = lang == "zh"
    lines = [
        f"# {district_name} {year} 年水土流失状况"
        if zh
        else f"# {district_name}: soil erosion {year}",
        "",
        paragraph,
        "",
        "| 强度分级 | 面积（公顷） | 占总面积（%） | 占水土流失面积（%） |"
        if zh
        else "| Intensity class | Area (ha) | Share of total area (%) | Share of erosion area (%) |",
        "|---|---:|---:|---:|",
    ]
    for code in CLASS_CODES:
        row = table.loc[code]
        label = CLASSES[code][1] if zh else f"{CLASSES[code][2]} ({CLASSES[code][1]})"
        share_e = row["share_of_erosion_pct"]
        share_e = "—" if not np.isfinite(share_e) else fmt(share_e)
        lines.append(
            f"| {label} | {fmt(row['area_ha'])} | {fmt(row['share_of_district_pct'])} | {share_e} |"
        )
    erosion_rows = table.loc[list(EROSION_CODES)]
    x = float(erosion_rows["area_ha"].sum())
    y = float(erosion_rows["share_of_district_pct"].sum())
    total_e = "100.00" if x > 0 else "—"
    lines.append(
        f"| {'合计' if zh else 'Total'} | {fmt(table['area_ha'].sum())} | 100.00 | — |"
        if float(table["area_ha"].sum()) > 0
        else f"| {'合计' if zh else 'Total'} | 0.00 | — | — |"
    )
    lines.append(
        f"| {'水土流失面积（轻度至剧烈）' if zh else 'Soil-erosion area (light to severe)'} "
        f"| {fmt(x)} | {fmt(y)} | {total_e} |"
    )
    if change is not None:
        lines += _change_table(change, zh)
    method = district_table.attrs.get("area_method", "")
    method = f"（{method}）" if zh and method else f" ({method})" if method else ""
    lines += [
        "",
        (
            f"方法：土壤流失量按 SL 190-2007 水力侵蚀强度分级（{BOUNDARY_CONVENTION_ZH}）；"
            f"面积为椭球面或等积投影上的真实面积{method}；{ROUNDING_RULE_ZH}。"
            if zh
            else f"Method: soil loss classified by SL 190-2007 water-erosion intensity classes "
            f"(lower ≤ A < upper); areas are true areas on the ellipsoid or an equal-area "
            f"projection{method}; {ROUNDING_RULE_EN}."
        ),
        "",
    ]
    return "\n".join(lines)


def _change_table(change: Mapping, zh: bool) -> list[str]:
    per_class = pd.DataFrame(change["per_class"]).set_index("class_code")
    y0, y1 = change.get("year0", ""), change.get("year1", "")
    a0 = round_shares(
        per_class["area_y0_ha"].to_numpy(), total=round(per_class["area_y0_ha"].sum(), 2)
    )
    a1 = round_shares(
        per_class["area_y1_ha"].to_numpy(), total=round(per_class["area_y1_ha"].sum(), 2)
    )
    head = (
        f"| 强度分级 | {y0} 年面积（公顷） | {y1} 年面积（公顷） | 净变化（公顷） |"
        if zh
        else f"| Intensity class | {y0} area (ha) | {y1} area (ha) | Net change (ha) |"
    )
    lines = ["", head, "|---|---:|---:|---:|"]
    for i, code in enumerate(CLASS_CODES):
        label = CLASSES[code][1] if zh else f"{CLASSES[code][2]} ({CLASSES[code][1]})"
        lines.append(f"| {label} | {fmt(a0[i])} | {fmt(a1[i])} | {fmt(a1[i] - a0[i])} |")
    imp, det, unch = (fmt(change[k]) for k in ("improved_ha", "deteriorated_ha", "unchanged_ha"))
    lines += [
        "",
        f"强度降低（转为较低等级）面积 {imp} 公顷，强度升高面积 {det} 公顷，强度不变面积 {unch} 公顷。"
        if zh
        else f"Area moved to a lower class: {imp} ha; to a higher class: {det} ha; "
        f"unchanged: {unch} ha.",
    ]
    return lines
