"""Zone soil loss, change by zone, slope × land use × intensity, 重点乡镇 (pipeline.stats)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from pipeline import stats
from pipeline.grid import AnalysisGrid, local_albers_crs

CRS = local_albers_crs(116.0, 25.0, 117.0, 26.0)


@pytest.fixture
def grid():
    # 2 rows × 4 columns of 100 m pixels: 1 ha each
    return AnalysisGrid.from_bounds(CRS, 0, 0, 400, 200, 100)


@pytest.fixture
def zones(grid):
    # west zone: columns 0–1, east zone: columns 2–3
    return gpd.GeoDataFrame(
        {"zone_id": [1, 2], "name": ["西镇", "东镇"]},
        geometry=[box(0, 0, 200, 200), box(200, 0, 400, 200)],
        crs=grid.crs,
    )


def test_zonal_soil_loss_hand_computed(grid, zones):
    a = np.array([[2.0, 4.0, 100.0, np.nan], [6.0, 8.0, 200.0, 300.0]])
    da = grid.dataarray(a, name="A", units="t ha-1 a-1")
    t = stats.zonal_soil_loss(da, stats.pixel_area_ha(da), zones)
    # west: 4 pixels of 1 ha, loss 2+4+6+8 = 20 t/a, mean 5 t/ha/a = 500 t/(km²·a)
    # east: 3 valid pixels, loss 600 t/a, mean 200 t/ha/a = 20000 t/(km²·a)
    assert t["land_area_ha"].tolist() == pytest.approx([4.0, 3.0])
    assert t["total_soil_loss_t_yr"].tolist() == pytest.approx([20.0, 600.0])
    assert t["mean_modulus_t_km2_yr"].tolist() == pytest.approx([500.0, 20000.0])
    # dask-backed: same answer
    t2 = stats.zonal_soil_loss(
        da.chunk({"y": 1, "x": 2}), stats.pixel_area_ha(da.chunk({"y": 1, "x": 2})), zones
    )
    np.testing.assert_allclose(t2["total_soil_loss_t_yr"], t["total_soil_loss_t_yr"])


def test_zonal_change_hand_computed(grid, zones):
    y0 = grid.dataarray(np.array([[1.0, 3, 2, 2], [2, 2, 6, 1]]), name="y0", units="class")
    y1 = grid.dataarray(np.array([[2.0, 2, 2, 1], [2, 2, 4, 1]]), name="y1", units="class")
    t = stats.zonal_change(y0, y1, stats.pixel_area_ha(y0), zones).set_index("zone_name")
    # west: 1→2 (deteriorated 1 ha), 3→2 (improved 1 ha), 2→2, 2→2
    w = t.loc["西镇"]
    assert (w.improved_ha, w.deteriorated_ha, w.unchanged_ha) == pytest.approx((1, 1, 2))
    assert (w.erosion_area_y0_ha, w.erosion_area_y1_ha) == pytest.approx((3, 4))
    assert (w.net_slight_ha, w.net_light_ha, w.net_moderate_ha) == pytest.approx((-1, 2, -1))
    # east: 2→2, 2→1 (improved), 6→4 (improved), 1→1
    e = t.loc["东镇"]
    assert (e.improved_ha, e.deteriorated_ha) == pytest.approx((2, 0))
    assert e.erosion_area_change_ha == pytest.approx(-1.0)
    assert e.erosion_area_change_pct == pytest.approx(-100 / 3)
    assert (e.net_severe_ha, e.net_intense_ha) == pytest.approx((-1, 1))


def test_slope_classes_boundaries(grid):
    s = grid.dataarray(
        np.array([[0.0, 5.0, 5.01, 8.0], [15.0, 25.0, 35.0, 35.01]]), name="s", units="degree"
    )
    assert stats.slope_classes(s).values.tolist() == [[1, 1, 2, 2], [3, 4, 5, 6]]


def test_slope_landuse_intensity_sums_to_class_areas(grid):
    cls = grid.dataarray(np.array([[1.0, 2, 2, 3], [3, 3, np.nan, 1]]), name="c", units="1")
    slope = grid.dataarray(np.array([[3.0, 10, 10, 30], [30, 40, 1, 3]]), name="s", units="deg")
    lc = grid.dataarray(np.array([[1.0, 6, 6, 4], [4, 4, 1, 7]]), name="lc", units="1")
    names = {
        1: ("林地", "Forest"),
        4: ("园地", "Orchard"),
        6: ("坡耕地", "Sloping"),
        7: ("水田", "P"),
    }
    t = stats.slope_landuse_intensity(
        cls, slope, lc, stats.pixel_area_ha(cls), landcover_names=names
    )
    # sloping cropland on 8–15°, class 2: two pixels = 2 ha
    row = t[(t.slope_label == "8–15°") & (t.landuse_zh == "坡耕地") & (t.class_code == 2)]
    assert row["area_ha"].tolist() == [2.0]
    orchard = t[(t.landuse_code == 4) & (t.class_code == 3)]
    assert dict(zip(orchard.slope_label, orchard.area_ha, strict=True)) == {
        "25–35°": 2.0,
        ">35°": 1.0,
    }
    # every valid class pixel is in the table once: 7 ha
    assert t["area_ha"].sum() == pytest.approx(7.0)


def test_key_zones_ranking():
    rows = []
    for zid, name, areas in [
        (1, "甲", [10.0, 5, 1, 0, 0, 0]),  # erosion 6, moderate+ 1/6
        (2, "乙", [10.0, 1, 3, 0, 0, 0]),  # erosion 4, moderate+ 3/4
        (3, "丙", [10.0, 0, 0, 0, 0, 0]),  # no erosion
    ]:
        for code, a in enumerate(areas, start=1):
            rows.append(
                {
                    "zone_layer": "township",
                    "zone_id": zid,
                    "zone_name": name,
                    "class_code": code,
                    "area_ha": a,
                }
            )
    t = stats.key_zones(pd.DataFrame(rows), top=2)
    assert t["zone_name"].tolist() == ["甲", "乙"]
    assert t["rank_by_erosion_area"].tolist() == [1, 2]
    assert t["rank_by_moderate_share"].tolist() == [2, 1]
    assert t["moderate_and_above_share_pct"].tolist() == pytest.approx([100 / 6, 75.0])
