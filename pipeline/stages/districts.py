"""Stages: many districts in one run (issue #17).

Inputs, factors and soil loss are computed once, on the analysis grid that covers every
district (the run's AOI). Each district then gets:

- :func:`make_district_statistics`: the run's ``soil_loss.tif`` and ``intensity.tif`` cut to
  the district's window and masked to the district by pixel centres (the rule the soil-loss
  stage applies to an AOI), and the statistics stage run on them with the district polygon as
  the AOI: class areas in true hectares, the land area = the district polygon's true area,
  township and watershed tables of the zones' parts within the district. A district assessed
  this way has the figures of a run with that district as the AOI on the same grid and inputs.
- :func:`make_district_report`: the report stage on those files (bulletins, tables, maps, HTML).
- :func:`make_district_ranking`: one table ranking the districts of a year.

Written by hand: bookkeeping of this project's own files; the science is in the stages it calls.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import layout
from pipeline.errors import ConfigError, InputDataError
from pipeline.io import atomic_path, open_raster, write_cog, write_csv

log = logging.getLogger("shuibao.districts")

#: A district code as it may appear in a path (the ``district`` wildcard).
DISTRICT_ID = re.compile(r"[A-Za-z0-9_.\-]+")
LAYER = "districts"


def district_id_text(value) -> str:
    """The path form of a district code: integers without ``.0``; checked against
    :data:`DISTRICT_ID`."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    text = str(value).strip()
    if not DISTRICT_ID.fullmatch(text):
        raise ConfigError(
            f"config key 'districts.id_field': district code {value!r} cannot be used in a "
            "path; use codes of letters, digits, '_', '.' or '-' (e.g. the 6-digit 行政区划代码)"
        )
    return text


def make_district_layer(
    *, source_path, grid_path, out_path, districts: Mapping, source_layer=None
) -> None:
    """Write ``districts/districts.gpkg``: district_id, name, name_en and the polygons in the
    grid CRS, from the config's polygon layer (or the run's township layer)."""
    import geopandas as gpd

    cfg = dict(districts)
    gdf = layout.read_vector(source_path, what="district layer", layer=source_layer)
    id_field, name_field = cfg.get("id_field", "zone_id"), cfg.get("name_field", "name")
    name_en_field = cfg.get("name_en_field")
    for key, col in (("id_field", id_field), ("name_field", name_field)):
        if col not in gdf.columns:
            raise ConfigError(
                f"config key 'districts.{key}': column {col!r} is not in {source_path}; "
                f"its columns are {[c for c in gdf.columns if c != 'geometry']}"
            )
    if gdf.crs is None:
        raise InputDataError(f"{source_path}: the district layer has no CRS")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if gdf.empty:
        raise InputDataError(f"{source_path}: the district layer has no polygon")
    ids = [district_id_text(v) for v in gdf[id_field]]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputDataError(
            f"{source_path}: district codes {dup} occur more than once in column {id_field!r}; "
            "each district must be one row (dissolve its parts first)"
        )
    names = gdf[name_field].astype(str).tolist()
    if name_en_field and name_en_field in gdf.columns:
        names_en = gdf[name_en_field].fillna(gdf[name_field]).astype(str).tolist()
    else:
        names_en = names
    crs = layout.read_grid(grid_path).crs
    out = gpd.GeoDataFrame(
        {"district_id": ids, "name": names, "name_en": names_en},
        geometry=gdf.geometry.to_crs(crs).values,
        crs=crs,
    )
    layout.write_vector(out, out_path, key="districts")
    log.info(
        "%d districts: %s", len(out), ", ".join(f"{i} {n}" for i, n in zip(ids, names, strict=True))
    )


def read_district(layer_path, district_id: str):
    """One district's row (GeoDataFrame of one polygon) of ``districts.gpkg``."""
    gdf = layout.read_vector(layer_path, what="district layer", layer=LAYER)
    one = gdf[gdf["district_id"].astype(str) == str(district_id)]
    if one.empty:
        raise InputDataError(
            f"{layer_path}: no district {district_id!r}; the codes are "
            f"{gdf['district_id'].astype(str).tolist()}"
        )
    return one.reset_index(drop=True)


