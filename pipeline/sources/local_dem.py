"""Local source: the DEM on its own grid (``dem_native.tif``), for terrain routed natively.

When the user's DEM is projected in metres (UTM, Gauss–Krüger, …), the terrain stage fills
and routes it on its own cells and resamples only the results (``terrain.grid: native``,
:mod:`pipeline.factors.terrain_native`). This module tells whether a DEM qualifies
(:func:`dem_grid_kind`) and writes the DEM's cells that cover the analysis grid plus a margin,
unresampled (:func:`write_native_dem`): a window of whole DEM pixels, elevations as float32
(exact for integer DEMs up to 2²⁴), nodata as NaN. Base layer only (rasterio).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xarray as xr

from pipeline.errors import GridError, InputDataError
from pipeline.grid import AnalysisGrid

__all__ = ["dem_grid_kind", "native_dem_window", "write_native_dem"]

_METRE = {"metre", "meter", "m", "metres", "meters"}


def dem_grid_kind(src_path) -> tuple[str, str]:
    """Whether a DEM file can be routed on its own grid: ``(kind, why)``.

    ``kind`` is ``"projected_m"`` (projected CRS with metre axes, north-up transform),
    else ``"other"`` with ``why`` saying what it is (e.g. geographic, degrees).

    Raises
    ------
    InputDataError
        The file cannot be read; GridError: it has no CRS.
    """
    import rasterio
    from pyproj import CRS

    try:
        with rasterio.open(src_path) as ds:
            crs, transform = ds.crs, ds.transform
    except Exception as exc:  # rasterio raises several types for unreadable files
        raise InputDataError(f"cannot read DEM {src_path}: {exc}") from exc
    if crs is None:
        raise GridError(
            f"DEM {src_path} has no CRS: assign one (gdal_edit.py -a_srs EPSG:xxxx) first"
        )
    crs = CRS.from_user_input(crs.to_wkt())
    name = crs.name
    if crs.is_geographic:
        return "other", f"its CRS {name!r} is geographic (degrees)"
    units = {(ax.unit_name or "").lower() for ax in crs.axis_info[:2]}
    if not crs.is_projected or not units <= _METRE:
        return "other", f"its CRS {name!r} is not projected in metres (axis units {sorted(units)})"
    if transform.b != 0 or transform.d != 0 or transform.a <= 0 or transform.e >= 0:
        return "other", f"its geotransform is rotated or not north-up ({tuple(transform)[:6]})"
    return "projected_m", f"its CRS {name!r} is projected in metres"


def native_dem_window(
    src_path, grid: AnalysisGrid, *, margin_m: float, band: int | None = None, nodata=None
) -> xr.DataArray:
    """The DEM's own pixels covering ``grid``'s footprint plus ``margin_m``, unresampled.

    The footprint is the analysis grid's bounds transformed into the DEM's CRS (edges
    densified), widened by the margin and rounded outwards to whole DEM pixels, then
    intersected with the file.

    Returns
    -------
    xarray.DataArray
        float32 elevation (the file's units, m expected), NaN nodata, dims (y, x), the
        DEM's CRS and the window's transform.

    Raises
    ------
    GridError
        The DEM does not overlap the analysis grid.
    """
    import rasterio
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, from_bounds

    src_path = Path(src_path)
    with rasterio.open(src_path) as ds:
        left, bottom, right, top = transform_bounds(grid.crs, ds.crs, *grid.bounds, densify_pts=51)
        m = float(margin_m)
        win = from_bounds(left - m, bottom - m, right + m, top + m, transform=ds.transform)
        c0, r0 = math.floor(win.col_off), math.floor(win.row_off)
        c1 = math.ceil(win.col_off + win.width)
        r1 = math.ceil(win.row_off + win.height)
        c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, ds.width), min(r1, ds.height)
        if c1 - c0 < 2 or r1 - r0 < 2:
            raise GridError(
                f"DEM {src_path} does not cover the analysis grid (its bounds in the DEM's "
                f"CRS: {left:.1f}, {bottom:.1f}, {right:.1f}, {top:.1f}); give a DEM of the AOI"
            )
        window = Window(c0, r0, c1 - c0, r1 - r0)
        b = int(band or 1)
        if not 1 <= b <= ds.count:
            raise InputDataError(f"DEM {src_path} has {ds.count} band(s); band={band}")
        raw = ds.read(b, window=window)
        nd = ds.nodatavals[b - 1] if nodata is None else nodata
        transform = ds.window_transform(window)
        crs = ds.crs
    z = raw.astype(np.float32)
    if nd is not None and not (isinstance(nd, float) and math.isnan(nd)):
        z[raw == nd] = np.nan
    h, w = z.shape
    x = transform.c + (np.arange(w) + 0.5) * transform.a
    y = transform.f + (np.arange(h) + 0.5) * transform.e
    da = xr.DataArray(z, dims=("y", "x"), coords={"y": y, "x": x}, name="elevation")
    da.attrs["units"] = "m"
    da = da.rio.write_crs(crs).rio.write_transform(transform)
    return da.rio.write_nodata(np.nan, encoded=False)


def write_native_dem(
    src_path,
    grid: AnalysisGrid,
    out_path,
    *,
    margin_m: float,
    band: int | None = None,
    nodata=None,
    scale: float = 1.0,
    tags: dict | None = None,
) -> Path:
    """Write ``dem_native.tif``: :func:`native_dem_window` (times ``scale``, e.g. 0.3048 for
    feet) as a float32 COG, NaN nodata."""
    from pipeline.io import write_cog

    da = native_dem_window(src_path, grid, margin_m=margin_m, band=band, nodata=nodata)
    if scale != 1.0:
        da = da.copy(data=(da.values * np.float32(scale)).astype(np.float32))
    all_tags = {"source": f"local:{Path(src_path).name}", "grid": "the DEM's own (native)"}
    all_tags.update(tags or {})
    return write_cog(da, out_path, tags=all_tags, for_pipeline=True)
