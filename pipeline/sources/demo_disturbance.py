"""Demo construction disturbance: seasonal Sentinel-2 composites, approved projects, hidden truth.

SYNTHETIC. From the demo district's land cover of two consecutive years
(``pipeline.sources.demo.make_landcover``) this module makes what a real district would
give the disturbance workflow:

- **seasonal composites** (winter = Jan, Feb, Dec; spring; summer; autumn) of B2, B4, B8
  and B11 surface reflectance (float32, 0–1) for both years, by linear mixing of four
  end-members (green vegetation, red soil, impervious surface, water) with a per-class,
  per-season vegetation cover; plus a persistent spatially correlated vigour field, pixel
  noise and **cloud gaps** (NaN blobs, independently per season and year);
- **construction events**: the land cover's own construction transitions (new sites,
  sites continuing, sites finished to built-up or restored to grass) and extra sites
  placed on vegetated land (new, continued, revegetated) so that even a small grid has
  enough patches;
- **phenology that must not be flagged**: terraced dry cropland is bare in winter,
  sloping cropland after its September harvest and in winter (two seasons), paddies are flooded in spring and bare after the late-rice harvest in autumn —
  each bare for one season only;
- the demo's ``bare`` class (eroded red-soil hillslopes, 裸地) is rendered with sparse
  grass cover (30–45 %): long-standing degraded land is not a construction surface;
- **approved projects** (防治责任范围 polygons with name, approval number, approval date
  and construction period): compliant sites (boundary around the site), sites partly
  outside their boundary, sites with no project or approved only after they appeared,
  and approved projects not started yet;
- the **hidden truth**: one polygon per true patch with its change type (新增/续建/恢复),
  its compliance category and its project.

Written by hand (numpy, seeded) because no library makes such a scene; polygonising
(rasterio.features) and geometry (shapely) are libraries. Pure data generation: nothing
here imports the science it is meant to test.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import rasterio.features
import shapely
import xarray as xr
from scipy import ndimage

from pipeline.grid import AnalysisGrid
from pipeline.landcover import CODE_BY_KEY
from pipeline.sources.demo._terrain import fractal_noise, resize

BANDS = ("B2", "B4", "B8", "B11")
SEASONS = ("winter", "spring", "summer", "autumn")
_LC = dict(CODE_BY_KEY)

# End-member reflectance (B2, B4, B8, B11), unitless. Green vegetation, red soil (high red
# and SWIR-1), impervious surface (bright, flat), water (dark, falling with wavelength).
ENDMEMBERS: dict[str, tuple[float, float, float, float]] = {
    "veg": (0.030, 0.030, 0.350, 0.150),
    "soil": (0.090, 0.160, 0.220, 0.300),
    "impervious": (0.120, 0.140, 0.200, 0.220),
    "water": (0.050, 0.040, 0.025, 0.010),
}
# Vegetation cover (0–1) per season (winter, spring, summer, autumn) and background per class.
# fmt: off
COVER: dict[str, tuple[tuple[float, float, float, float], tuple[str, str, str, str]]] = {
    "forest":            ((0.85, 0.90, 0.95, 0.90), ("soil",) * 4),
    "shrub":             ((0.70, 0.78, 0.85, 0.80), ("soil",) * 4),
    "grass":             ((0.50, 0.65, 0.80, 0.68), ("soil",) * 4),
    "orchard":           ((0.58, 0.66, 0.76, 0.70), ("soil",) * 4),
    "terraced_cropland": ((0.06, 0.50, 0.82, 0.62), ("soil",) * 4),  # winter fallow
    "sloping_cropland":  ((0.05, 0.45, 0.80, 0.06), ("soil",) * 4),  # harvest Sep, fallow
    "paddy":             ((0.40, 0.15, 0.82, 0.06), ("soil", "water", "soil", "soil")),
    "built_up":          ((0.10, 0.12, 0.14, 0.12), ("impervious",) * 4),
    "water":             ((0.00, 0.00, 0.00, 0.00), ("water",) * 4),
    "bare":              ((0.35, 0.40, 0.45, 0.40), ("soil",) * 4),  # sparse grass on red soil
    "construction":      ((0.03, 0.03, 0.04, 0.03), ("soil",) * 4),
}
# fmt: on
COVER_VIGOUR_SD = 0.04  # persistent, spatially correlated (300 m)
COVER_PIXEL_SD = 0.02
REFLECTANCE_SD = 0.004
CLOUD_FRACTION = (0.06, 0.12, 0.08, 0.05)  # per season
SITES_PER_KM2 = 3.0  # placed construction sites
SITE_AREA_HA = (0.6, 5.0)  # log-uniform
MIN_SITE_HA = 0.3  # smaller construction fragments of the demo land cover become grass
LATE_START_SHARE = 0.3  # placed new sites cleared in June: green in winter and spring
SITE_MIX = {"新增": 0.5, "续建": 0.3, "恢复": 0.2}
COMPLIANCE_MIX = {"合规": 0.55, "疑似超出防治责任范围": 0.2, "疑似未批先建": 0.25}
GREEN_CLASSES = ("forest", "shrub", "grass", "orchard", "terraced_cropland", "sloping_cropland")
_EIGHT = np.ones((3, 3), bool)


def _rng(seed: int, *extra: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), 16, *[int(e) for e in extra]])


def _smooth(shape, rng, wavelength_px: float) -> np.ndarray:
    coarse = max(8, int(round(max(shape) / max(wavelength_px / 4.0, 1.0))))
    coarse = min(coarse, max(shape))
    small = (max(4, coarse * shape[0] // max(shape)), max(4, coarse * shape[1] // max(shape)))
    n = fractal_noise(small, rng, beta=3.0, max_wavelength_px=max(2.0, small[0] / 4))
    return resize(n.astype(np.float32), shape)


def _regularise(lc: np.ndarray, min_px: int) -> np.ndarray:
    """Construction land as compact sites: speckle and fragments below ``min_px`` become grass.

    The demo land cover allocates construction pixel by pixel (ranked noise), which leaves
    one- and two-pixel fragments that no construction site looks like.
    """
    cons = lc == _LC["construction"]
    kept = ndimage.binary_opening(cons, structure=_EIGHT)
    lab, n = ndimage.label(kept, structure=_EIGHT)
    if n:
        sizes = ndimage.sum_labels(np.ones(lab.shape), lab, np.arange(1, n + 1))
        kept = np.concatenate([[False], sizes >= min_px])[lab]
    out = lc.copy()
    out[cons & ~kept] = _LC["grass"]
    return out


def _place_sites(lc0, lc1, grid: AnalysisGrid, rng, inside) -> tuple[np.ndarray, np.ndarray]:
    """Rounded-rectangle sites on land green in both years; returns (site id raster, kinds)."""
    res = grid.res[0]
    h, w = lc0.shape
    area_km2 = inside.sum() * res * res / 1e6
    n = int(round(SITES_PER_KM2 * area_km2))
    green = np.isin(lc0, [_LC[k] for k in GREEN_CLASSES]) & (lc0 == lc1) & inside
    blocked = np.isin(lc0, [_LC[k] for k in ("construction", "built_up", "water")]) | np.isin(
        lc1, [_LC[k] for k in ("construction", "built_up", "water")]
    )
    free = ~ndimage.binary_dilation(blocked | ~inside, structure=_EIGHT, iterations=4)
    ids = np.zeros(lc0.shape, np.int32)
    kinds = []
    kind_names = list(SITE_MIX)
    probs = np.array(list(SITE_MIX.values()))
    for _attempt in range(n * 20):
        if len(kinds) >= n:
            break
        area_m2 = np.exp(rng.uniform(*np.log(SITE_AREA_HA))) * 1e4
        aspect = rng.uniform(1.0, 2.5)
        a = np.sqrt(area_m2 * aspect) / 2 / res  # half-length, px
        b = np.sqrt(area_m2 / aspect) / 2 / res
        theta = rng.uniform(0, np.pi)
        r0, c0 = rng.uniform(a + 2, h - a - 2), rng.uniform(a + 2, w - a - 2)
        rad = int(np.ceil(a)) + 1
        rs, cs = slice(int(r0) - rad, int(r0) + rad + 1), slice(int(c0) - rad, int(c0) + rad + 1)
        rr, cc = np.mgrid[rs, cs]
        if rr.size == 0 or rr.min() < 0 or cc.min() < 0 or rr.max() >= h or cc.max() >= w:
            continue
        u = (rr + 0.5 - r0) * np.cos(theta) + (cc + 0.5 - c0) * np.sin(theta)
        v = -(rr + 0.5 - r0) * np.sin(theta) + (cc + 0.5 - c0) * np.cos(theta)
        shape = (np.abs(u / a) ** 4 + np.abs(v / b) ** 4) <= 1.0
        if not shape.any() or not free[rs, cs][shape].all() or green[rs, cs][shape].mean() < 0.7:
            continue
        kinds.append(str(rng.choice(kind_names, p=probs)))
        ids[rs, cs][shape] = len(kinds)
        # keep the next sites at least 4 px away
        margin = ndimage.binary_dilation(shape, structure=_EIGHT, iterations=4)
        free[rs, cs][margin] = False
    return ids, np.array(kinds, dtype=object)


def _event_classes(lc0, lc1, site_ids, site_kinds) -> tuple[np.ndarray, np.ndarray]:
    """Surface classes of both years with the placed sites applied."""
    s0, s1 = lc0.copy(), lc1.copy()
    kind = np.concatenate([[""], site_kinds]).astype(object)[site_ids]
    green = np.isin(s0, [_LC[k] for k in GREEN_CLASSES])
    s0[(site_ids > 0) & ~green] = _LC["forest"]  # sites are placed on (mostly) green land
    s1[(site_ids > 0) & ~green] = _LC["forest"]
    s1[kind == "新增"] = _LC["construction"]
    s0[kind == "续建"] = _LC["construction"]
    s1[kind == "续建"] = _LC["construction"]
    s0[kind == "恢复"] = _LC["construction"]
    s1[kind == "恢复"] = _LC["grass"]
    return s0, s1


def true_change(s0: np.ndarray, s1: np.ndarray) -> np.ndarray:
    """Per-pixel true change: 1 新增, 2 续建, 3 恢复 (construction in / out of the two years)."""
    c0, c1 = s0 == _LC["construction"], s1 == _LC["construction"]
    green0 = np.isin(s0, [_LC[k] for k in GREEN_CLASSES])
    green1 = np.isin(s1, [_LC[k] for k in (*GREEN_CLASSES, "paddy")])
    out = np.zeros(s0.shape, np.uint8)
    out[green0 & c1] = 1
    out[c0 & c1] = 2
    out[c0 & green1] = 3
    return out


def composite(
    classes: np.ndarray,
    grid: AnalysisGrid,
    *,
    seed: int,
    year_index: int,
    season: str,
    cloud_fraction: float | None = None,
) -> xr.DataArray:
    """One season's (band, y, x) float32 reflectance composite of a surface-class raster."""
    si = SEASONS.index(season)
    keys = list(COVER)
    lut_cover = np.zeros(256, np.float32)
    lut_bg = np.zeros(256, np.int64)
    bg_names = list(ENDMEMBERS)
    for k in keys:
        lut_cover[_LC[k]] = COVER[k][0][si]
        lut_bg[_LC[k]] = bg_names.index(COVER[k][1][si])
    veg_classes = np.isin(classes, [_LC[k] for k in ("forest", "shrub", "grass", "orchard")])
    vigour = _smooth(classes.shape, _rng(seed, 1), 300.0 / grid.res[0]) * COVER_VIGOUR_SD
    rng = _rng(seed, 2, year_index, si)
    f = lut_cover[classes] + np.where(veg_classes | (lut_cover[classes] > 0.2), vigour, 0)
    f += rng.standard_normal(classes.shape, dtype=np.float32) * np.float32(COVER_PIXEL_SD)
    f = np.clip(f, 0.0, 1.0).astype(np.float32)
    table = np.array([ENDMEMBERS[b] for b in bg_names], np.float32)  # (bg, band)
    veg = np.array(ENDMEMBERS["veg"], np.float32)
    bg = lut_bg[classes]
    out = np.empty((len(BANDS), *classes.shape), np.float32)
    for i in range(len(BANDS)):
        band = out[i]
        np.take(table[:, i], bg, out=band)
        band *= 1.0 - f
        band += f * veg[i]
        band += rng.standard_normal(classes.shape, dtype=np.float32) * np.float32(REFLECTANCE_SD)
    np.clip(out, 0.0, 1.0, out=out)
    frac = CLOUD_FRACTION[si] if cloud_fraction is None else cloud_fraction
    if frac > 0:
        cloud = _smooth(classes.shape, _rng(seed, 3, year_index, si), 1500.0 / grid.res[0])
        out[:, cloud > np.quantile(cloud, 1.0 - frac)] = np.nan
    da = grid.dataarray(out, name="reflectance", units="1").assign_coords(band=list(BANDS))
    da.attrs["long_name"] = f"{season} composite (synthetic)"
    return da


