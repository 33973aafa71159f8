"""What the report stage adds for hand-over (#14): extra tables, units, provenance.

Reads the tables written by the statistics stages (``tables/zone_soil_loss_*.csv``,
``slope_landuse_intensity.csv``, ``key_townships.csv``, ``change_*/zone_change_*.csv``)
and prepares them for the workbook and the HTML report; converts areas to the
``report.units`` unit for printing. Computes nothing scientific.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from pipeline.units import area_unit, mapping_from_ha, relabel_text, table_from_ha

__all__ = ["relabel_text"]  # re-exported for the report stage

#: report-rule input key → name of the table in the workbook / bulletin_tables
EXTRA_INPUTS = {
    "soil_loss_district": "soil_loss_district",
    "soil_loss_township": "soil_loss_township",
    "soil_loss_watershed": "soil_loss_watershed",
    "slope_landuse": "slope_landuse",
    "key_townships": "key_townships",
    "zone_change_township": "zone_change_township",
    "zone_change_watershed": "zone_change_watershed",
}


def read_extra_tables(inputs: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """The extra statistics tables present among the report's inputs (ha)."""
    return {
        name: pd.read_csv(inputs[key], encoding="utf-8-sig")
        for key, name in EXTRA_INPUTS.items()
        if key in inputs
    }


def in_units(table, summary, zone_tables, change, units):
    """Copies of the report's tables with areas in ``units`` (for printing only)."""
    return (
        table_from_ha(table, units),
        mapping_from_ha(summary, units),
        {k: table_from_ha(v, units) for k, v in zone_tables.items()},
        None if change is None else mapping_from_ha(change, units),
    )


def relabel_html(html: str, units: str | None) -> str:
    """Hectare labels of the rendered report → the chosen unit (both languages)."""
    u = area_unit(units)
    if u.key == "ha":
        return html
    for a, b in (
        ("ha（公顷）", f"{u.en}（{u.zh}）"),
        ("公顷 (ha)", f"{u.zh} ({u.en})"),
        ("面积单位 ha", f"面积单位 {u.zh}"),
        ("areas in ha", f"areas in {u.en}"),
        ('<span class="unit">ha</span>', f'<span class="unit">{u.en}</span>'),
    ):
        html = html.replace(a, b)
    return relabel_text(relabel_text(html, units, "zh"), units, "en")


def html_sections(extra: Mapping[str, pd.DataFrame], units: str | None) -> list[tuple[str, object]]:
    """HTML sections for soil loss per zone and the 重点乡镇 list."""
    u = area_unit(units)
    out: list[tuple[str, object]] = []
    names = {"township": "乡镇 townships", "watershed": "小流域 small watersheds"}
    for layer, label in names.items():
        df = extra.get(f"soil_loss_{layer}")
        if df is not None:
            d = table_from_ha(df, units)[
                [
                    "zone_id",
                    "zone_name",
                    "land_area_ha",
                    "total_soil_loss_t_yr",
                    "mean_modulus_t_km2_yr",
                ]
            ].rename(
                columns={
                    "zone_id": "编号 id",
                    "zone_name": "名称 name",
                    "land_area_ha": f"土地面积 land area ({u.en})",
                    "total_soil_loss_t_yr": "土壤流失总量 total soil loss (t/a)",
                    "mean_modulus_t_km2_yr": "平均侵蚀模数 mean modulus (t/(km²·a))",
                }
            )
            out.append((f"土壤流失量 Soil loss by {label}", d.round(2)))
    key = extra.get("key_townships")
    if key is not None:
        k = table_from_ha(key, units).rename(
            columns={
                "zone_id": "编号 id",
                "zone_name": "乡镇 township",
                "erosion_area_ha": f"水土流失面积 erosion area ({u.en})",
                "erosion_share_pct": "水土流失面积占比 (%)",
                "moderate_and_above_area_ha": f"中度及以上面积 moderate+ ({u.en})",
                "moderate_and_above_share_pct": "中度及以上占比 moderate+ share (%)",
                "rank_by_erosion_area": "面积排名 rank by area",
                "rank_by_moderate_share": "占比排名 rank by share",
            }
        )
        out.append(("重点乡镇 Key townships", k.round(2)))
    return out


def resources_dir(inputs: Mapping[str, str]) -> Path | None:
    """The folder of the run's input files (where the AOI layer lives)."""
    return Path(inputs["aoi"]).parent if "aoi" in inputs else None
