"""Readers of local vector layers: township/watershed zones and field-survey points."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.errors import ConfigError, InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.sources.local.grid import _aoi_geoseries, _read_vector


# ------------------------------------------------------------------- vectors
def _require_columns(gdf, path, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c is not None and c not in gdf.columns]
    if missing:
        raise InputDataError(
            f"{what} {path}: column(s) {missing} not found; it has "
            f"{[c for c in gdf.columns if c != 'geometry']}"
        )


def read_zones(
    path,
    *,
    layer: str | None = None,
    id_col: str,
    name_col: str,
    name_en_col: str | None = None,
    grid: AnalysisGrid,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Zone polygons (townships or small watersheds) in the grid CRS.

    Returns a GeoDataFrame with ``zone_id`` (str), ``name``, ``name_en`` (the
    Chinese name when ``name_en_col`` is not given). Errors name the file and
    column: missing columns, no CRS, duplicate IDs, non-polygon geometries.
    """
    gdf = _read_vector(path, layer=layer, what="zone layer", encoding=encoding)
    _require_columns(gdf, path, [id_col, name_col, name_en_col], "zone layer")
    types = set(gdf.geom_type.dropna())
    if not types <= {"Polygon", "MultiPolygon"}:
        raise InputDataError(f"zone layer {path}: geometries must be polygons, found {types}")
    ids = gdf[id_col].astype(str)
    dup = sorted(ids[ids.duplicated()].unique())
    if dup:
        raise InputDataError(f"zone layer {path}: column {id_col!r} has duplicate IDs {dup[:10]}")
    out = gpd.GeoDataFrame(
        {
            "zone_id": ids.to_numpy(),
            "name": gdf[name_col].astype(str).to_numpy(),
            "name_en": gdf[name_en_col if name_en_col else name_col].astype(str).to_numpy(),
        },
        geometry=gdf.geometry.to_crs(grid.crs).values,
        crs=grid.crs,
    )
    return out


def read_survey(
    path,
    *,
    class_col: str,
    grid: AnalysisGrid,
    aoi,
    id_col: str | None = None,
    year: int | None = None,
    year_col: str | None = None,
    layer: str | None = None,
    stratum_col: str | None = None,
    inclusion_col: str | None = None,
) -> gpd.GeoDataFrame:
    """Field-survey points with SL 190-2007 intensity classes, in the grid CRS.

    Parameters
    ----------
    path : path
        GeoPackage or shapefile of points.
    class_col : str
        Column with the intensity class, integer 1–6 (1 微度 … 6 剧烈).
    grid : AnalysisGrid
        Target CRS.
    aoi : path, GeoDataFrame/GeoSeries or geometry
        Every point must fall inside it (a bare geometry is in the grid CRS).
    id_col, year_col : str, optional
        Survey ID column (default: row number) and year column (else ``year``).
    year : int, optional
        Year of every point when there is no year column.

    stratum_col, inclusion_col : str, optional
        Sampling design: the stratum of each point and its inclusion probability π
        (n_h / N_h), kept as ``stratum`` and ``inclusion_probability`` (both or neither).

    Returns
    -------
    geopandas.GeoDataFrame
        ``survey_id`` (str), ``year`` (int), ``intensity_class`` (int 1–6), and
        ``stratum``, ``inclusion_probability`` when their columns are given.
    """
    gdf = _read_vector(path, layer=layer, what="survey layer")
    if (stratum_col is None) != (inclusion_col is None):
        raise ConfigError(
            f"survey {path}: give both stratum_col and inclusion_col (the sampling design), "
            "or neither"
        )
    _require_columns(
        gdf, path, [class_col, id_col, year_col, stratum_col, inclusion_col], "survey layer"
    )
    if year_col is None and year is None:
        raise ConfigError(f"survey {path}: give year_col or year")
    types = set(gdf.geom_type.dropna())
    if types != {"Point"}:
        raise InputDataError(f"survey layer {path}: geometries must be points, found {types}")
    raw = pd.to_numeric(gdf[class_col], errors="coerce")
    bad_mask = ~raw.isin(range(1, 7))
    if bad_mask.any():
        bad = sorted(set(gdf.loc[bad_mask, class_col].astype(str)))
        raise InputDataError(
            f"survey layer {path}: column {class_col!r} has values {bad[:10]} that are not "
            "SL 190-2007 intensity classes 1–6 (1 微度 … 6 剧烈)"
        )
    pts = gdf.geometry.to_crs(grid.crs)
    if isinstance(aoi, shapely.Geometry):
        aoi_geom = aoi
    else:
        aoi_geom = _aoi_geoseries(aoi).to_crs(grid.crs).iloc[0]
    inside = pts.within(aoi_geom)
    ids = (
        gdf[id_col].astype(str)
        if id_col
        else pd.Series([str(i) for i in range(1, len(gdf) + 1)], index=gdf.index)
    )
    if not inside.all():
        outside = ids[~inside.to_numpy()].tolist()
        raise InputDataError(
            f"survey layer {path}: {len(outside)} point(s) lie outside the AOI "
            f"(IDs {outside[:10]} from column {id_col or '(row number)'!r})"
        )
    years = gdf[year_col].astype(int).to_numpy() if year_col else np.full(len(gdf), int(year))
    columns = {
        "survey_id": ids.to_numpy(),
        "year": years,
        "intensity_class": raw.astype(int).to_numpy(),
    }
    if stratum_col is not None:
        columns["stratum"] = gdf[stratum_col].astype(str).to_numpy()
        columns["inclusion_probability"] = pd.to_numeric(
            gdf[inclusion_col], errors="coerce"
        ).to_numpy(dtype="float64")
    return gpd.GeoDataFrame(
        columns,
        geometry=pts.values,
        crs=grid.crs,
    )
