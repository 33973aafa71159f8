"""Demo treatment inputs (SYNTHETIC): measures, projects, targets, parcels and a hidden truth.

Nothing here is real. Given the demo district's baseline land cover and slope on
its grid, the generator makes, from a seed and with numpy/shapely only:

- **projects**: ``N_PROJECTS`` (4) small-watershed 综合治理 project areas (discs
  centred where erodible land — sloping cropland, orchard, bare — is densest,
  kept apart), 2021–2024;
- **measures**: square plots aligned to the grid (``PLOT_PX`` pixels a side):
  梯田 on sloping cropland and orchards, 水土保持林 on bare land, 封禁治理 on
  degraded forest/shrub/grass; most plots inside projects (``IN_PROJECT_SHARE``),
  a few scattered outside; completed in 2021–2024; some plots are re-recorded by a
  later, overlapping 种草 polygon (shifted by half a plot) to exercise the union rule;
- **targets** (wide table, units in the headers): district and township 治理面积
  (万亩), 生态修复面积 (亩) and 水土保持率 (%), set at ``TARGET_FACTOR`` × the
  planned plot area of 2021–2025;
- **parcels**: squares of ``PARCEL_PX`` pixels with village names (村), a
  ``DLMC``-like land-use name from the majority class.

**Hidden truth** (:func:`truth_panel`): a baseline soil-loss field
A₀ = base(land cover, slope) × spatially correlated lognormal noise, and a later
field A₁ = A₀ × year factor × class trend × new correlated noise × M, where M is the
truth's measure factor (``TRUTH_MEASURE_FACTOR``) on pixels treated after the
baseline. The true effect on the treated is mean_T(A₁ − A₁/M), computable exactly;
``TRUTH_TREND`` differs by land cover, so an unmatched comparison is biased and a
slope × land-cover matched one is not.

Land-cover codes are the Shuibao codes (``pipeline.landcover``); measure codes are
those of ``pipeline.treatment.measures.MEASURE_CODE`` (a test checks they agree:
this module must not import science).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from scipy import ndimage

from pipeline.landcover import CLASSES, CODE_BY_KEY

N_PROJECTS = 4
PROJECT_NAMES = [("上坪小流域", "Shangping"), ("河田小流域", "Hetian"),
                 ("罗坑小流域", "Luokeng"), ("石门小流域", "Shimen")]  # fmt: skip
PLOT_PX = 6
PARCEL_PX = 10
VILLAGE_PARCELS = 6  # a village is VILLAGE_PARCELS² parcels
IN_PROJECT_SHARE = 0.85
OUTSIDE_TREAT_SHARE = 0.04
IN_PROJECT_TREAT_SHARE = 0.8
OVERLAP_SHARE = 0.15
TARGET_FACTOR = 1.25
MEASURE_YEARS = (2021, 2022, 2023, 2024)
BASELINE_YEAR = 2020

# measure key → code (= pipeline.treatment.measures.MEASURE_CODE)
MEASURE_CODE = {"terrace": 1, "conservation_forest": 2, "economic_forest": 3,
                "grass_planting": 4, "closure": 5, "conservation_tillage": 6, "other": 7}  # fmt: skip
MEASURE_ZH = {"terrace": "梯田", "conservation_forest": "水土保持林", "economic_forest": "经济林",
              "grass_planting": "种草", "closure": "封禁治理", "conservation_tillage": "保土耕作",
              "other": "其他"}  # fmt: skip
# land cover → measure put on it (degraded vegetation gets closure)
MEASURE_FOR = {"sloping_cropland": "terrace", "orchard": "terrace", "bare": "conservation_forest",
               "grass": "closure", "shrub": "closure", "forest": "closure"}  # fmt: skip

# ---- hidden truth (illustrative numbers, not literature values)
TRUTH_BASE = {"forest": 2.0, "shrub": 4.0, "grass": 8.0, "orchard": 25.0,
              "terraced_cropland": 6.0, "sloping_cropland": 40.0, "paddy": 1.0,
              "built_up": 0.1, "water": 0.0, "bare": 60.0, "construction": 80.0}  # fmt: skip
TRUTH_TREND = {"forest": 0.97, "shrub": 0.95, "grass": 0.92, "orchard": 1.05,
               "terraced_cropland": 1.0, "sloping_cropland": 1.10, "paddy": 1.0,
               "built_up": 1.0, "water": 1.0, "bare": 0.90, "construction": 1.0}  # fmt: skip
TRUTH_MEASURE_FACTOR = {1: 0.35, 2: 0.5, 3: 0.7, 4: 0.8, 5: 0.75, 6: 0.7, 7: 0.9}
TRUTH_NOISE_SD = 0.35  # log-sd of the correlated noise
TRUTH_NOISE_PX = 3.0  # Gaussian correlation scale of the noise, pixels (blocks ≥ 8× this)
TRUTH_YEAR_FACTOR = 1.08  # wetter later year: common to treated and controls


def _lc_key(code: int) -> str:
    return CLASSES[int(code)][0] if int(code) in CLASSES else "nodata"


def _smooth_noise(shape, rng, scale_px: float) -> np.ndarray:
    z = ndimage.gaussian_filter(rng.standard_normal(shape), scale_px, mode="wrap")
    return z / z.std()


def toy_landscape(shape=(240, 240), *, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A small synthetic (land cover, slope °) pair for tests and notebooks.

    Slope from a smooth field (0–40°); land cover by slope and noise: paddy and
    built-up on flats, sloping cropland and orchards on mid slopes, bare patches,
    forest/shrub/grass elsewhere.
    """
    rng = np.random.default_rng(seed)
    slope = np.clip(20 + 10 * _smooth_noise(shape, rng, 12), 0, 45)
    u = _smooth_noise(shape, rng, 4)
    lc = np.full(shape, CODE_BY_KEY["forest"], np.uint8)
    lc[(slope < 6) & (u > 0)] = CODE_BY_KEY["paddy"]
    lc[(slope < 4) & (u < -0.8)] = CODE_BY_KEY["built_up"]
    mid = (slope >= 6) & (slope < 30)
    lc[mid & (u > 0.6)] = CODE_BY_KEY["sloping_cropland"]
    lc[mid & (u < -0.9)] = CODE_BY_KEY["orchard"]
    lc[(slope >= 12) & (u > -0.2) & (u < 0.0)] = CODE_BY_KEY["shrub"]
    lc[(slope >= 18) & (u > 1.6)] = CODE_BY_KEY["bare"]
    lc[(slope >= 10) & (u > 0.25) & (u < 0.35)] = CODE_BY_KEY["grass"]
    return lc, slope.astype(np.float32)


