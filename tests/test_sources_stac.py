"""STAC source, offline: a static catalogue of tiny COGs, read from disk and over loopback HTTP.

The catalogue (tests/stac_server.py: write_static_catalog) holds Sentinel-2 scenes with
Earth Search naming and raster:bands scale/offset, scenes with Planetary Computer naming
whose BOA offset depends on s2:processing_baseline, a Copernicus DEM tile and a WorldCover
tile. It is served on 127.0.0.1 with HTTP Range support, so odc-stac reads it through
GDAL's /vsicurl/ exactly as it would read Earth Search.
"""

from __future__ import annotations

import datetime as dt
import sys
from unittest import mock

import numpy as np
import pystac
import pytest
import rasterio
import shapely

from pipeline.errors import InputDataError, SourceError
from pipeline.io import open_raster
from pipeline.sources import stac
from pipeline.sources.local import grid_from_aoi
from tests.stac_server import CLOUD_BLOCK_PX_20M, serve_directory, write_static_catalog
from tests.utils import raise_if_dask_computes

# Closed-form NDVI of the synthetic scenes (reflectance = DN × 1e-4 − 0.1):
NDVI_A = (0.30 - 0.05) / (0.30 + 0.05)  # 2023-01-05, red 1500, NIR 4000 (cloud block)
NDVI_B = (0.32 - 0.02) / (0.32 + 0.02)  # 2023-01-10, red 1200, NIR 4200
NDVI_PC = NDVI_A  # PB 04.00: (DN − 1000) × 1e-4; PB 03.01 scene is DN 500/3000 unshifted
NDVI_IF_OFFSET_IGNORED = (4000 - 1500) / (4000 + 1500)


@pytest.fixture(scope="session")
def catalog(tmp_path_factory):
    return write_static_catalog(tmp_path_factory.mktemp("stac"))


