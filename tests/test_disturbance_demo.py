"""Acceptance of the disturbance detection on the synthetic demo, against its hidden truth.

The thresholds were calibrated on seed 20240601 (see ``year_state``); these tests use other
seeds. Matching rule: a detected patch and a true patch match when their IoU ≥ 0.5 or
when either contains the other's centroid. Precision = share of detected patches (all of
them are ≥ the minimum mapping unit) matching a true patch; recall = share of true patches
≥ the minimum mapping unit matched by a detected patch.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.disturbance import assess_compliance, detect_patches
from pipeline.disturbance.compliance import patch_change_dates
from pipeline.sources import demo
from pipeline.sources import demo_disturbance as dd

MMU_HA = 0.1
YEARS = (2023, 2024)


def _matches(a, b) -> dict:
    """For each row of ``a``: index of a matching row of ``b`` (rule above), or None."""
    out = {}
    for i, ga in zip(a.index, a.geometry, strict=True):
        out[i] = None
        for j in b.sindex.query(ga, predicate="intersects"):
            gb = b.geometry.iloc[j]
            iou = ga.intersection(gb).area / ga.union(gb).area
            if iou >= 0.5 or gb.contains(ga.centroid) or ga.contains(gb.centroid):
                out[i] = b.index[j]
                break
    return out


@pytest.fixture(scope="module", params=[7, 11])
def scene(request):
    seed = request.param
    grid = demo.make_grid(size_km=4.0, resolution_m=10.0)
    dem = demo.make_dem(grid, seed=seed)
    aoi = demo.make_aoi(grid, seed=seed)
    lc = demo.make_landcover(dem, aoi, years=YEARS, seed=seed, n_townships=4)
    d = dd.make_disturbance_demo(lc[YEARS[0]], lc[YEARS[1]], years=YEARS, seed=seed, aoi=aoi)
    comp = dd.make_composites(d, seed=seed)
    labels, patches = detect_patches(comp[YEARS[0]], comp[YEARS[1]], years=YEARS)
    patches["change_date"] = patch_change_dates(patches)
    patches = patches.join(assess_compliance(patches, d["projects"]))
    return d, comp, labels, patches


def test_demo_has_every_case(scene):
    d, comp, _, _ = scene
    truth = d["truth"]
    assert set(truth["change_type"]) == {"新增", "续建", "恢复"}
    assert set(truth["compliance"]) == {"合规", "疑似超出防治责任范围", "疑似未批先建"}
    assert len(truth[truth.area_ha >= MMU_HA]) >= 25
    a = comp[YEARS[1]]
    assert a.dtype == np.float32 and a.dims == ("band", "season", "y", "x")
    assert np.isnan(a.values).any(), "the demo has cloud gaps"
    assert float(np.nanmax(a.values)) <= 1.0 and float(np.nanmin(a.values)) >= 0.0


def test_demo_precision_recall_area_compliance(scene):
    d, _, _, patches = scene
    truth = d["truth"]
    big = truth[truth["area_ha"] >= MMU_HA]
    to_truth = _matches(patches, truth)
    to_det = _matches(big, patches)
    precision = np.mean([v is not None for v in to_truth.values()])
    recall = np.mean([v is not None for v in to_det.values()])
    area_error = patches["area_ha"].sum() / big["area_ha"].sum() - 1.0
    pairs = [(i, j) for i, j in to_truth.items() if j is not None]
    compliance = np.mean(
        [patches.at[i, "compliance"] == truth.at[j, "compliance"] for i, j in pairs]
    )
    change = np.mean([patches.at[i, "change_type"] == truth.at[j, "change_type"] for i, j in pairs])
    print(
        f"patches {len(patches)} truth≥MMU {len(big)} precision {precision:.3f} recall "
        f"{recall:.3f} area error {area_error:+.3%} compliance {compliance:.3f} type {change:.3f}"
    )
    assert precision >= 0.9
    assert recall >= 0.9
    assert abs(area_error) <= 0.10
    assert compliance >= 0.95
    assert change >= 0.9


def test_demo_phenology_and_clouds_raise_no_patch(scene):
    d, comp, labels, _ = scene
    lab = labels.values > 0
    s0, s1 = d["classes"][YEARS[0]], d["classes"][YEARS[1]]
    crops = [demo._LC[k] for k in ("terraced_cropland", "sloping_cropland", "paddy")]
    cropland = np.isin(s0, crops) & np.isin(s1, crops)
    assert cropland.sum() > 1000, "the demo has cropland bare in one season"
    assert not (lab & cropland).any()
    # pixels with a cloud gap in the assessment year but no true change are never flagged
    gap = np.isnan(comp[YEARS[1]].values[0]).any(axis=0)
    unchanged = dd.true_change(s0, s1) == 0
    assert (gap & unchanged).sum() > 1000
    assert not (lab & gap & unchanged).any()


def test_demo_sites_cleared_in_june_are_found_in_summer(scene):
    d, _, labels, patches = scene
    late = d["late"]
    assert late.sum() > 0, "the demo has new sites cleared mid-year"
    hit = np.unique(labels.values[late & (labels.values > 0)])
    # found: ≥ 90 % of the late sites (connected areas of `late`) overlap a detected patch
    from scipy import ndimage

    sites, n_sites = ndimage.label(late)
    found = np.unique(sites[late & (labels.values > 0)])
    assert found.size >= 0.9 * n_sites, (found.size, n_sites)
    got = patches.set_index("label").loc[hit]
    assert (got["change_type"] == "新增").all()
    assert (got["first_visible"] == f"{YEARS[1]}-summer").all()  # … and dated to summer
