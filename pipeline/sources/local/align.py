"""Alignment onto the analysis grid: reprojection (rioxarray/GDAL warp) and the legend recode
of class codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import rasterio
import rioxarray
import xarray as xr
from rasterio.enums import Resampling

from pipeline import landcover
from pipeline.errors import ConfigError, GridError, InputDataError
from pipeline.grid import AnalysisGrid


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
    >>> from pipeline.sources.local import WORLDCOVER_TO_SHUIBAO
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
