"""Daily rain of the synthetic demo district (a CHIRPS-like 0.05° lattice)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from pyproj import Transformer
from scipy import ndimage

from pipeline.errors import ConfigError
from pipeline.grid import AnalysisGrid
from pipeline.sources.demo.common import SYNTHETIC_NOTE, _rng

# Rain: monthly climatology without typhoons (mm) and wet days (≥ 0.1 mm) of a Changting-like station.
RAIN_MONTHLY_MM = np.array([65, 105, 175, 210, 265, 290, 130, 130, 90, 45, 45, 45], float)
RAIN_WET_DAYS = np.array([10, 13, 17, 17, 18, 18, 13, 14, 10, 6, 6, 7], float)
RAIN_ANNUAL_MM = 1650.0
RAIN_YEAR_CV = 0.09  # inter-annual, clipped to [0.87, 1.15]
RAIN_GAMMA_SHAPE = 0.9  # wet-day amounts
RAIN_TYPHOONS_PER_YEAR = 1.0  # Jul–Sep storm systems
RAIN_CELL_DEG = 0.05


# ------------------------------------------------------------------------------ rain
def rain_grid_bounds(grid: AnalysisGrid) -> tuple[float, float, float, float]:
    """0.05°-aligned lon/lat box covering the grid plus one cell of buffer."""
    to_ll = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    lon0, lat0, lon1, lat1 = to_ll.transform_bounds(*grid.bounds, densify_pts=21)
    d = RAIN_CELL_DEG
    return (
        np.floor(lon0 / d) * d - d,
        np.floor(lat0 / d) * d - d,
        np.ceil(lon1 / d) * d + d,
        np.ceil(lat1 / d) * d + d,
    )


def make_rain_daily(
    grid: AnalysisGrid,
    *,
    last_year: int = 2024,
    record_years: int = 10,
    seed: int = 20240601,
) -> xr.DataArray:
    """Daily rainfall (mm/day, float32) on a 0.05° EPSG:4326 grid over the district + 1 cell.

    A regional series: Markov-chain wet days with the monthly frequencies of
    ``RAIN_WET_DAYS`` and gamma amounts (shape ``RAIN_GAMMA_SHAPE``) with the monthly
    means of ``RAIN_MONTHLY_MM``, plus Jul–Sep typhoon storms. Each cell gets the
    regional amount times a spatially correlated lognormal factor per day; then every
    cell-year is rescaled to a bounded annual total (``RAIN_ANNUAL_MM`` × year factor
    in [0.87, 1.15] × cell factor in [0.95, 1.05] × [0.96, 1.04]).

    Examples
    --------
    >>> from pipeline.sources.demo import make_grid
    >>> rain = make_rain_daily(make_grid(size_km=3, resolution_m=30), last_year=2024)
    >>> rain.sizes["time"], rain.attrs["units"]
    (3653, 'mm/day')
    """
    if record_years < 1:
        raise ConfigError(f"demo rain_record_years must be >= 1, got {record_years!r}")
    rng = _rng(seed, "rain")
    lon0, lat0, lon1, lat1 = rain_grid_bounds(grid)
    d = RAIN_CELL_DEG
    nx = int(round((lon1 - lon0) / d))
    ny = int(round((lat1 - lat0) / d))
    lon = np.round(lon0 + (np.arange(nx) + 0.5) * d, 6)
    lat = np.round(lat1 - (np.arange(ny) + 0.5) * d, 6)
    first_year = last_year - record_years + 1
    time_index = pd.date_range(f"{first_year}-01-01", f"{last_year}-12-31", freq="D")
    month = time_index.month.to_numpy() - 1
    days_in_month = time_index.days_in_month.to_numpy()
    p_wet = RAIN_WET_DAYS[month] / days_in_month
    mean_wet = RAIN_MONTHLY_MM[month] / RAIN_WET_DAYS[month]
    n = time_index.size
    # two-state Markov chain with lag-1 persistence 0.35
    rho = 0.35
    u = rng.random(n)
    wet = np.zeros(n, bool)
    for t in range(n):
        prev = wet[t - 1] if t else False
        p = p_wet[t] + (1 - p_wet[t]) * rho if prev else p_wet[t] * (1 - rho)
        wet[t] = u[t] < p
    amount = rng.gamma(RAIN_GAMMA_SHAPE, mean_wet / RAIN_GAMMA_SHAPE) * wet
    # typhoons: Jul–Sep storm systems of 1–3 days
    years = time_index.year.to_numpy()
    for y in range(first_year, last_year + 1):
        for _ in range(rng.poisson(RAIN_TYPHOONS_PER_YEAR)):
            in_season = np.flatnonzero((years == y) & (month >= 6) & (month <= 8))
            t0 = int(rng.choice(in_season))
            for k, frac in enumerate((1.0, 0.5, 0.2)[: int(rng.integers(1, 4))]):
                if t0 + k < n:
                    amount[t0 + k] += frac * rng.uniform(30.0, 100.0)
    # spatial field: correlated lognormal factor per day, light rain patchy
    noise = rng.standard_normal((n, ny, nx))
    noise = ndimage.gaussian_filter(noise, sigma=(0, 1.2, 1.2), mode="reflect")
    noise /= noise.std(axis=(1, 2), keepdims=True) + 1e-12
    sigma = 0.25
    field = amount[:, None, None] * np.exp(sigma * noise - sigma**2 / 2)
    field[(amount[:, None, None] < 2.0) & (noise < -0.5)] = 0.0
    # bounded annual totals per cell-year
    static = np.clip(1 + 0.03 * ndimage.gaussian_filter(rng.standard_normal((ny, nx)), 1.0) / 0.3,
                     0.95, 1.05)  # fmt: skip
    for y in range(first_year, last_year + 1):
        sel = years == y
        year_factor = float(np.clip(1 + RAIN_YEAR_CV * rng.standard_normal(), 0.87, 1.15))
        cell_year = np.clip(1 + 0.02 * rng.standard_normal((ny, nx)), 0.96, 1.04)
        target = RAIN_ANNUAL_MM * year_factor * static * cell_year
        total = field[sel].sum(axis=0)
        field[sel] *= (target / np.maximum(total, 1e-6))[None]
    da = xr.DataArray(
        np.round(field, 2).astype(np.float32),  # 0.01 mm: the same bytes on every CPU
        dims=("time", "y", "x"),
        coords={"time": time_index, "y": lat, "x": lon},
        name="precipitation",
        attrs={
            "units": "mm/day",
            "long_name": "daily precipitation (synthetic, CHIRPS-like 0.05 deg grid)",
            "SYNTHETIC": SYNTHETIC_NOTE,
        },
    )
    da = da.rio.write_crs("EPSG:4326").rio.write_transform(Affine(d, 0, lon0, 0, -d, lat1))
    return da
