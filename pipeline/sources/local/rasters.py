"""Readers of local raster (and land-use polygon) files, aligned onto the grid and written as
the standard inputs: DEM, land cover, NDVI, soil, rain.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine

from pipeline import landcover
from pipeline.checks import check_integer_codes, check_texture_row
from pipeline.errors import ConfigError, InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.sources.local.align import _open_source, _reproject, recode_classes, reproject_to_grid
from pipeline.sources.local.common import (
    N_PERIODS,
    OM_PER_OC,
    SOIL_BANDS,
    write_dem,
    write_landcover,
    write_ndvi,
    write_rain_daily,
)
from pipeline.sources.local.grid import _read_vector
from pipeline.sources.local.vectors import _require_columns


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
