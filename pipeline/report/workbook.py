"""The XLSX workbook a report writer hands on: Chinese headers, one sheet per table.

Every sheet holds one table: header in row 1 (bold, frozen), values at full
precision displayed with two decimals (``#,##0.00``; counts and codes as
integers), a 合计 (total) row where a total means something (areas are summed,
shares recomputed from the summed areas), and column widths fitted to the
headers. A last sheet 数据来源与参数 lists the data sources, the non-default
parameters, software versions and the config hash.

Areas are printed in the unit chosen by ``report.units`` (公顷, 平方千米, 亩,
万亩; see ``pipeline.units``); the header names the unit. The writer only
formats: totals are sums of the table's own columns, no statistic is computed here.

Deterministic bytes: fixed document times and ZIP entry times (the
``_FixedTimeZipFile`` of ``pipeline.report.tables``).
"""

from __future__ import annotations

import datetime
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.io import atomic_path
from pipeline.units import area_unit

_FIXED_TIME = datetime.datetime(2000, 1, 1, 0, 0, 0)
AREA_FORMAT = "#,##0.00"
SHARE_FORMAT = "0.00"

#: Chinese header per machine column; ``{u}`` is replaced by the area unit.
ZH_HEADERS: dict[str, str] = {
    "class_code": "代码",
    "class_zh": "强度分级",
    "class_en": "强度分级（英文）",
    "class_key": "键",
    "area_ha": "面积（{u}）",
    "share_of_district_pct": "占土地总面积（%）",
    "share_of_erosion_pct": "占水土流失面积（%）",
    "zone_id": "编号",
    "zone_name": "名称",
    "land_area_ha": "土地总面积（{u}）",
    "erosion_area_ha": "水土流失面积（{u}）",
    "erosion_share_pct": "水土流失面积占比（%）",
    "slight_area_ha": "微度（{u}）",
    "light_area_ha": "轻度（{u}）",
    "moderate_area_ha": "中度（{u}）",
    "intense_area_ha": "强烈（{u}）",
    "very_intense_area_ha": "极强烈（{u}）",
    "severe_area_ha": "剧烈（{u}）",
    "total_soil_loss_t_yr": "土壤流失总量（t/a）",
    "mean_modulus_t_km2_yr": "平均土壤侵蚀模数（t/(km²·a)）",
    "area_y0_ha": "基准年面积（{u}）",
    "area_y1_ha": "本年面积（{u}）",
    "net_change_ha": "净变化（{u}）",
    "net_change_pct": "净变化率（%）",
    "erosion_area_y0_ha": "上年水土流失面积（{u}）",
    "erosion_area_y1_ha": "本年水土流失面积（{u}）",
    "erosion_area_change_ha": "水土流失面积变化（{u}）",
    "erosion_area_change_pct": "水土流失面积变化率（%）",
    "improved_ha": "强度降低面积（{u}）",
    "deteriorated_ha": "强度升高面积（{u}）",
    "unchanged_ha": "强度不变面积（{u}）",
    "net_slight_ha": "微度净变化（{u}）",
    "net_light_ha": "轻度净变化（{u}）",
    "net_moderate_ha": "中度净变化（{u}）",
    "net_intense_ha": "强烈净变化（{u}）",
    "net_very_intense_ha": "极强烈净变化（{u}）",
    "net_severe_ha": "剧烈净变化（{u}）",
    "from_class_zh": "基准年强度",
    "slope_label": "坡度",
    "landuse_zh": "土地利用",
    "moderate_and_above_area_ha": "中度及以上面积（{u}）",
    "moderate_and_above_share_pct": "中度及以上占水土流失面积（%）",
    "rank_by_erosion_area": "水土流失面积排名",
    "rank_by_moderate_share": "中度及以上占比排名",
    "item": "项目",
    "value": "内容",
    "unit": "单位",
}


@dataclass
class Sheet:
    """One table of the workbook.

    ``sum_cols``: columns summed in the 合计 row; ``ratio_cols``: share columns
    recomputed in that row as 100 × numerator / denominator (column names).
    """

    name: str
    frame: pd.DataFrame
    sum_cols: Sequence[str] = ()
    ratio_cols: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    label_col: str | None = None
    total_values: Mapping[str, float] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


def header(col: str, unit_zh: str, extra: Mapping[str, str] | None = None) -> str:
    text = (extra or {}).get(col) or ZH_HEADERS.get(col, col)
    return text.replace("{u}", unit_zh)


