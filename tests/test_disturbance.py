"""Disturbance science on hand-made cases (pipeline.disturbance)."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pytest
import shapely
import xarray as xr

from pipeline.disturbance import (
    assess_compliance,
    bsi,
    compensation_fee_yuan,
    detect_patches,
    first_visible_period,
    ndvi,
    patch_soil_loss_t,
    year_state,
)
from pipeline.disturbance.compliance import change_date
from pipeline.grid import AnalysisGrid

CRS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +ellps=GRS80 +units=m"
# Reflectance (B2, B4, B8, B11) of a dense canopy and of bare red soil.
FOREST = (0.03, 0.03, 0.35, 0.15)  # NDVI 0.842, BSI −0.357
SOIL = (0.09, 0.16, 0.22, 0.30)  # NDVI 0.158, BSI +0.195
NAN = (np.nan,) * 4
SEASONS = ("winter", "spring", "summer", "autumn")


def _grid(n=40, res=10.0) -> AnalysisGrid:
    return AnalysisGrid.from_bounds(CRS, 0, 0, n * res, n * res, res)


def _composite(grid, per_season) -> xr.DataArray:
    """per_season: list of 4 (y, x, band) arrays → (band, season, y, x) DataArray."""
    data = np.stack([np.moveaxis(np.asarray(a, np.float32), -1, 0) for a in per_season], axis=1)
    da = xr.DataArray(
        data,
        dims=("band", "season", "y", "x"),
        coords={"band": ["B2", "B4", "B8", "B11"], "season": list(SEASONS), **grid.coords()},
    )
    return da.rio.write_crs(grid.crs).rio.write_transform(grid.transform)


def _scene(grid, fill=FOREST):
    return [np.broadcast_to(np.array(fill, np.float32), (*grid.shape, 4)).copy() for _ in SEASONS]


def test_indices_closed_form():
    c = xr.DataArray(
        np.array([FOREST, SOIL], np.float32).T,
        dims=("band", "x"),
        coords={"band": ["B2", "B4", "B8", "B11"]},
    )
    # NDVI: (0.35−0.03)/(0.38) = 0.8421; (0.22−0.16)/0.38 = 0.1579
    np.testing.assert_allclose(ndvi(c).values, [0.32 / 0.38, 0.06 / 0.38], rtol=1e-6)
    # BSI: (0.15+0.03−0.35−0.03)/(0.56) = −0.3571; (0.30+0.16−0.22−0.09)/0.77 = 0.1948
    np.testing.assert_allclose(bsi(c).values, [-0.20 / 0.56, 0.15 / 0.77], rtol=1e-6)
    assert bsi(c).attrs["units"] == "1"


def test_year_state_phenology_and_gaps():
    g = _grid(n=4)
    s = _scene(g)
    # (0, 0): bare all year → bare; (0, 1): bare in winter only (harvested) → vegetated;
    # (0, 2): bare in one season, NaN in the others → unknown (a gap never makes bare);
    # (0, 3): all seasons NaN → unknown; (1, 0): bare, summer NaN → still bare (3 seasons)
    for k in range(4):
        s[k][0, 0] = SOIL
        s[k][0, 2] = NAN
        s[k][0, 3] = NAN
        s[k][1, 0] = SOIL
    s[0][0, 1] = SOIL
    s[0][0, 2] = SOIL
    s[2][1, 0] = NAN
    state = year_state(_composite(g, s)).values
    assert state[0].tolist() == [2, 1, 0, 0]
    assert state[1, 0] == 2
    assert state[2, 2] == 1


def test_year_state_mid_year_clearing_and_autumn_harvest():
    g = _grid(n=3)
    s = _scene(g)  # order: winter, spring, summer, autumn
    for k in (0, 2, 3):
        s[k][0, 0] = SOIL  # cleared in June: green in spring only → bare
    for k in (0, 3):
        s[k][0, 1] = SOIL  # harvested in autumn, fallow in winter, green in summer → green
    for k in (0, 3):
        s[k][0, 2] = SOIL  # same, summer cloudy: green in spring → never bare
    s[2][0, 2] = NAN
    s[0][1, 0] = SOIL  # winter + spring fallow, green from summer → green
    s[1][1, 0] = SOIL
    for k in (0, 2, 3):
        s[k][1, 1] = SOIL  # bare, spring cloudy → bare
    s[1][1, 1] = NAN
    state = year_state(_composite(g, s)).values
    assert state[0].tolist() == [2, 1, 1]
    assert state[1, :2].tolist() == [1, 2]


def test_detect_new_continued_revegetated_and_no_false_alarm():
    g = _grid(n=60)
    before, after = _scene(g), _scene(g)
    for k in range(4):
        after[k][5:15, 5:15] = SOIL  # new site: 10×10 px = 1.00 ha
        before[k][30:42, 5:13] = SOIL  # continued site: 12×8 px = 0.96 ha
        after[k][30:42, 5:13] = SOIL
        before[k][5:13, 40:50] = SOIL  # revegetated: 8×10 px = 0.80 ha
        after[k][50:52, 50:52] = SOIL  # 4 px = 0.04 ha < MMU 0.1 ha
    for scene in (before, after):  # harvested cropland: bare in winter only, both years
        scene[0][40:55, 30:45] = SOIL
    for k in (0, 1, 2):  # cloud gap over forest in three seasons of the assessment year
        after[k][20:28, 30:40] = NAN
    after[3][20:28, 30:40] = SOIL  # … and one bright-soil-like season: still not bare
    after[1][7:12, 7:12] = NAN  # a gap inside the new site: it stays one patch
    labels, patches = detect_patches(
        _composite(g, before), _composite(g, after), years=(2023, 2024)
    )
    got = patches.set_index("change_type")
    assert sorted(patches["change_type"]) == ["恢复", "新增", "续建"]
    assert got.loc["新增", "area_ha"] == pytest.approx(1.00)
    assert got.loc["续建", "area_ha"] == pytest.approx(0.96)
    assert got.loc["恢复", "area_ha"] == pytest.approx(0.80)
    assert got.loc["新增", "first_visible"] == "2024-winter"
    assert got.loc["续建", "first_visible"] == "2023-winter"
    # patch means: the new site was forest (NDVI 0.842) and is now soil (0.158)
    assert got.loc["新增", "ndvi_before"] == pytest.approx(0.32 / 0.38, abs=1e-4)
    assert got.loc["新增", "ndvi_after"] == pytest.approx(0.06 / 0.38, abs=1e-4)
    assert got.loc["新增", "bsi_after"] == pytest.approx(0.15 / 0.77, abs=1e-4)
    # polygons are the patches: areas agree with the pixel areas (equal-area grid)
    assert (patches.geometry.area / 1e4).round(6).tolist() == patches["area_ha"].round(6).tolist()
    assert int((labels.values > 0).sum()) == 100 + 96 + 80


def test_only_phenology_and_clouds_give_no_patch():
    g = _grid(n=50)
    before, after = _scene(g), _scene(g)
    for scene in (before, after):
        scene[0][10:30, 10:30] = SOIL  # winter fallow
        scene[3][10:30, 10:30] = np.array(SOIL) * 0.5 + np.array(FOREST) * 0.5  # stubble
    for k in range(4):
        after[k][35:48, 35:48] = NAN  # the whole assessment year cloudy here
    _, patches = detect_patches(_composite(g, before), _composite(g, after))
    assert len(patches) == 0


def test_first_visible_period():
    g = _grid(n=4)
    lab = g.dataarray(np.array([[1, 1, 0, 2]] * 4, np.int32), name="patch", units="1")
    series = np.full((24, *g.shape), 0.8, np.float32)
    series[6:, :, :2] = 0.15  # patch 1 bare from P07
    series[4, :, 3] = 0.1  # patch 2: a single hazy low in P05 …
    series[9:, :, 3] = 0.2  # … bare from P10, with P11 missing
    series[10, :, 3] = np.nan
    ndvi_p = xr.DataArray(series, dims=("period", "y", "x"))
    assert first_visible_period(ndvi_p, lab) == {1: 7, 2: 10}


def _box(x0, y0, x1, y1):
    return shapely.box(x0, y0, x1, y1)


def test_compliance_hand_cases():
    patches = gpd.GeoDataFrame(
        {
            "area_ha": [1.0, 1.0, 1.0, 1.0, 1.0],
            "change_date": [dt.date(2024, 5, 31)] * 5,
        },
        geometry=[
            _box(0, 0, 100, 100),  # inside project A
            _box(300, 0, 400, 100),  # 40 % outside project B
            _box(600, 0, 700, 100),  # no project
            _box(900, 0, 1000, 100),  # inside project D, approved after the disturbance
            _box(1200, 0, 1300, 100),  # 5 % outside project E: within the tolerance
        ],
        crs=CRS,
    )
    projects = gpd.GeoDataFrame(
        {
            "name": ["A", "B", "D", "E"],
            "approval_no": ["A-1", "B-1", "D-1", "E-1"],
            "approval_date": ["2023-01-10", "2023-06-01", "2024-09-01", "2022-02-02"],
        },
        geometry=[
            _box(-10, -10, 110, 110),
            _box(290, -10, 360, 110),  # covers x 300–360 of 300–400: 0.4 ha outside
            _box(890, -10, 1010, 110),
            _box(1205, -10, 1310, 110),  # x 1200–1205 outside: 0.05 ha (5 %)
        ],
        crs=CRS,
    )
    out = assess_compliance(patches, projects)
    assert out["compliance"].tolist() == [
        "合规",
        "疑似超出防治责任范围",
        "疑似未批先建",
        "疑似未批先建",
        "合规",
    ]
    assert out["project_name"].tolist() == ["A", "B", None, "D", "E"]
    assert out["approval_no"].tolist()[:2] == ["A-1", "B-1"]
    np.testing.assert_allclose(out["outside_ha"], [0.0, 0.4, 1.0, 1.0, 0.05], atol=1e-9)
    # a stricter tolerance flags the 5 % case; no project layer at all → all unapproved
    strict = assess_compliance(patches, projects, tolerance_fraction=0.01, tolerance_ha=0.01)
    assert strict["compliance"].iloc[4] == "疑似超出防治责任范围"
    assert set(assess_compliance(patches, None)["compliance"]) == {"疑似未批先建"}


def test_change_date():
    assert change_date(2024, period=7) == dt.date(2024, 4, 15)
    assert change_date(2024, period=4) == dt.date(2024, 2, 29)
    assert change_date(2024, season="spring") == dt.date(2024, 5, 31)
    assert change_date(2024, season="winter") == dt.date(2024, 12, 31)
    assert change_date(2024) == dt.date(2024, 12, 31)


def test_soil_loss_and_fee_hand_computed():
    g = _grid(n=3)
    lab = g.dataarray(np.array([[1, 1, 0], [0, 2, 2], [0, 0, 2]], np.int32), name="p", units="1")
    one = xr.ones_like(lab, dtype=np.float64)
    R = one * 5000.0  # MJ·mm/(ha·h·a)
    K = one * 0.004  # t·ha·h/(ha·MJ·mm)
    LS = one.copy(data=np.array([[1.0, 3.0, 9.0], [9.0, 2.0, 2.0], [9.0, 9.0, 4.0]]))
    area = one * 0.01  # ha (10 m pixels)
    t = patch_soil_loss_t(lab, R=R, K=K, LS=LS, pixel_area=area)
    # patch 1: 5000·0.004·(1 + 3)·0.01 = 0.8 t/a; patch 2: 20·(2 + 2 + 4)·0.01 = 1.6 t/a
    np.testing.assert_allclose(t["soil_loss_t"], [0.8, 1.6])
    np.testing.assert_allclose(t["modulus_t_ha"], [40.0, 1.6 / 0.03])
    assert compensation_fee_yuan(0.8, 1.4) == pytest.approx(11200.0)
    assert compensation_fee_yuan(0.8, None) is None
    with pytest.raises(ValueError):
        compensation_fee_yuan(1.0, -1.0)
