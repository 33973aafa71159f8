"""The analysis grid and the AOI from a local polygon file or raster mask."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from pipeline.errors import ConfigError, GridError, InputDataError
from pipeline.grid import AnalysisGrid, local_albers_crs
from pipeline.sources.local.align import _open_source
from pipeline.sources.local.common import _write_gpkg


# --------------------------------------------------------------------------- grid
def _read_vector(path, *, layer=None, what="vector file", encoding=None) -> gpd.GeoDataFrame:
    from pipeline.vector_io import vector_encoding

    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{what} not found: {path}")
    # shapefile text: config `encoding`, else .cpg, else UTF-8 / GB18030 detected (or stop)
    enc = vector_encoding(path, encoding)
    try:
        gdf = gpd.read_file(path, layer=layer, **({"encoding": enc} if enc else {}))
    except Exception as exc:  # pyogrio raises several types
        raise InputDataError(f"cannot read {what} {path} (layer {layer!r}): {exc}") from exc
    if gdf.crs is None:
        raise GridError(
            f"{what} {path} has no CRS (no .prj / SRS): set one, e.g. with "
            "`ogr2ogr -a_srs EPSG:xxxx`, before using it"
        )
    if len(gdf) == 0:
        raise InputDataError(f"{what} {path} (layer {layer!r}) has no features")
    return gdf


RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img")


def aoi_from_mask(src_path, *, band: int = 1) -> gpd.GeoSeries:
    """The AOI outlined by a raster's valid (non-nodata) pixels, in the raster's CRS.

    For districts or watersheds delivered only as a raster mask (e.g. the
    Youwuzhen land-use map, whose valid pixels are the watershed).
    """
    da = _open_source(src_path, band=band, nodata=None)
    nd = da.rio.nodata
    values = np.asarray(da.values)
    valid = np.isfinite(values) if nd is None or np.isnan(nd) else values != nd
    if np.issubdtype(values.dtype, np.floating):
        valid &= np.isfinite(values)
    if not valid.any():
        raise InputDataError(f"AOI mask {src_path}: no valid pixels")
    import rasterio.features

    shapes = [
        shapely.geometry.shape(geom)
        for geom, _ in rasterio.features.shapes(
            valid.astype("uint8"), mask=valid, transform=da.rio.transform()
        )
    ]
    return gpd.GeoSeries([shapely.union_all(shapes)], crs=da.rio.crs)


def _aoi_geoseries(aoi, *, layer=None, aoi_crs="EPSG:4326") -> gpd.GeoSeries:
    """AOI as a one-row GeoSeries with a CRS (a file path, GeoDataFrame/GeoSeries or geometry).

    A raster path gives the outline of its valid pixels (:func:`aoi_from_mask`).
    """
    if isinstance(aoi, str | os.PathLike) and Path(aoi).suffix.lower() in RASTER_SUFFIXES:
        return aoi_from_mask(aoi)
    if isinstance(aoi, str | os.PathLike):
        gdf = _read_vector(aoi, layer=layer, what="AOI file")
        return gpd.GeoSeries([gdf.geometry.union_all()], crs=gdf.crs)
    if isinstance(aoi, gpd.GeoDataFrame | gpd.GeoSeries):
        if aoi.crs is None:
            raise GridError("AOI GeoDataFrame has no CRS")
        geoms = aoi.geometry if isinstance(aoi, gpd.GeoDataFrame) else aoi
        return gpd.GeoSeries([geoms.union_all()], crs=aoi.crs)
    if isinstance(aoi, Mapping):  # GeoJSON geometry, lon/lat
        aoi = shapely.geometry.shape(aoi)
    if isinstance(aoi, shapely.Geometry):
        return gpd.GeoSeries([aoi], crs=aoi_crs)
    raise InputDataError(f"AOI must be a path, GeoDataFrame or geometry, not {type(aoi).__name__}")


def grid_from_aoi(
    aoi,
    *,
    resolution_m: float,
    crs: CRS | str | None = None,
    layer: str | None = None,
    aoi_crs: str = "EPSG:4326",
) -> AnalysisGrid:
    """Analysis grid covering an AOI: square pixels of ``resolution_m`` metres.

    Parameters
    ----------
    aoi : path, GeoDataFrame, GeoSeries, shapely geometry or GeoJSON mapping
        The area of interest: a vector file, or a raster whose valid pixels
        outline it. A bare geometry is taken to be in ``aoi_crs``.
    resolution_m : float
        Pixel size, m (> 0).
    crs : CRS or str, optional
        Projected grid CRS. Default: ``pipeline.grid.local_albers_crs`` fitted to
        the AOI's lon/lat bounds (equal-area, GRS80).
    layer : str, optional
        Layer of a multi-layer AOI file.
    aoi_crs : str
        CRS of a bare geometry (default lon/lat).

    Returns
    -------
    AnalysisGrid
        Origin snapped to multiples of ``resolution_m``; one pixel of margin.

    Examples
    --------
    >>> import shapely
    >>> g = grid_from_aoi(shapely.box(116.38, 25.66, 116.42, 25.70), resolution_m=30)
    >>> g.is_equal_area, g.res
    (True, (30.0, 30.0))
    """
    if not resolution_m or resolution_m <= 0:
        raise ConfigError(f"grid resolution_m must be > 0 m, got {resolution_m!r}")
    geo = _aoi_geoseries(aoi, layer=layer, aoi_crs=aoi_crs)
    lon_min, lat_min, lon_max, lat_max = geo.to_crs("EPSG:4326").total_bounds
    target = CRS.from_user_input(crs) if crs is not None else None
    if target is None:
        target = local_albers_crs(lon_min, lat_min, lon_max, lat_max)
    if not target.is_projected:
        raise ConfigError(
            f"grid CRS {target.to_string()} is not projected: a grid in metres needs a "
            "projected CRS (leave crs unset for the AOI-local Albers)"
        )
    # Densify before projecting: straight edges in lon/lat are curves in the grid CRS.
    dense = geo.to_crs("EPSG:4326").segmentize(0.001).to_crs(target)
    left, bottom, right, top = dense.total_bounds
    r = float(resolution_m)
    return AnalysisGrid.from_bounds(target, left - r, bottom - r, right + r, top + r, r)


def write_aoi(aoi, grid: AnalysisGrid, out_path, *, name: str, name_en: str, layer=None) -> Path:
    """Write ``aoi.gpkg`` (layer ``aoi``: one polygon in the grid CRS, ``name``, ``name_en``)."""
    geo = _aoi_geoseries(aoi, layer=layer).to_crs(grid.crs)
    gdf = gpd.GeoDataFrame({"name": [name], "name_en": [name_en]}, geometry=geo.values)
    return _write_gpkg(gdf, out_path, layer="aoi")
