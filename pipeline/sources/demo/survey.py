"""Field survey of the synthetic demo district and its HIDDEN TRUTH (not the pipeline's RUSLE)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from pyproj import Transformer

from pipeline import sl190
from pipeline.errors import ConfigError
from pipeline.grid import AnalysisGrid
from pipeline.sources.demo._terrain import (
    Terrain,
)
from pipeline.sources.demo.common import _LC, _aoi_mask, _cell_xy, _rng
from pipeline.sources.demo.landscape import NDVI_PROFILES, _noise

# Hidden truth of the field survey (see hidden_soil_loss).
TRUTH_C: dict[str, float] = {
    "forest": 0.004,
    "shrub": 0.015,
    "grass": 0.03,
    "orchard": 0.06,
    "terraced_cropland": 0.12,
    "sloping_cropland": 0.22,
    "paddy": 0.08,
    "built_up": 0.001,
    "water": 0.0,
    "bare": 0.45,
    "construction": 0.6,
}
TRUTH_P: dict[str, float] = {
    "forest": 1.0,
    "shrub": 1.0,
    "grass": 1.0,
    "orchard": 0.5,
    "terraced_cropland": 0.1,
    "sloping_cropland": 0.8,
    "paddy": 0.05,
    "built_up": 1.0,
    "water": 0.0,
    "bare": 1.0,
    "construction": 0.9,
}
TRUTH_C_LOG_SD = 0.5
TRUTH_K_LOG_SD = 0.15
TRUTH_M = 0.35
TRUTH_MAX_SLOPE_LENGTH_M = 120.0
TRUTH_HOTSPOT_SHARE = 0.07
TRUTH_HOTSPOT_FACTOR = 4.0
TRUTH_OBSERVATION_ERROR = 0.10
# Survey design weights (relative to area): erosion-prone classes are oversampled.
SURVEY_WEIGHTS: dict[str, float] = {
    "forest": 0.5,
    "orchard": 2.0,
    "sloping_cropland": 2.0,
    "terraced_cropland": 1.5,
    "bare": 3.0,
    "construction": 3.0,
    "grass": 1.5,
    "shrub": 1.0,
    "paddy": 0.7,
    "built_up": 0.3,
    "water": 0.2,
}


# ----------------------------------------------------------------------- survey
def _k_epic_si(sand, silt, clay, oc):
    """EPIC K (Sharpley & Williams 1990) converted to SI (K_SI = 0.1317 × K_US)."""
    sn1 = 1 - sand / 100
    k_us = (
        (0.2 + 0.3 * np.exp(-0.0256 * sand * (1 - silt / 100)))
        * (silt / (clay + silt)) ** 0.3
        * (1 - 0.25 * oc / (oc + np.exp(3.72 - 2.95 * oc)))
        * (1 - 0.7 * sn1 / (sn1 + np.exp(-5.51 + 22.9 * sn1)))
    )
    return 0.1317 * k_us


def _r_daily_10mm(rain_mm: np.ndarray, time_index: pd.DatetimeIndex) -> np.ndarray:
    """Annual erosivity from daily rain ≥ 10 mm, seasonal α, β = 1.7265 (a hidden truth, not the pipeline's R)."""
    doy = time_index.day_of_year.to_numpy()
    alpha = np.where((doy >= 121) & (doy <= 273), 0.3937, 0.3101)[:, None, None]
    p = np.where(rain_mm >= 10.0, rain_mm, 0.0)
    return (alpha * p**1.7265).sum(axis=0)


def _slope_factor_liu(slope_deg):
    """McCool et al. 1987 (< 10°) / Liu et al. 1994 (≥ 10°) S."""
    s = np.sin(np.radians(slope_deg))
    return np.where(
        slope_deg < 5, 10.8 * s + 0.03, np.where(slope_deg < 10, 16.8 * s - 0.5, 21.91 * s - 0.96)
    )


def hidden_soil_loss(
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    landcover: np.ndarray,
    terr: Terrain,
    soil: xr.DataArray,
    rain: xr.DataArray,
    year: int,
    grid: AnalysisGrid,
    ndvi: xr.DataArray | None = None,
    seed: int = 20240601,
) -> np.ndarray:
    """The survey's HIDDEN TRUTH: soil loss (t·ha⁻¹·a⁻¹) at grid cells (rows, cols).

    Deliberately not the pipeline's RUSLE: A = R·K·LS·C·P·H with
    R from the survey year's daily rain, P ≥ 10 mm, seasonal α, β = 1.7265 (not
    Zhang 2002); K = EPIC(SI) × 0.75 × lognormal(``TRUTH_K_LOG_SD``);
    LS: slope length = upslope area / cell width capped at ``TRUTH_MAX_SLOPE_LENGTH_M``,
    m = ``TRUTH_M``, S of McCool/Liu; C = ``TRUTH_C`` per class × lognormal
    (``TRUTH_C_LOG_SD``) × exp(-4·NDVI anomaly) (clipped to [1/3, 3]); P = ``TRUTH_P``;
    H = ``TRUTH_HOTSPOT_FACTOR`` in gully/rill hot spots (``TRUTH_HOTSPOT_SHARE`` of
    the area) on orchard, sloping cropland, grass, bare and construction land.
    """
    rng = _rng(seed, "survey", year)
    res = grid.res[0]
    n = rows.size
    keys = {v: k for k, v in _LC.items()}
    lc = landcover[rows, cols]
    klass = [keys.get(int(c), "forest") for c in lc]
    # R at the rain cell of each point
    sel = rain.sel(time=str(year))
    r_cell = _r_daily_10mm(np.asarray(sel.values, np.float64), sel.indexes["time"])
    xs, ys = _cell_xy(grid, rows + 0.5, cols + 0.5)
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    rt = rain.rio.transform()
    ri = np.clip(np.floor((np.asarray(lat) - rt.f) / rt.e).astype(int), 0, r_cell.shape[0] - 1)
    ci = np.clip(np.floor((np.asarray(lon) - rt.c) / rt.a).astype(int), 0, r_cell.shape[1] - 1)
    r_true = r_cell[ri, ci]
    sv = np.asarray(soil.values)[:, rows, cols].astype(np.float64)
    k_true = _k_epic_si(*sv) * 0.75 * np.exp(TRUTH_K_LOG_SD * rng.standard_normal(n))
    length = np.minimum(terr.upstream_km2[rows, cols] * 1e6 / res, TRUTH_MAX_SLOPE_LENGTH_M)
    ls_true = (length / 22.13) ** TRUTH_M * _slope_factor_liu(terr.slope_deg[rows, cols])
    c_true = np.array([TRUTH_C[k] for k in klass]) * np.exp(TRUTH_C_LOG_SD * rng.standard_normal(n))
    if ndvi is not None:
        mean = np.asarray(ndvi.values[:, rows, cols], np.float64).mean(axis=0)
        class_mean = np.array([float(NDVI_PROFILES[k].mean()) for k in klass])
        c_true *= np.clip(np.exp(-4.0 * (mean - class_mean)), 1 / 3, 3)
    p_true = np.array([TRUTH_P[k] for k in klass])
    hot_field = _noise(grid, _rng(seed, "survey"), 200.0, beta=2.5)
    hot = hot_field[rows, cols] > np.quantile(hot_field, 1 - TRUTH_HOTSPOT_SHARE)
    erodible = np.isin(klass, ["orchard", "sloping_cropland", "grass", "bare", "construction"])
    h = np.where(hot & erodible, TRUTH_HOTSPOT_FACTOR, 1.0)
    return r_true * k_true * ls_true * np.minimum(c_true, 1.0) * p_true * h


def make_survey(
    landcover: xr.DataArray,
    aoi,
    *,
    year: int,
    terr: Terrain,
    soil: xr.DataArray,
    rain: xr.DataArray,
    ndvi: xr.DataArray | None = None,
    n_points: int = 400,
    seed: int = 20240601,
) -> gpd.GeoDataFrame:
    """Field-survey points with an observed SL 190-2007 class drawn from ``hidden_soil_loss``.

    Points are stratified by land cover (allocation ∝ area × ``SURVEY_WEIGHTS``, at
    least 3 per class present) at random cells inside the AOI, recorded with each point as
    ``stratum`` (land-cover code) and ``inclusion_probability`` (n_h / N_h); the class of the
    hidden soil loss (south red-soil breaks) is recorded with a
    ``TRUTH_OBSERVATION_ERROR`` chance of being one class off.
    """
    if n_points < 1:
        raise ConfigError(f"demo n_survey_points must be >= 1, got {n_points!r}")
    grid = AnalysisGrid.from_dataarray(landcover)
    rng = _rng(seed, "survey", year, 1)
    lc = np.asarray(landcover.values)
    inside = _aoi_mask(grid, aoi)
    present = [c for c in sorted(_LC.values()) if (inside & (lc == c)).any()]
    keys = {v: k for k, v in _LC.items()}
    weight = np.array([(inside & (lc == c)).sum() * SURVEY_WEIGHTS[keys[c]] for c in present])
    alloc = np.maximum(3, np.floor(n_points * weight / weight.sum())).astype(int)
    while alloc.sum() > n_points and alloc.max() > 3:
        alloc[np.argmax(alloc)] -= 1
    alloc[np.argmax(weight)] += max(0, n_points - alloc.sum())
    cells = []
    for c, k in zip(present, alloc, strict=True):
        idx = np.flatnonzero(inside & (lc == c))
        cells.append(rng.choice(idx, size=min(int(k), idx.size), replace=False))
    cells = np.sort(np.concatenate(cells))[:n_points]
    rows, cols = np.divmod(cells, grid.width)
    # design: stratum = land-cover code, π = n_h / N_h (pixels of the class inside the AOI)
    stratum = lc.ravel()[cells].astype(np.int64)
    n_h = {c: int((stratum == c).sum()) for c in present}
    big_n_h = {c: int((inside & (lc == c)).sum()) for c in present}
    inclusion = np.array([n_h[c] / big_n_h[c] for c in stratum.tolist()], dtype="float64")
    loss = hidden_soil_loss(
        rows,
        cols,
        landcover=lc,
        terr=terr,
        soil=soil,
        rain=rain,
        year=year,
        grid=grid,
        ndvi=ndvi,
        seed=seed,
    )
    truth = np.digitize(loss, sl190.class_breaks("south_red_soil")) + 1
    off = rng.random(rows.size) < TRUTH_OBSERVATION_ERROR
    step = np.where(rng.random(rows.size) < 0.5, -1, 1)
    step = np.where(truth == 1, 1, np.where(truth == 6, -1, step))
    observed = np.where(off, truth + step, truth).astype(np.int64)
    jitter = rng.uniform(-0.45, 0.45, size=(2, rows.size))
    points = shapely.points(*_cell_xy(grid, rows + 0.5 + jitter[1], cols + 0.5 + jitter[0]))
    centres = shapely.points(*_cell_xy(grid, rows + 0.5, cols + 0.5))
    points = np.where(shapely.contains(aoi, points), points, centres)
    return gpd.GeoDataFrame(
        {
            "survey_id": [f"S{year}-{i + 1:04d}" for i in range(rows.size)],
            "year": np.full(rows.size, int(year), np.int64),
            "intensity_class": observed,
            "stratum": stratum,
            "inclusion_probability": inclusion,
        },
        geometry=list(points),
        crs=grid.crs,
    )
