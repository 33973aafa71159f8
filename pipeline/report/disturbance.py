"""Report pieces of the disturbance workflow: field-check list, map, bulletin paragraph.

Reads the patch table and summary written by ``pipeline.stages.disturbance``; computes
nothing scientific (sorting, renaming, formatting and drawing only).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from matplotlib.patches import Patch

from pipeline.io import atomic_path
from pipeline.report.fonts import agg_figure, figure_style, resolve_lang
from pipeline.report.maps import save_figure

COMPLIANCE_ORDER = ("疑似未批先建", "疑似超出防治责任范围", "合规")
COMPLIANCE_EN = {
    "合规": "compliant",
    "疑似超出防治责任范围": "suspected beyond the approved boundary",
    "疑似未批先建": "suspected built before approval",
}
CHANGE_EN = {"新增": "new", "续建": "continued", "恢复": "revegetated"}
COLOURS = {"疑似未批先建": "#d7191c", "疑似超出防治责任范围": "#fdae61", "合规": "#1a9641"}
FIELD_COLUMNS_ZH = {
    "编号": "图斑编号",
    "compliance": "扰动合规性",
    "change_type": "扰动变化类型",
    "area_ha": "扰动面积(公顷)",
    "outside_ha": "超出防治责任范围面积(公顷)",
    "project_name": "所属项目",
    "approval_no": "批复文号",
    "township": "乡镇",
    "watershed": "小流域",
    "first_visible": "首次可见(季)",
    "first_period": "首次可见(半月)",
    "soil_loss_t": "人为水土流失量(t/a)",
    "fee_yuan": "补偿费估算(元)",
    "x": "中心X(m)",
    "y": "中心Y(m)",
}


def field_check_table(patches, *, lang: str = "zh") -> pd.DataFrame:
    """Field-check list (现场复核清单): one row per patch, by category priority then area."""
    df = pd.DataFrame(patches.drop(columns="geometry"))
    pts = patches.geometry.representative_point()
    df["x"], df["y"] = pts.x.round(1).to_numpy(), pts.y.round(1).to_numpy()
    rank = df["compliance"].map({c: i for i, c in enumerate(COMPLIANCE_ORDER)})
    df = df.assign(_rank=rank).sort_values(["_rank", "area_ha"], ascending=[True, False])
    cols = [c for c in FIELD_COLUMNS_ZH if c in df.columns]
    if df["fee_yuan"].isna().all():
        cols.remove("fee_yuan")
    out = df[cols].reset_index(drop=True)
    for c in ("area_ha", "outside_ha"):
        out[c] = out[c].round(4)
    out["soil_loss_t"] = out["soil_loss_t"].round(2)
    out["复核状态"] = "待复核"
    if lang == "zh":
        out = out.rename(columns=FIELD_COLUMNS_ZH)
    else:
        out["compliance"] = out["compliance"].map(COMPLIANCE_EN)
        out["change_type"] = out["change_type"].map(CHANGE_EN)
        out = out.rename(columns={"复核状态": "check_status"})
        out["check_status"] = "to check"
    return out


def write_field_check_xlsx(table: pd.DataFrame, path, *, summary: Mapping) -> Path:
    """Write the field-check list and a one-sheet summary to XLSX (openpyxl)."""
    path = Path(path)
    rows = [
        ("年度", summary["year"]),
        ("扰动图斑(个)", summary["patches"]),
        ("扰动面积(公顷)", round(summary["area_ha"], 4)),
    ]
    for cat in COMPLIANCE_ORDER:
        b = summary["by_compliance"].get(cat, {"patches": 0, "area_ha": 0.0})
        rows.append((f"{cat}(个/公顷)", f"{b['patches']} / {b['area_ha']:.2f}"))
    with atomic_path(path, suffix=".xlsx") as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
            table.to_excel(xw, sheet_name="现场复核清单", index=False)
            pd.DataFrame(rows, columns=["项目", "数值"]).to_excel(
                xw, sheet_name="汇总", index=False
            )
    return path


def plot_disturbance_map(patches, out_png, *, aoi=None, townships=None, title="", lang="zh"):
    """Patches coloured by compliance over the AOI and township outlines."""
    lang = resolve_lang(lang)
    with figure_style():
        fig = agg_figure(figsize=(8.0, 7.5))
        ax = fig.add_axes((0.03, 0.12, 0.94, 0.8))
        if townships is not None and len(townships):
            townships.to_crs(patches.crs).boundary.plot(ax=ax, color="#999999", linewidth=0.5)
        if aoi is not None and len(aoi):
            aoi.to_crs(patches.crs).boundary.plot(ax=ax, color="black", linewidth=1.0)
        handles = []
        for cat in COMPLIANCE_ORDER:
            sub = patches[patches["compliance"] == cat]
            label = cat if lang == "zh" else COMPLIANCE_EN[cat]
            handles.append(Patch(color=COLOURS[cat], label=f"{label} ({len(sub)})"))
            if len(sub):
                # outlines too, so that a 0.1 ha patch stays visible at district scale
                sub.plot(ax=ax, color=COLOURS[cat], edgecolor=COLOURS[cat], linewidth=1.5)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=12)
        fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9, frameon=False)
        return save_figure(fig, out_png)


def _cat(summary: Mapping, cat: str) -> tuple[int, float]:
    b = (summary.get("by_compliance") or {}).get(cat) or {"patches": 0, "area_ha": 0.0}
    return int(b["patches"]), float(b["area_ha"])


def _typ(summary: Mapping, typ: str) -> tuple[int, float]:
    b = (summary.get("by_change_type") or {}).get(typ) or {"patches": 0, "area_ha": 0.0}
    return int(b["patches"]), float(b["area_ha"])


def disturbance_paragraph(summary: Mapping, *, lang: str = "zh", district_name: str = "") -> str:
    """Bulletin paragraph on the disturbance patches (figures only, from ``summary.json``).

    Examples
    --------
    >>> s = {"year": 2024, "patches": 3, "area_ha": 4.5,
    ...      "by_compliance": {"合规": {"patches": 1, "area_ha": 2.0},
    ...                        "疑似未批先建": {"patches": 2, "area_ha": 2.5}},
    ...      "by_change_type": {"新增": {"patches": 3, "area_ha": 4.5}}}
    >>> disturbance_paragraph(s, district_name="某区")[:40]
    '2024年度某区共解译生产建设项目扰动图斑3个，面积4.50公顷，其中疑似未批先'
    """
    n, area = int(summary["patches"]), float(summary["area_ha"])
    un, un_a = _cat(summary, "疑似未批先建")
    out, out_a = _cat(summary, "疑似超出防治责任范围")
    ok, ok_a = _cat(summary, "合规")
    new, new_a = _typ(summary, "新增")
    cont, cont_a = _typ(summary, "续建")
    back, back_a = _typ(summary, "恢复")
    year = summary["year"]
    loss = summary.get("soil_loss_t")
    fee = summary.get("compensation_fee_yuan")
    if lang == "zh":
        text = (
            f"{year}年度{district_name}共解译生产建设项目扰动图斑{n}个，面积{area:.2f}公顷，"
            f"其中疑似未批先建{un}个（{un_a:.2f}公顷）、疑似超出防治责任范围{out}个"
            f"（{out_a:.2f}公顷）、合规{ok}个（{ok_a:.2f}公顷）；按变化类型，新增{new}个"
            f"（{new_a:.2f}公顷）、续建{cont}个（{cont_a:.2f}公顷）、恢复{back}个"
            f"（{back_a:.2f}公顷）。"
        )
        if loss is not None:
            text += f"新增和续建扰动图斑按裸露地表估算人为水土流失量{loss:,.0f}吨/年。"
        if fee is not None:
            text += f"按{summary['compensation_rate_yuan_m2']:g}元/平方米估算水土保持补偿费{fee / 1e4:,.2f}万元。"
        text += "疑似图斑须经现场复核确认。"
        return text
    name = f" {district_name}" if district_name else ""
    text = (
        f"In {year},{name} {n} construction-disturbance patches covering {area:.2f} ha were "
        f"interpreted: {un} ({un_a:.2f} ha) suspected built before approval, {out} "
        f"({out_a:.2f} ha) suspected beyond the approved boundary and {ok} ({ok_a:.2f} ha) "
        f"compliant; by change type, {new} new ({new_a:.2f} ha), {cont} continued "
        f"({cont_a:.2f} ha) and {back} revegetated ({back_a:.2f} ha)."
    )
    if loss is not None:
        text += (
            f" Human-induced soil loss from the new and continued patches as bare soil: "
            f"{loss:,.0f} t/a."
        )
    if fee is not None:
        text += (
            f" Soil and water conservation compensation fee at "
            f"{summary['compensation_rate_yuan_m2']:g} yuan/m²: {fee / 1e4:,.2f} × 10⁴ yuan."
        )
    text += " Suspected patches await the field check."
    return text
