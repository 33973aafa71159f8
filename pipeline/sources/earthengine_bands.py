"""Earth Engine: seasonal Sentinel-2 band composites (B2, B4, B8, B11) for the disturbance workflow.

Sentinel-2 SR harmonized (``COPERNICUS/S2_SR_HARMONIZED``: scenes with processing
baseline ≥ 04.00 are already shifted back, so reflectance = DN × 1e-4 with no offset),
masked with Cloud Score+ (``GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED``, ``cs_cdf`` ≥ 0.6,
linked by ``system:index``), median per season of one calendar year (winter = Jan, Feb
and Dec; spring Mar–May; summer Jun–Aug; autumn Sep–Nov). A season without a clear
observation stays masked (→ NaN: never flagged). Downloads reuse the tiled, retried and
cached ``computePixels`` of :mod:`pipeline.sources.earthengine`, as int16 reflectance
× 10 000 on a UTM request grid, then bilinear onto the analysis grid.
"""

from __future__ import annotations

from pathlib import Path

import ee
import numpy as np
import xarray as xr

from pipeline.errors import ConfigError
from pipeline.grid import AnalysisGrid
from pipeline.sources.earthengine import (
    CLOUD_SCORE_PLUS,
    KEY_ENV,
    MAX_REQUEST_BYTES,
    S2_COLLECTION,
    _ee_geometry,
    _ensure_initialized,
    ee_request_grid,
    fetch_image,
    grid_lonlat_polygon,
)
from pipeline.sources.seasonal_bands import BANDS, NODATA, SCALE, SEASON_MONTHS, SEASONS


def band_ids() -> list[str]:
    return [f"{s}_{b}" for s in SEASONS for b in BANDS]


def _season_filter(season: str) -> ee.Filter:
    months = sorted(SEASON_MONTHS[season])
    runs, start = [], months[0]
    for a, b in zip(months, months[1:] + [None], strict=True):
        if b != a + 1:
            runs.append((start, a))
            start = b
    filters = [ee.Filter.calendarRange(lo, hi, "month") for lo, hi in runs]
    return filters[0] if len(filters) == 1 else ee.Filter.Or(*filters)


def build_s2_seasonal_bands(
    aoi_geom,
    year: int,
    *,
    cs_threshold: float = 0.6,
    cs_band: str = "cs_cdf",
    max_cloud_pct: float | None = 80.0,
) -> ee.Image:
    """One image of 16 bands ``{season}_{band}``: seasonal medians of clear B2/B4/B8/B11 reflectance.

    Parameters
    ----------
    aoi_geom : ee.Geometry, shapely geometry or GeoJSON (lon/lat)
        Scenes are filtered to those intersecting it.
    year : int
        Calendar year.
    cs_threshold : float
        Keep pixels with Cloud Score+ ``cs_band`` ≥ this (0–1; 0.6 as geedim).
    max_cloud_pct : float or None
        Drop scenes with ``CLOUDY_PIXEL_PERCENTAGE`` ≥ this, %.

    Returns
    -------
    ee.Image
        Float reflectance (0–1; DN × 1e-4), masked where a season had no clear observation.
    """
    if not 0.0 <= cs_threshold <= 1.0:
        raise ConfigError(f"cs_threshold must be within 0–1, got {cs_threshold!r}")
    if cs_band not in ("cs", "cs_cdf"):
        raise ConfigError(f"cs_band must be 'cs' or 'cs_cdf', got {cs_band!r}")
    aoi = _ee_geometry(aoi_geom)
    scenes = (
        ee.ImageCollection(S2_COLLECTION)
        .filterBounds(aoi)
        .filterDate(f"{year}-01-01", f"{year + 1}-01-01")
    )
    if max_cloud_pct is not None:
        scenes = scenes.filter(ee.Filter.lt("CLOUDY_PIXEL_PERCENTAGE", max_cloud_pct))
    linked = scenes.linkCollection(ee.ImageCollection(CLOUD_SCORE_PLUS), [cs_band])

    def _clear(image):
        image = ee.Image(image)
        clear = image.select(cs_band).gte(cs_threshold)
        return image.select(list(BANDS)).updateMask(clear).multiply(SCALE).toFloat()

    empty = (
        ee.Image.constant([0] * len(BANDS))
        .rename(list(BANDS))
        .toFloat()
        .updateMask(ee.Image.constant(0))
    )
    seasons = []
    for season in SEASONS:
        chosen = linked.filter(_season_filter(season)).map(_clear)
        median = ee.ImageCollection.fromImages([empty]).merge(chosen).median()
        seasons.append(median.select(list(BANDS), [f"{season}_{b}" for b in BANDS]))
    return ee.Image.cat(seasons)


def fetch_seasonal_composite(
    grid: AnalysisGrid,
    year: int,
    *,
    cache_dir,
    aoi_geom=None,
    cs_threshold: float = 0.6,
    max_cloud_pct: float | None = 80.0,
    ndvi_request_res_m: float = 10.0,
    project: str | None = None,
    key_env: str = KEY_ENV,
    max_bytes: float = MAX_REQUEST_BYTES,
    max_retries: int = 5,
    backoff_s: float = 2.0,
    progress: bool = False,
    **_other_settings,
) -> xr.DataArray:
    """Download the year's seasonal composites; return float32 ``(band, season, y, x)`` on ``grid``.

    Keyword arguments are the ``source.earthengine`` settings (others are ignored); the
    request pixel size is ``ndvi_request_res_m`` (the Sentinel-2 one).
    """
    from pipeline.sources.local import reproject_to_grid

    _ensure_initialized(project, key_env or KEY_ENV)
    image = build_s2_seasonal_bands(
        aoi_geom or grid_lonlat_polygon(grid),
        year,
        cs_threshold=cs_threshold,
        max_cloud_pct=max_cloud_pct,
    )
    stack = image.multiply(1 / SCALE).round()
    raw = fetch_image(
        stack,
        Path(cache_dir) / f"s2_seasonal_{year}_raw.tif",
        ee_request_grid(grid, scale_m=ndvi_request_res_m),
        band_ids=band_ids(),
        dtype="int16",
        fill_value=NODATA,
        provenance={"year": year, "cs_threshold": cs_threshold, "what": "seasonal B2/B4/B8/B11"},
        max_bytes=max_bytes,
        max_retries=max_retries,
        backoff_s=backoff_s,
        progress=progress,
        project=project,
        key_env=key_env or KEY_ENV,
    )
    layers = [
        reproject_to_grid(raw, grid, kind="continuous", band=i + 1, nodata=NODATA)
        for i in range(len(band_ids()))
    ]
    data = np.stack([np.asarray(la.values, np.float32) * np.float32(SCALE) for la in layers])
    data = data.reshape(len(SEASONS), len(BANDS), *grid.shape).transpose(1, 0, 2, 3)
    da = xr.DataArray(
        data,
        dims=("band", "season", "y", "x"),
        coords={"band": list(BANDS), "season": list(SEASONS), **grid.coords()},
        name="reflectance",
        attrs={"units": "1"},
    )
    return da.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