@pytest.fixture
def http_env(monkeypatch):
    """GDAL/HTTP settings for loopback reads (no proxies, no retries, no directory listing)."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    monkeypatch.setenv("CPL_VSIL_CURL_ALLOWED_EXTENSIONS", ".tif")


@pytest.fixture(scope="module")
def grid():
    # Inside the S2 tile (2.56 km around 116.40 E, 25.68 N), AOI-local Albers, 20 m.
    return grid_from_aoi(shapely.box(116.392, 25.673, 116.406, 25.686), resolution_m=20)


def _s2_items(catalog_url, datetime="2023-01-01/2023-12-31", naming="_es_"):
    items = stac.search_items(
        str(catalog_url),
        collection="sentinel-2-c1-l2a",
        bbox=(116.0, 25.0, 117.0, 26.0),
        datetime=datetime,
    )
    return [it for it in items if naming in it.id]


def test_static_catalogue_search_filters(catalog):
    ids = [it.id for it in _s2_items(catalog, naming="")]
    assert ids == ["S2A_es_20230105", "S2B_es_20230110", "S2A_pc_20230305", "S2B_pc_20230320"]
    jan = stac.search_items(
        str(catalog),
        collection="sentinel-2-c1-l2a",
        bbox=(116.0, 25.0, 117.0, 26.0),
        datetime="2023-01-06/2023-01-31",
    )
    assert [it.id for it in jan] == ["S2B_es_20230110"]
    far = stac.search_items(
        str(catalog),
        collection="sentinel-2-c1-l2a",
        bbox=(100.0, 10.0, 101.0, 11.0),
        datetime=None,
    )
    assert far == []
    dem = stac.search_items(
        str(catalog), collection="cop-dem-glo-30", bbox=(116, 25, 117, 26), datetime=None
    )
    assert [it.id for it in dem] == ["cop-dem-glo-30-tile"]


def test_ndvi_composites_have_closed_form_values(catalog, grid):
    ds = stac.load_s2_ndvi_halfmonths(_s2_items(catalog), grid, 2023)
    assert ds["ndvi"].dims == ("period", "y", "x") and ds.sizes["period"] == 24
    np.testing.assert_array_equal(ds["y"].values, grid.coords()["y"])
    p1 = ds["ndvi"].sel(period=1).values
    n1 = ds["valid_obs"].sel(period=1).values
    # Cloud block of scene A: the NW corner of the S2 tile; find the grid pixels inside it.
    cloudy = n1 == 1
    assert cloudy.any() and (~cloudy).any()
    np.testing.assert_allclose(p1[cloudy], NDVI_B, rtol=1e-5)
    np.testing.assert_allclose(p1[~cloudy], np.median([NDVI_A, NDVI_B]), rtol=1e-5)
    assert set(np.unique(n1)) == {1, 2}
    # cloud block size: 32 × 20 m SCL pixels = 640 m; the grid's NW corner is inside it
    assert cloudy[0, 0] and cloudy.sum() * 20 * 20 <= (CLOUD_BLOCK_PX_20M * 20) ** 2
    # period 2 has no scene: filled from ±1 period (level 1) with the same values
    np.testing.assert_allclose(ds["ndvi"].sel(period=2).values, p1, rtol=1e-6)
    assert (ds["fill_level"].sel(period=2).values == 1).all()
    assert (ds["valid_obs"].sel(period=2).values == 0).all()
    # period 24 is far from January: filled by the annual median (level 3)
    assert (ds["fill_level"].sel(period=24).values == 3).all()
    assert not np.isclose(p1, NDVI_IF_OFFSET_IGNORED, atol=0.05).any()


def test_planetary_computer_offset_is_decided_by_processing_baseline(catalog, grid):
    items = _s2_items(catalog, naming="_pc_")
    assert [stac.s2_scale_offset(it, "B04") for it in items] == [(1e-4, -0.1), (1e-4, 0.0)]
    ds = stac.load_s2_ndvi_halfmonths(items, grid, 2023, gap_fill=False)
    # 2023-03-05 (PB 04.00, DN 1500/4000 shifted) and 2023-03-20 (PB 03.01, DN 500/3000)
    np.testing.assert_allclose(ds["ndvi"].sel(period=5).values, NDVI_PC, rtol=1e-5)
    np.testing.assert_allclose(ds["ndvi"].sel(period=6).values, NDVI_PC, rtol=1e-5)
    assert np.isnan(ds["ndvi"].sel(period=1).values).all()  # no gap filling asked


def test_baseline_not_date_decides_the_offset():
    old_but_reprocessed = pystac.Item(
        "x", None, None, dt.datetime(2018, 6, 1), {"s2:processing_baseline": "05.00"}
    )
    old_but_reprocessed.add_asset("B04", pystac.Asset("b04.tif"))
    assert stac.s2_scale_offset(old_but_reprocessed, "B04") == (1e-4, -0.1)
    no_info = pystac.Item("y", None, None, dt.datetime(2023, 6, 1), {})
    no_info.add_asset("B04", pystac.Asset("b04.tif"))
    with pytest.raises(InputDataError, match="BOA offset cannot be decided"):
        stac.s2_scale_offset(no_info, "B04")


def test_http_range_reads_equal_local_reads(catalog, grid, http_env):
    local_ds = stac.load_s2_ndvi_halfmonths(_s2_items(catalog), grid, 2023)
    dem_items = stac.search_items(
        str(catalog), collection="cop-dem-glo-30", bbox=stac.grid_bbox_lonlat(grid), datetime=None
    )
    wc_items = stac.search_items(
        str(catalog), collection="esa-worldcover", bbox=stac.grid_bbox_lonlat(grid), datetime=None
    )
    local_dem = stac.load_dem(dem_items, grid)
    local_wc = stac.load_worldcover(wc_items, grid)
    with serve_directory(catalog.parent) as base_url:
        url = f"{base_url}/catalog.json"
        items = _s2_items(url)
        assert items[0].assets["red"].href.startswith("http://127.0.0.1:")
        http_ds = stac.load_s2_ndvi_halfmonths(items, grid, 2023)
        bbox = stac.grid_bbox_lonlat(grid)
        http_dem = stac.load_dem(
            stac.search_items(url, collection="cop-dem-glo-30", bbox=bbox, datetime=None), grid
        )
        http_wc = stac.load_worldcover(
            stac.search_items(url, collection="esa-worldcover", bbox=bbox, datetime=None), grid
        )
        ranged = [r for r in base_url.requests if r[1].endswith(".tif") and r[2]]
    np.testing.assert_array_equal(http_ds["ndvi"].values, local_ds["ndvi"].values)
    np.testing.assert_array_equal(http_ds["valid_obs"].values, local_ds["valid_obs"].values)
    np.testing.assert_array_equal(http_dem.values, local_dem.values)
    np.testing.assert_array_equal(http_wc.values, local_wc.values)
    assert ranged, "GDAL /vsicurl/ should have made ranged GETs"
    assert np.isfinite(local_dem.values).all()
    assert set(np.unique(local_wc.values)) <= {1, 6, 8, 9}


def test_dask_backed_load_is_lazy_and_equal(catalog, grid):
    eager = stac.load_s2_ndvi_halfmonths(_s2_items(catalog), grid, 2023)
    with raise_if_dask_computes():
        lazy = stac.load_s2_ndvi_halfmonths(
            _s2_items(catalog), grid, 2023, chunks={"x": 48, "y": 48}
        )
    assert lazy["ndvi"].chunks is not None
    np.testing.assert_allclose(lazy["ndvi"].values, eager["ndvi"].values, equal_nan=True)


def test_fetchers_write_the_standard_files(catalog, grid, tmp_path):
    ndvi_path = stac.fetch_ndvi(str(catalog), grid, 2023, tmp_path / "ndvi_2023.tif")
    with rasterio.open(ndvi_path) as src:
        assert src.count == 24 and src.dtypes[0] == "int16" and src.nodata == -32768
        assert src.descriptions[0] == "P01" and src.scales[0] == pytest.approx(1e-4)
        assert "S2A_es_20230105" in src.tags()["stac_items"]
    ndvi = open_raster(ndvi_path)
    assert grid.matches(ndvi)
    assert float(ndvi.sel(band="P06")[5, 5]) == pytest.approx(NDVI_PC, abs=1e-4)

    dem_path = stac.fetch_dem(str(catalog), grid, tmp_path / "dem.tif")
    dem = open_raster(dem_path)
    assert dem.attrs["units"] == "m" and grid.matches(dem)
    # the DEM rises 1 m per arc-second eastwards: west-east difference ≈ width in arc-seconds
    w, _, e, _ = stac.grid_bbox_lonlat(grid)
    span = float(dem[:, -1].mean() - dem[:, 0].mean())
    assert span == pytest.approx((e - w) * 3600 * (1 - 1 / dem.sizes["x"]), rel=0.05)

    with pytest.raises(InputDataError, match="no STAC items"):
        stac.fetch_landcover(str(catalog), grid, tmp_path / "lc.tif", datetime="2020")
    lc_path = stac.fetch_landcover(
        str(catalog),
        grid,
        tmp_path / "landcover_2021.tif",
        datetime="2021",
        recode={10: 1, 40: "paddy", 50: 8, 80: 9},
    )
    with rasterio.open(lc_path) as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 255
        assert set(np.unique(src.read(1))) <= {1, 7, 8, 9}


def test_unknown_worldcover_code_is_named(catalog, grid):
    items = stac.search_items(
        str(catalog), collection="esa-worldcover", bbox=stac.grid_bbox_lonlat(grid), datetime=None
    )
    with pytest.raises(InputDataError, match=r"class codes \[40, 50\] are not in the WorldCover"):
        stac.load_worldcover(items, grid, recode={10: 1, 80: 9})


def test_planetary_computer_without_signing_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "planetary_computer", None)  # import fails
    with pytest.raises(SourceError, match="pip install planetary-computer"):
        stac.search_items(
            stac.PLANETARY_COMPUTER,
            collection="sentinel-2-l2a",
            bbox=(116, 25, 117, 26),
            datetime="2023",
        )


def test_api_search_parameters(monkeypatch):
    import pystac_client

    client = mock.MagicMock()
    client.search.return_value.item_collection.return_value = []
    opened = mock.Mock(return_value=client)
    monkeypatch.setattr(pystac_client.Client, "open", opened)
    stac.search_items(
        stac.EARTH_SEARCH,
        collection="sentinel-2-c1-l2a",
        bbox=(116, 25, 117, 26),
        datetime="2023-01-01/2023-12-31",
        query={"eo:cloud_cover": {"lt": 80}},
    )
    opened.assert_called_once_with(stac.EARTH_SEARCH, modifier=None)
    client.search.assert_called_once_with(
        collections=["sentinel-2-c1-l2a"],
        bbox=[116, 25, 117, 26],
        datetime="2023-01-01/2023-12-31",
        query={"eo:cloud_cover": {"lt": 80}},
        max_items=None,
    )
    fake_pc = mock.Mock(sign_inplace="SIGN")
    monkeypatch.setitem(sys.modules, "planetary_computer", fake_pc)
    stac.search_items(
        stac.PLANETARY_COMPUTER, collection="sentinel-2-l2a", bbox=(116, 25, 117, 26), datetime=None
    )
    assert opened.call_args == mock.call(stac.PLANETARY_COMPUTER, modifier="SIGN")


def test_items_without_s2_assets_and_empty_searches_are_errors(grid):
    item = pystac.Item("odd", None, None, dt.datetime(2023, 1, 1), {})
    item.add_asset("visual", pystac.Asset("tci.tif"))
    with pytest.raises(InputDataError, match="no red/NIR/SCL assets"):
        stac.load_s2_observations([item], grid)
    with pytest.raises(InputDataError, match="no Sentinel-2 items"):
        stac.load_s2_observations([], grid)


def test_halfmonth_period_calendar():
    assert stac.halfmonth_period(dt.date(2023, 1, 15)) == 1
    assert stac.halfmonth_period(dt.date(2023, 1, 16)) == 2
    assert stac.halfmonth_period(dt.date(2024, 2, 29)) == 4
    assert stac.halfmonth_period(dt.date(2023, 12, 31)) == 24


def test_same_solar_day_in_two_harmonisation_groups_is_fused(catalog, grid):
    es = _s2_items(catalog, naming="_es_")
    pc = _s2_items(catalog, naming="_pc_")[0].clone()
    pc.datetime = es[0].datetime  # same day as scene A, Planetary Computer naming
    obs = stac.load_s2_observations([*es, pc], grid)
    assert [str(t)[:10] for t in obs["time"].values] == ["2023-01-05", "2023-01-10"]
    day = obs.isel(time=0).values
    # clear pixels: mean of A and the PC scene (both NDVI_A); A's cloud block: the PC scene
    np.testing.assert_allclose(day, NDVI_A, rtol=1e-5)


def test_catalogue_for_several_years(tmp_path):
    cat = write_static_catalog(tmp_path / "stac", years=(2023, 2024), size_px=64)
    items = stac.search_items(
        str(cat), collection="sentinel-2-c1-l2a", bbox=(116, 25, 117, 26), datetime="2024"
    )
    assert [it.id for it in items] == [
        "S2A_es_20240105",
        "S2B_es_20240110",
        "S2A_pc_20240305",
        "S2B_pc_20240320",
    ]
