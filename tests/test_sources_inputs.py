"""``prepare_inputs`` of the local and Earth Engine sources and the per-input dispatch of
pipeline/stages/inputs.py, offline (Earth Engine through earthengine-api's ApiTestCase
and a mocked computePixels resource, as in tests/test_sources_earthengine.py)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
import xarray as xr

from pipeline.config import validate_config
from pipeline.errors import ConfigError, InputDataError
from pipeline.io import open_raster
from pipeline.sources import local
from pipeline.stages import inputs as stage

WATERSHED_PX = 7310  # valid 30 m pixels of the Youwuzhen land-use map (SOURCE.md)


@pytest.fixture(scope="module")
def ywz(shared_data):
    return shared_data / "youwuzhen_fujian_cn"


def _ywz_source(ywz, **local_patch):
    local_cfg = {
        "aoi": str(ywz / "ywzlanduse30m_upd.tif"),
        "aoi_name": "游屋圳小流域",
        "aoi_name_en": "Youwuzhen",
        "resolution_m": 30.0,
        "dem": {"path": str(ywz / "ywzdem30m.tif")},
        "landcover": {
            "path": str(ywz / "ywzlanduse30m_upd.tif"),
            "recode": {
                4: "orchard",
                6: "forest",
                8: "forest",
                18: "water",
                33: "paddy",
                104: "built_up",
                106: "built_up",
            },
        },
        "soil": {
            "classes": str(ywz / "ywzsoil30m.tif"),
            "lookup": str(ywz / "soil_properties_lookup.csv"),
            "code_col": "SEQN",
            "columns": {
                "sand_pct": "SOL_SAND",
                "silt_pct": "SOL_SILT",
                "clay_pct": "SOL_CLAY",
                "organic_matter_pct": "SOL_OM",
            },
        },
        "rain": {
            "gauge_csv": str(ywz / "pcp_daily.csv"),
            "date_col": "DATETIME",
            "value_col": "81502750",
        },
        **local_patch,
    }
    cfg = {
        "aoi": "ywz",
        "years": [2016, 2017],
        "source": {"kind": "local", "local": local_cfg},
        "cover": {"method": "table"},
        "ml": {"enabled": False},
    }
    return validate_config(cfg)["source"]


def test_local_classes_fill_the_aoi_mask_and_the_zone_is_the_aoi(ywz, tmp_path):
    source = _ywz_source(ywz)
    written = local.prepare_inputs(tmp_path, source, years=[2017], only=["landcover", "zones"])
    assert sorted(written) == ["landcover_2017", "townships", "watersheds"]
    grid = local.read_grid_json(tmp_path / "grid.json")
    inside = local.aoi_pixel_mask(tmp_path / "aoi.gpkg", grid)
    assert int(inside.sum()) == WATERSHED_PX  # the grid's AOI mask keeps the pixel count
    lc = open_raster(tmp_path / "landcover_2017.tif").values
    assert np.isfinite(lc[inside]).all()  # classes up to the AOI's edge
    for layer in ("townships", "watersheds"):
        zones = gpd.read_file(tmp_path / f"{layer}.gpkg")
        assert zones["zone_id"].tolist() == ["1"] and zones["name"].tolist() == ["游屋圳小流域"]
        # the AOI as analysed: exactly the mask's pixels
        assert zones.geometry.area.sum() == pytest.approx(WATERSHED_PX * 900.0, rel=1e-9)


@pytest.mark.slow
def test_stage_writes_every_contract_file_it_has(ywz, tmp_path):
    source = _ywz_source(ywz)  # no NDVI and no survey points: those files are not written
    expected = [tmp_path / f for f in ("grid.json", "aoi.gpkg", "dem.tif", "soil.tif")]
    stage.prepare_inputs(out_dir=tmp_path, source=source, years=[2016, 2017], expected=expected)
    for name in ("rain_daily.nc", "townships.gpkg", "watersheds.gpkg", "landcover_2016.tif"):
        assert (tmp_path / name).exists(), name
    assert (tmp_path / "landcover_2016.tif").read_bytes() == (
        tmp_path / "landcover_2017.tif"
    ).read_bytes()  # one map for both years, written deterministically
    assert not (tmp_path / "ndvi_2017.tif").exists()
    assert not (tmp_path / "survey_2016.gpkg").exists()
    rain = xr.open_dataset(tmp_path / "rain_daily.nc")["precipitation"]
    assert sorted(set(rain["time"].dt.year.values.tolist())) == list(range(2012, 2018))
    rain.close()


def test_stage_names_an_expected_file_it_cannot_write(ywz, tmp_path):
    source = _ywz_source(ywz)
    with pytest.raises(InputDataError, match=r"ndvi_2017.tif"):
        stage.prepare_inputs(
            out_dir=tmp_path, source=source, years=[2017], expected=[tmp_path / "ndvi_2017.tif"]
        )


def test_missing_local_section_is_named(ywz, tmp_path):
    source = _ywz_source(ywz, dem=None)
    with pytest.raises(ConfigError, match=r"'source.local.dem' is not set"):
        local.prepare_inputs(tmp_path, source, years=[2017], only=["dem"])


def test_year_placeholder_without_a_file_is_named(ywz, tmp_path):
    source = _ywz_source(ywz)
    source["local"]["landcover"]["path"] = str(tmp_path / "lc_{year}.tif")
    with pytest.raises(InputDataError, match=r"lc_2017.tif"):
        local.prepare_inputs(tmp_path, source, years=[2017], only=["landcover"])


def test_survey_points_per_year_from_one_file(ywz, tmp_path):
    source = _ywz_source(ywz)
    local.prepare_grid(tmp_path, source["local"])
    aoi = gpd.read_file(tmp_path / "aoi.gpkg")
    centre = aoi.geometry.iloc[0].representative_point()
    pts = gpd.GeoDataFrame(
        {"DCDH": ["a", "b", "c"], "QSDJ": [1, 3, 2], "YEAR": [2016, 2017, 2017]},
        geometry=[centre, centre, centre],
        crs=aoi.crs,
    ).to_crs("EPSG:4326")
    pts.to_file(tmp_path / "survey.gpkg")
    source["local"]["survey"] = {
        "path": str(tmp_path / "survey.gpkg"),
        "class_col": "QSDJ",
        "id_col": "DCDH",
        "year_col": "YEAR",
    }
    written = local.prepare_inputs(tmp_path, source, years=[2016, 2017], only=["survey"])
    s17 = gpd.read_file(written["survey_2017"])
    assert s17["survey_id"].tolist() == ["b", "c"] and s17.crs == aoi.crs
    with pytest.raises(InputDataError, match=r"no points for 2018"):
        local.prepare_inputs(tmp_path, source, years=[2018], only=["survey"])


# ------------------------------------------------------------------ Earth Engine
@pytest.fixture
def ee_offline():
    from ee import apitestcase

    case = apitestcase.ApiTestCase()
    case.setUp()
    yield case
    case.tearDown()


@pytest.mark.slow
def test_earthengine_prepare_inputs_offline(ee_offline, tmp_path):
    from tests.test_sources_earthengine import FakeRest

    aoi = gpd.GeoDataFrame(
        {"name": ["x"]}, geometry=[shapely.box(116.38, 25.66, 116.42, 25.70)], crs="EPSG:4326"
    )
    aoi.to_file(tmp_path / "aoi_in.gpkg")
    source = validate_config(
        {
            "aoi": "x",
            "years": [2023],
            "source": {
                "kind": "earthengine",
                "local": {"aoi": str(tmp_path / "aoi_in.gpkg"), "resolution_m": 60.0},
                "earthengine": {
                    "rain_first_year": 2022,
                    "soil_request_res_m": 500.0,
                    "ndvi_request_res_m": 60.0,
                    "landcover_request_res_m": 60.0,
                },
            },
            "ml": {"enabled": False},
        }
    )["source"]
    out = tmp_path / "res"
    with FakeRest(value_fn=lambda i, y, x: 1.0 + 0 * y) as rest:
        written = stage_ee(out, source, years=[2022, 2023])
    assert sorted(written) == [
        "dem",
        "landcover_2022",
        "landcover_2023",
        "ndvi_2022",
        "ndvi_2023",
        "rain_daily",
        "soil",
    ]
    scales = {tuple(b["bandIds"][:1]): b["grid"]["affineTransform"]["scaleX"] for b in rest.bodies}
    assert scales[("elevation",)] == 30.0 and scales[("sand_pct",)] == 500.0
    assert scales[("P01",)] == 60.0 and scales[("landcover",)] == 60.0
    rain = xr.open_dataset(written["rain_daily"])["precipitation"]
    assert rain.sizes["time"] == 365 + 365 and float(rain.max()) == 1.0
    rain.close()
    assert set(np.unique(open_raster(written["landcover_2023"]).values)) == {1.0}
    assert (out / ".ee_cache" / "dem_raw.tif.provenance.json").exists()
    n_requests = len(rest.bodies)
    with FakeRest(value_fn=lambda i, y, x: 1.0 + 0 * y) as again:
        stage_ee(out, source, years=[2022, 2023])
    assert n_requests > 0 and again.bodies == []  # a rerun downloads nothing


def stage_ee(out, source, *, years):
    from pipeline.sources import earthengine

    return earthengine.prepare_inputs(out, source, years=years, sleep=lambda s: None)
