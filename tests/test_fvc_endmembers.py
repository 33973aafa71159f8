"""FVC end-members fixed across an assessment: pooled over every period and year, inside
the AOI (pipeline.factors.cover.pooled_ndvi_endmembers), so a greener year has a lower C."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors import cover
from pipeline.stages.factors import cover_factor


def cube(values) -> xr.DataArray:
    arr = np.asarray(values, dtype=float)
    return xr.DataArray(arr, dims=("period", "y", "x"))


def test_pooled_percentiles_use_every_period_and_year_inside_the_aoi_only():
    # year A: 0.00 … 0.49, year B: 0.50 … 0.99 (two periods of 25 pixels each), and a
    # column outside the AOI holding -0.9 / 0.99 that must be left out.
    a = np.arange(0, 50).reshape(2, 5, 5) / 100.0
    b = a + 0.5
    a_out = np.concatenate([a, np.full((2, 5, 1), -0.9)], axis=2)
    b_out = np.concatenate([b, np.full((2, 5, 1), 0.99)], axis=2)
    inside = xr.DataArray(np.c_[np.ones((5, 5), bool), np.zeros((5, 1), bool)], dims=("y", "x"))
    em = cover.pooled_ndvi_endmembers([cube(a_out), cube(b_out)], inside=[inside, inside])
    # the pooled values are 0.00 … 0.99 in steps of 0.01 (100 values):
    # numpy's linear percentile: 5 % at rank 0.05·99 = 4.95 → 0.0495; 95 % at 94.05 → 0.9405
    assert em["ndvi_soil"] == pytest.approx(0.0495, abs=1e-12)
    assert em["ndvi_veg"] == pytest.approx(0.9405, abs=1e-12)
    assert em["n_values"] == 100 and em["n_scenes"] == 2


def test_per_class_end_members_and_maps():
    a = np.arange(0, 50).reshape(2, 5, 5) / 100.0
    lc = xr.DataArray(np.where(np.arange(25).reshape(5, 5) < 10, 1, 3), dims=("y", "x"))
    em = cover.pooled_ndvi_endmembers([cube(a)], landcover=[lc], min_pixels=5)
    # class 1 = first 10 pixels of each period: values 0.00-0.09 and 0.25-0.34 (20 values)
    v1 = np.sort(np.r_[np.arange(0, 10), np.arange(25, 35)] / 100.0)
    assert em["by_class"][1]["ndvi_soil"] == pytest.approx(np.percentile(v1, 5))
    assert em["by_class"][1]["n_values"] == 20
    soil, veg = cover.endmember_maps(lc, endmembers=em)
    assert float(soil[0, 0]) == pytest.approx(np.percentile(v1, 5))
    assert float(veg[4, 4]) == pytest.approx(em["by_class"][3]["ndvi_veg"])
    # a class with too few values takes the pooled pair
    em_small = cover.pooled_ndvi_endmembers([cube(a)], landcover=[lc], min_pixels=1000)
    assert em_small["by_class"][1]["ndvi_soil"] == em_small["ndvi_soil"]


def test_constant_ndvi_raises():
    with pytest.raises(InputDataError, match="coincide"):
        cover.pooled_ndvi_endmembers([cube(np.full((2, 10, 10), 0.4))])


def test_uniform_greening_lowers_the_mean_c():
    """+0.05 NDVI everywhere and every half-month: with pooled end-members the district's
    mean C falls; with per-scene end-members (the old behaviour) the greening cancels."""
    rng = np.random.default_rng(3)
    base = np.clip(rng.normal(0.45, 0.15, size=(24, 60, 60)), 0.02, 0.9)
    period = np.arange(1, 25)
    year1 = xr.DataArray(base, dims=("period", "y", "x"), coords={"period": period})
    year2 = year1 + 0.05
    lc = xr.DataArray(np.full((60, 60), 1.0), dims=("y", "x"))  # forest everywhere
    shares = xr.DataArray(np.full(24, 1 / 24), dims="period", coords={"period": period})
    cfg = {"method": "cai2000", "table": {}}
    em = cover.pooled_ndvi_endmembers([year1, year2])
    c1 = float(cover_factor(ndvi=year1, lc=lc, shares=shares, cover=cfg, endmembers=em).mean())
    c2 = float(cover_factor(ndvi=year2, lc=lc, shares=shares, cover=cfg, endmembers=em).mean())
    assert c2 < c1 - 0.005, (c1, c2)
    # per-scene end-members shift with the scene: the greening disappears (to rounding)
    s1 = float(cover_factor(ndvi=year1, lc=lc, shares=shares, cover=cfg).mean())
    s2 = float(cover_factor(ndvi=year2, lc=lc, shares=shares, cover=cfg).mean())
    assert abs(s2 - s1) < 1e-6
    print(f"mean C {c1:.4f} -> {c2:.4f} (pooled); per-scene {s1:.4f} -> {s2:.4f}")
