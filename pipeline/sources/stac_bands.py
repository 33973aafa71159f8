"""STAC (odc-stac): seasonal Sentinel-2 band composites (B2, B4, B8, B11) for the disturbance workflow.

Sentinel-2 L2A items from Earth Search (``sentinel-2-c1-l2a``: assets ``blue``, ``red``,
``nir``, ``swir16``, ``scl`` with ``raster:bands`` scale 1e-4 / offset −0.1) or Planetary
Computer (``sentinel-2-l2a``: ``B02``, ``B04``, ``B08``, ``B11``, ``SCL``; raw DN, BOA offset
−1000 when ``s2:processing_baseline`` ≥ 04.00) are converted to reflectance per
harmonisation group with :func:`pipeline.sources.stac.s2_scale_offset` (the same rule as
the NDVI loader), masked with the Scene Classification (``scl_keep``), loaded by odc-stac
onto the analysis grid (bilinear; B11 20 m → grid; SCL nearest) and reduced to the
median of each season of one calendar year (winter = Jan, Feb, Dec). A season without a
clear observation is NaN (never flagged).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pystac
import xarray as xr

from pipeline.errors import ConfigError, InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.sources.seasonal_bands import BANDS, SEASON_MONTHS, SEASONS
from pipeline.sources.stac import (
    EARTH_SEARCH,
    SCL_KEEP,
    _odc_load,
    _solar_date,
    grid_bbox_lonlat,
    s2_scale_offset,
    search_items,
)

#: Asset keys (B2, B4, B8, B11, SCL): Earth Search common names, Planetary Computer band IDs.
ASSET_KEYS = (
    ("blue", "red", "nir", "swir16", "scl"),
    ("B02", "B04", "B08", "B11", "SCL"),
)


def asset_keys(item: pystac.Item) -> tuple[str, ...]:
    """(B2, B4, B8, B11, SCL) asset keys of an item (Earth Search or Planetary Computer naming)."""
    for keys in ASSET_KEYS:
        if all(k in item.assets for k in keys):
            return keys
    raise InputDataError(
        f"STAC item {item.id}: no blue/red/NIR/SWIR-1/SCL assets; expected one of "
        f"{ASSET_KEYS}, found {sorted(item.assets)}"
    )


def load_s2_band_observations(
    items: Iterable[pystac.Item],
    grid: AnalysisGrid,
    *,
    keep_scl: Sequence[int] = SCL_KEEP,
    chunks: Mapping | None = None,
) -> xr.DataArray:
    """Clear-sky reflectance (0–1, NaN = masked) of every solar day, dims (time, band, y, x)."""
    items = list(items)
    if not items:
        raise InputDataError("no Sentinel-2 items to composite (check the search dates/bbox)")
    groups: dict[tuple, list[pystac.Item]] = {}
    for item in items:
        keys = asset_keys(item)
        key = (keys, tuple(s2_scale_offset(item, k) for k in keys[:4]))
        groups.setdefault(key, []).append(item)
    lon_c = 0.5 * (grid_bbox_lonlat(grid)[0] + grid_bbox_lonlat(grid)[2])
    parts = []
    for (keys, scales), group in sorted(groups.items(), key=str):
        scl = keys[4]
        ds = _odc_load(
            group,
            grid,
            bands=list(keys),
            resampling={scl: "nearest", "*": "bilinear"},
            chunks=chunks,
        )
        clear = ds[scl].isin(list(keep_scl))
        layers = []
        for key, (scale, offset) in zip(keys[:4], scales, strict=True):
            nodata = ds[key].attrs.get("nodata", 0)
            refl = (ds[key].astype("float32") * scale + offset).clip(min=0.0)
            layers.append(refl.where(clear & (ds[key] != nodata)))
        parts.append(xr.concat(layers, dim="band").assign_coords(band=list(BANDS)))
    obs = xr.concat(parts, dim="time") if len(parts) > 1 else parts[0]
    days = [_solar_date(t, lon_c) for t in obs["time"].values]
    obs = obs.assign_coords(time=np.array(days, dtype="datetime64[ns]")).sortby("time")
    obs = obs.transpose("time", "band", "y", "x").astype("float32").rename("reflectance")
    obs.attrs = {"units": "1", "long_name": "Sentinel-2 L2A reflectance, SCL-masked"}
    return obs


def seasonal_medians(obs: xr.DataArray, year: int) -> xr.DataArray:
    """Median reflectance per season of ``year``: float32 ``(band, season, y, x)``, NaN = none."""
    dates = [dt.date.fromisoformat(str(t)[:10]) for t in obs["time"].values]
    like = obs.isel(time=0, drop=True)
    out = []
    for season in SEASONS:
        sel = [
            i for i, d in enumerate(dates) if d.year == year and d.month in SEASON_MONTHS[season]
        ]
        if not sel:
            out.append(xr.full_like(like, np.nan, dtype="float32"))
            continue
        sub = obs.isel(time=sel)
        if sub.chunks is not None:
            sub = sub.chunk({"time": -1})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
            out.append(sub.median("time", skipna=True).astype("float32"))
    da = xr.concat(out, dim="season").assign_coords(season=list(SEASONS))
    da = da.transpose("band", "season", "y", "x").rename("reflectance")
    da.attrs = {"units": "1", "long_name": f"seasonal median reflectance {year}"}
    return da.rio.write_crs(obs.rio.crs) if obs.rio.crs else da


def fetch_seasonal_composite(
    grid: AnalysisGrid,
    year: int,
    *,
    catalog_url: str = EARTH_SEARCH,
    s2_collection: str = "sentinel-2-c1-l2a",
    max_cloud_pct: float | None = 80.0,
    scl_keep: Sequence[int] = SCL_KEEP,
    chunks: int | Mapping | None = None,
    **_other_settings,
) -> xr.DataArray:
    """Search, load and composite one year; keyword arguments are the ``source.stac`` settings."""
    if max_cloud_pct is not None and not 0 <= max_cloud_pct <= 100:
        raise ConfigError(f"max_cloud_pct must be within 0–100 %, got {max_cloud_pct!r}")
    query = {"eo:cloud_cover": {"lt": max_cloud_pct}} if max_cloud_pct is not None else None
    items = search_items(
        catalog_url,
        collection=s2_collection,
        bbox=grid_bbox_lonlat(grid),
        datetime=f"{year}-01-01/{year}-12-31",
        query=query,
    )
    if isinstance(chunks, int):
        chunks = {"x": chunks, "y": chunks}
    obs = load_s2_band_observations(items, grid, keep_scl=scl_keep, chunks=chunks)
    comp = seasonal_medians(obs, year).compute()
    return comp.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
