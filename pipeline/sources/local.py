"""Local source: user GeoTIFFs and vector layers, in any CRS, onto the analysis grid.

Also holds the writers of the standard input files (docs/contract.md)
that the STAC and Earth Engine sources reuse, so every source writes the same
bytes for the same arrays.

What is hand-written here and why: reprojection itself is rioxarray/GDAL warp
(bilinear for continuous values, mode for classes); geometry handling is
geopandas/pyproj. The code here only adds what those libraries cannot know: the
Shuibao file contract (dtypes, nodata, band names, scale), the legend recode
(a file's own class codes → Shuibao land-cover codes, refusing codes the table
does not cover), the soil lookup join, and input validation with messages that
name the file, column and offending values.

Examples
--------
>>> from pipeline.sources import local
>>> grid = local.grid_from_aoi("aoi.gpkg", resolution_m=30)                # doctest: +SKIP
>>> local.write_local_dem("dem.tif", grid, "resources/x/dem.tif")           # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rioxarray
import shapely
import xarray as xr
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling

from pipeline import landcover
from pipeline.checks import check_integer_codes, check_texture_row
from pipeline.errors import ConfigError, GridError, InputDataError
from pipeline.grid import AnalysisGrid, local_albers_crs

#: Number of half-month periods in a year (period 1 = Jan 1–15, 2 = Jan 16–31, …).
# The contract's formats, readers and writers live in pipeline/layout.py (re-exported
# here under the names the sources have always used).
from pipeline.layout import (  # noqa: E402
    INPUT_NAMES as INPUT_NAMES,
)
from pipeline.layout import (
    N_PERIODS as N_PERIODS,
)
from pipeline.layout import (
    NDVI_NODATA as NDVI_NODATA,
)
from pipeline.layout import (
    NDVI_SCALE as NDVI_SCALE,
)
from pipeline.layout import (
    PERIOD_NAMES as PERIOD_NAMES,
)
from pipeline.layout import (
    SOIL_BANDS as SOIL_BANDS,
)
from pipeline.layout import read_grid as read_grid_json  # noqa: E402
from pipeline.layout import (
    write_dem as write_dem,
)
from pipeline.layout import write_grid as write_grid_json  # noqa: E402
from pipeline.layout import (
    write_landcover as write_landcover,
)
from pipeline.layout import (
    write_ndvi as write_ndvi,
)
from pipeline.layout import (
    write_rain_daily as write_rain_daily,
)
from pipeline.layout import (
    write_soil as write_soil,
)


def _write_gpkg(gdf, out_path, *, layer: str) -> Path:
    from pipeline.layout import write_vector

    return write_vector(gdf, out_path, key=layer)


def write_zones(zones: gpd.GeoDataFrame, out_path) -> Path:
    """Write ``townships.gpkg`` / ``watersheds.gpkg`` (layer = file stem)."""
    return _write_gpkg(zones, out_path, layer=Path(out_path).stem)


def write_survey(points: gpd.GeoDataFrame, out_path) -> Path:
    """Write ``survey_{year}.gpkg`` (layer ``survey``)."""
    return _write_gpkg(points, out_path, layer="survey")


#: van Bemmelen factor: organic matter = 1.724 × organic carbon (see shared/science.md §4.1).
OM_PER_OC = 1.724

#: ESA WorldCover (v100/v200, band ``Map``) → Shuibao land-cover codes (pipeline/landcover.py).
#: WorldCover has a single cropland class (40); it is recoded to sloping cropland (6), the
#: conservative choice for erosion — override in the config (e.g. to paddy, 7) where the
#: district's cropland is mostly paddy or terraced. Snow/ice (70) → bare; herbaceous
#: wetland (90) → water; mangroves (95) → forest; moss/lichen (100) → grass. 0 = nodata.
WORLDCOVER_TO_SHUIBAO: dict[int, int] = {
    10: 1,
    20: 2,
    30: 3,
    40: 6,
    50: 8,
    60: 10,
    70: 10,
    80: 9,
    90: 9,
    95: 1,
    100: 3,
}
WORLDCOVER_NODATA = 0


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


# ----------------------------------------------------------------- reprojection
def _open_source(src_path, *, band, nodata) -> xr.DataArray:
    src_path = Path(src_path)
    if not src_path.exists():
        raise InputDataError(f"raster file not found: {src_path}")
    try:
        da = rioxarray.open_rasterio(src_path, masked=False)
    except Exception as exc:
        raise InputDataError(f"cannot read raster {src_path}: {exc}") from exc
    if da.rio.crs is None:
        raise GridError(
            f"raster {src_path} has no CRS: assign one (gdal_edit.py -a_srs EPSG:xxxx) first"
        )
    if band is not None:
        if not 1 <= int(band) <= da.sizes["band"]:
            raise InputDataError(f"raster {src_path} has {da.sizes['band']} band(s); band={band}")
        da = da.isel(band=int(band) - 1)
    elif da.sizes["band"] == 1:
        da = da.isel(band=0)
    if nodata is not None:
        da = da.rio.write_nodata(nodata, encoded=False)
    da.attrs["source_path"] = str(src_path)
    return da


def _reproject(
    da: xr.DataArray,
    grid: AnalysisGrid,
    *,
    kind: str,
    dst_nodata,
    resampling=None,
    fill_mask: np.ndarray | None = None,
) -> xr.DataArray:
    if kind == "continuous":
        method = resampling or Resampling.bilinear
    elif kind == "categorical":
        method = resampling or Resampling.mode
    else:
        raise ConfigError(f"kind must be 'continuous' or 'categorical', got {kind!r}")
    if kind == "categorical" and method == Resampling.mode:
        # GDAL's mode skips nodata inputs, so a target pixel touching any valid
        # source pixel becomes valid and class areas grow at the edges (+3 % on
        # the Youwuzhen watershed at 30 m). Let nodata vote like a class instead:
        # warp int32 with nodata as -1 (a voting value) and outside-extent as -2.
        src_nd = da.rio.nodata
        dtype = da.dtype
        votes = da.astype("int32")
        if src_nd is not None:
            votes = votes.where(da != src_nd, -1)
        votes.attrs.pop("_FillValue", None)
        votes = votes.rio.write_nodata(None, encoded=False)
        out = votes.rio.reproject(
            grid.crs, shape=grid.shape, transform=grid.transform, resampling=method, nodata=-2
        )
        fill = dst_nodata if dst_nodata is not None else src_nd
        if fill_mask is not None:
            # Pixels of the AOI (by centre) that lost the vote to nodata at the edge take
            # the majority of their valid source pixels (GDAL's own mode), so the classes
            # cover the AOI exactly as the AOI mask of the later stages does.
            valid_only = votes.where(votes >= 0, -2).rio.write_nodata(-2, encoded=False)
            valid_only = valid_only.rio.reproject(
                grid.crs, shape=grid.shape, transform=grid.transform, resampling=method, nodata=-2
            )
            out = out.where((out >= 0) | ~np.asarray(fill_mask, dtype=bool), valid_only.values)
        out = out.where(out >= 0, fill).astype(dtype)
        out.attrs.pop("_FillValue", None)
        out = out.rio.write_nodata(fill, encoded=False)
    else:
        out = da.rio.reproject(
            grid.crs,
            shape=grid.shape,
            transform=grid.transform,
            resampling=method,
            nodata=dst_nodata,
        )
    coords = grid.coords()
    return out.assign_coords(y=coords["y"], x=coords["x"])


def _to_float_nan(da: xr.DataArray) -> xr.DataArray:
    nd = da.rio.nodata
    out = da.astype("float32")
    if nd is not None and not (isinstance(nd, float) and np.isnan(nd)):
        out = out.where(da != nd)
    if "_FillValue" in out.attrs:
        del out.attrs["_FillValue"]
    return out.rio.write_nodata(np.nan, encoded=False)


def reproject_to_grid(
    src_path,
    grid: AnalysisGrid,
    *,
    kind: str = "continuous",
    band: int | None = None,
    nodata: float | None = None,
    resampling: Resampling | None = None,
    fill_mask: np.ndarray | None = None,
) -> xr.DataArray:
    """Read a raster in any CRS and resample it onto the analysis grid.

    Parameters
    ----------
    src_path : path
        GeoTIFF (or any GDAL raster) with a CRS, e.g. EPSG:2415 with the
        zone-prefixed eastings of Chinese Gauss–Krüger grids (PROJ handles the
        zone prefix through the CRS's false easting).
    grid : AnalysisGrid
        Target grid.
    kind : {"continuous", "categorical"}
        ``continuous`` → float32 with NaN for nodata, bilinear (GDAL ignores
        nodata inputs); ``categorical`` → the file's integer dtype, mode
        (majority) resampling, nodata kept (255 when the file declares none).
    band : int, optional
        1-based band to read; default all bands (squeezed if one).
    nodata : float, optional
        Override the file's nodata value.
    resampling : rasterio.enums.Resampling, optional
        Override the method (e.g. ``Resampling.nearest`` for classes).
    fill_mask : numpy.ndarray of bool, optional
        Categorical only: pixels (True, e.g. the AOI by pixel centre) that the
        majority vote left as nodata take the majority of their valid source
        pixels instead, so classes cover the AOI up to its edge.

    Returns
    -------
    xarray.DataArray
        (y, x) or (band, y, x) on ``grid``; ``attrs["units"]`` is the file's
        ``units`` tag or ``"1"``.

    Examples
    --------
    >>> dem = reproject_to_grid("ywzdem30m.tif", grid, kind="continuous")  # doctest: +SKIP
    """
    da = _open_source(src_path, band=band, nodata=nodata)
    if kind == "continuous":
        src = _to_float_nan(da)
        out = _reproject(src, grid, kind=kind, dst_nodata=np.nan, resampling=resampling)
    else:
        nd = da.rio.nodata
        if nd is None:
            nd = landcover.NODATA
            da = da.rio.write_nodata(nd, encoded=False)
        out = _reproject(
            da, grid, kind=kind, dst_nodata=nd, resampling=resampling, fill_mask=fill_mask
        )
    with rasterio.open(src_path) as ds:
        units = ds.tags().get("units", "1")
    out_nodata = out.rio.nodata
    out.attrs = {"units": units, "source_path": str(src_path)}
    out = out.rio.write_nodata(out_nodata, encoded=False)
    out.name = Path(src_path).stem
    return out


# ---------------------------------------------------------------- recode tables
def _code_of(value, *, table_name: str) -> int:
    """A Shuibao land-cover code from an int code or a class key (``"forest"``)."""
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        if value not in landcover.CODE_BY_KEY:
            raise ConfigError(
                f"{table_name}: unknown land-cover key {value!r}; expected one of "
                f"{sorted(landcover.CODE_BY_KEY)} or a code 1–11 (255 = nodata)"
            )
        return landcover.CODE_BY_KEY[value]
    code = int(value)
    if code not in landcover.CLASSES and code != landcover.NODATA:
        raise ConfigError(
            f"{table_name}: land-cover code {code} is not a Shuibao code "
            f"{sorted(landcover.CLASSES)} (255 = nodata)"
        )
    return code


def recode_classes(
    codes: np.ndarray,
    table: Mapping,
    *,
    src_nodata: int | None,
    source: str = "land-cover raster",
    table_name: str = "recode table",
) -> np.ndarray:
    """Recode class codes through ``table``; codes absent from it are an error.

    Parameters
    ----------
    codes : numpy.ndarray
        Integer class codes of the source legend.
    table : mapping
        Source code (int or numeric str) → Shuibao code (int 1–11, 255 to
        drop) or class key (``"forest"``, ``"paddy"``, …).
    src_nodata : int or None
        Source nodata value, mapped to 255.
    source, table_name : str
        Names used in error messages.

    Returns
    -------
    numpy.ndarray
        uint8 Shuibao codes, 255 for nodata.

    Raises
    ------
    InputDataError
        Naming every code present in ``codes`` but missing from ``table``.

    Examples
    --------
    >>> recode_classes(np.array([10, 40, 0]), WORLDCOVER_TO_SHUIBAO, src_nodata=0)
    array([  1,   6, 255], dtype=uint8)
    """
    lut = {int(k): _code_of(v, table_name=table_name) for k, v in table.items()}
    codes = np.asarray(codes)
    present = np.unique(codes)
    if src_nodata is not None:
        present = present[present != src_nodata]
    missing = sorted(int(c) for c in present if int(c) not in lut)
    if missing:
        raise InputDataError(
            f"{source}: class codes {missing} are not in the {table_name} "
            f"(it covers {sorted(lut)}); add them to the table"
        )
    out = np.full(codes.shape, landcover.NODATA, dtype="uint8")
    for src_code, dst_code in lut.items():
        out[codes == src_code] = dst_code
    return out


# ------------------------------------------------------------ standard writers
# ------------------------------------------------------- local files → standard
def write_local_dem(src_path, grid: AnalysisGrid, out_path, *, band=None, nodata=None) -> Path:
    """Reproject a local DEM (m) bilinearly onto ``grid`` and write ``dem.tif``."""
    dem = reproject_to_grid(src_path, grid, kind="continuous", band=band, nodata=nodata)
    return write_dem(dem, out_path, grid=grid, tags={"source": f"local:{Path(src_path).name}"})


def landcover_on_grid(
    src_path, grid: AnalysisGrid, *, recode: Mapping, band=None, nodata=None, fill_mask=None
) -> xr.DataArray:
    """Recode a local land-cover raster to Shuibao codes, then mode-resample it onto ``grid``.

    Recoding comes first so that classes merged by the table (e.g. two forest
    types) vote together in the mode. ``fill_mask``: see :func:`reproject_to_grid`.
    """
    da = _open_source(src_path, band=band, nodata=nodata)
    if da.ndim != 2:
        raise InputDataError(f"land-cover raster {src_path}: choose one band (band=…)")
    src_nd = da.rio.nodata
    values = np.asarray(da.values)
    check_integer_codes(
        values if src_nd is None else np.where(values == src_nd, np.nan, values), path=src_path
    )
    codes = recode_classes(
        da.values,
        recode,
        src_nodata=None if src_nd is None else int(src_nd),
        source=f"land-cover raster {src_path}",
        table_name="land-cover recode table",
    )
    recoded = da.copy(data=codes).rio.write_nodata(landcover.NODATA, encoded=False)
    out = _reproject(
        recoded, grid, kind="categorical", dst_nodata=landcover.NODATA, fill_mask=fill_mask
    )
    out.attrs = {"units": "class"}
    out = out.rio.write_nodata(landcover.NODATA, encoded=False)
    out.name = "landcover"
    return out


def write_local_landcover(
    src_path,
    grid: AnalysisGrid,
    out_path,
    *,
    recode: Mapping,
    band=None,
    nodata=None,
    fill_mask=None,
) -> Path:
    """Write ``landcover_{year}.tif`` from a local raster and its legend recode table."""
    lc = landcover_on_grid(
        src_path, grid, recode=recode, band=band, nodata=nodata, fill_mask=fill_mask
    )
    return write_landcover(lc, out_path, grid=grid, tags={"source": f"local:{Path(src_path).name}"})


def _is_vector(path) -> bool:
    from pipeline.landuse_polygons import VECTOR_SUFFIXES

    return bool(path) and Path(str(path)).suffix.lower() in VECTOR_SUFFIXES


def write_landuse_polygons(src_path, grid: AnalysisGrid, out_path, lc_cfg: Mapping) -> Path:
    """Write ``landcover_{year}.tif`` from 三调-style land-use polygons (pipeline.landuse_polygons)."""
    from pipeline.landuse_polygons import rasterize_landuse

    gdf = _read_vector(
        src_path, layer=lc_cfg.get("layer"), what="land-use layer", encoding=lc_cfg.get("encoding")
    )
    codes = rasterize_landuse(
        gdf,
        grid,
        code_col=lc_cfg.get("code_col") or "DLBM",
        recode=lc_cfg.get("recode"),
        source=f"land-use layer {src_path}",
    )
    da = grid.dataarray(codes, name="landcover", units="class", nodata=landcover.NODATA)
    return write_landcover(da, out_path, grid=grid, tags={"source": f"local:{Path(src_path).name}"})


def write_local_ndvi(
    src, grid: AnalysisGrid, out_path, *, scale: float = 1.0, offset: float = 0.0, nodata=None
) -> Path:
    """Write ``ndvi_{year}.tif`` from a 24-band raster or a list of 24 single-band rasters.

    Stored values are converted to NDVI as ``value * scale + offset``.
    """
    paths = [src] if isinstance(src, str | os.PathLike) else list(src)
    if len(paths) == 1:
        stack = reproject_to_grid(paths[0], grid, kind="continuous", nodata=nodata)
        if stack.ndim != 3:
            raise InputDataError(f"NDVI raster {paths[0]}: expected {N_PERIODS} bands, got 1")
        stack = stack.rename({"band": "period"})
    else:
        layers = [reproject_to_grid(p, grid, kind="continuous", nodata=nodata) for p in paths]
        stack = xr.concat(layers, dim="period")
    if stack.sizes["period"] != N_PERIODS:
        raise InputDataError(
            f"NDVI input {src}: expected {N_PERIODS} half-month layers, got {stack.sizes['period']}"
        )
    ndvi = stack * scale + offset
    return write_ndvi(ndvi, out_path, grid=grid, tags={"source": "local"})


def soil_from_rasters(
    grid: AnalysisGrid,
    *,
    sand_pct,
    silt_pct,
    clay_pct,
    organic_carbon_pct,
    factors: Mapping[str, float] | None = None,
) -> xr.DataArray:
    """Stack four local rasters (any CRS) as the soil bands, bilinear onto ``grid``.

    ``factors`` multiplies each band after reading (e.g. ``{"sand_pct": 0.1}``
    for g/kg → %).
    """
    factors = dict(factors or {})
    unknown = set(factors) - set(SOIL_BANDS)
    if unknown:
        raise ConfigError(f"soil factors: unknown bands {sorted(unknown)}; use {SOIL_BANDS}")
    paths = dict(
        sand_pct=sand_pct,
        silt_pct=silt_pct,
        clay_pct=clay_pct,
        organic_carbon_pct=organic_carbon_pct,
    )
    layers = [
        reproject_to_grid(paths[b], grid, kind="continuous") * factors.get(b, 1.0)
        for b in SOIL_BANDS
    ]
    out = xr.concat(layers, dim="band").assign_coords(band=list(SOIL_BANDS))
    out.attrs = {"units": "%"}
    return out


def _lookup_value(value, layer: int):
    """A number from a lookup cell; SWAT/SEIMS multi-layer cells "a-b-c" give layer ``layer``."""
    if isinstance(value, str):
        parts = value.strip().split("-")
        return float(parts[min(layer, len(parts) - 1)])
    return float(value)


def _is_number(value, layer: int) -> bool:
    try:
        _lookup_value(value, layer)
    except (TypeError, ValueError, IndexError):
        return False
    return True


def read_soil_lookup(
    path,
    *,
    code_col: str,
    columns: Mapping[str, str],
    layer: int = 0,
    normalize_texture: bool = True,
) -> pd.DataFrame:
    """Read a soil-class lookup table (CSV) into the four soil bands per class code.

    Parameters
    ----------
    path : path
        CSV; lines starting with ``#`` are comments.
    code_col : str
        Column with the soil class code of the raster.
    columns : mapping
        Band → column: ``sand_pct``, ``silt_pct``, ``clay_pct`` and either
        ``organic_carbon_pct`` or ``organic_matter_pct`` (then divided by the
        van Bemmelen factor 1.724 to give organic carbon).
    layer : int
        0-based layer for multi-layer cells like ``"15.66-17.36-20.94"`` (0 = top).
    normalize_texture : bool
        Rescale sand + silt + clay to 100 % of the fine earth (tables such as
        SWAT's give them as % of total mass including rock fragments).

    Returns
    -------
    pandas.DataFrame
        Index = class code, columns ``SOIL_BANDS`` in %.
    """
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"soil lookup table not found: {path}")
    table = pd.read_csv(path, comment="#")
    oc_key = "organic_carbon_pct" if "organic_carbon_pct" in columns else "organic_matter_pct"
    needed = ["sand_pct", "silt_pct", "clay_pct", oc_key]
    missing_keys = [k for k in needed if k not in columns]
    if missing_keys:
        raise ConfigError(f"soil lookup columns: missing keys {missing_keys} for {path}")
    missing_cols = [c for c in [code_col, *(columns[k] for k in needed)] if c not in table]
    if missing_cols:
        raise InputDataError(
            f"soil lookup table {path}: columns {missing_cols} not found; "
            f"it has {list(table.columns)}"
        )
    codes = pd.to_numeric(table[code_col], errors="coerce")
    if codes.isna().any() or (codes != codes.round()).any():
        row = int(np.flatnonzero(codes.isna() | (codes != codes.round()))[0])
        raise InputDataError(
            f"soil lookup table {path}: column {code_col!r} (config key "
            f"'source.local.soil.code_col') row {row + 1} holds "
            f"{table[code_col].iloc[row]!r}, not a whole class code"
        )
    out = pd.DataFrame(index=codes.astype(int).to_numpy())
    for key in needed:
        col = columns[key]
        try:
            out[key] = [_lookup_value(v, layer) for v in table[col]]
        except (TypeError, ValueError, IndexError):
            vals = list(table[col])
            bad = next(i for i, v in enumerate(vals) if not _is_number(v, layer))
            raise InputDataError(
                f"soil lookup table {path}: column {col!r} (config key "
                f"'source.local.soil.columns.{key}') holds {vals[bad]!r} for class "
                f"{int(codes.iloc[bad])}, not a number; fill in the value (or remove the class)"
            ) from None
        if out[key].isna().any():
            bad = int(np.flatnonzero(out[key].isna())[0])
            raise InputDataError(
                f"soil lookup table {path}: column {col!r} (config key "
                f"'source.local.soil.columns.{key}') is empty or n/a for class "
                f"{int(out.index[bad])}; fill in the value (or remove the class)"
            )
    for code, row in out.iterrows():
        check_texture_row(row.to_dict(), path=path, code=code, normalized=normalize_texture)
    if oc_key == "organic_matter_pct":
        out["organic_carbon_pct"] = out.pop("organic_matter_pct") / OM_PER_OC
    if normalize_texture:
        total = out[["sand_pct", "silt_pct", "clay_pct"]].sum(axis=1)
        for key in ("sand_pct", "silt_pct", "clay_pct"):
            out[key] = out[key] / total * 100.0
    return out[list(SOIL_BANDS)]


def soil_from_classes(
    class_path, lookup: pd.DataFrame, grid: AnalysisGrid, *, band=None, nodata=None, fill_mask=None
) -> xr.DataArray:
    """Soil bands from a soil-class raster (mode onto ``grid``) joined with a lookup table.

    Raises InputDataError naming class codes of the raster missing from ``lookup``.
    ``fill_mask``: see :func:`reproject_to_grid`.
    """
    classes = reproject_to_grid(
        class_path, grid, kind="categorical", band=band, nodata=nodata, fill_mask=fill_mask
    )
    nd = classes.rio.nodata
    values = np.asarray(classes.values)
    present = np.unique(values if nd is None else values[values != nd])
    missing = sorted(int(c) for c in present if int(c) not in lookup.index)
    if missing:
        raise InputDataError(
            f"soil-class raster {class_path}: codes {missing} are not in the soil lookup "
            f"table (it has {sorted(int(i) for i in lookup.index)})"
        )
    bands = []
    for key in SOIL_BANDS:
        out = np.full(values.shape, np.nan, dtype="float32")
        for code, v in lookup[key].items():
            out[values == code] = v
        bands.append(out)
    return grid.dataarray(np.stack(bands), name="soil", units="%").assign_coords(
        band=list(SOIL_BANDS)
    )


# ---------------------------------------------------------------------- rain
def rain_lattice(grid: AnalysisGrid, *, res_deg: float = 0.05) -> tuple[Affine, int, int]:
    """EPSG:4326 lattice of ``res_deg`` cells (edges on multiples of it, like CHIRPS)
    covering ``grid`` plus one cell: (transform, width, height)."""
    from pyproj import Transformer

    w, s, e, n = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform_bounds(
        *grid.bounds, densify_pts=21
    )
    k_left, k_right = int(np.floor(w / res_deg)) - 1, int(np.ceil(e / res_deg)) + 1
    k_bottom, k_top = int(np.floor(s / res_deg)) - 1, int(np.ceil(n / res_deg)) + 1
    transform = Affine(
        res_deg, 0, round(k_left * res_deg, 9), 0, -res_deg, round(k_top * res_deg, 9)
    )
    return transform, k_right - k_left, k_top - k_bottom


def write_local_rain(
    src_path,
    grid: AnalysisGrid,
    out_path,
    *,
    date_col: str,
    value_col: str,
    res_deg: float = 0.05,
) -> Path:
    """Write ``rain_daily.nc`` from a rain-gauge CSV (one station, daily mm).

    The station series is given to every cell of a 0.05° lattice covering the
    grid plus one cell (the same lattice as CHIRPS), i.e. uniform rain over a
    small district; lines starting with ``#`` are comments. Missing days,
    negative or non-numeric values are InputDataError naming the file and column.
    """
    src_path = Path(src_path)
    if not src_path.exists():
        raise InputDataError(f"rain-gauge file not found: {src_path}")
    table = pd.read_csv(src_path, comment="#")
    _require_columns(table, src_path, [date_col, value_col], "rain-gauge table")
    if table.empty:
        raise InputDataError(
            f"rain-gauge table {src_path} (config key 'source.local.rain.gauge_csv') has a "
            "header but no rows: give the daily record (one row per day, mm)"
        )
    dates = pd.to_datetime(table[date_col], errors="coerce").dt.normalize()
    values = pd.to_numeric(table[value_col], errors="coerce")
    bad = table.loc[dates.isna() | values.isna() | (values < 0), [date_col, value_col]]
    if len(bad):
        raise InputDataError(
            f"rain-gauge table {src_path}: {len(bad)} row(s) with bad dates or values in "
            f"{date_col!r}/{value_col!r} (first: {bad.iloc[0].tolist()}); expected mm ≥ 0"
        )
    full = pd.date_range(dates.min(), dates.max(), freq="D")
    missing = full.difference(pd.DatetimeIndex(dates))
    if len(missing) or dates.duplicated().any():
        raise InputDataError(
            f"rain-gauge table {src_path}: the daily record must be complete and unique; "
            f"missing {len(missing)} day(s) (first {[str(d.date()) for d in missing[:3]]}), "
            f"{int(dates.duplicated().sum())} duplicate(s)"
        )
    series = values.to_numpy("float32")[np.argsort(dates.to_numpy())]
    transform, width, height = rain_lattice(grid, res_deg=res_deg)
    x = transform.c + (np.arange(width) + 0.5) * transform.a
    y = transform.f + (np.arange(height) + 0.5) * transform.e
    rain = xr.DataArray(
        np.broadcast_to(series[:, None, None], (series.size, height, width)).copy(),
        dims=("time", "y", "x"),
        coords={"time": full.to_numpy(), "y": y, "x": x},
        attrs={"long_name": f"daily rain at gauge ({src_path.name}, column {value_col})"},
    )
    rain = rain.rio.write_crs("EPSG:4326").rio.write_transform(transform)
    return write_rain_daily(rain, out_path)


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


# ------------------------------------------------------- configuration → inputs
#: What the local source can write (everything; INPUT_NAMES is pipeline.layout's).
PROVIDES = frozenset(INPUT_NAMES)


def resolve_path(path, *, year: int | None = None, key: str = "path") -> Path:
    """A path from the config: ``{year}`` substituted, ``~`` expanded.

    Relative paths stay relative to the working directory (the repository root,
    or Snakemake's ``--directory``). A ``{year}`` without a year is a ConfigError.
    """
    text = str(path)
    if "{year}" in text:
        if year is None:
            raise ConfigError(f"config key '{key}': {text!r} has {{year}} but no year applies")
        text = text.replace("{year}", str(int(year)))
    return Path(os.path.expanduser(text))


def _section(local_cfg: Mapping, name: str) -> Mapping:
    section = local_cfg.get(name)
    if not section:
        raise ConfigError(
            f"config key 'source.local.{name}' is not set, but this input is taken from local "
            "files (source.kind: local, or source.inputs); give its file, or choose another "
            f"source for it in source.inputs.{'zones' if name in ('townships', 'watersheds') else name}"
        )
    return section


def prepare_grid(out_dir, local_cfg: Mapping) -> AnalysisGrid:
    """Write ``grid.json`` and ``aoi.gpkg`` from ``source.local`` (``aoi``, ``aoi_layer``,
    ``resolution_m``, ``grid_crs``, ``aoi_name``, ``aoi_name_en``); return the grid."""
    out_dir = Path(out_dir)
    aoi = local_cfg.get("aoi")
    if not aoi:
        raise ConfigError(
            "config key 'source.local.aoi' is not set: every non-demo source needs the AOI "
            "(a polygon file or a raster mask) to build the analysis grid"
        )
    aoi = resolve_path(aoi, key="source.local.aoi")
    layer = local_cfg.get("aoi_layer")
    grid = grid_from_aoi(
        aoi,
        resolution_m=float(local_cfg.get("resolution_m") or 30.0),
        crs=local_cfg.get("grid_crs"),
        layer=layer,
    )
    write_grid_json(grid, out_dir / "grid.json")
    name = local_cfg.get("aoi_name") or aoi.stem
    name_en = local_cfg.get("aoi_name_en") or name
    write_aoi(aoi, grid, out_dir / "aoi.gpkg", name=name, name_en=name_en, layer=layer)
    return grid


def load_or_prepare_grid(out_dir, cfg: Mapping) -> AnalysisGrid:
    """The grid of ``out_dir/grid.json``, written first from ``cfg['local']`` if absent."""
    path = Path(out_dir) / "grid.json"
    if path.exists() and (Path(out_dir) / "aoi.gpkg").exists():
        return read_grid_json(path)
    return prepare_grid(out_dir, cfg.get("local") or {})


def write_aoi_as_zone(aoi_path, out_path, *, grid: AnalysisGrid | None = None, zone_id="1") -> Path:
    """Write the AOI itself as a one-zone layer (when no township/watershed layer is given).

    With ``grid``, the zone is the AOI as analysed: the outline of the grid pixels
    whose centre lies in the AOI (the workflow's AOI mask), so its zonal areas equal
    the district's exactly instead of counting partial edge pixels.
    """
    aoi = gpd.read_file(aoi_path, layer="aoi")
    geometry = aoi.geometry.union_all()
    if grid is not None:
        import rasterio.features

        inside = aoi_pixel_mask(aoi_path, grid)
        if inside.any():
            geometry = shapely.union_all(
                [
                    shapely.geometry.shape(geom)
                    for geom, _ in rasterio.features.shapes(
                        inside.astype("uint8"), mask=inside, transform=grid.transform
                    )
                ]
            )
        crs = grid.crs
    else:
        crs = aoi.crs
    zones = gpd.GeoDataFrame(
        {
            "zone_id": [str(zone_id)],
            "name": [str(aoi["name"].iloc[0])],
            "name_en": [str(aoi["name_en"].iloc[0])],
        },
        geometry=[geometry],
        crs=crs,
    )
    return write_zones(zones, out_path)


def aoi_pixel_mask(aoi_path, grid: AnalysisGrid) -> np.ndarray:
    """True for grid pixels whose centre lies in the AOI (as the workflow's AOI mask)."""
    from rasterio.features import geometry_mask

    aoi = gpd.read_file(aoi_path).to_crs(grid.crs)
    return ~geometry_mask(list(aoi.geometry), out_shape=grid.shape, transform=grid.transform)


def _write_soil_from_config(
    soil_cfg: Mapping, grid: AnalysisGrid, out_path, *, fill_mask=None
) -> Path:
    rasters = soil_cfg.get("rasters")
    classes = soil_cfg.get("classes")
    if bool(rasters) == bool(classes):
        raise ConfigError(
            "config key 'source.local.soil': give either 'rasters' (four rasters) or "
            "'classes' with 'lookup' (a soil-class raster and its table), not both or neither"
        )
    if rasters:
        missing = [b for b in SOIL_BANDS if not rasters.get(b)]
        if missing:
            raise ConfigError(f"config key 'source.local.soil.rasters': missing {missing}")
        soil = soil_from_rasters(
            grid,
            **{
                b: resolve_path(rasters[b], key=f"source.local.soil.rasters.{b}")
                for b in SOIL_BANDS
            },
            factors=soil_cfg.get("factors") or None,
        )
        src = "rasters"
    else:
        for key in ("lookup", "code_col", "columns"):
            if not soil_cfg.get(key):
                raise ConfigError(
                    f"config key 'source.local.soil.{key}' is needed with 'classes' (soil-class "
                    "raster + lookup table)"
                )
        lookup = read_soil_lookup(
            resolve_path(soil_cfg["lookup"], key="source.local.soil.lookup"),
            code_col=soil_cfg["code_col"],
            columns=soil_cfg["columns"],
            layer=int(soil_cfg.get("layer") or 0),
            normalize_texture=bool(soil_cfg.get("normalize_texture", True)),
        )
        soil = soil_from_classes(
            resolve_path(classes, key="source.local.soil.classes"),
            lookup,
            grid,
            band=soil_cfg.get("band"),
            nodata=soil_cfg.get("nodata"),
            fill_mask=fill_mask,
        )
        src = Path(str(classes)).name
    return write_soil(soil, out_path, grid=grid, tags={"source": f"local:{src}"})


def _write_zones_from_config(zone_cfg, grid, out_path, aoi_path) -> Path:
    if not zone_cfg:
        return write_aoi_as_zone(aoi_path, out_path, grid=grid)
    key = f"source.local.{Path(out_path).stem}"
    zones = read_zones(
        resolve_path(zone_cfg.get("path") or "", key=f"{key}.path"),
        layer=zone_cfg.get("layer"),
        id_col=zone_cfg.get("id_col"),
        name_col=zone_cfg.get("name_col"),
        name_en_col=zone_cfg.get("name_en_col"),
        grid=grid,
        encoding=zone_cfg.get("encoding"),
    )
    return write_zones(zones, out_path)


def _write_survey_from_config(survey_cfg, grid, out_path, aoi_path, *, year: int) -> Path:
    path = resolve_path(survey_cfg.get("path") or "", year=year, key="source.local.survey.path")
    year_col = survey_cfg.get("year_col")
    points = read_survey(
        path,
        class_col=survey_cfg.get("class_col"),
        grid=grid,
        aoi=aoi_path,
        id_col=survey_cfg.get("id_col"),
        year=None if year_col else int(year),
        year_col=year_col,
        layer=survey_cfg.get("layer"),
        stratum_col=survey_cfg.get("stratum_col"),
        inclusion_col=survey_cfg.get("inclusion_col"),
    )
    if year_col:
        points = points[points["year"] == int(year)].reset_index(drop=True)
    if len(points) == 0:
        raise InputDataError(
            f"survey layer {path}: no points for {year} (column {year_col!r}); a year without "
            "field survey needs ml.enabled: false"
        )
    return write_survey(points, out_path)


def prepare_inputs(
    out_dir, cfg: Mapping, *, years: Sequence[int], only: Sequence[str] | None = None
) -> dict[str, Path]:
    """Write the inputs-contract files from local files named in the config.

    Parameters
    ----------
    out_dir : path
        ``resources/{aoi}/``.
    cfg : mapping
        The ``source`` section of the configuration; its ``local`` part names the
        files (configs/schema.yaml, ``source.local``).
    years : sequence of int
        Assessment years (``landcover``, ``ndvi`` and ``survey`` paths may hold
        ``{year}``; a path without it is used for every year).
    only : sequence of str, optional
        Inputs to write, from ``INPUT_NAMES`` (default all). ``grid.json`` and
        ``aoi.gpkg`` are written first unless present.

    Returns
    -------
    dict
        File key (``dem``, ``landcover_2015``, …) → path written. Optional inputs
        without a file (``ndvi``, ``survey``) are skipped; missing township or
        watershed layers are replaced by the AOI as one zone.

    Examples
    --------
    >>> prepare_inputs("resources/youwuzhen", config["source"], years=[2015])  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    local_cfg = cfg.get("local") or {}
    names = list(INPUT_NAMES if only is None else only)
    unknown = sorted(set(names) - PROVIDES)
    if unknown:
        raise ConfigError(f"local source: unknown inputs {unknown}; expected {INPUT_NAMES}")
    grid = load_or_prepare_grid(out_dir, cfg)
    aoi_path = out_dir / "aoi.gpkg"
    inside = aoi_pixel_mask(aoi_path, grid)
    years = sorted(int(y) for y in years)
    written: dict[str, Path] = {}
    if "dem" in names:
        dem = _section(local_cfg, "dem")
        written["dem"] = write_local_dem(
            resolve_path(dem.get("path") or "", key="source.local.dem.path"),
            grid,
            out_dir / "dem.tif",
            band=dem.get("band"),
            nodata=dem.get("nodata"),
        )
    if "landcover" in names:
        lc = _section(local_cfg, "landcover")
        if _is_vector(lc.get("path")):  # 三调-style land-use polygons (DLBM codes)
            for year in years:
                src = resolve_path(lc["path"], year=year, key="source.local.landcover.path")
                written[f"landcover_{year}"] = write_landuse_polygons(
                    src, grid, out_dir / f"landcover_{year}.tif", lc
                )
        elif not lc.get("recode"):
            raise ConfigError(
                "config key 'source.local.landcover.recode' is not set: map every class code "
                "of the file to a Shuibao land-cover key (forest, paddy, …)"
            )
        else:
            for year in years:
                written[f"landcover_{year}"] = write_local_landcover(
                    resolve_path(
                        lc.get("path") or "", year=year, key="source.local.landcover.path"
                    ),
                    grid,
                    out_dir / f"landcover_{year}.tif",
                    recode=lc["recode"],
                    band=lc.get("band"),
                    nodata=lc.get("nodata"),
                    fill_mask=inside,
                )
                if lc.get("biophysical_table"):  # the file's own codes too (local_codes.py)
                    from pipeline.sources.local_codes import write_local_landcover_codes

                    written[f"landcover_codes_{year}"] = write_local_landcover_codes(
                        resolve_path(lc["path"], year=year, key="source.local.landcover.path"),
                        grid,
                        out_dir / f"landcover_codes_{year}.tif",
                        band=lc.get("band"),
                        nodata=lc.get("nodata"),
                        fill_mask=inside,
                    )
    if "ndvi" in names and local_cfg.get("ndvi"):
        ndvi = local_cfg["ndvi"]
        for year in years:
            if ndvi.get("periods"):
                src = [
                    resolve_path(p, year=year, key="source.local.ndvi.periods")
                    for p in ndvi["periods"]
                ]
            else:
                src = resolve_path(ndvi.get("path") or "", year=year, key="source.local.ndvi.path")
            written[f"ndvi_{year}"] = write_local_ndvi(
                src,
                grid,
                out_dir / f"ndvi_{year}.tif",
                scale=float(ndvi.get("scale", 1.0)),
                offset=float(ndvi.get("offset", 0.0)),
                nodata=ndvi.get("nodata"),
            )
    if "rain" in names:
        rain = _section(local_cfg, "rain")
        written["rain_daily"] = write_local_rain(
            resolve_path(rain.get("gauge_csv") or "", key="source.local.rain.gauge_csv"),
            grid,
            out_dir / "rain_daily.nc",
            date_col=rain.get("date_col"),
            value_col=str(rain.get("value_col")),
        )
    if "soil" in names:
        written["soil"] = _write_soil_from_config(
            _section(local_cfg, "soil"), grid, out_dir / "soil.tif", fill_mask=inside
        )
    if "zones" in names:
        for layer in ("townships", "watersheds"):
            written[layer] = _write_zones_from_config(
                local_cfg.get(layer), grid, out_dir / f"{layer}.gpkg", aoi_path
            )
    if "survey" in names and local_cfg.get("survey"):
        for year in years:
            written[f"survey_{year}"] = _write_survey_from_config(
                local_cfg["survey"], grid, out_dir / f"survey_{year}.gpkg", aoi_path, year=year
            )
    return written
