"""Soil-and-water-conservation measures (治理措施): reading, rasterising, factors.

A measures layer holds polygons with a measure type, the year the measure was
completed and (optionally) a project id. A measure completed in year y acts from
y on: :func:`rasterize_measures` burns the measures completed ≤ y onto the
analysis grid, and :func:`apply_measure_factor` sets P (RUSLE) — or E / T (CSLE)
— where a measure with a table entry lies.

Measure types follow the usual categories of Chinese treatment statistics (practice,
not a standard; adapt them): 梯田 (坡改梯), 水土保持林, 经济林/经果林, 种草, 封禁治理, 保土耕作, 其他.
封禁治理 counts as 生态修复 (ecological restoration), the others as 治理 (treatment).

**No default P/E/T values are shipped.** Published support-practice values are
either study-specific (P for level terraces 0.15 … 0.4 in Chinese studies) or were
not found in a primary source here: the CSLE engineering-measure table of the
MWR 2018 《区域水土流失动态监测技术规定（试行）》 and the contouring / terracing P
table of Wischmeier & Smith (1978, USDA Agriculture Handbook 537, Table 14) were
not available to transcribe. The config (``treatment.measure_factors``) must
give the table with its source; the demo's values are illustrative.
Vegetation measures (水土保持林, 经济林, 种草, 封禁治理) normally have no table
entry: they act through the observed vegetation (C or B from NDVI), not through P.

Overlaps: where measures overlap, the one completed last wins on the raster (the
current state of the ground); ties go to the later row of the layer.

Why written by hand: the type vocabulary and validation are Shuibao's; polygons are
burnt with ``rasterio.features.rasterize``.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from pipeline.errors import InputDataError

__all__ = [
    "MEASURES",
    "MEASURE_CODE",
    "apply_measure_factor",
    "read_measures",
    "rasterize_measures",
]

# key: (code, 中文, English, category) — category "treatment" (治理) or "restoration" (生态修复)
MEASURES: dict[str, tuple[int, str, str, str]] = {
    "terrace": (1, "梯田", "Terraces", "treatment"),
    "conservation_forest": (2, "水土保持林", "Soil-conservation forest", "treatment"),
    "economic_forest": (3, "经济林", "Economic forest / orchard", "treatment"),
    "grass_planting": (4, "种草", "Grass planting", "treatment"),
    "closure": (5, "封禁治理", "Closure (封禁)", "restoration"),
    "conservation_tillage": (6, "保土耕作", "Soil-conserving tillage", "treatment"),
    "other": (7, "其他", "Other measures", "treatment"),
}
MEASURE_CODE = {k: v[0] for k, v in MEASURES.items()}
KEY_BY_CODE = {v[0]: k for k, v in MEASURES.items()}

# accepted labels → key (Chinese names in use, English keys)
ALIASES: dict[str, str] = {k: k for k in MEASURES} | {
    "梯田": "terrace", "水平梯田": "terrace", "坡改梯": "terrace", "坡式梯田": "terrace",
    "隔坡梯田": "terrace",
    "水土保持林": "conservation_forest", "水保林": "conservation_forest",
    "乔木林": "conservation_forest", "灌木林": "conservation_forest",
    "经济林": "economic_forest", "经果林": "economic_forest", "经济林/经果林": "economic_forest",
    "种草": "grass_planting", "人工种草": "grass_planting",
    "封禁治理": "closure", "封禁": "closure", "封育": "closure", "封育治理": "closure",
    "生态修复": "closure",
    "保土耕作": "conservation_tillage", "保土耕作措施": "conservation_tillage",
    "其他": "other", "其它": "other",
}  # fmt: skip


def _measure_key(label, extra: Mapping[str, str]) -> str | None:
    s = str(label).strip()
    if s in extra:
        return extra[s]
    return ALIASES.get(s)


def read_measures(
    gdf: gpd.GeoDataFrame,
    *,
    type_col: str,
    year_col: str,
    project_col: str | None = None,
    type_map: Mapping[str, str] | None = None,
    source: str = "measures layer",
    crs=None,
    year_range: tuple[int, int] = (1949, 2100),
) -> gpd.GeoDataFrame:
    """Validated measures: columns ``measure`` (key), ``year`` (int), ``project``, geometry.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The measures layer as read.
    type_col, year_col, project_col : str
        Columns with the measure type (Chinese name or key, see ``ALIASES``), the
        completion year and the project id (optional).
    type_map : dict, optional
        Extra labels → measure key (e.g. a local code ``"T1": "terrace"``).
    source : str
        File name used in error messages.
    crs : optional
        Reproject to this CRS (the analysis grid's).

    Raises
    ------
    InputDataError
        Naming the file, column and offending values.
    """
    extra = {str(k): str(v) for k, v in (type_map or {}).items()}
    bad_keys = sorted({v for v in extra.values() if v not in MEASURES})
    if bad_keys:
        raise InputDataError(
            f"treatment.measures.type_map: unknown measure key(s) {bad_keys}; use {list(MEASURES)}"
        )
    cols = [type_col, year_col] + ([project_col] if project_col else [])
    missing = [c for c in cols if c not in gdf.columns]
    if missing:
        raise InputDataError(
            f"{source}: missing column(s) {missing}; has {list(gdf.columns)} "
            "(set treatment.measures.type_col / year_col / project_col)"
        )
    if gdf.crs is None:
        raise InputDataError(f"{source}: the layer has no CRS")
    keys = [_measure_key(v, extra) for v in gdf[type_col]]
    unknown = sorted({str(v) for v, k in zip(gdf[type_col], keys, strict=True) if k is None})
    if unknown:
        raise InputDataError(
            f"{source}: column {type_col!r} has unknown measure type(s) {unknown[:10]}; "
            f"known: {sorted(ALIASES)[:40]} … (map local codes with treatment.measures.type_map)"
        )
    years = pd.to_numeric(gdf[year_col], errors="coerce")
    bad = gdf.index[years.isna() | (years % 1 != 0)]
    if len(bad):
        vals = [gdf.loc[i, year_col] for i in bad[:5]]
        raise InputDataError(
            f"{source}: column {year_col!r} must hold whole years; bad value(s) {vals} "
            f"in row(s) {list(bad[:5])}"
        )
    lo, hi = year_range
    out_of = gdf.index[(years < lo) | (years > hi)]
    if len(out_of):
        raise InputDataError(
            f"{source}: column {year_col!r} has year(s) {list(years[out_of][:5].astype(int))} "
            f"outside {lo}–{hi}"
        )
    geom = gdf.geometry
    if geom.isna().any() or geom.is_empty.any():
        rows = list(gdf.index[geom.isna() | geom.is_empty][:5])
        raise InputDataError(f"{source}: empty geometry in row(s) {rows}")
    kinds = set(geom.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputDataError(f"{source}: measures must be polygons; found {sorted(kinds)}")
    out = gpd.GeoDataFrame(
        {
            "measure": keys,
            "year": years.astype(int).to_numpy(),
            "project": gdf[project_col].astype("string").to_numpy() if project_col else pd.NA,
        },
        geometry=geom.make_valid().to_numpy(),
        crs=gdf.crs,
    )
    if crs is not None:
        out = out.to_crs(crs)
    return out


def rasterize_measures(
    measures: gpd.GeoDataFrame,
    *,
    year: int,
    template: xr.DataArray,
    first_year: int | None = None,
) -> xr.DataArray:
    """Measure codes (``MEASURE_CODE``; 0 = none) of measures completed ≤ ``year``.

    Parameters
    ----------
    measures : geopandas.GeoDataFrame
        Output of :func:`read_measures`, in the template's CRS.
    year : int
        Assessment year: a measure completed in year y acts from y on.
    template : xarray.DataArray
        2-D raster on the analysis grid (``rio`` CRS and transform).
    first_year : int, optional
        Ignore measures completed before this year.

    Returns
    -------
    xarray.DataArray
        uint8 codes, units ``"1"``; a pixel is in a measure when its centre is.
        Where measures overlap, the one completed last wins.
    """
    from rasterio.features import rasterize

    sel = measures[measures["year"] <= int(year)]
    if first_year is not None:
        sel = sel[sel["year"] >= int(first_year)]
    sel = sel.assign(_order=np.arange(len(sel))).sort_values(["year", "_order"], kind="stable")
    shape = template.shape[-2:]
    if len(sel):
        codes = rasterize(
            ((g, MEASURE_CODE[m]) for g, m in zip(sel.geometry, sel["measure"], strict=True)),
            out_shape=shape,
            transform=template.rio.transform(),
            fill=0,
            dtype="uint8",
        )
    else:
        codes = np.zeros(shape, np.uint8)
    da = xr.DataArray(
        codes,
        dims=template.dims[-2:],
        coords={d: template.coords[d] for d in template.dims[-2:] if d in template.coords},
        name="measures",
        attrs={"units": "1", "year": int(year), "legend": _legend()},
    )
    if template.rio.crs is not None:
        da = da.rio.write_crs(template.rio.crs).rio.write_transform(template.rio.transform())
    return da


def _legend() -> str:
    return "; ".join(f"{v[0]}={k} {v[1]}" for k, v in MEASURES.items())


def apply_measure_factor(
    factor: xr.DataArray,
    measure_codes: xr.DataArray,
    table: Mapping[str, float],
    *,
    combine: str = "replace",
    name: str | None = None,
) -> xr.DataArray:
    """P (or E, T) with measures: ``table[measure]`` where a listed measure lies.

    Parameters
    ----------
    factor : xarray.DataArray
        The factor without measures (P from land cover; E or T = 1 …), dimensionless.
    measure_codes : xarray.DataArray
        Output of :func:`rasterize_measures` on the same grid.
    table : dict of measure key → float in [0, 1]
        Measures not listed leave the factor unchanged (vegetation measures act
        through the observed vegetation).
    combine : {"replace", "multiply"}
        "replace": the measure's value replaces the factor (Chinese table practice);
        "multiply": it multiplies it (RUSLE sub-factor product, Renard et al. 1997,
        USDA Agriculture Handbook 703, ch. 6).

    Returns
    -------
    xarray.DataArray
        Same name/units as ``factor`` (units ``"1"``); NaN stays NaN.

    Examples
    --------
    >>> import xarray as xr
    >>> p = xr.DataArray([[1.0, 0.4, 0.4]], dims=("y", "x"))
    >>> m = xr.DataArray([[0, 1, 5]], dims=("y", "x"))
    >>> apply_measure_factor(p, m, {"terrace": 0.1}).values.tolist()
    [[1.0, 0.1, 0.4]]
    """
    if combine not in ("replace", "multiply"):
        raise InputDataError(
            f"treatment.measure_factors.combine: 'replace' or 'multiply', got {combine!r}"
        )
    lut = np.full(256, np.nan)
    for key, value in table.items():
        if key not in MEASURES:
            raise InputDataError(
                f"treatment.measure_factors: unknown measure {key!r}; use {list(MEASURES)}"
            )
        v = float(value)
        if not 0.0 <= v <= 1.0:
            raise InputDataError(f"treatment.measure_factors: {key} = {value!r} is outside [0, 1]")
        lut[MEASURE_CODE[key]] = v
    if factor.shape[-2:] != measure_codes.shape[-2:]:
        raise InputDataError(
            f"measures raster {measure_codes.shape} is not on the factor's grid {factor.shape}"
        )
    codes = np.asarray(measure_codes.values).astype(np.int64).clip(0, 255)
    mv = xr.DataArray(
        lut[codes],
        dims=factor.dims[-2:],
        coords={d: factor.coords[d] for d in factor.dims[-2:] if d in factor.coords},
    )
    has = mv.notnull() & factor.notnull()
    out = xr.where(has, mv if combine == "replace" else factor * mv, factor)
    out.name = name or factor.name
    out.attrs = dict(factor.attrs) | {"units": "1", "measures_combine": combine}
    return out