def _box(transform: Affine, r0: int, c0: int, nr: int, nc: int) -> shapely.Polygon:
    x0, y0 = transform @ (c0, r0)
    x1, y1 = transform @ (c0 + nc, r0 + nr)
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def make_treatment_demo(
    landcover: np.ndarray,
    slope_deg: np.ndarray,
    *,
    transform: Affine,
    crs,
    townships: gpd.GeoDataFrame | None = None,
    seed: int = 20240601,
) -> dict:
    """Demo projects, measures, targets and parcels for a baseline land-cover grid.

    Returns a dict: ``projects``, ``measures``, ``parcels`` (GeoDataFrames in ``crs``),
    ``targets`` (DataFrame, wide, units in headers), ``measure_codes`` {year: uint8
    grid of the measures completed ≤ year, later plots overwrite earlier},
    ``project_mask`` (int grid: project number 1–4, 0 = none).
    """
    rng = np.random.default_rng([seed, 15])
    lc = np.asarray(landcover)
    shape = lc.shape
    res = abs(transform.a)
    erodible = np.isin(lc, [CODE_BY_KEY[k] for k in ("sloping_cropland", "orchard", "bare")])
    radius = max(min(shape) / 12.0, 3 * PLOT_PX)
    density = ndimage.uniform_filter(erodible.astype(float), size=int(radius), mode="constant")
    rows, cols = np.indices(shape)
    centres = []
    margin = int(radius) + 1
    dens = density.copy()
    dens[:margin] = dens[-margin:] = -1
    dens[:, :margin] = dens[:, -margin:] = -1
    for _ in range(N_PROJECTS):
        r, c = np.unravel_index(int(np.argmax(dens)), shape)
        centres.append((r, c))
        dens[(rows - r) ** 2 + (cols - c) ** 2 < (3.2 * radius) ** 2] = -1
    project_mask = np.zeros(shape, np.int16)
    proj_rows = []
    for i, (r, c) in enumerate(centres):
        x, y = transform @ (c + 0.5, r + 0.5)
        disc = shapely.Point(x, y).buffer(radius * res, quad_segs=16)
        inside = (rows + 0.5 - (r + 0.5)) ** 2 + (cols + 0.5 - (c + 0.5)) ** 2 <= radius**2
        project_mask[inside & (project_mask == 0)] = i + 1
        zh, en = PROJECT_NAMES[i]
        proj_rows.append({"project_id": f"P{i + 1}", "name": zh, "name_en": f"{en} watershed",
                          "start_year": 2021, "end_year": 2024, "geometry": disc})  # fmt: skip
    projects = gpd.GeoDataFrame(proj_rows, geometry="geometry", crs=crs)

    # measure plots on the PLOT_PX lattice
    measures, codes_by_plot = [], []
    nr, nc = shape[0] // PLOT_PX, shape[1] // PLOT_PX
    for pr in range(nr):
        for pc in range(nc):
            r0, c0 = pr * PLOT_PX, pc * PLOT_PX
            blk = lc[r0 : r0 + PLOT_PX, c0 : c0 + PLOT_PX]
            vals, counts = np.unique(blk, return_counts=True)
            major = int(vals[np.argmax(counts)])
            key = _lc_key(major)
            if key not in MEASURE_FOR or counts.max() < 0.6 * blk.size:
                continue
            proj = int(
                np.bincount(project_mask[r0 : r0 + PLOT_PX, c0 : c0 + PLOT_PX].ravel()).argmax()
            )
            share = IN_PROJECT_TREAT_SHARE if proj else OUTSIDE_TREAT_SHARE
            if key in ("grass", "shrub", "forest"):
                share *= 0.5 if proj else 0.3
            if rng.random() >= share:
                continue
            measure = MEASURE_FOR[key]
            year = int(rng.choice(MEASURE_YEARS))
            geom = _box(transform, r0, c0, PLOT_PX, PLOT_PX)
            pid = f"P{proj}" if proj else None
            measures.append({"措施类型": MEASURE_ZH[measure], "完成年份": year,
                             "项目编号": pid, "geometry": geom})  # fmt: skip
            codes_by_plot.append((year, r0, c0, PLOT_PX, PLOT_PX, MEASURE_CODE[measure]))
            if proj and rng.random() < OVERLAP_SHARE:
                # a later overlapping grass-planting record, shifted half a plot
                y2 = min(year + 1, MEASURE_YEARS[-1])
                h = PLOT_PX // 2
                r1, c1 = min(r0 + h, shape[0] - PLOT_PX), min(c0 + h, shape[1] - PLOT_PX)
                measures.append({"措施类型": MEASURE_ZH["grass_planting"], "完成年份": y2,
                                 "项目编号": pid,
                                 "geometry": _box(transform, r1, c1, PLOT_PX, PLOT_PX)})  # fmt: skip
                codes_by_plot.append((y2, r1, c1, PLOT_PX, PLOT_PX, MEASURE_CODE["grass_planting"]))
    measures_gdf = gpd.GeoDataFrame(measures, geometry="geometry", crs=crs)
    measure_codes = {}
    order = sorted(range(len(codes_by_plot)), key=lambda i: (codes_by_plot[i][0], i))
    for year in (BASELINE_YEAR, *MEASURE_YEARS):
        g = np.zeros(shape, np.uint8)
        for i in order:
            y, r0, c0, h, w, code = codes_by_plot[i]
            if y <= year:
                g[r0 : r0 + h, c0 : c0 + w] = code
        measure_codes[year] = g

    # parcels with villages
    parcels = []
    pr_n, pc_n = shape[0] // PARCEL_PX, shape[1] // PARCEL_PX
    for pr in range(pr_n):
        for pc in range(pc_n):
            r0, c0 = pr * PARCEL_PX, pc * PARCEL_PX
            blk = lc[r0 : r0 + PARCEL_PX, c0 : c0 + PARCEL_PX]
            major = int(np.bincount(blk.ravel()).argmax())
            v = (pr // VILLAGE_PARCELS) * (pc_n // VILLAGE_PARCELS + 1) + pc // VILLAGE_PARCELS
            parcels.append({"地块编号": f"DK{pr:03d}{pc:03d}", "村名": f"示范{v + 1}村",
                            "DLMC": CLASSES[major][1] if major in CLASSES else "",
                            "geometry": _box(transform, r0, c0, PARCEL_PX, PARCEL_PX)})  # fmt: skip
    parcels_gdf = gpd.GeoDataFrame(parcels, geometry="geometry", crs=crs)

    # targets: TARGET_FACTOR × planned area (sum of plot areas, overlaps included)
    cat = {"restoration": [MEASURE_ZH["closure"]]}
    is_rest = measures_gdf["措施类型"].isin(cat["restoration"])
    zones = townships if townships is not None else gpd.GeoDataFrame(
        {"zone_id": []}, geometry=[], crs=crs)  # fmt: skip
    rows_t = []
    for zid, geom in [("district", None), *zip(zones["zone_id"], zones.geometry, strict=True)]:
        sel = measures_gdf if geom is None else measures_gdf[measures_gdf.intersects(geom)]
        rest = sel[is_rest.loc[sel.index]].area.sum() / 1e4
        treat = sel[~is_rest.loc[sel.index]].area.sum() / 1e4
        rows_t.append({"zone_id": zid,
                       "治理面积(万亩)": round(treat * TARGET_FACTOR * 15 / 10_000, 4),
                       "生态修复面积(亩)": round(rest * TARGET_FACTOR * 15, 1),
                       "水土保持率(%)": 80.0 if geom is None else None})  # fmt: skip
    targets = pd.DataFrame(rows_t)
    return {
        "projects": projects,
        "measures": measures_gdf,
        "parcels": parcels_gdf,
        "targets": targets,
        "measure_codes": measure_codes,
        "project_mask": project_mask,
    }


def truth_panel(
    landcover: np.ndarray,
    slope_deg: np.ndarray,
    treated_codes: np.ndarray,
    *,
    seed: int = 20240601,
) -> dict:
    """Hidden-truth soil loss (t·ha⁻¹·a⁻¹) before and after, and the true effect per pixel.

    ``treated_codes``: measure codes applied between the two years (0 = none).
    Returns ``before``, ``after``, ``after_untreated`` (the counterfactual) and
    ``effect`` = after − after_untreated (≤ 0 on treated pixels, 0 elsewhere).
    """
    rng = np.random.default_rng([seed, 1515])
    lc = np.asarray(landcover)
    keys = np.array([_lc_key(c) for c in range(256)], dtype=object)
    base = np.vectorize(lambda k: TRUTH_BASE.get(k, 0.0))(keys)[lc]
    trend = np.vectorize(lambda k: TRUTH_TREND.get(k, 1.0))(keys)[lc]
    s = np.sin(np.radians(np.asarray(slope_deg, np.float64)))
    slope_term = np.clip(21.91 * s - 0.96, 0.05, None) / 2.8  # ≈ 1 at 10°
    n0 = np.exp(TRUTH_NOISE_SD * _smooth_noise(lc.shape, rng, TRUTH_NOISE_PX))
    n1 = np.exp(TRUTH_NOISE_SD * _smooth_noise(lc.shape, rng, TRUTH_NOISE_PX))
    before = base * slope_term * n0
    after_cf = before * TRUTH_YEAR_FACTOR * trend * n1
    m = np.ones(256)
    for code, f in TRUTH_MEASURE_FACTOR.items():
        m[code] = f
    after = after_cf * m[np.asarray(treated_codes).astype(np.int64)]
    return {"before": before, "after": after, "after_untreated": after_cf,
            "effect": after - after_cf}  # fmt: skip
