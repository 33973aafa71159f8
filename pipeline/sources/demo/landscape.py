"""Land cover (first year and yearly changes), NDVI periods and soil of the synthetic demo
district.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from scipy import ndimage

from pipeline.errors import ConfigError
from pipeline.grid import AnalysisGrid
from pipeline.sources.demo._terrain import (
    Terrain,
    block_mean,
    fractal_noise,
    resize,
)
from pipeline.sources.demo.common import _LC, LC_NODATA, PERIODS, _aoi_mask, _on_grid, _rng
from pipeline.sources.demo.terrain import terrain
from pipeline.sources.demo.zones import town_sites

# Land-cover shares of the grid (first year); forest takes the rest (~61 %).
LANDCOVER_SHARES: dict[str, float] = {
    "water": 0.015,
    "built_up": 0.045,
    "paddy": 0.07,
    "construction": 0.008,
    "terraced_cropland": 0.025,
    "sloping_cropland": 0.03,
    "orchard": 0.07,
    "bare": 0.008,
    "grass": 0.04,
    "shrub": 0.08,
}
# Year-over-year changes (fraction of the class's patches, applied per later year).
CHANGE_FRACTIONS: dict[str, float] = {
    "construction_finished": 0.6,  # → built-up
    "construction_restored": 0.1,  # → grass
    "new_construction": 0.5,  # new sites, as a fraction of last year's construction area
    "sloping_to_terraced": 0.2,
    "sloping_to_orchard": 0.08,
    "orchard_to_forest": 0.08,
    "bare_to_grass": 0.2,
    "grass_to_shrub": 0.05,
}

# NDVI: seasonal profile per class (24 half-month periods) and per-pixel variability.
_T = np.arange(24)


def _cycle(mean: float, amp: float, peak: float = 14.0) -> np.ndarray:
    return mean + amp * np.cos(2 * np.pi * (_T - peak) / 24.0)


# fmt: off
NDVI_PROFILES: dict[str, np.ndarray] = {
    "forest": _cycle(0.84, 0.03),
    "shrub": _cycle(0.76, 0.05),
    "grass": _cycle(0.62, 0.12),
    "orchard": _cycle(0.65, 0.06),
    # dry crops: spring sowing, summer peak, second crop, winter fallow
    "terraced_cropland": np.array([
        0.32, 0.32, 0.34, 0.36, 0.40, 0.38, 0.30, 0.34, 0.45, 0.55, 0.64, 0.68,
        0.66, 0.58, 0.50, 0.52, 0.58, 0.60, 0.55, 0.45, 0.38, 0.34, 0.32, 0.32]),
    "sloping_cropland": np.array([
        0.30, 0.30, 0.32, 0.34, 0.36, 0.34, 0.28, 0.32, 0.42, 0.52, 0.60, 0.64,
        0.62, 0.54, 0.46, 0.48, 0.54, 0.56, 0.50, 0.42, 0.36, 0.32, 0.30, 0.30]),
    # double rice: flooded transplanting in April (P07) and late July (P14)
    "paddy": np.array([
        0.30, 0.30, 0.32, 0.35, 0.38, 0.30, 0.14, 0.25, 0.45, 0.60, 0.70, 0.74,
        0.55, 0.15, 0.35, 0.55, 0.70, 0.74, 0.70, 0.55, 0.40, 0.32, 0.30, 0.28]),
    "built_up": _cycle(0.18, 0.03),
    "water": _cycle(-0.15, 0.03),
    "bare": _cycle(0.12, 0.03),
    "construction": _cycle(0.09, 0.02),
}
# fmt: on
NDVI_VIGOUR_SD: dict[str, float] = {  # persistent per-pixel spread (spatially correlated)
    "forest": 0.04,
    "shrub": 0.06,
    "grass": 0.06,
    "orchard": 0.06,
    "terraced_cropland": 0.05,
    "sloping_cropland": 0.05,
    "paddy": 0.04,
    "built_up": 0.04,
    "water": 0.03,
    "bare": 0.03,
    "construction": 0.03,
}
NDVI_PIXEL_SD = 0.015
NDVI_PERIOD_SD = 0.02  # regional (km-scale) noise per period
NDVI_RECOVERY_PER_YEAR = 0.25  # share of the vigour deficit of degraded vegetation recovered
# fraction of the area cloud-contaminated per period (spring is cloudiest)
# fmt: off
CLOUD_FRACTION = np.array([
    0.010, 0.010, 0.015, 0.020, 0.020, 0.020, 0.020, 0.015, 0.015, 0.015, 0.015, 0.010,
    0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.010])
# fmt: on

# Soil texture (% of fine earth) and organic carbon (% by mass).
SOIL_SAND_RANGE = (21.0, 44.0)
SOIL_SILT_SHARE = (0.45, 0.50)  # silt / (silt + clay)
SOIL_OC_RANGE = (0.4, 2.0)


# ------------------------------------------------------------------------ land cover
def _top(score: np.ndarray, available: np.ndarray, n: int) -> np.ndarray:
    """Mask of the ``n`` highest-scoring available cells (deterministic)."""
    out = np.zeros(score.shape, bool)
    idx = np.flatnonzero(available)
    n = int(min(max(n, 0), idx.size))
    if n == 0:
        return out
    s = score.ravel()[idx]
    pick = idx[np.argpartition(-s, n - 1)[:n]] if n < idx.size else idx
    out.ravel()[pick] = True
    return out


def _noise(grid: AnalysisGrid, rng, wavelength_m: float, beta: float = 3.0) -> np.ndarray:
    return fractal_noise(
        grid.shape, rng, beta=beta, max_wavelength_px=max(2.0, wavelength_m / grid.res[0])
    ).astype(np.float32)


def _flow_path_cells(terr: Terrain, sites: np.ndarray, width: int):
    """(rows, cols) of the D8 path from each site down to its pit."""
    ds = terr.flwdir.idxs_ds
    for r0, c0 in sites:
        idx = int(r0) * width + int(c0)
        path = [idx]
        while ds[idx] != idx and len(path) < ds.size:
            idx = int(ds[idx])
            path.append(idx)
        yield np.divmod(np.asarray(path), width)


def _first_year_landcover(
    terr: Terrain, grid: AnalysisGrid, sites: np.ndarray, inside: np.ndarray, rng
) -> np.ndarray:
    res = grid.res[0]
    # class counts per region, so that shares hold inside the AOI and outside it
    regions = [(inside, int(inside.sum())), (~inside, int((~inside).sum()))]
    slope = ndimage.gaussian_filter(terr.slope_deg.astype(np.float32), max(1.0, 20.0 / res))
    hand = terr.hand_m.astype(np.float32)
    near_a = np.maximum(terr.near_stream_km2, 1e-3).astype(np.float32)
    orchard_n = _noise(grid, rng, 800.0)
    field_n = _noise(grid, rng, 250.0)
    degrade_n = _noise(grid, rng, 1500.0)
    small_n = _noise(grid, rng, 100.0, beta=2.5)
    site_mask = np.zeros(grid.shape, bool)
    site_mask[sites[:, 0], sites[:, 1]] = True
    town_dist, (iy, ix) = ndimage.distance_transform_edt(~site_mask, return_indices=True)
    town_dist = (town_dist * res).astype(np.float32)
    # the county seat (first site) is larger than the other towns
    seat = (iy == sites[0, 0]) & (ix == sites[0, 1])
    area_scale = np.sqrt(max(inside.sum() * res * res / 3e8, 0.01))
    town_radius = (np.where(seat, 1.8, 1.0) * 220.0 * area_scale).astype(np.float32)
    del iy, ix, seat

    lc = np.zeros(grid.shape, np.uint8)
    free = np.ones(grid.shape, bool)

    def put(key: str, score: np.ndarray, *, where=None, fraction: float = 1.0) -> None:
        for region, n_region in regions:
            avail = free & region if where is None else free & region & where
            n = int(round(LANDCOVER_SHARES[key] * fraction * n_region))
            n -= int((region & (lc == _LC[key])).sum())
            mask = _top(score, avail, n)
            lc[mask] = _LC[key]
            free[mask] = False

    # water: main rivers (width grows with √area) and ponds on valley floors
    put(
        "water",
        -terr.dist_stream_m / (5.0 * np.sqrt(near_a) + res)
        + 0.3 * np.log10(near_a)
        - 0.05 * hand
        + 2.0 * ((small_n > 2.4) & (hand < 3.0)),
    )
    # roads: D8 paths from each town to the outlet, offset beside the river
    offset = max(1, int(round(30.0 / res)))
    road = np.zeros(grid.shape, bool)
    for r, c in _flow_path_cells(terr, sites, grid.width):
        road[np.clip(r + offset, 0, grid.height - 1), np.clip(c + offset, 0, grid.width - 1)] = True
    put("built_up", -town_dist, where=road & (slope < 25), fraction=0.2)
    # towns (irregular) and hamlets on valley floors
    put(
        "built_up",
        -town_dist / town_radius
        + 0.8 * small_n
        - slope / 8.0
        - hand / 10.0
        + 1.2 * ((field_n > 1.8) & (hand < 8.0)),
    )
    put("paddy", -hand / 3.0 - slope / 4.0 + 0.5 * field_n, where=slope < 10)
    built_dist = ndimage.distance_transform_edt(lc != _LC["built_up"]).astype(np.float32) * res
    put("construction", -built_dist / 400.0 + 1.2 * small_n - np.abs(slope - 12.0) / 15.0)
    put(
        "terraced_cropland",
        -np.abs(hand - 15.0) / 15.0
        - np.abs(slope - 11.0) / 8.0
        + 0.8 * field_n
        - town_dist / 4000.0,
    )
    put(
        "sloping_cropland",
        -np.abs(hand - 10.0) / 12.0
        - np.abs(slope - 9.0) / 8.0
        - 0.8 * field_n
        + 0.5 * small_n
        - town_dist / 3000.0,
    )
    put(
        "orchard",
        -np.abs(slope - 16.0) / 12.0
        - np.abs(hand - 30.0) / 40.0
        + 1.8 * orchard_n
        - town_dist / 6000.0,
    )
    put("bare", degrade_n + 0.8 * small_n - np.abs(slope - 22.0) / 15.0)
    put("grass", degrade_n + 0.6 * field_n - hand / 200.0)
    put("shrub", degrade_n - 0.5 * orchard_n - hand / 300.0)
    lc[free] = _LC["forest"]
    return lc


def _components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    return ndimage.label(mask, structure=np.ones((3, 3), int))


def _pick_components(mask: np.ndarray, fraction: float, rng) -> np.ndarray:
    labels, n = _components(mask)
    if n == 0:
        return np.zeros(mask.shape, bool)
    chosen = np.concatenate([[False], rng.random(n) < fraction])
    return chosen[labels]


def _next_year_landcover(prev: np.ndarray, terr: Terrain, grid: AnalysisGrid, rng) -> np.ndarray:
    lc = prev.copy()
    f = CHANGE_FRACTIONS
    cons = prev == _LC["construction"]
    labels, n = _components(cons)
    u = np.concatenate([[1.0], rng.random(n)])[labels]
    lc[cons & (u < f["construction_finished"])] = _LC["built_up"]
    restored = (u >= f["construction_finished"]) & (
        u < f["construction_finished"] + f["construction_restored"]
    )
    lc[cons & restored] = _LC["grass"]
    # new construction near built-up land, on vegetated or cropped land
    built_dist = ndimage.distance_transform_edt(lc != _LC["built_up"]) * grid.res[0]
    small_n = _noise(grid, rng, 80.0, beta=2.5)
    convertible = np.isin(
        lc, [_LC[k] for k in ("forest", "shrub", "grass", "orchard", "sloping_cropland")]
    )
    score = -built_dist / 300.0 + small_n - np.abs(terr.slope_deg - 12.0) / 15.0
    new = _top(score, convertible, int(round(f["new_construction"] * cons.sum())))
    for key_from, key_to, frac in (
        ("sloping_cropland", "terraced_cropland", f["sloping_to_terraced"]),
        ("sloping_cropland", "orchard", f["sloping_to_orchard"]),
        ("orchard", "forest", f["orchard_to_forest"]),
        ("bare", "grass", f["bare_to_grass"]),
        ("grass", "shrub", f["grass_to_shrub"]),
    ):
        src = (prev == _LC[key_from]) & (lc == _LC[key_from])
        lc[_pick_components(src, frac, rng)] = _LC[key_to]
    lc[new] = _LC["construction"]
    return lc


def make_landcover(
    dem: xr.DataArray,
    aoi,
    *,
    years: Sequence[int] = (2023, 2024),
    seed: int = 20240601,
    terr: Terrain | None = None,
    sites: np.ndarray | None = None,
    n_townships: int = 8,
) -> dict[int, xr.DataArray]:
    """Land cover (uint8 Shuibao codes, pipeline/landcover.py) per year, on the DEM's grid.

    The first year is allocated by terrain suitability and patchy noise so that the
    class shares of the grid equal ``LANDCOVER_SHARES`` (forest takes the rest);
    each later year applies ``CHANGE_FRACTIONS`` to the year before.

    Examples
    --------
    >>> from pipeline.sources.demo import make_aoi, make_dem, make_grid
    >>> g = make_grid(size_km=3, resolution_m=30)
    >>> dem = make_dem(g, seed=1)
    >>> lc = make_landcover(dem, make_aoi(g, seed=1), years=(2023, 2024), seed=1)
    >>> sorted(lc), lc[2023].dtype
    ([2023, 2024], dtype('uint8'))
    """
    years = sorted(int(y) for y in years)
    if not years:
        raise ConfigError("demo years must name at least one year")
    grid = AnalysisGrid.from_dataarray(dem)
    terr = terr if terr is not None else terrain(dem)
    if sites is None:
        sites = town_sites(terr, grid, aoi, n=n_townships, seed=seed)
    rng = _rng(seed, "landcover")
    inside = _aoi_mask(grid, aoi)
    codes = [_first_year_landcover(terr, grid, sites, inside, rng)]
    for year in years[1:]:
        codes.append(_next_year_landcover(codes[-1], terr, grid, _rng(seed, "landcover", year)))
    out = {}
    for year, lc in zip(years, codes, strict=True):
        da = _on_grid(
            grid,
            lc,
            name="landcover",
            units="1",
            nodata=LC_NODATA,
            attrs={"long_name": f"land cover {year} (Shuibao codes, synthetic)"},
        )
        out[year] = da
    return out


# ------------------------------------------------------------------------------ NDVI
def make_ndvi(
    landcover: xr.DataArray, *, year_index: int = 0, seed: int = 20240601, year: int | None = None
) -> xr.DataArray:
    """Half-month NDVI (24 bands ``P01``..``P24``, float32, unitless) for one year.

    NDVI = class profile (``NDVI_PROFILES``) + persistent per-pixel vigour (spatially
    correlated, class-specific spread; the same field every year, its negative part
    shrinking by ``NDVI_RECOVERY_PER_YEAR`` per ``year_index``: degraded forest, shrub,
    grass and orchards recover) + regional noise per period + pixel noise; in each
    period a small share (``CLOUD_FRACTION``) is haze-contaminated (0.6·NDVI + 0.05).

    Examples
    --------
    >>> from pipeline.sources.demo import make_grid
    >>> g = make_grid(size_km=3, resolution_m=30)
    >>> lc = g.dataarray(np.full(g.shape, 1, np.uint8), name="lc", units="1")
    >>> ndvi = make_ndvi(lc, seed=1)
    >>> ndvi.sizes["band"], 0.7 < float(ndvi.median()) < 0.9
    (24, True)
    """
    grid = AnalysisGrid.from_dataarray(landcover)
    lc = np.asarray(landcover.values)
    codes = np.zeros(256, np.int64)
    keys = list(NDVI_PROFILES)
    for i, key in enumerate(keys):
        codes[_LC[key]] = i
    idx = codes[lc]
    vegetated = np.isin(lc, [_LC[k] for k in ("forest", "shrub", "grass", "orchard")])
    profiles = np.array([NDVI_PROFILES[k] for k in keys], np.float32)  # (class, period)
    vigour_sd = np.array([NDVI_VIGOUR_SD[k] for k in keys], np.float32)
    vigour = _noise(grid, _rng(seed, "ndvi"), 300.0, beta=2.5) * vigour_sd[idx]
    # restoration: degraded vegetation (negative vigour) recovers part of its deficit
    recovery = min(1.0, NDVI_RECOVERY_PER_YEAR * year_index)
    vigour -= np.float32(recovery) * np.minimum(vigour, 0) * vegetated
    rng = _rng(seed, "ndvi", 1 + year_index)
    coarse = (max(4, grid.height // 16), max(4, grid.width // 16))
    out = np.empty((24, *grid.shape), np.float32)
    for p in range(24):
        regional = fractal_noise(coarse, rng, beta=3.0, max_wavelength_px=coarse[0] / 2)
        cloud = fractal_noise(coarse, rng, beta=3.0, max_wavelength_px=coarse[0] / 3)
        cloud = cloud - np.quantile(cloud, 1.0 - CLOUD_FRACTION[p])  # > 0 where cloudy
        band = out[p]
        np.take(profiles[:, p], idx, out=band)
        band += vigour
        band += resize((NDVI_PERIOD_SD * regional).astype(np.float32), grid.shape)
        band += rng.standard_normal(grid.shape, dtype=np.float32) * np.float32(NDVI_PIXEL_SD)
        cloudy = resize(cloud.astype(np.float32), grid.shape) > 0
        band[cloudy] = 0.6 * band[cloudy] + 0.05  # residual thin cloud / haze
        np.clip(band, -0.5, 0.95, out=band)
        np.round(band, 3, out=band)  # three decimals, as many NDVI products
    label = f"{year} " if year is not None else ""
    da = _on_grid(
        grid,
        out,
        name="ndvi",
        units="1",
        attrs={"long_name": f"half-month NDVI {label}(synthetic)"},
    )
    return da.assign_coords(band=PERIODS)


# ------------------------------------------------------------------------------ soil
SOIL_BANDS = ["sand_pct", "silt_pct", "clay_pct", "organic_carbon_pct"]


def make_soil(dem: xr.DataArray, landcover: xr.DataArray, *, seed: int = 20240601) -> xr.DataArray:
    """Sand, silt, clay (% of fine earth, sum 100) and organic carbon (% by mass), float32.

    Smooth fields (SoilGrids-like, ~250 m detail) for red soils: sandier on high
    ground (granite saprolite), siltier on valley floors; OC higher under forest and
    paddy, lower on bare and construction land.

    Examples
    --------
    >>> from pipeline.sources.demo import make_dem, make_grid
    >>> g = make_grid(size_km=3, resolution_m=30)
    >>> dem = make_dem(g, seed=1)
    >>> lc = g.dataarray(np.full(g.shape, 1, np.uint8), name="lc", units="1")
    >>> soil = make_soil(dem, lc, seed=1)
    >>> soil.band.values.tolist()
    ['sand_pct', 'silt_pct', 'clay_pct', 'organic_carbon_pct']
    """
    grid = AnalysisGrid.from_dataarray(dem)
    rng = _rng(seed, "soil")
    res = grid.res[0]
    factor = max(1, int(round(250.0 / res)))
    coarse = (max(4, -(-grid.height // factor)), max(4, -(-grid.width // factor)))
    # everything is built on the ~250 m grid, then interpolated bilinearly
    z = block_mean(np.asarray(dem.values, np.float64), coarse)
    zrel = np.clip((z - np.percentile(z, 2)) / max(np.ptp(np.percentile(z, [2, 98])), 1.0), 0, 1)
    lc = np.asarray(landcover.values)
    cover_fine = np.select(
        [
            np.isin(lc, [_LC["forest"], _LC["shrub"]]),
            np.isin(lc, [_LC["paddy"], _LC["grass"], _LC["orchard"]]),
            np.isin(lc, [_LC["bare"], _LC["construction"], _LC["built_up"]]),
        ],
        [1.0, 0.5, -0.6],
        0.2,
    )
    cover = block_mean(cover_fine, coarse)
    del cover_fine

    def field(wavelength_px: float) -> np.ndarray:
        return fractal_noise(coarse, rng, beta=3.0, max_wavelength_px=wavelength_px)

    sand = np.clip(32.0 + 5.0 * field(12) + 8.0 * (zrel - 0.5), *SOIL_SAND_RANGE)
    share = np.clip(0.475 + 0.02 * field(10) - 0.02 * (zrel - 0.5), *SOIL_SILT_SHARE)
    oc = np.clip(1.0 + 0.55 * cover + 0.2 * field(8) - 0.2 * zrel, *SOIL_OC_RANGE)
    # interpolation keeps the ranges (convex combinations); silt and clay follow sand
    sand = resize(sand, grid.shape)
    silt = (100.0 - sand) * resize(share, grid.shape)
    clay = 100.0 - sand - silt
    oc = resize(oc, grid.shape)
    # two decimals are plenty (and compress well)
    data = np.round(np.stack([sand, silt, clay, oc]), 2).astype(np.float32)
    da = _on_grid(
        grid,
        data,
        name="soil",
        units="%",
        attrs={"long_name": "soil texture (USDA, % of fine earth) and organic carbon (%)"},
    )
    return da.assign_coords(band=SOIL_BANDS)