def _value(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def _totals(sheet: Sheet) -> dict | None:
    if not sheet.sum_cols:
        return None
    df = sheet.frame
    row = {c: None for c in df.columns}
    for c in sheet.sum_cols:
        row[c] = float(pd.to_numeric(df[c], errors="coerce").fillna(0).sum())
    for c, (num, den) in sheet.ratio_cols.items():
        d = row.get(den)
        row[c] = row[num] / d * 100.0 if d else None
    row.update(sheet.total_values)
    label = sheet.label_col or df.columns[0]
    row[label] = "合计"
    return row


def _write_sheet(ws, sheet: Sheet, unit_zh: str) -> None:
    from openpyxl.styles import Alignment, Font

    df = sheet.frame
    cols = list(df.columns)
    bold = Font(bold=True)
    for j, col in enumerate(cols, start=1):
        cell = ws.cell(row=1, column=j, value=header(col, unit_zh, sheet.headers))
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    rows = [dict(zip(cols, r, strict=True)) for r in df.itertuples(index=False)]
    total = _totals(sheet)
    if total is not None:
        rows.append(total)
    for i, rec in enumerate(rows, start=2):
        is_total = total is not None and i == len(rows) + 1
        for j, col in enumerate(cols, start=1):
            value = _value(rec[col])
            cell = ws.cell(row=i, column=j, value=value)
            if is_total:
                cell.font = bold
            if isinstance(value, float):
                cell.number_format = SHARE_FORMAT if col.endswith("_pct") else AREA_FORMAT
            elif isinstance(value, int) and not isinstance(value, bool):
                cell.number_format = "0"
    ws.freeze_panes = "A2"
    for j, col in enumerate(cols, start=1):
        width = max(len(header(col, unit_zh, sheet.headers)) * 2, 10)
        ws.column_dimensions[ws.cell(row=1, column=j).column_letter].width = min(width, 40)


def write_workbook(
    path: str | os.PathLike, sheets: Sequence[Sheet], *, title: str, units: str | None = None
):
    """Write the sheets to one XLSX file, atomically and deterministically."""
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    from pipeline.report.tables import _FixedTimeZipFile

    unit_zh = area_unit(units).zh
    wb = Workbook()
    wb.properties.creator = "shuibao"
    wb.properties.created = _FIXED_TIME
    wb.properties.modified = _FIXED_TIME
    wb.properties.title = title
    first = True
    for sheet in sheets:
        ws = wb.active if first else wb.create_sheet()
        ws.title = sheet.name[:31]
        first = False
        _write_sheet(ws, sheet, unit_zh)
    with atomic_path(path) as tmp:
        with _FixedTimeZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            ExcelWriter(wb, archive).save()
    return path


def bulletin_sheets(
    *,
    district_table: pd.DataFrame,
    summary: Mapping,
    summary_labels: Mapping[str, str],
    zone_wide: Sequence[tuple[str, pd.DataFrame]],
    change_parts=None,
    extra_tables: Mapping[str, pd.DataFrame] | None = None,
    provenance_rows: Sequence[tuple[str, object]] | None = None,
    units: str | None = None,
) -> list[Sheet]:
    """The workbook's sheets from tables in hectares (converted here to ``units``)."""
    from pipeline.classify import CLASSES
    from pipeline.units import mapping_from_ha, table_from_ha

    u = area_unit(units)
    extra = {k: table_from_ha(v, units) for k, v in (extra_tables or {}).items()}
    sheets: list[Sheet] = []
    d = table_from_ha(district_table, units)[
        ["class_code", "class_zh", "area_ha", "share_of_district_pct", "share_of_erosion_pct"]
    ]
    sheets.append(
        Sheet(
            "分级面积",
            d,
            sum_cols=["area_ha", "share_of_erosion_pct"],
            ratio_cols={"share_of_district_pct": ("area_ha", "area_ha")},
        )
    )
    s = mapping_from_ha(dict(summary), units)
    rows = []
    for k, v in s.items():
        if k == "year":
            continue
        label = summary_labels.get(k, k).split(" ")[0]
        unit = u.zh if k.endswith("_ha") else ("%" if k.endswith("_pct") else "")
        rows.append({"item": label, "value": _value(v), "unit": unit})
    district_soil = extra.get("soil_loss_district")
    if district_soil is not None and len(district_soil):
        r0 = district_soil.iloc[0]
        rows.append(
            {"item": "土壤流失总量", "value": float(r0["total_soil_loss_t_yr"]), "unit": "t/a"}
        )
        rows.append(
            {
                "item": "平均土壤侵蚀模数",
                "value": float(r0["mean_modulus_t_km2_yr"]),
                "unit": "t/(km²·a)",
            }
        )
    sheets.append(Sheet("汇总", pd.DataFrame(rows)))
    layer_zh = {"township": "乡镇", "watershed": "小流域"}
    for layer, wide in zone_wide:
        w = table_from_ha(wide, units).drop(columns=["zone_layer"])
        soil = extra.get(f"soil_loss_{layer}")
        totals = {}
        if soil is not None:
            sl = soil.assign(zone_id=soil["zone_id"].astype(str)).set_index("zone_id")
            key = w["zone_id"].astype(str)
            w["total_soil_loss_t_yr"] = key.map(sl["total_soil_loss_t_yr"]).to_numpy()
            w["mean_modulus_t_km2_yr"] = key.map(sl["mean_modulus_t_km2_yr"]).to_numpy()
            if district_soil is not None and len(district_soil):
                totals["mean_modulus_t_km2_yr"] = float(
                    district_soil.iloc[0]["mean_modulus_t_km2_yr"]
                )
        area_cols = [c for c in w.columns if c.endswith("_ha")]
        sum_cols = area_cols + (["total_soil_loss_t_yr"] if soil is not None else [])
        sheets.append(
            Sheet(
                layer_zh.get(layer, layer),
                w,
                sum_cols=sum_cols,
                ratio_cols={"erosion_share_pct": ("erosion_area_ha", "land_area_ha")},
                label_col="zone_name",
                total_values=totals,
            )
        )
    if change_parts is not None:
        mat, per_class, scalars = change_parts
        if mat is not None:
            m = table_from_ha(mat, units).drop(columns=["from_class"])
            to_cols = [c for c in m.columns if c.startswith("to_")]
            m["total_ha"] = m[to_cols].sum(axis=1)
            hdr = {c: f"→{CLASSES[int(c.split('_')[1])][1]}（{{u}}）" for c in to_cols} | {
                "total_ha": "合计（{u}）"
            }
            sheets.append(Sheet("转移矩阵", m, sum_cols=[*to_cols, "total_ha"], headers=hdr))
        pc = table_from_ha(per_class, units).drop(columns=["class_en"], errors="ignore")
        sheets.append(
            Sheet(
                "分级变化",
                pc,
                sum_cols=["area_y0_ha", "area_y1_ha", "net_change_ha"],
                ratio_cols={"net_change_pct": ("net_change_ha", "area_y0_ha")},
                label_col="class_zh",
            )
        )
        sc = mapping_from_ha(scalars.iloc[0].to_dict(), units)
        rows = [
            {
                "item": summary_labels.get(k, k).split(" ")[0],
                "value": _value(v),
                "unit": u.zh if k.endswith("_ha") else ("%" if k.endswith("_pct") else ""),
            }
            for k, v in sc.items()
        ]
        sheets.append(Sheet("变化汇总", pd.DataFrame(rows)))
    for layer in ("township", "watershed"):
        zc = extra.get(f"zone_change_{layer}")
        if zc is None:
            continue
        zc = zc.drop(columns=["zone_layer"], errors="ignore")
        sums = [c for c in zc.columns if c.endswith("_ha")]
        sheets.append(
            Sheet(
                f"{layer_zh[layer]}变化",
                zc,
                sum_cols=sums,
                ratio_cols={
                    "erosion_area_change_pct": ("erosion_area_change_ha", "erosion_area_y0_ha")
                },
                label_col="zone_name",
            )
        )
    cross = extra.get("slope_landuse")
    if cross is not None and len(cross):
        piv = cross.pivot_table(
            index=["slope_class", "slope_label", "landuse_code", "landuse_zh"],
            columns="class_code",
            values="area_ha",
            aggfunc="sum",
            fill_value=0.0,
        ).reindex(columns=list(CLASSES), fill_value=0.0)
        piv.columns = [f"{CLASSES[c][0]}_area_ha" for c in piv.columns]
        piv["land_area_ha"] = piv.sum(axis=1)
        piv = piv.reset_index().drop(columns=["slope_class", "landuse_code"])
        sums = [c for c in piv.columns if c.endswith("_ha")]
        sheets.append(Sheet("坡度×土地利用×强度", piv, sum_cols=sums, label_col="slope_label"))
    key = extra.get("key_townships")
    if key is not None:
        sheets.append(Sheet("重点乡镇", key))
    if provenance_rows:
        prov = pd.DataFrame(
            [
                {"item": k, "value": _value(v) if not isinstance(v, str) else v}
                for k, v in provenance_rows
            ]
        )
        sheets.append(Sheet("数据来源与参数", prov))
    return sheets