def _window(template, geometry, *, block: int) -> tuple[slice, slice]:
    """Row and column slices of the pixels of ``template`` that the polygon's bounds touch,
    widened to whole ``block`` × ``block`` chunks of the full grid."""
    from rasterio.windows import from_bounds

    transform = template.rio.transform()
    h, w = template.shape[-2:]
    win = from_bounds(*geometry.bounds, transform=transform)
    r0 = max(int(np.floor(win.row_off)) // block * block, 0)
    c0 = max(int(np.floor(win.col_off)) // block * block, 0)
    r1 = min(-(-int(np.ceil(win.row_off + win.height)) // block) * block, h)
    c1 = min(-(-int(np.ceil(win.col_off + win.width)) // block) * block, w)
    if r1 <= r0 or c1 <= c0:
        raise InputDataError("the district does not overlap the analysis grid")
    return slice(r0, r1), slice(c0, c1)


def _district_mask(geometry, sub, *, transform, row0: int, col0: int):
    """True where a pixel centre of ``sub`` (the full grid's rows ``row0``…, columns
    ``col0``…) lies in the district: :func:`pipeline.stages.common.aoi_mask`'s rule with the
    same full-grid block windows, so that a centre on the border is decided exactly as in a
    run with the district as the AOI (GDAL's rasterisation of a border centre depends on the
    window's origin)."""
    import dask.array as dsa
    import xarray as xr
    from rasterio.features import geometry_mask

    def _block(block, block_info=None):
        (r0, r1), (c0, c1) = block_info[0]["array-location"][-2:]
        win = transform * transform.translation(c0 + col0, r0 + row0)
        return ~geometry_mask([geometry], out_shape=(r1 - r0, c1 - c0), transform=win)

    mask = dsa.map_blocks(_block, sub.data, dtype=bool)
    return xr.DataArray(mask, dims=sub.dims[-2:], coords={d: sub[d] for d in sub.dims[-2:]})


def _clip_raster(src_path, out_path, geometry, *, chunks, dtype, nodata) -> None:
    """The raster on the district's window, nodata outside the district (pixel centres);
    the source's tags (class breaks, provenance) and colour table are kept."""
    import rasterio

    da = open_raster(src_path, chunks=chunks)
    rows, cols = _window(da, geometry, block=int(chunks["y"]))
    sub = da.isel(y=rows, x=cols)
    inside = _district_mask(
        geometry, sub, transform=da.rio.transform(), row0=rows.start, col0=cols.start
    )
    out = sub.where(inside)
    out = out.rio.write_crs(da.rio.crs).rio.write_transform(
        da.rio.transform() * da.rio.transform().translation(cols.start, rows.start)
    )
    with rasterio.open(src_path) as src:
        tags = dict(src.tags())
        try:
            colormap = src.colormap(1)
        except ValueError:
            colormap = None
    tags.pop("units", None)
    write_cog(out, out_path, dtype=dtype, nodata=nodata, tags=tags, colormap=colormap)


def _write_zones_within(zone_path, one, out_path) -> str:
    """The zones of ``zone_path`` that overlap the district ``one``, cut to it, written to
    ``out_path`` (a scratch GeoPackage)."""
    zones = layout.read_zones(zone_path, one.crs)
    parts = zones.geometry.intersection(one.geometry.iloc[0])
    keep = ~parts.is_empty & (parts.area > 0)
    zones = zones[keep].copy()
    zones["geometry"] = parts[keep]
    zones.to_file(out_path, driver="GPKG", engine="pyogrio")
    return str(out_path)


def make_district_statistics(
    *,
    district_id: str,
    layer_path,
    intensity_path,
    soil_loss_path,
    zone_paths: Mapping[str, str],
    year: int,
    out_aoi,
    out_intensity,
    out_soil_loss,
    out_classes,
    out_summary,
    out_zones: Mapping[str, str],
    statistics: Mapping | None = None,
    classification: Mapping | None = None,
    compute: Mapping | None = None,
) -> None:
    """One district's rasters, class tables and summary, from the run's soil-loss rasters.

    ``statistics.official_area_ha`` (面积平差) is the run's, not a district's: it is not
    applied here.
    """
    from pipeline import classify
    from pipeline.stages.common import chunks_2d
    from pipeline.stages.statistics import make_statistics

    ch = chunks_2d(compute)
    one = read_district(layer_path, district_id)
    geometry = one.geometry.iloc[0]
    aoi = one[["name", "name_en", "geometry"]]
    layout.write_vector(aoi, out_aoi, key="aoi")
    _clip_raster(
        intensity_path, out_intensity, geometry, chunks=ch, dtype="uint8", nodata=classify.NODATA
    )
    _clip_raster(soil_loss_path, out_soil_loss, geometry, chunks=ch, dtype="float32", nodata=None)
    stats_cfg = {k: v for k, v in dict(statistics or {}).items() if k != "official_area_ha"}
    with tempfile.TemporaryDirectory(dir=Path(out_classes).parent.parent) as tmp:
        clipped = {
            layer: _write_zones_within(path, one, Path(tmp, f"{layer}.gpkg"))
            for layer, path in zone_paths.items()
        }
        make_statistics(
            intensity_path=out_intensity,
            soil_loss_path=out_soil_loss,
            aoi_path=out_aoi,
            zone_paths=clipped,
            year=year,
            out_classes=out_classes,
            out_summary=out_summary,
            out_zones=out_zones,
            statistics=stats_cfg,
            classification=classification,
            compute=compute,
        )
    summary = layout.read_json(out_summary)
    row = one.iloc[0]
    summary |= {
        "district_id": str(district_id),
        "district_name": str(row["name"]),
        "district_name_en": str(row["name_en"]),
    }
    layout.write_json(summary, out_summary)


def make_district_report(*, district_id: str, layer_path, inputs: Mapping[str, str], **kwargs):
    """The report stage (:func:`pipeline.stages.report.make_report`) for one district, named
    as in the district layer; its maps show the townships' parts within the district."""
    from pipeline.stages.report import make_report

    one = read_district(layer_path, district_id)
    row = one.iloc[0]
    inputs = dict(inputs)
    with tempfile.TemporaryDirectory(dir=Path(kwargs["outputs"]["html"]).parent) as tmp:
        if "townships" in inputs:
            inputs["townships"] = _write_zones_within(
                inputs["townships"], one, Path(tmp, "townships.gpkg")
            )
        make_report(
            inputs=inputs,
            district_name=str(row["name"]),
            district_name_en=str(row["name_en"]),
            **kwargs,
        )


RANKING_COLUMNS = [
    "rank_erosion_share",
    "rank_mean_modulus",
    "district_id",
    "district_name",
    "district_name_en",
    "land_area_ha",
    "erosion_area_ha",
    "erosion_share_pct",
    "mean_modulus_t_km2_a",
    "total_soil_loss_t_a",
    "district_class_zh",
    "district_class_en",
]


def district_ranking(summaries: Sequence[Mapping]) -> pd.DataFrame:
    """Districts ranked by soil-loss (erosion) area share and by mean soil-loss modulus
    (1 = the largest; ties share the smaller rank), sorted by the first.

    >>> t = district_ranking([
    ...     {"district_id": "a", "erosion_share_pct": 10.0, "mean_modulus_t_km2_a": 900.0},
    ...     {"district_id": "b", "erosion_share_pct": 30.0, "mean_modulus_t_km2_a": 700.0}])
    >>> t[["district_id", "rank_erosion_share", "rank_mean_modulus"]].values.tolist()
    [['b', 1, 2], ['a', 2, 1]]
    """
    df = pd.DataFrame([dict(s) for s in summaries])
    for col in RANKING_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan
    df["district_id"] = df["district_id"].astype(str)
    df["rank_erosion_share"] = (
        df["erosion_share_pct"].rank(ascending=False, method="min").astype(int)
    )
    df["rank_mean_modulus"] = (
        df["mean_modulus_t_km2_a"].rank(ascending=False, method="min").astype(int)
    )
    df = df.sort_values(["rank_erosion_share", "district_id"], kind="stable")
    return df[RANKING_COLUMNS].reset_index(drop=True)


def make_district_ranking(*, summary_paths: Sequence[str], year: int, out_csv, out_xlsx) -> None:
    """``districts/ranking_{year}.csv`` and ``.xlsx`` (one sheet) from the districts'
    summaries."""
    table = district_ranking([layout.read_json(p) for p in summary_paths])
    table.insert(0, "year", int(year))
    write_csv(table, out_csv)
    with atomic_path(out_xlsx, suffix=".xlsx") as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
            table.to_excel(xl, sheet_name=f"districts_{year}", index=False)
    log.info("%d districts ranked for %s", len(table), year)