def _half_cut(geom, rng):
    """Part of ``geom`` on one side of a line through its centroid (random direction)."""
    c = geom.centroid
    ang = rng.uniform(0, 2 * np.pi)
    big = 1e5
    dx, dy = np.cos(ang), np.sin(ang)
    # half-plane polygon on the left of the line
    pts = [
        (c.x - dx * big, c.y - dy * big),
        (c.x + dx * big, c.y + dy * big),
        (c.x + dx * big - dy * big, c.y + dy * big + dx * big),
        (c.x - dx * big - dy * big, c.y - dy * big + dx * big),
    ]
    return geom.intersection(shapely.Polygon(pts))


def _truth_patches(change: np.ndarray, grid: AnalysisGrid) -> gpd.GeoDataFrame:
    disturbed = np.isin(change, (1, 2))
    lab_d, n_d = ndimage.label(disturbed, structure=_EIGHT)
    lab_r, _ = ndimage.label(change == 3, structure=_EIGHT)
    labels = np.where(lab_r > 0, lab_r + n_d, lab_d).astype(np.int32)
    geoms: dict[int, list] = {}
    for g, v in rasterio.features.shapes(
        labels, mask=labels > 0, connectivity=8, transform=grid.transform
    ):
        geoms.setdefault(int(v), []).append(shapely.geometry.shape(g))
    keys = sorted(geoms)
    idx = np.array(keys, np.int64)
    n_pix = ndimage.sum_labels(np.ones(labels.shape), labels, idx) if keys else np.zeros(0)
    n_cont = ndimage.sum_labels(change == 2, labels, idx) if keys else np.zeros(0)
    ctype = [
        "恢复" if k > n_d else ("续建" if nc >= 0.5 * npx else "新增")
        for k, nc, npx in zip(keys, n_cont, n_pix, strict=True)
    ]
    cell_ha = grid.res[0] * grid.res[1] / 1e4  # the demo grid is equal-area (Albers)
    return gpd.GeoDataFrame(
        {
            "truth_id": np.arange(1, len(keys) + 1, dtype=np.int32),
            "change_type": ctype,
            "area_ha": n_pix * cell_ha,
        },
        geometry=[shapely.make_valid(shapely.union_all(geoms[k])) for k in keys],
        crs=grid.crs,
    )


