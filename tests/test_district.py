"""District headline figures: mean modulus, total loss, district class, area bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pipeline.district import (
    area_bookkeeping,
    district_intensity_class,
    district_summary,
    missing_factor_areas,
    soil_loss_totals,
)
from pipeline.errors import InputDataError
from pipeline.stats import _class_table

BREAKS = (5.0, 25.0, 50.0, 80.0, 150.0)


def test_mean_modulus_grades_the_district_not_the_largest_class():
    # 100 pixels of 1 ha: 50 at 2 t/ha/a (微度), 30 at 10 (轻度), 20 at 180 (剧烈).
    a = xr.DataArray(np.repeat([2.0, 10.0, 180.0], [50, 30, 20]).reshape(10, 10), dims=("y", "x"))
    area = xr.ones_like(a)
    t = soil_loss_totals(a, area, erosion_threshold_t_ha_yr=5.0)
    # hand: total = 50·2 + 30·10 + 20·180 = 4000 t/a over 100 ha = 1 km² → 4000 t/(km²·a)
    assert t["total_soil_loss_t_a"] == pytest.approx(4000.0)
    assert t["mean_modulus_t_km2_a"] == pytest.approx(4000.0)
    # over the erosion area only: (300 + 3600) t / 0.5 km² = 7800 t/(km²·a)
    assert t["erosion_mean_modulus_t_km2_a"] == pytest.approx(7800.0)
    # largest erosion class is 轻度 (30 ha) but the mean modulus 4000 is 中度 (2500–5000)
    assert district_intensity_class(4000.0, breaks_t_ha_yr=BREAKS) == 3
    table = _class_table(np.array([50.0, 30.0, 0.0, 0.0, 0.0, 20.0]))
    book = area_bookkeeping(
        aoi_area_ha=100.0, assessed_area_ha=100.0, inside_area_ha=100.0, max_unassessed_pct=0.5
    )
    _, s = district_summary(table, totals=t, bookkeeping=book, breaks_t_ha_yr=BREAKS)
    assert s["dominant_class_zh"] == "轻度" and s["district_class_zh"] == "中度"


def test_unassessed_pixels_count_and_stop_naming_the_factor():
    a = xr.DataArray(
        np.ones((10, 10)), dims=("y", "x"), coords={"y": np.arange(10.0), "x": np.arange(10.0)}
    )
    c = a.copy()
    c[0, :3] = np.nan  # C missing on 3 pixels at y = 0, x = 0..2
    loss = a * c
    area = xr.ones_like(a)
    t = soil_loss_totals(loss, area, erosion_threshold_t_ha_yr=5.0)
    assert t["unassessed_pixel_area_ha"] == 3.0 and t["assessed_area_ha"] == 97.0
    kw = dict(aoi_area_ha=100.0, assessed_area_ha=97.0, inside_area_ha=100.0)
    book = area_bookkeeping(**kw, max_unassessed_pct=5.0)
    assert book["unassessed_pct"] == pytest.approx(3.0) and book["land_area_ha"] == 100.0
    missing = missing_factor_areas({"R": a, "C": c}, area, inside=xr.ones_like(a, dtype=bool))
    assert missing.loc["R", "missing_ha"] == 0.0 and missing.loc["C", "missing_ha"] == 3.0
    with pytest.raises(InputDataError, match=r"C: 3.00 ha missing within x 0…2, y 0…0"):
        area_bookkeeping(**kw, max_unassessed_pct=0.5, missing=missing)
    # shares are of the land area (AOI), so unassessed land is not dropped from the denominator
    table = _class_table(np.array([90.0, 7.0, 0, 0, 0, 0]))
    out, s = district_summary(table, totals=t, bookkeeping=book, breaks_t_ha_yr=BREAKS)
    assert s["erosion_share_pct"] == pytest.approx(7.0)
    assert out["share_of_district_pct"].sum() == pytest.approx(97.0)


def test_official_area_scales_areas_not_shares():
    table = _class_table(np.array([60.0, 40.0, 0, 0, 0, 0]))
    t = {"mean_modulus_t_km2_a": 600.0, "erosion_mean_modulus_t_km2_a": 900.0,
         "total_soil_loss_t_a": 600.0}  # fmt: skip
    book = area_bookkeeping(
        aoi_area_ha=100.0, assessed_area_ha=100.0, inside_area_ha=100.0, max_unassessed_pct=0.5
    )
    out, s = district_summary(
        table, totals=t, bookkeeping=book, breaks_t_ha_yr=BREAKS, official_area_ha=110.0
    )
    assert out["area_ha"].tolist()[:2] == pytest.approx([66.0, 44.0])
    assert s["erosion_share_pct"] == pytest.approx(40.0)
    assert s["total_soil_loss_t_a"] == pytest.approx(660.0)
    assert s["mean_modulus_t_km2_a"] == 600.0 and s["area_scale_factor"] == pytest.approx(1.1)
