"""Fetchers of the standard inputs from Earth Engine (``fetch_*``) and the source's
``prepare_inputs``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import ee
import numpy as np
import rasterio
import xarray as xr

from pipeline import landcover
from pipeline.errors import (
    ConfigError,
)
from pipeline.grid import AnalysisGrid
from pipeline.io import atomic_path
from pipeline.sources import _cache
from pipeline.sources.earthengine.builders import (
    CHIRPS_DAILY,
    MAX_REQUEST_BYTES,
    WORLDCOVER_VERSIONS,
    build_chirps_daily,
    build_dem,
    build_s2_ndvi_halfmonths,
    build_soilgrids,
    build_worldcover,
    chirps_request_grid,
    ee_request_grid,
    grid_affine,
    grid_lonlat_polygon,
    ndvi_period_stack,
)
from pipeline.sources.earthengine.transport import (
    KEY_ENV,
    _cache_path,
    _ensure_initialized,
    fetch_image,
    initialize,
)
from pipeline.sources.local import (
    NDVI_NODATA,
    NDVI_SCALE,
    PERIOD_NAMES,
    SOIL_BANDS,
    landcover_on_grid,
    reproject_to_grid,
    write_dem,
    write_landcover,
    write_ndvi,
    write_rain_daily,
    write_soil,
)


def _tags(path: Path) -> dict:
    record = _cache.read_provenance(path) or {}
    return {
        "source": "earthengine",
        "ee_assets": ",".join(record.get("asset_ids", [])),
        "ee_request_hash": record.get("request_hash", ""),
    }


def fetch_dem(
    grid: AnalysisGrid,
    out_path,
    *,
    aoi_geom=None,
    dataset: str = "COPERNICUS/DEM/GLO30",
    request_res_m: float = 30.0,
    cache_dir=None,
    **fetch_kw,
) -> Path:
    """Download the DEM around ``grid`` and write ``dem.tif`` (bilinear onto the grid)."""
    _ensure_initialized(fetch_kw.get("project"), fetch_kw.get("key_env", KEY_ENV))
    image = build_dem(aoi_geom or grid_lonlat_polygon(grid), dataset=dataset)
    raw = fetch_image(
        image,
        _cache_path(out_path, cache_dir, "dem_raw.tif"),
        ee_request_grid(grid, scale_m=request_res_m),
        band_ids=["elevation"],
        dtype="float32",
        provenance={"dataset": dataset},
        **fetch_kw,
    )
    dem = reproject_to_grid(raw, grid, kind="continuous")
    return write_dem(dem, out_path, grid=grid, tags=_tags(raw))


def fetch_ndvi(
    grid: AnalysisGrid,
    year: int,
    out_path,
    *,
    aoi_geom=None,
    cs_threshold: float = 0.6,
    max_cloud_pct: float | None = 80.0,
    gap_fill: bool = True,
    request_res_m: float = 10.0,
    cache_dir=None,
    valid_obs_path=None,
    **fetch_kw,
) -> Path:
    """Download the 24 half-month NDVI composites of ``year``; write ``ndvi_{year}.tif``.

    Fetched as int16 NDVI × 10000 (half the bytes of float), reprojected
    bilinearly onto the grid. ``valid_obs_path`` optionally also writes the
    valid-observation counts (uint16, 24 bands) on the request grid.
    """
    _ensure_initialized(fetch_kw.get("project"), fetch_kw.get("key_env", KEY_ENV))
    collection = build_s2_ndvi_halfmonths(
        aoi_geom or grid_lonlat_polygon(grid),
        year,
        cs_threshold=cs_threshold,
        max_cloud_pct=max_cloud_pct,
        gap_fill=gap_fill,
    )
    stack = ndvi_period_stack(collection).multiply(1 / NDVI_SCALE).round()
    request_grid = ee_request_grid(grid, scale_m=request_res_m)
    prov = {"year": year, "dates": f"{year}-01-01/{year}-12-31", "cs_threshold": cs_threshold}
    raw = fetch_image(
        stack,
        _cache_path(out_path, cache_dir, f"ndvi_{year}_raw.tif"),
        request_grid,
        band_ids=PERIOD_NAMES,
        dtype="int16",
        fill_value=NDVI_NODATA,
        provenance=prov,
        **fetch_kw,
    )
    if valid_obs_path is not None:
        fetch_image(
            ndvi_period_stack(collection, band="valid_obs"),
            valid_obs_path,
            request_grid,
            band_ids=PERIOD_NAMES,
            dtype="uint16",
            fill_value=0,
            provenance=prov,
            **fetch_kw,
        )
    scaled = reproject_to_grid(raw, grid, kind="continuous")
    ndvi = (scaled * NDVI_SCALE).rename({"band": "period"})
    return write_ndvi(ndvi, out_path, grid=grid, tags=_tags(raw))


def fetch_landcover(
    grid: AnalysisGrid,
    out_path,
    *,
    aoi_geom=None,
    version: str = "v200",
    recode: Mapping | None = None,
    request_res_m: float = 10.0,
    cache_dir=None,
    **fetch_kw,
) -> Path:
    """Download ESA WorldCover recoded to Shuibao codes; write ``landcover_{year}.tif`` (mode)."""
    _ensure_initialized(fetch_kw.get("project"), fetch_kw.get("key_env", KEY_ENV))
    image = build_worldcover(aoi_geom or grid_lonlat_polygon(grid), version=version, recode=recode)
    raw = fetch_image(
        image,
        _cache_path(out_path, cache_dir, f"worldcover_{version}_raw.tif"),
        ee_request_grid(grid, scale_m=request_res_m),
        band_ids=["landcover"],
        dtype="uint8",
        fill_value=landcover.NODATA,
        provenance={"version": version, "year": WORLDCOVER_VERSIONS[version]},
        **fetch_kw,
    )
    identity = {c: c for c in landcover.CLASSES}
    lc = landcover_on_grid(raw, grid, recode=identity)
    return write_landcover(lc, out_path, grid=grid, tags=_tags(raw))


def fetch_soil(
    grid: AnalysisGrid,
    out_path,
    *,
    aoi_geom=None,
    depths: Sequence[str] = ("0-5cm", "5-15cm", "15-30cm"),
    request_res_m: float = 250.0,
    cache_dir=None,
    **fetch_kw,
) -> Path:
    """Download SoilGrids texture and organic carbon (%); write ``soil.tif`` (bilinear)."""
    _ensure_initialized(fetch_kw.get("project"), fetch_kw.get("key_env", KEY_ENV))
    image = build_soilgrids(aoi_geom or grid_lonlat_polygon(grid), depths=depths)
    raw = fetch_image(
        image,
        _cache_path(out_path, cache_dir, "soilgrids_raw.tif"),
        ee_request_grid(grid, scale_m=request_res_m),
        band_ids=list(SOIL_BANDS),
        dtype="float32",
        provenance={"depths": list(depths)},
        **fetch_kw,
    )
    soil = reproject_to_grid(raw, grid, kind="continuous").assign_coords(band=list(SOIL_BANDS))
    return write_soil(soil, out_path, grid=grid, tags=_tags(raw))


def fetch_chirps(
    grid: AnalysisGrid,
    years: Sequence[int],
    out_path,
    *,
    aoi_geom=None,
    cache_dir=None,
    **fetch_kw,
) -> Path:
    """Download CHIRPS daily rainfall for consecutive ``years``; write ``rain_daily.nc``.

    One request set per year (366 bands at most, split into band groups, see
    :func:`compute_pixels_requests`) on
    the native 0.05° lattice covering the grid plus one cell. Output: variable
    ``precipitation`` (time, y, x), float32 mm/day, EPSG:4326 (rioxarray).
    """
    _ensure_initialized(fetch_kw.get("project"), fetch_kw.get("key_env", KEY_ENV))
    collection = build_chirps_daily(aoi_geom or grid_lonlat_polygon(grid), years)
    request_grid = chirps_request_grid(grid)
    transform = grid_affine(request_grid)
    arrays, times = [], []
    for year in sorted(years):
        days = [dt.date(year, 1, 1) + dt.timedelta(d) for d in range(365 + calendar.isleap(year))]
        band_ids = [f"{d:%Y%m%d}_precipitation" for d in days]
        image = collection.filterDate(f"{year}-01-01", f"{year + 1}-01-01").toBands()
        raw = fetch_image(
            image,
            _cache_path(out_path, cache_dir, f"chirps_{year}_raw.tif"),
            request_grid,
            band_ids=band_ids,
            dtype="float32",
            provenance={"year": year, "dates": f"{year}-01-01/{year}-12-31"},
            **fetch_kw,
        )
        with rasterio.open(raw) as src:
            data = src.read().astype("float32")
            nodata = src.nodata
        data[data == nodata] = np.nan
        arrays.append(data)
        times += days
    w, h = request_grid["dimensions"]["width"], request_grid["dimensions"]["height"]
    x = transform.c + (np.arange(w) + 0.5) * transform.a
    y = transform.f + (np.arange(h) + 0.5) * transform.e
    rain = xr.DataArray(
        np.concatenate(arrays),
        dims=("time", "y", "x"),
        coords={"time": np.array(times, dtype="datetime64[ns]"), "y": y, "x": x},
        name="precipitation",
        attrs={
            "units": "mm/day",
            "long_name": "CHIRPS daily precipitation",
            "source": CHIRPS_DAILY,
        },
    )
    rain = rain.rio.write_crs("EPSG:4326").rio.write_transform(transform)
    return write_rain_daily(rain, out_path)


# ------------------------------------------------------- configuration → inputs
#: Inputs the Earth Engine source can write (zones and survey are always local).
PROVIDES = frozenset({"dem", "landcover", "ndvi", "rain", "soil"})
#: Default length of the CHIRPS record, years ending with the last assessment year.
RAIN_RECORD_YEARS = 10


def prepare_inputs(
    out_dir,
    cfg: Mapping,
    *,
    years: Sequence[int],
    only: Sequence[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Path]:
    """Write the raster inputs and ``rain_daily.nc`` from Google Earth Engine.

    Parameters
    ----------
    out_dir : path
        ``resources/{aoi}/``; ``grid.json`` and ``aoi.gpkg`` are written first
        from ``cfg["local"]`` (the AOI is always a local file) unless present.
        Raw downloads and their provenance go to ``earthengine.cache_dir``
        (default ``out_dir/.ee_cache``), so a rerun downloads nothing.
    cfg : mapping
        The ``source`` section; its ``earthengine`` part holds the settings
        (configs/schema.yaml, ``source.earthengine``).
    years : sequence of int
        Assessment years. CHIRPS covers ``rain_first_year`` (default: 10 years
        before the last assessment year) … the last year; WorldCover is one
        edition (``worldcover_version``) written as every year's land cover.
    only : sequence of str, optional
        Subset of ``PROVIDES`` (default all five).
    sleep : callable
        Used between retries (injected by tests).

    Returns
    -------
    dict
        File key → path written.

    Raises
    ------
    AuthenticationError
        No credentials (``key_env`` or application-default credentials).
    QuotaError
        A 429 that persists after ``max_retries`` retries.
    """
    from pipeline.sources.base import begin

    req = begin(
        out_dir,
        cfg,
        years=years,
        only=only,
        provides=PROVIDES,
        refuse="the Earth Engine source cannot provide {unsupported}: township/watershed "
        "layers and survey points come from local files (source.inputs)",
    )
    out_dir, names, years, grid = req.out_dir, req.names, req.years, req.grid
    ee_cfg = dict(cfg.get("earthengine") or {})
    key_env = ee_cfg.get("key_env") or KEY_ENV
    project = ee_cfg.get("project")
    if names and not ee.data.is_initialized():
        initialize(project=project, key_env=key_env, high_volume=ee_cfg.get("high_volume", True))
    fetch_kw = dict(
        cache_dir=ee_cfg.get("cache_dir"),
        max_bytes=float(ee_cfg.get("max_bytes") or MAX_REQUEST_BYTES),
        max_retries=int(ee_cfg.get("max_retries", 5)),
        backoff_s=float(ee_cfg.get("backoff_s", 2.0)),
        sleep=sleep,
        project=project,
        key_env=key_env,
    )
    written: dict[str, Path] = {}
    if "dem" in names:
        written["dem"] = fetch_dem(
            grid,
            out_dir / "dem.tif",
            dataset=ee_cfg.get("dem_dataset") or "COPERNICUS/DEM/GLO30",
            request_res_m=float(ee_cfg.get("dem_request_res_m") or 30.0),
            **fetch_kw,
        )
    if "landcover" in names:
        first = out_dir / f"landcover_{years[0]}.tif"
        fetch_landcover(
            grid,
            first,
            version=ee_cfg.get("worldcover_version") or "v200",
            recode=ee_cfg.get("worldcover_recode") or None,
            request_res_m=float(ee_cfg.get("landcover_request_res_m") or 10.0),
            **fetch_kw,
        )
        written[f"landcover_{years[0]}"] = first
        for year in years[1:]:  # one WorldCover edition: the same map every year
            path = out_dir / f"landcover_{year}.tif"
            with atomic_path(path) as tmp:
                tmp.write_bytes(first.read_bytes())
            written[f"landcover_{year}"] = path
    if "ndvi" in names:
        for year in years:
            written[f"ndvi_{year}"] = fetch_ndvi(
                grid,
                year,
                out_dir / f"ndvi_{year}.tif",
                cs_threshold=float(ee_cfg.get("cs_threshold", 0.6)),
                max_cloud_pct=ee_cfg.get("max_cloud_pct", 80.0),
                gap_fill=bool(ee_cfg.get("gap_fill", True)),
                request_res_m=float(ee_cfg.get("ndvi_request_res_m") or 10.0),
                **fetch_kw,
            )
    if "soil" in names:
        written["soil"] = fetch_soil(
            grid,
            out_dir / "soil.tif",
            depths=tuple(ee_cfg.get("soil_depths") or ("0-5cm", "5-15cm", "15-30cm")),
            request_res_m=float(ee_cfg.get("soil_request_res_m") or 250.0),
            **fetch_kw,
        )
    if "rain" in names:
        first_year = ee_cfg.get("rain_first_year")
        first_year = int(first_year) if first_year else years[-1] - RAIN_RECORD_YEARS + 1
        if first_year > years[0]:
            raise ConfigError(
                f"config key 'source.earthengine.rain_first_year': {first_year} is after the "
                f"first assessment year {years[0]}; the rain record must cover every year"
            )
        written["rain_daily"] = fetch_chirps(
            grid, list(range(first_year, years[-1] + 1)), out_dir / "rain_daily.nc", **fetch_kw
        )
    return written
