"""Direct tests of the soil-loss, statistics and change stages on tiny synthetic files.

Called as pipeline/scripts/{soil_loss,statistics,change}.py call them. Pixels are
10 m on an Albers equal-area grid, so each is exactly 0.01 ha; expected areas are
pixel counts × 0.01 ha.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.stages import soil_loss as sl_stage
from pipeline.stages import statistics as stats_stage
from tests import stage_fixtures as fx

# Factor values exact in binary (float32 and float64 alike), so products land on
# the SL 190-2007 breaks exactly: R·K = 64 · 0.125 = 8.
LS_ON_BREAKS = [0.0625, 0.625, 3.125, 6.25, 10.0, 18.75]  # A = 0.5, 5, 25, 50, 80, 150
CLASS_OF = [1, 2, 3, 4, 5, 6]  # lower <= A < upper; south_red_soil breaks 5, 25, 50, 80, 150


def _factor_files(tmp_path, shape=(2, 6)):
    ls = np.broadcast_to(np.asarray(LS_ON_BREAKS, "float32"), shape).copy()
    c = np.ones(shape, "float32")
    c[1] = 0.5  # second row: A halves → 0.25, 2.5, 12.5, 25, 40, 75
    files = {
        "R": fx.write_raster(tmp_path / "R.tif", np.full(shape, 64.0, "float32")),
        "K": fx.write_raster(tmp_path / "K.tif", np.full(shape, 0.125, "float32")),
        "LS": fx.write_raster(tmp_path / "LS.tif", ls),
        "C": fx.write_raster(tmp_path / "C.tif", c),
        "P": fx.write_raster(tmp_path / "P.tif", np.ones(shape, "float32")),
    }
    return {k: str(v) for k, v in files.items()}


def _lc(tmp_path, codes):
    return fx.write_raster(
        tmp_path / "landcover_2020.tif", np.asarray(codes, "uint8"), nodata=255, dtype="uint8"
    )


def _run_soil_loss(tmp_path, factors, *, aoi_box, model="rusle", classification=None, lc=None):
    aoi = fx.write_polygons(tmp_path / "aoi.gpkg", [aoi_box], layer="aoi", name=["d"])
    out_a, out_i = tmp_path / "soil_loss.tif", tmp_path / "intensity.tif"
    sl_stage.make_soil_loss(
        factors=factors,
        landcover_path=lc or _lc(tmp_path, np.ones((2, 6))),
        aoi_path=aoi,
        out_soil_loss=out_a,
        out_intensity=out_i,
        model=model,
        classification=classification or {"region": "south_red_soil", "breaks_t_ha_yr": None},
    )
    return out_a, out_i


def test_make_soil_loss_rusle_is_the_product_and_classes_follow_the_breaks(tmp_path):
    factors = _factor_files(tmp_path)
    # AOI: pixel centres of columns 0-4 (column 5 is outside the district)
    out_a, out_i = _run_soil_loss(tmp_path, factors, aoi_box=fx.pixel_box(0, 0, 2, 5))
    a, meta = fx.read(out_a)
    expected = np.array([[0.5, 5, 25, 50, 80, np.nan], [0.25, 2.5, 12.5, 25, 40, np.nan]])
    np.testing.assert_array_equal(a, expected)
    cls, imeta = fx.read(out_i)
    np.testing.assert_array_equal(cls, [[1, 2, 3, 4, 5, np.nan], [1, 1, 2, 3, 3, np.nan]])
    assert imeta["tags"]["class_breaks_t_ha_yr"] == "5,25,50,80,150"
    assert imeta["tags"]["class_convention"] == "lower <= A < upper"
    assert meta["tags"]["units"] == "t ha-1 a-1"


def test_make_soil_loss_uses_the_region_and_the_break_override(tmp_path):
    factors = _factor_files(tmp_path)
    aoi = fx.pixel_box(0, 0, 2, 6)
    # northwest_loess: tolerable loss 10 → A = 5 is 微度 (class 1), 25 stays 中度 (class 3)
    _, out_i = _run_soil_loss(
        tmp_path, factors, aoi_box=aoi, classification={"region": "northwest_loess"}
    )
    np.testing.assert_array_equal(fx.read(out_i)[0][0], [1, 1, 3, 4, 5, 6])
    # explicit breaks win over the region
    _, out_i = _run_soil_loss(
        tmp_path,
        factors,
        aoi_box=aoi,
        classification={"region": "northwest_loess", "breaks_t_ha_yr": [1, 2, 3, 4, 100]},
    )
    # A = 0.5, 5, 25, 50, 80, 150 against 1, 2, 3, 4, 100
    np.testing.assert_array_equal(fx.read(out_i)[0][0], [1, 5, 5, 5, 5, 6])
    assert fx.read(out_i)[1]["tags"]["class_breaks_t_ha_yr"] == "1,2,3,4,100"


def test_make_soil_loss_csle_uses_b_off_cropland_and_t_on_cropland(tmp_path):
    """A = R·K·L·S·B·E·T with B = 1 on cropland and T = 1 elsewhere (Liu et al. 2002).

    R·K = 8, L·S = 2·1.5 = 3 → 24; B = 0.25, E = 0.5, T = 0.75.
    Forest: 24·0.25·0.5 = 3; sloping cropland: 24·0.5·0.75 = 9; paddy with E = 1: 18.
    """
    shape = (1, 3)
    files = {
        "R": fx.write_raster(tmp_path / "R.tif", np.full(shape, 64.0, "float32")),
        "K": fx.write_raster(tmp_path / "K.tif", np.full(shape, 0.125, "float32")),
        "L": fx.write_raster(tmp_path / "L.tif", np.full(shape, 2.0, "float32")),
        "S": fx.write_raster(tmp_path / "S.tif", np.full(shape, 1.5, "float32")),
        "B": fx.write_raster(tmp_path / "B.tif", np.full(shape, 0.25, "float32")),
        "E": fx.write_raster(tmp_path / "E.tif", np.array([[0.5, 0.5, 1.0]], "float32")),
        "T": fx.write_raster(tmp_path / "T.tif", np.full(shape, 0.75, "float32")),
    }
    lc = _lc(tmp_path, [[1, 6, 7]])
    out_a, out_i = _run_soil_loss(
        tmp_path,
        {k: str(v) for k, v in files.items()},
        aoi_box=fx.pixel_box(0, 0, 1, 3),
        model="csle",
        lc=lc,
    )
    np.testing.assert_allclose(fx.read(out_a)[0], [[3.0, 9.0, 18.0]], rtol=1e-6)
    np.testing.assert_array_equal(fx.read(out_i)[0], [[1, 2, 2]])


# ------------------------------------------------------------------- statistics
def _intensity(tmp_path, name, classes):
    arr = np.asarray(classes, dtype="float64")
    arr = np.where(np.isnan(arr), 255, arr).astype("uint8")
    return fx.write_raster(tmp_path / name, arr, nodata=255, dtype="uint8")


# 4 × 5 district; the last column is outside (nodata): 16 land pixels = 0.16 ha
CLASSES_2020 = np.array(
    [
        [1, 1, 2, 3, np.nan],
        [1, 2, 2, 4, np.nan],
        [1, 1, 5, 6, np.nan],
        [1, 1, 1, 2, np.nan],
    ]
)
CLASSES_2021 = np.array(
    [
        [1, 1, 1, 2, np.nan],
        [1, 1, 2, 3, np.nan],
        [1, 1, 4, 6, np.nan],
        [1, 1, 1, 1, np.nan],
    ]
)


def _counts(classes, mask=None):
    c = classes if mask is None else np.where(mask, classes, np.nan)
    return np.array([(c == k).sum() for k in range(1, 7)], dtype=float)


def test_make_statistics_areas_sum_to_the_district_and_zones_to_both(tmp_path):
    intensity = _intensity(tmp_path, "intensity.tif", CLASSES_2020)
    # townships: west = columns 0-1, east = columns 2-4 (tiling the grid); one watershed
    fx.write_polygons(
        tmp_path / "townships.gpkg",
        [fx.pixel_box(0, 0, 4, 2), fx.pixel_box(0, 2, 4, 5)],
        zone_id=["T1", "T2"],
        name=["西镇", "东镇"],
    )
    fx.write_polygons(
        tmp_path / "watersheds.gpkg", [fx.pixel_box(0, 0, 4, 5)], zone_id=["W1"], name=["一号"]
    )
    out = {k: tmp_path / f"{k}.csv" for k in ("classes", "township", "watershed")}
    stats_stage.make_statistics(
        intensity_path=intensity,
        zone_paths={
            "township": tmp_path / "townships.gpkg",
            "watershed": tmp_path / "watersheds.gpkg",
        },
        year=2020,
        out_classes=out["classes"],
        out_summary=tmp_path / "summary.json",
        out_zones={"township": out["township"], "watershed": out["watershed"]},
    )
    table = pd.read_csv(out["classes"], encoding="utf-8-sig")
    # counts by class: 微度 8, 轻度 4, 中度 1, 强烈 1, 极强烈 1, 剧烈 1 → × 0.01 ha
    expected = np.array([8, 4, 1, 1, 1, 1]) * fx.PIXEL_HA
    np.testing.assert_allclose(table["area_ha"], expected, rtol=1e-12)
    assert table["class_code"].tolist() == [1, 2, 3, 4, 5, 6]
    assert table["area_ha"].sum() == pytest.approx(16 * fx.PIXEL_HA)
    np.testing.assert_allclose(table["share_of_district_pct"], expected / 0.16 * 100)
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["year"] == 2020
    assert summary["land_area_ha"] == pytest.approx(0.16)
    assert summary["erosion_area_ha"] == pytest.approx(0.08)  # 微度 excluded
    assert summary["soil_conservation_rate_pct"] == pytest.approx(50.0)
    assert summary["dominant_class_code"] == 2

    towns = pd.read_csv(out["township"], encoding="utf-8-sig")
    assert set(towns["zone_id"]) == {"T1", "T2"}
    west = towns[towns["zone_id"] == "T1"].set_index("class_code")["area_ha"]
    np.testing.assert_allclose(west.loc[[1, 2, 3, 4, 5, 6]], [7, 1, 0, 0, 0, 0] * np.array(0.01))
    # tiling zones sum, class by class, to the district table
    by_class = towns.groupby("class_code")["area_ha"].sum().loc[[1, 2, 3, 4, 5, 6]]
    np.testing.assert_allclose(by_class.to_numpy(), expected, rtol=1e-12)
    sheds = pd.read_csv(out["watershed"], encoding="utf-8-sig")
    np.testing.assert_allclose(
        sheds.set_index("class_code")["area_ha"].loc[[1, 2, 3, 4, 5, 6]], expected, rtol=1e-12
    )
    assert sheds["zone_name"].iloc[0] == "一号"


def test_make_statistics_names_a_missing_zone_column(tmp_path):
    from pipeline.errors import InputDataError

    intensity = _intensity(tmp_path, "intensity.tif", CLASSES_2020)
    fx.write_polygons(tmp_path / "t.gpkg", [fx.pixel_box(0, 0, 4, 5)], zone_id=["T1"])
    with pytest.raises(InputDataError, match="needs a column 'name'"):
        stats_stage.make_statistics(
            intensity_path=intensity,
            zone_paths={"township": tmp_path / "t.gpkg"},
            year=2020,
            out_classes=tmp_path / "c.csv",
            out_summary=tmp_path / "s.json",
            out_zones={"township": tmp_path / "z.csv"},
        )


# ----------------------------------------------------------------------- change
def test_make_change_matrix_margins_are_each_years_class_areas(tmp_path):
    y0 = _intensity(tmp_path, "i2020.tif", CLASSES_2020)
    y1 = _intensity(tmp_path, "i2021.tif", CLASSES_2021)
    stats_stage.make_change(
        intensity_y0=y0,
        intensity_y1=y1,
        year0=2020,
        year1=2021,
        out_matrix=tmp_path / "change_matrix.csv",
        out_summary=tmp_path / "change_summary.json",
        out_chart=None,
    )
    matrix, summary = stats_stage.read_change(
        tmp_path / "change_matrix.csv", tmp_path / "change_summary.json"
    )
    assert matrix.index.tolist() == [1, 2, 3, 4, 5, 6]
    assert matrix.columns.tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(matrix.sum(axis=1), _counts(CLASSES_2020) * fx.PIXEL_HA)
    np.testing.assert_allclose(matrix.sum(axis=0), _counts(CLASSES_2021) * fx.PIXEL_HA)
    # by hand: 2→1 at (0,2), (1,1), (3,3); 3→2 at (0,3); 4→3 at (1,3); 5→4 at (2,2)
    assert matrix.loc[2, 1] == pytest.approx(0.03)
    assert matrix.loc[3, 2] == pytest.approx(0.01)
    assert matrix.loc[5, 4] == pytest.approx(0.01)
    assert matrix.loc[6, 6] == pytest.approx(0.01)
    off_diagonal = matrix.to_numpy().sum() - np.trace(matrix.to_numpy())
    assert off_diagonal == pytest.approx(0.06)  # six pixels changed class
    assert summary["year0"] == 2020 and summary["year1"] == 2021
    assert "matrix" not in summary
    # erosion area (classes 2-6): 8 pixels in 2020, 5 in 2021; all six changes are improvements
    assert summary["erosion_area_y0_ha"] == pytest.approx(0.08)
    assert summary["erosion_area_y1_ha"] == pytest.approx(0.05)
    assert summary["improved_ha"] == pytest.approx(0.06)
    assert summary["deteriorated_ha"] == pytest.approx(0.0)
    assert summary["unchanged_ha"] == pytest.approx(0.10)
