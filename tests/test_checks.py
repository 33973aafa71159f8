"""Bad input never becomes a bulletin: each bad input stops the inputs step with a message
that names the file (and the config key to change), and leaves no contract file and no
temporary file behind, so no later step (no bulletin, no report) can run on it.

A small synthetic district in UTM 50N: a 3 km square AOI, a 50 m DEM, a land-cover map,
a soil-class raster with its lookup table, a rain-gauge CSV and two townships; each test
spoils one of them and runs the inputs part that reads it.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine

from pipeline import checks as chk
from pipeline.errors import ConfigError, InputDataError
from pipeline.stages import inputs as stage

CRS = "EPSG:32650"
X0, Y0, SIZE = 500_000.0, 2_800_000.0, 3_000.0  # AOI square, m
RES = 50.0
MARGIN = 500.0


def write_raster(path, data, *, nodata=None, units=None, x0=X0 - MARGIN, y1=Y0 + SIZE + MARGIN):
    data = np.asarray(data)
    with rasterio.open(
        path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
        dtype=data.dtype, crs=CRS, transform=Affine(RES, 0, x0, 0, -RES, y1), nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(data, 1)
        if units:
            dst.update_tags(units=units)
    return path


def dem_array(slope_deg=5.0):
    n = int((SIZE + 2 * MARGIN) / RES)
    x = np.arange(n) * RES
    ramp = np.tan(np.radians(slope_deg)) * x
    return (200.0 + ramp[None, :] + 0 * x[:, None]).astype("float32")


@pytest.fixture
def district(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    aoi = shapely.box(X0, Y0, X0 + SIZE, Y0 + SIZE)
    gpd.GeoDataFrame({"name": ["aoi"]}, geometry=[aoi], crs=CRS).to_file(d / "aoi.gpkg")
    write_raster(d / "dem.tif", dem_array())
    n = int((SIZE + 2 * MARGIN) / RES)
    write_raster(d / "lc.tif", np.full((n, n), 1, "uint8"), nodata=0)
    write_raster(d / "soil.tif", np.full((n, n), 7, "uint8"), nodata=0)
    (d / "soil.csv").write_text("code,sand,silt,clay,oc\n7,40,35,25,1.2\n")
    days = pd.date_range("2015-01-01", "2020-12-31", freq="D")
    pd.DataFrame(
        {"date": days.strftime("%Y-%m-%d"), "mm": np.where(days.day % 5 == 0, 20.0, 0.0)}
    ).to_csv(d / "rain.csv", index=False)
    half = X0 + SIZE / 2
    towns = [shapely.box(X0, Y0, half, Y0 + SIZE), shapely.box(half, Y0, X0 + SIZE, Y0 + SIZE)]
    gpd.GeoDataFrame(
        {"code": ["1", "2"], "name": ["东乡", "西乡"]}, geometry=towns, crs=CRS
    ).to_file(d / "towns.gpkg")
    source = {
        "kind": "local",
        "local": {
            "aoi": str(d / "aoi.gpkg"),
            "resolution_m": 100.0,
            "dem": {"path": str(d / "dem.tif")},
            "landcover": {"path": str(d / "lc.tif"), "recode": {1: "forest"}},
            "soil": {
                "classes": str(d / "soil.tif"), "lookup": str(d / "soil.csv"), "code_col": "code",
                "columns": {"sand_pct": "sand", "silt_pct": "silt", "clay_pct": "clay",
                            "organic_carbon_pct": "oc"},
            },
            "rain": {"gauge_csv": str(d / "rain.csv"), "date_col": "date", "value_col": "mm"},
            "townships": {"path": str(d / "towns.gpkg"), "id_col": "code", "name_col": "name"},
        },
    }  # fmt: skip
    out = tmp_path / "resources"
    return d, source, out


def run(out, source, part, *, year=None, **checks):
    stage.prepare_part(
        out_dir=out, source=source, part=part, years=[2020], year=year, checks=checks or None
    )


def assert_nothing_left(out, part, year=None):
    for path in stage.part_files(out, part, year=year):
        assert not path.exists(), path
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".") and p.is_file()]
    assert not leftovers, leftovers


def fails(out, source, part, match, *, year=None, exc=InputDataError, **checks):
    if part != "grid":
        run(out, source, "grid")
    with pytest.raises(exc, match=match) as info:
        run(out, source, part, year=year, **checks)
    assert_nothing_left(out, part, year)
    return str(info.value)


def test_good_district_passes_every_part(district):
    _, source, out = district
    for part in ("grid", "dem", "soil", "zones", "rain"):
        run(out, source, part)
    run(out, source, "year", year=2020)
    assert (out / "dem.tif").exists() and (out / "landcover_2020.tif").exists()


# ------------------------------------------------------------------------ DEM
def test_nan_hole_in_the_dem(district):
    d, source, out = district
    dem = dem_array()
    dem[20:40, 20:40] = np.nan
    write_raster(d / "dem.tif", dem, nodata=float("nan"))
    msg = fails(out, source, "dem", r"valid data on only")
    assert "dem.tif" in msg and "checks.min_coverage_share" in msg and "hole" in msg


def test_undeclared_minus_9999_block_in_the_dem(district):
    d, source, out = district
    dem = dem_array()
    dem[20:40, 20:40] = -9999.0  # the file declares no nodata
    write_raster(d / "dem.tif", dem)
    msg = fails(out, source, "dem", r"outside the plausible")
    assert "dem.tif" in msg and "-9999" in msg.replace("−", "-") and "nodata" in msg


def test_1e30_values_in_the_dem(district):
    d, source, out = district
    dem = dem_array()
    dem[30, 30] = 1e30
    write_raster(d / "dem.tif", dem)
    msg = fails(out, source, "dem", r"outside the plausible")
    assert "dem.tif" in msg and re.search(r"max \d\.\d+e\+(29|30)", msg)


def test_dem_in_feet_by_its_units_tag(district):
    d, source, out = district
    write_raster(d / "dem.tif", dem_array() / 0.3048, units="ft")
    msg = fails(out, source, "dem", r"units tag says 'ft'")
    assert "checks.dem_units" in msg
    run(out, source, "dem", dem_units="ft")  # asked for: converted to metres
    from pipeline.io import open_raster

    feet = open_raster(out / "dem.tif").values
    write_raster(d / "dem.tif", dem_array())  # the same DEM in metres
    run(out, source, "dem")
    np.testing.assert_allclose(feet, open_raster(out / "dem.tif").values, rtol=1e-5)


def test_dem_in_feet_by_its_slopes(district):
    d, source, out = district
    write_raster(d / "dem.tif", dem_array(slope_deg=35.0) / 0.3048)  # 35° in m → 66° in "m"
    msg = fails(out, source, "dem", r"steeper than 60")
    assert "feet" in msg and "checks.dem_units" in msg and "dem.tif" in msg


def test_dem_covering_only_part_of_the_aoi(district):
    d, source, out = district
    n = int((SIZE + 2 * MARGIN) / RES)
    write_raster(d / "dem.tif", dem_array()[:, : n // 2])  # western half only
    msg = fails(out, source, "dem", r"valid data on only 50\.0%")
    assert "dem.tif" in msg and "part of the AOI" in msg


def test_dem_with_the_wrong_crs_does_not_overlap(district):
    d, source, out = district
    write_raster(d / "dem.tif", dem_array(), x0=X0 + 50_000)  # 50 km away: no overlap
    msg = fails(out, source, "dem", r"valid data on only 0\.0%")
    assert "does not overlap" in msg and "CRS" in msg


# ---------------------------------------------------------------- land cover
def test_non_integer_land_cover_codes_in_a_float_raster(district):
    d, source, out = district
    n = int((SIZE + 2 * MARGIN) / RES)
    lc = np.full((n, n), 1.0, "float32")
    lc[10:20, 10:20] = 1.5
    write_raster(d / "lc.tif", lc)
    msg = fails(out, source, "year", r"non-integer class codes", year=2020)
    assert "lc.tif" in msg and "1.5" in msg


def test_aoi_larger_than_the_land_cover_data(district):
    d, source, out = district
    n = int((SIZE + 2 * MARGIN) / RES)
    write_raster(d / "lc.tif", np.full((n // 2, n), 1, "uint8"), nodata=0)  # northern half
    msg = fails(out, source, "year", r"land cover 2020 .*valid data on only", year=2020)
    assert "lc.tif" in msg and "source.local.landcover" in msg


# ------------------------------------------------------------------- AOI, zones
def test_self_intersecting_aoi_stops_unless_repair_is_asked(district):
    d, source, out = district
    bowtie = shapely.Polygon([(X0, Y0), (X0 + SIZE, Y0 + SIZE), (X0 + SIZE, Y0), (X0, Y0 + SIZE)])
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[bowtie], crs=CRS).to_file(d / "aoi.gpkg")
    msg = fails(out, source, "grid", r"not valid \(Self-intersection")
    assert "aoi.gpkg" in msg and "checks.repair_geometry" in msg
    run(out, source, "grid", repair_geometry=True)
    aoi = gpd.read_file(out / "aoi.gpkg")
    # two triangles, half the square (areas in the grid's Albers CRS, within 0.2 %)
    assert aoi.geometry.is_valid.all() and abs(aoi.area.sum() / (SIZE**2 / 2) - 1) < 2e-3


def test_overlapping_townships_name_the_pair_and_area(district):
    d, source, out = district
    towns = [
        shapely.box(X0, Y0, X0 + 2000, Y0 + SIZE),
        shapely.box(X0 + 1000, Y0, X0 + SIZE, Y0 + SIZE),
    ]
    gpd.GeoDataFrame(
        {"code": ["1", "2"], "name": ["东乡", "西乡"]}, geometry=towns, crs=CRS
    ).to_file(d / "towns.gpkg")
    msg = fails(out, source, "zones", r"zones '东乡' and '西乡' overlap by 300\.\d\d ha")
    assert "towns.gpkg" in msg


def test_townships_with_a_gap(district):
    d, source, out = district
    towns = [
        shapely.box(X0, Y0, X0 + 1000, Y0 + SIZE),
        shapely.box(X0 + 2000, Y0, X0 + SIZE, Y0 + SIZE),
    ]
    gpd.GeoDataFrame(
        {"code": ["1", "2"], "name": ["东乡", "西乡"]}, geometry=towns, crs=CRS
    ).to_file(d / "towns.gpkg")
    msg = fails(out, source, "zones", r"leave 300\.\d\d ha \(33\.3%\) of the AOI unassigned")
    assert "towns.gpkg" in msg and "checks.zone_gap_tolerance_share" in msg
    # within a tolerance the gap is kept as an 'unassigned' zone: zones still tile the AOI
    run(out, source, "zones", zone_gap_tolerance_share=0.5)
    zones = gpd.read_file(out / "townships.gpkg")
    assert "unassigned" in set(zones["zone_id"])
    assert abs(zones.area.sum() / SIZE**2 - 1) < 2e-3


# ---------------------------------------------------------------------- soil
@pytest.mark.parametrize("bad", ["n/a", "abc"])
def test_unusable_value_in_a_soil_lookup_column(district, bad):
    d, source, out = district
    (d / "soil.csv").write_text(f"code,sand,silt,clay,oc\n7,40,{bad},25,1.2\n")
    msg = fails(out, source, "soil", r"soil lookup table .*soil\.csv")
    assert "'silt'" in msg and "class 7" in msg and "source.local.soil.columns.silt_pct" in msg


def test_texture_that_does_not_sum_names_file_class_and_key(district):
    d, source, out = district
    (d / "soil.csv").write_text("code,sand,silt,clay,oc\n7,80,35,25,1.2\n")  # 140 %
    msg = fails(out, source, "soil", r"class 7: sand \+ silt \+ clay = 140\.00 %")
    assert "soil.csv" in msg and "source.local.soil.columns" in msg


# ---------------------------------------------------------------------- rain
def test_rain_csv_with_only_a_header(district):
    d, source, out = district
    (d / "rain.csv").write_text("date,mm\n")
    msg = fails(out, source, "rain", r"has a header but no rows")
    assert "rain.csv" in msg and "source.local.rain.gauge_csv" in msg


def test_gauge_ending_mid_year_names_the_config_key(district):
    d, source, out = district
    days = pd.date_range("2015-01-01", "2020-06-30", freq="D")
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "mm": 5.0}).to_csv(d / "rain.csv", index=False)
    msg = fails(out, source, "rain", r"2020 has 182 of 366 days")
    assert "checks.rain_partial_years: drop" in msg and "rain.csv" in msg
    assert "allow_partial_years" not in msg
    run(out, source, "rain", rain_partial_years="drop")
    from pipeline.layout import read_rain

    assert int(read_rain(out / "rain_daily.nc")["time"].dt.year.max()) == 2019


# ------------------------------------------------------------ grid size, units
def test_resolution_needing_too_much_memory_stops_with_the_figure(district):
    _, source, out = district
    source["local"]["resolution_m"] = 0.5
    msg = fails(out, source, "grid", r"0\.5 m gives a grid of \d{4} × \d{4} = 36,\d{3},\d{3} cells", exc=ConfigError,
                max_memory_gib=1.0)  # fmt: skip
    assert "source.local.resolution_m" in msg and "GiB" in msg


def test_unit_helpers():
    assert chk.coverage_share(np.array([True, False]), np.array([True, True])) == 0.5
    with pytest.raises(ConfigError, match="checks.dem_units"):
        chk.check_units_tag("metre", path="d.tif", expected="ft")
