"""Tiny synthetic inputs for the direct stage tests (tests/test_stages_*.py).

Everything here is written with rasterio, geopandas and xarray directly, never with
the code under test (``pipeline.io``, ``pipeline.grid``, ``pipeline.sources``), so
a bug in a writer cannot hide a bug in a stage. Rasters sit on a small Albers
equal-area grid (GRS80, metres) around 116.4° E, 25.7° N, whose pixels all have
the same true area: a 10 m pixel is exactly 0.01 ha.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
import xarray as xr
from rasterio.transform import from_origin

#: Albers equal-area, fitted by hand to the box 116.3–116.5° E, 25.6–25.8° N.
ALBERS = (
    "+proj=aea +lat_1=25.633333 +lat_2=25.766667 +lat_0=25.7 +lon_0=116.4 "
    "+x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
)
RES = 10.0  # m
PIXEL_HA = RES * RES / 10_000.0  # 0.01 ha
X0, Y0 = -500.0, 500.0  # upper-left corner of every test grid, m


def transform(res: float = RES, x0: float = X0, y0: float = Y0):
    return from_origin(x0, y0, res, res)


def write_raster(
    path,
    data,
    *,
    res: float = RES,
    x0: float = X0,
    y0: float = Y0,
    crs: str = ALBERS,
    nodata=None,
    dtype=None,
    band_names=None,
    tags=None,
) -> Path:
    """A plain GeoTIFF: (y, x) or (band, y, x) ``data``, north-up, upper-left at (x0, y0)."""
    arr = np.asarray(data)
    if arr.ndim == 2:
        arr = arr[None]
    dtype = np.dtype(dtype or arr.dtype)
    if nodata is None and dtype.kind == "f":
        nodata = np.nan
    path = Path(path)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=arr.shape[2],
        height=arr.shape[1],
        count=arr.shape[0],
        dtype=dtype,
        crs=crs,
        transform=transform(res, x0, y0),
        nodata=nodata,
    ) as dst:
        dst.write(arr.astype(dtype))
        if band_names:
            for i, name in enumerate(band_names, start=1):
                dst.set_band_description(i, name)
        if tags:
            dst.update_tags(**tags)
    return path


def read(path) -> tuple[np.ndarray, dict]:
    """(first band as float with nodata → NaN, tags) of a raster written by a stage."""
    with rasterio.open(path) as src:
        arr = src.read(1, masked=True).astype("float64").filled(np.nan)
        return arr, {"tags": src.tags(), "crs": src.crs, "transform": src.transform}


def pixel_box(row0: int, col0: int, row1: int, col1: int, *, res=RES, x0=X0, y0=Y0):
    """Polygon covering pixel rows row0..row1-1 and columns col0..col1-1 exactly."""
    return shapely.box(x0 + col0 * res, y0 - row1 * res, x0 + col1 * res, y0 - row0 * res)


def write_polygons(path, geometries, *, crs: str = ALBERS, layer=None, **columns) -> Path:
    """A GeoPackage of polygons with the given attribute columns."""
    gdf = gpd.GeoDataFrame(dict(columns), geometry=list(geometries), crs=crs)
    gdf.to_file(path, driver="GPKG", layer=layer)
    return Path(path)


def write_points(path, xy, *, crs: str = ALBERS, **columns) -> Path:
    gdf = gpd.GeoDataFrame(dict(columns), geometry=[shapely.Point(x, y) for x, y in xy], crs=crs)
    gdf.to_file(path, driver="GPKG")
    return Path(path)


def write_shares(path, shares) -> Path:
    """``R_halfmonth_share.csv`` as the R stage writes it (period, r_share)."""
    df = pd.DataFrame({"period": np.arange(1, 25), "r_share": np.asarray(shares, float)})
    df.to_csv(path, index=False, encoding="utf-8-sig")
    return Path(path)


def write_daily_rain(path, values_by_day, *, lon, lat) -> Path:
    """``rain_daily.nc``: ``precipitation`` (time, y, x) in mm/day on a lon/lat lattice.

    ``values_by_day`` is a pandas Series indexed by date (one value for all cells).
    """
    import rioxarray  # noqa: F401  (registers .rio)

    times = pd.DatetimeIndex(values_by_day.index)
    data = np.broadcast_to(
        values_by_day.to_numpy(float)[:, None, None], (len(times), len(lat), len(lon))
    ).copy()
    da = xr.DataArray(
        data,
        dims=("time", "y", "x"),
        coords={"time": times, "y": np.asarray(lat, float), "x": np.asarray(lon, float)},
        name="precipitation",
        attrs={"units": "mm/day"},
    )
    ds = da.to_dataset().rio.write_crs("EPSG:4326")
    ds.to_netcdf(path)
    return Path(path)
