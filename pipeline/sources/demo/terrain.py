"""Relief of the synthetic demo district: the DEM and its flow routing (pieces in
``_terrain``).
"""

from __future__ import annotations

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from scipy import ndimage

from pipeline.grid import AnalysisGrid
from pipeline.sources.demo._terrain import (
    Terrain,
    analyse_terrain,
    basin_dem,
    fractal_noise,
    resize,
)
from pipeline.sources.demo.common import SYNTHETIC_NOTE, _aoi_mask, _on_grid, _rng

# ----------------------------------------------------------------------------- knobs
# Relief (DEM). Elevations m a.s.l.; the median slope is reached by scaling the
# height above the valley network.
OUTLET_ELEVATION_M = 250.0
RIM_HEIGHT_M = 150.0  # initial basin rim (sets the network's planform only)
TILT_M = 100.0  # initial fall towards the outlet
NOISE_RELIEF_M = 30.0  # initial noise (planform only)
NOISE_BETA = 2.8
HILL_WAVELENGTH_M = 2000.0  # correlation length of the initial noise
MEDIAN_SLOPE_DEG = 15.0  # of coarse hillslope cells; sets the relief
VALLEY_FLOOR_SCALE_M = 12.0  # HAND compressed below about this height (flat floors)
COARSE_CELLS = 400  # DEM is shaped on at most COARSE_CELLS² cells, then upsampled
CARVE_ITERATIONS = 12
CARVE_COEFFICIENT = 0.05  # K·dt in the implicit stream-power step (A in m²)
SMOOTH_PX = 1.0  # Gaussian smoothing of the rebuilt coarse DEM, coarse cells
FINE_NOISE_M = 1.0
STREAM_AREA_KM2 = 0.1  # channel initiation for HAND / stream distances


# ------------------------------------------------------------------------------- DEM
def make_dem(grid: AnalysisGrid, *, seed: int = 20240601) -> xr.DataArray:
    """Elevation (m a.s.l., float32) with a coherent drainage network and one main outlet.

    A basin is shaped on a coarse grid (at most ``COARSE_CELLS``² cells) by
    ``_terrain.basin_dem``, upsampled (cubic) to the grid and given fine noise
    that fades out on valley floors.

    Examples
    --------
    >>> from pipeline.sources.demo import make_grid
    >>> dem = make_dem(make_grid(size_km=3, resolution_m=30), seed=1)
    >>> dem.attrs["units"], dem.dtype
    ('m', dtype('float32'))
    """
    rng = _rng(seed, "dem")
    res = grid.res[0]
    factor = max(1, int(np.ceil(max(grid.shape) / COARSE_CELLS)))
    cshape = (int(np.ceil(grid.height / factor)), int(np.ceil(grid.width / factor)))
    cres = res * grid.height / cshape[0]
    size_scale = min(1.0, (max(grid.shape) * res / 20000.0)) ** 0.5
    z_coarse, _ = basin_dem(
        cshape,
        cres,
        rng,
        outlet_elevation_m=OUTLET_ELEVATION_M,
        rim_height_m=RIM_HEIGHT_M * size_scale,
        tilt_m=TILT_M * size_scale,
        noise_relief_m=NOISE_RELIEF_M,
        noise_beta=NOISE_BETA,
        noise_wavelength_px=HILL_WAVELENGTH_M / cres,
        carve_iterations=CARVE_ITERATIONS,
        carve_coefficient=CARVE_COEFFICIENT,
        median_slope_deg=MEDIAN_SLOPE_DEG,
        smooth_px=SMOOTH_PX,
        floor_scale_m=VALLEY_FLOOR_SCALE_M,
        valley_area_km2=max(0.5 * size_scale**2, 20 * cres**2 / 1e6),
    )
    z = resize(z_coarse, grid.shape, order=3)
    # fine texture, faded out on valley floors (low relative height)
    local_min = ndimage.minimum_filter(z_coarse, size=5, mode="nearest")
    rel = resize(np.clip((z_coarse - local_min) / 20.0, 0.0, 1.0), grid.shape, order=1)
    z = z + FINE_NOISE_M * rel * fractal_noise(
        grid.shape, rng, beta=3.0, max_wavelength_px=max(3.0, 150.0 / res)
    )
    # Rounded to 1 cm: float64 exp/log/power take CPU-specific SIMD paths in numpy and
    # differ in the last bits between CPUs; rounding makes the DEM (and all that follows
    # from it) the same bytes everywhere.
    return _on_grid(
        grid,
        np.round(z, 2).astype(np.float32),
        name="elevation",
        units="m",
        attrs={"long_name": "elevation above sea level (synthetic)", "SYNTHETIC": SYNTHETIC_NOTE},
    )


def terrain(dem: xr.DataArray) -> Terrain:
    """Terrain derivatives (slope, D8 flow, HAND, streams) of a DEM on an AnalysisGrid."""
    grid = AnalysisGrid.from_dataarray(dem)
    cell_km2 = grid.res[0] * grid.res[1] / 1e6
    return analyse_terrain(
        np.asarray(dem.values), grid.transform, stream_km2=max(STREAM_AREA_KM2, 30 * cell_km2)
    )


def main_outlet_share(dem: xr.DataArray, aoi=None) -> float:
    """Share of cells (inside ``aoi`` if given) whose D8 flow reaches the main outlet.

    Flow directions from pyflwdir ``from_dem`` (depression filling, edge outlets);
    the main outlet is the pit with the largest upstream area.
    """
    t = terrain(dem)
    if aoi is None:
        return float(t.basin.mean())
    mask = _aoi_mask(AnalysisGrid.from_dataarray(dem), aoi)
    return float(t.basin[mask].mean())