def _projects(truth: gpd.GeoDataFrame, grid: AnalysisGrid, years, rng, inside_poly):
    y0, y1 = years
    res = grid.res[0]
    rows, comp, pname, pno = [], [], [], []
    names = list(COMPLIANCE_MIX)
    probs = np.array(list(COMPLIANCE_MIX.values()))
    seq = 0

    def add(geom, approved: dt.date):
        nonlocal seq
        seq += 1
        start = approved + dt.timedelta(days=int(rng.integers(30, 120)))
        rows.append(
            {
                "name": f"示范区建设项目{seq:03d}（合成）",
                "approval_no": f"汀水保〔{approved.year}〕{seq:03d}号",
                "approval_date": approved.isoformat(),
                "construction_start": start.isoformat(),
                "construction_end": (
                    start + dt.timedelta(days=int(rng.integers(365, 1100)))
                ).isoformat(),
                "boundary_type": "防治责任范围",
                "geometry": shapely.make_valid(geom),
            }
        )
        return rows[-1]

    others = shapely.STRtree(list(truth.geometry))

    def own(boundary, geom):
        # an approved boundary never takes in a neighbouring site
        near = [g for g in others.geometries.take(others.query(boundary)) if not g.equals(geom)]
        return boundary.difference(shapely.union_all(near).buffer(res)) if near else boundary

    for geom, area in zip(truth.geometry, truth["area_ha"], strict=True):
        cat = str(rng.choice(names, p=probs))
        if cat == "疑似超出防治责任范围" and area < 0.6:
            cat = "合规"  # half of a small patch is below the tolerance area
        early = dt.date(y0 - 1, int(rng.integers(1, 13)), int(rng.integers(1, 28)))
        if cat == "合规":
            p = add(own(geom.buffer(rng.uniform(1.5, 3.0) * res), geom), early)
        elif cat == "疑似超出防治责任范围":
            p = add(own(_half_cut(geom, rng).buffer(res), geom), early)
        elif rng.random() < 0.4:  # approved, but only after the site appeared
            late = dt.date(y1 + 1, int(rng.integers(1, 13)), int(rng.integers(1, 28)))
            p = add(own(geom.buffer(2.0 * res), geom), late)
        else:
            p = None
        comp.append(cat)
        pname.append(None if p is None else p["name"])
        pno.append(None if p is None else p["approval_no"])
    # approved projects not started yet (no disturbance inside)
    # "near a site" = within 20 cells of one: an STRtree distance query (buffering the union
    # of every site instead took ~10 s of CPU on the 10 m demo)
    sites = shapely.STRtree(list(truth.geometry)) if len(truth) else None
    left, bottom, right, top = grid.bounds
    for _ in range(max(2, len(truth) // 10)):
        for _try in range(50):
            x, y = rng.uniform(left, right), rng.uniform(bottom, top)
            box = shapely.box(x, y, x + rng.uniform(8, 20) * res, y + rng.uniform(8, 20) * res)
            near = sites is not None and sites.query(box, "dwithin", 20 * res).size > 0
            if inside_poly.contains(box) and not near:
                add(box, dt.date(y1, int(rng.integers(1, 13)), 1))
                break
    truth = truth.assign(compliance=comp, project_name=pname, approval_no=pno)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=grid.crs), truth


def make_disturbance_demo(
    landcover_before: xr.DataArray,
    landcover_after: xr.DataArray,
    *,
    years: tuple[int, int],
    seed: int = 20240601,
    aoi=None,
) -> dict:
    """Surface classes, approved projects and hidden truth for two consecutive years.

    Returns a dict with ``grid``, ``classes`` ({year: uint8 surface classes}), ``projects``
    and ``truth`` (GeoDataFrames in the grid CRS). Make the composites season by season
    with :func:`composite` (one season of a 2000² grid is 64 MB).
    """
    grid = AnalysisGrid.from_dataarray(landcover_before)
    lc0 = np.asarray(landcover_before.values).astype(np.uint8)
    lc1 = np.asarray(landcover_after.values).astype(np.uint8)
    if aoi is None:
        aoi = shapely.box(*grid.bounds)
    inside = rasterio.features.geometry_mask(
        [aoi], out_shape=grid.shape, transform=grid.transform, invert=True
    )
    min_px = int(np.ceil(MIN_SITE_HA * 1e4 / (grid.res[0] * grid.res[1])))
    lc0, lc1 = _regularise(lc0, min_px), _regularise(lc1, min_px)
    rng = _rng(seed, 4)
    site_ids, site_kinds = _place_sites(lc0, lc1, grid, rng, inside)
    s0, s1 = _event_classes(lc0, lc1, site_ids, site_kinds)
    truth = _truth_patches(true_change(s0, s1), grid)
    projects, truth = _projects(truth, grid, years, _rng(seed, 5), aoi)
    late_ids = [i + 1 for i, k in enumerate(site_kinds) if k == "新增"]
    late_ids = [i for i in late_ids if _rng(seed, 6, i).random() < LATE_START_SHARE]
    return {
        "grid": grid,
        "late": np.isin(site_ids, late_ids),
        "classes": {years[0]: s0, years[1]: s1},
        "projects": projects,
        "truth": truth,
    }


def season_classes(demo: dict, year: int, season: str) -> np.ndarray:
    """Surface classes of one season: late-start new sites are still green in winter and spring."""
    years = sorted(demo["classes"])
    classes = demo["classes"][year]
    if year == years[-1] and season in ("winter", "spring") and demo["late"].any():
        classes = np.where(demo["late"], demo["classes"][years[0]], classes)
    return classes


def make_composites(demo: dict, *, seed: int = 20240601) -> dict[int, xr.DataArray]:
    """All seasonal composites ``{year: (band, season, y, x) float32}`` of a demo (small grids)."""
    out = {}
    for i, year in enumerate(sorted(demo["classes"])):
        seasons = [
            composite(
                season_classes(demo, year, s), demo["grid"], seed=seed, year_index=i, season=s
            )
            for s in SEASONS
        ]
        out[year] = xr.concat(seasons, dim="season").assign_coords(season=list(SEASONS))
        out[year] = out[year].transpose("band", "season", "y", "x")
    return out
