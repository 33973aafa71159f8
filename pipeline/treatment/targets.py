"""Target tracking (十四五): cumulative 治理面积 / 生态修复面积 against targets.

Areas
-----
For a year y, the cumulative area of a category since the baseline is the area of
the **union** of the polygons of that category completed in (baseline, y], clipped
to each zone: overlapping or repeated measures of one category count once
(a terrace later planted with grass is one treated area). 治理面积 (treatment:
梯田, 水土保持林, 经济林, 种草, 保土耕作, 其他) and 生态修复面积 (restoration:
封禁治理) are separate targets and are unioned separately; an area under both
counts once in each (practice varies: 生态修复 is reported beside the
comprehensive-treatment total here; say so where the district counts it inside).
Areas are planar areas in the layer's CRS: give an equal-area or local projected
CRS (the stage uses the analysis grid's Albers CRS).

Targets
-------
A targets table gives, per zone (the district or a township) and per year (or the
period end), 治理面积 and 生态修复面积 in a stated unit (ha, 亩, 万亩, km²) and the
水土保持率 target in %. Completion = achieved / target × 100; the remainder per
year spreads what is left evenly over the years after the current one up to the
period end (all of it when the period has ended).

水土保持率 = (1 − erosion area / land area) × 100 (consistent
with the 中国水土保持公报's national figures; the national bulletins do not quote the formula).

Why written by hand: the unit parsing and the progress arithmetic are bulletin
conventions; polygon unions are shapely (via geopandas).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.errors import InputDataError
from pipeline.treatment.measures import MEASURES
from pipeline.treatment.units import from_ha, normalise_unit, to_ha

__all__ = [
    "METRICS",
    "cumulative_areas",
    "progress_table",
    "read_targets",
    "soil_conservation_rate_pct",
]

# metric key: (中文, English, kind) — kind "area" (ha) or "rate" (%)
METRICS: dict[str, tuple[str, str, str]] = {
    "treatment": ("治理面积", "treated area", "area"),
    "restoration": ("生态修复面积", "ecological restoration area", "area"),
    "conservation_rate": ("水土保持率", "soil-conservation rate", "rate"),
}
_METRIC_ALIASES = {
    "治理面积": "treatment", "水土流失治理面积": "treatment", "treatment": "treatment",
    "treatment_area": "treatment",
    "生态修复面积": "restoration", "restoration": "restoration", "restoration_area": "restoration",
    "水土保持率": "conservation_rate", "conservation_rate": "conservation_rate",
}  # fmt: skip
_HEADER = re.compile(r"^\s*([^\s(（_]+)\s*[(（_]\s*([^)）]+?)\s*[)）]?\s*$")


def soil_conservation_rate_pct(erosion_area_ha: float, land_area_ha: float) -> float:
    """水土保持率 (%) = (1 − erosion area / land area) × 100.

    >>> soil_conservation_rate_pct(25.0, 100.0)
    75.0
    """
    if land_area_ha <= 0:
        raise InputDataError(f"land area must be > 0 ha, got {land_area_ha!r}")
    return (1.0 - erosion_area_ha / land_area_ha) * 100.0


def cumulative_areas(
    measures: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    *,
    years: Iterable[int],
    baseline_year: int,
    zone_id_col: str = "zone_id",
    district: shapely.Geometry | None = None,
) -> pd.DataFrame:
    """Cumulative 治理 / 生态修复 area (ha) since the baseline, by zone and district.

    Parameters
    ----------
    measures : geopandas.GeoDataFrame
        Output of :func:`pipeline.treatment.measures.read_measures` (projected CRS, m).
    zones : geopandas.GeoDataFrame
        Township polygons in the same CRS with ``zone_id_col``.
    years : iterable of int
        Years to report (cumulative to the end of each year).
    baseline_year : int
        Measures completed in the baseline year or before are not counted.
    district : shapely geometry, optional
        The district outline (default: the union of the zones).

    Returns
    -------
    pandas.DataFrame
        ``zone_id`` ("district" for the whole), ``year``, ``metric``
        (treatment / restoration), ``area_ha`` — union area per category.
    """
    if measures.crs is None or not measures.crs.is_projected:
        raise InputDataError("measures: need a projected CRS in metres for areas")
    if zones.crs != measures.crs:
        zones = zones.to_crs(measures.crs)
    if zone_id_col not in zones.columns:
        raise InputDataError(f"zones: no column {zone_id_col!r}; has {list(zones.columns)}")
    unit = measures.crs.axis_info[0].unit_name
    if unit not in ("metre", "meter"):
        raise InputDataError(f"measures: CRS unit is {unit!r}; need metres")
    outline = district if district is not None else shapely.union_all(zones.geometry.values)
    category = measures["measure"].map(lambda k: MEASURES[k][3])
    rows = []
    for year in sorted({int(y) for y in years}):
        for metric in ("treatment", "restoration"):
            sel = measures[
                (category == metric)
                & (measures["year"] > int(baseline_year))
                & (measures["year"] <= year)
            ]
            merged = shapely.union_all(sel.geometry.values) if len(sel) else shapely.Polygon()
            rows.append(
                ("district", year, metric, shapely.intersection(merged, outline).area / 1e4)
            )
            for zid, geom in zip(zones[zone_id_col], zones.geometry, strict=True):
                rows.append((zid, year, metric, shapely.intersection(merged, geom).area / 1e4))
    return pd.DataFrame(rows, columns=["zone_id", "year", "metric", "area_ha"])


def _metric(label: str, source: str) -> str:
    key = _METRIC_ALIASES.get(str(label).strip())
    if key is None:
        raise InputDataError(
            f"{source}: unknown target metric {label!r}; use one of {sorted(_METRIC_ALIASES)}"
        )
    return key


def read_targets(
    table: pd.DataFrame,
    *,
    source: str = "targets table",
    zone_col: str = "zone_id",
    period_end: int = 2025,
) -> pd.DataFrame:
    """Targets in canonical long form: ``zone_id, year, metric, target`` (ha, or % for rates).

    Two layouts are accepted:

    - long: columns ``zone_col``, ``metric`` (治理面积 / 生态修复面积 / 水土保持率),
      ``value``, ``unit`` (公顷/ha, 亩, 万亩, km2; % for 水土保持率) and optionally ``year``;
    - wide: ``zone_col``, optional ``year``, and one column per metric with the unit
      in the header, e.g. ``治理面积(万亩)``, ``生态修复面积（亩）``, ``水土保持率(%)``.

    A missing ``year`` means the period end. ``zone_col`` is ``district`` for the
    district or a township id.

    Examples
    --------
    >>> t = pd.DataFrame({"zone_id": ["district"], "治理面积(万亩)": [1.5]})
    >>> read_targets(t)[["metric", "target"]].values.tolist()
    [['treatment', 1000.0]]
    """
    if zone_col not in table.columns:
        raise InputDataError(f"{source}: no column {zone_col!r}; has {list(table.columns)}")
    has_year = "year" in table.columns
    rows = []
    if {"metric", "value"} <= set(table.columns):
        if "unit" not in table.columns:
            raise InputDataError(f"{source}: long layout needs a 'unit' column")
        for i, r in table.iterrows():
            rows.append((r[zone_col], r.get("year") if has_year else None, r["metric"],
                         r["value"], r["unit"], f"{source} row {i}"))  # fmt: skip
    else:
        value_cols = [c for c in table.columns if c not in (zone_col, "year")]
        if not value_cols:
            raise InputDataError(f"{source}: no target columns besides {zone_col!r}")
        for col in value_cols:
            m = _HEADER.match(str(col))
            if not m:
                raise InputDataError(
                    f"{source}: column {col!r} states no unit; write e.g. '治理面积(万亩)', "
                    "'生态修复面积(公顷)', '水土保持率(%)'"
                )
            for i, r in table.iterrows():
                rows.append((r[zone_col], r["year"] if has_year else None, m.group(1),
                             r[col], m.group(2), f"{source} column {col!r} row {i}"))  # fmt: skip
    out = []
    for zone, year, metric_label, value, unit, where in rows:
        if pd.isna(value):
            continue
        metric = _metric(metric_label, source)
        yr = int(period_end) if year is None or pd.isna(year) else int(year)
        if METRICS[metric][2] == "rate":
            if str(unit).strip() not in ("%", "percent", "pct"):
                raise InputDataError(f"{where}: 水土保持率 must be in %, got unit {unit!r}")
            v = float(value)
            if not 0 <= v <= 100:
                raise InputDataError(f"{where}: 水土保持率 {value!r} is outside 0–100 %")
        else:
            v = to_ha(value, normalise_unit(unit, where=where), where=where)
            if v < 0:
                raise InputDataError(f"{where}: negative target {value!r}")
        out.append((str(zone), yr, metric, v))
    df = pd.DataFrame(out, columns=["zone_id", "year", "metric", "target"])
    dup = df.duplicated(["zone_id", "year", "metric"], keep=False)
    if dup.any():
        raise InputDataError(
            f"{source}: duplicate targets for {df[dup][['zone_id', 'year', 'metric']].values.tolist()[:5]}"
        )
    return df


def progress_table(
    achieved: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    year: int,
    period_end: int = 2025,
) -> pd.DataFrame:
    """Progress of each area target at the end of ``year``.

    Parameters
    ----------
    achieved : pandas.DataFrame
        Output of :func:`cumulative_areas`.
    targets : pandas.DataFrame
        Output of :func:`read_targets` (area metrics are used; the target of the
        latest target year ≥ ``year`` — the period target — for each zone/metric).
    year : int
        The year reached.
    period_end : int
        Last year of the plan period (2025 for 十四五).

    Returns
    -------
    pandas.DataFrame
        ``zone_id, metric, year, target_year, achieved_ha, target_ha, achieved_wanmu,
        target_wanmu, completion_pct, remaining_ha, remaining_wanmu, years_left,
        remaining_per_year_ha, remaining_per_year_wanmu``. ``years_left`` =
        period_end − year; the per-year remainder is remaining / years_left (the whole
        remainder when no year is left). Remaining is never negative.
    """
    area_targets = targets[targets["metric"].isin(["treatment", "restoration"])]
    rows = []
    for (zone, metric), grp in area_targets.groupby(["zone_id", "metric"], sort=False):
        later = grp[grp["year"] >= int(year)]
        pick = (
            later.sort_values("year").iloc[-1] if len(later) else grp.sort_values("year").iloc[-1]
        )
        got = achieved[
            (achieved["zone_id"].astype(str) == str(zone))
            & (achieved["metric"] == metric)
            & (achieved["year"] == int(year))
        ]["area_ha"]
        if got.empty:
            raise InputDataError(
                f"targets: zone {zone!r} ({metric}) has a target but no achieved area for "
                f"{year}; is the zone id one of the township ids or 'district'?"
            )
        a = float(got.iloc[0])
        t = float(pick["target"])
        remaining = max(t - a, 0.0)
        left = max(int(period_end) - int(year), 0)
        per_year = remaining / left if left > 0 else remaining
        rows.append({
            "zone_id": str(zone), "metric": metric, "year": int(year),
            "target_year": int(pick["year"]),
            "achieved_ha": a, "target_ha": t,
            "achieved_wanmu": from_ha(a, "wanmu"), "target_wanmu": from_ha(t, "wanmu"),
            "completion_pct": a / t * 100.0 if t > 0 else np.nan,
            "remaining_ha": remaining, "remaining_wanmu": from_ha(remaining, "wanmu"),
            "years_left": left,
            "remaining_per_year_ha": per_year, "remaining_per_year_wanmu": from_ha(per_year, "wanmu"),
        })  # fmt: skip
    return pd.DataFrame(rows)
