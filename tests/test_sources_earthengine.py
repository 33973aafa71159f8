"""Earth Engine source, offline: earthengine-api's own ApiTestCase and mocked REST resources.

- golden serialized expressions of every builder (tests/golden/earthengine_expressions.json,
  frozen and reviewed: no test writes it; a deliberate change replaces an entry in a reviewed
  commit, and tests/test_sources_earthengine_requests.py checks the essentials of the golden
  graphs as well as of the current ones);
- exact computePixels request bodies (grid, CRS, band IDs) as sent to the REST resource;
- a large AOI split into requests under 48 MB, 32 768 px and 1 024 bands;
- HTTP 429 then success is retried (injected sleep, no waiting); quota exhaustion → QuotaError;
- cache with provenance: a rerun sends no request;
- the fetchers write the standard files (dem, ndvi, landcover, soil, rain) from mocked pixels.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path
from unittest import mock

import ee
import httplib2
import numpy as np
import pytest
import rasterio
import shapely
import xarray as xr
from affine import Affine
from ee import apitestcase, serializer
from googleapiclient.errors import HttpError

from pipeline.errors import AuthenticationError, QuotaError, SourceError
from pipeline.grid import AnalysisGrid
from pipeline.io import open_raster
from pipeline.sources import _cache
from pipeline.sources import earthengine as gee
from pipeline.sources.local import grid_from_aoi

GOLDEN = Path(__file__).parent / "golden" / "earthengine_expressions.json"
AOI = shapely.box(116.38, 25.66, 116.42, 25.70)


@pytest.fixture
def ee_offline():
    case = apitestcase.ApiTestCase()
    case.setUp()
    yield case
    case.tearDown()


def _npy_response(body, value_fn):
    """A computePixels NPY payload for ``body``: one float32 field per band."""
    g = body["grid"]
    h, w = g["dimensions"]["height"], g["dimensions"]["width"]
    t = g["affineTransform"]
    rows = np.arange(h)[:, None] * t["scaleY"] + t["translateY"]
    cols = np.arange(w)[None, :] * t["scaleX"] + t["translateX"]
    arr = np.zeros((h, w), dtype=[(b, "<f4") for b in body["bandIds"]])
    for i, band in enumerate(body["bandIds"]):
        arr[band] = value_fn(i, rows + 0 * cols, cols + 0 * rows)
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


class FakeRest:
    """Mock REST resource recording computePixels bodies and answering with pixels."""

    def __init__(self, value_fn=lambda i, y, x: y - x + i, failures=()):
        self.raw = mock.MagicMock()
        self.bodies: list[dict] = []
        self.failures = list(failures)
        self.value_fn = value_fn
        self.raw.projects.return_value.image.return_value.computePixels.side_effect = self._call

    def _call(self, project, body):
        self.bodies.append(body)
        request = mock.MagicMock()
        if self.failures:
            status = self.failures.pop(0)
            content = json.dumps({"error": {"message": f"HTTP {status} from fake"}}).encode()
            request.execute.side_effect = HttpError(httplib2.Response({"status": status}), content)
        else:
            request.execute.return_value = _npy_response(body, self.value_fn)
        return request

    def __enter__(self):
        self._ctx = apitestcase.UsingCloudApi(cloud_api_resource_raw=self.raw)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


# ----------------------------------------------------------------------- golden graphs
def _builders():
    return {
        "dem_glo30": lambda: gee.build_dem(AOI),
        "dem_nasadem": lambda: gee.build_dem(AOI, dataset="NASA/NASADEM_HGT/001"),
        "chirps_2014_2015": lambda: gee.build_chirps_daily(AOI, [2014, 2015]),
        "soilgrids_0_30cm": lambda: gee.build_soilgrids(AOI),
        "worldcover_v200": lambda: gee.build_worldcover(AOI),
        "s2_ndvi_2023": lambda: gee.build_s2_ndvi_halfmonths(AOI, 2023),
    }


HASH_ONLY = {"s2_ndvi_2023"}  # ~116 kB of JSON: keep only its hash in the repo


def test_builders_match_golden_expressions(ee_offline):
    current = {}
    for name, build in _builders().items():
        text = build().serialize(for_cloud_api=True)
        entry = {"sha256": hashlib.sha256(text.encode()).hexdigest(), "chars": len(text)}
        if name not in HASH_ONLY:
            entry["expression"] = json.loads(text)
        current[name] = entry
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(golden) == sorted(current)
    for name, entry in current.items():
        if name not in HASH_ONLY:
            assert entry["expression"] == golden[name]["expression"], name
        assert entry["sha256"] == golden[name]["sha256"], name


def test_builders_are_deterministic_and_do_no_io(ee_offline):
    with mock.patch.object(ee.data, "computeValue", side_effect=AssertionError("getInfo")):
        first = gee.build_s2_ndvi_halfmonths(AOI, 2023).serialize(for_cloud_api=True)
        second = gee.build_s2_ndvi_halfmonths(AOI, 2023).serialize(for_cloud_api=True)
    assert first == second


def test_s2_graph_uses_cloud_score_plus_and_24_periods(ee_offline):
    text = gee.build_s2_ndvi_halfmonths(AOI, 2023, cs_threshold=0.65).serialize(for_cloud_api=True)
    assert "COPERNICUS/S2_SR_HARMONIZED" in text
    assert "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED" in text
    assert '"Image.linkCollection"' in text and '"ImageCollection.fromImages"' in text
    assert '"constantValue": 0.65' in text or '"constantValue":0.65' in text
    assert "QA60" not in text  # QA60 is empty Feb 2022 – Feb 2024
    for _p, start, _end in gee.halfmonth_periods(2023):
        assert f'"{start.isoformat()}"' in text  # every period's window is in the graph
    periods = gee.halfmonth_periods(2023)
    assert len(periods) == 24
    assert periods[0][1].isoformat() == "2023-01-01" and periods[1][1].isoformat() == "2023-01-16"
    assert periods[3][2].isoformat() == "2023-03-01"  # period 4 = Feb 16–28
    assert periods[-1][2].isoformat() == "2024-01-01"


def test_soilgrids_unit_conversions(ee_offline):
    """g/kg ÷ 10 → %; soc dg/kg ÷ 100 → %; layers weighted by thickness 5/10/15 cm."""
    text = gee.build_soilgrids(AOI).serialize(for_cloud_api=True)
    consts = {float(v) for v in re.findall(r'"constantValue":\s*([0-9.eE+-]+)', text)}
    for thickness in (5, 10, 15):
        assert any(abs(c - thickness / 30 / 10) < 1e-12 for c in consts), thickness
        assert any(abs(c - thickness / 30 / 100) < 1e-12 for c in consts), thickness
    for band in ("sand_0-5cm_mean", "silt_5-15cm_mean", "clay_15-30cm_mean", "soc_0-5cm_mean"):
        assert band in text


def test_worldcover_recode_is_sent_to_the_server(ee_offline):
    text = gee.build_worldcover(AOI, recode={10: "forest", 40: "paddy"}).serialize(
        for_cloud_api=True
    )
    remaps = _invocations(json.loads(text), "Image.remap")
    assert len(remaps) == 1
    args = remaps[0]
    assert args["from"]["constantValue"] == [10, 40]
    assert args["to"]["constantValue"] == [1, 7]
    assert args["defaultValue"]["constantValue"] == 255


def test_builders_reject_bad_config(ee_offline):
    with pytest.raises(Exception, match="DEM dataset 'X' is not supported"):
        gee.build_dem(AOI, dataset="X")
    with pytest.raises(Exception, match="consecutive"):
        gee.build_chirps_daily(AOI, [2014, 2016])
    with pytest.raises(Exception, match="cs_threshold must be within 0–1"):
        gee.build_s2_ndvi_halfmonths(AOI, 2023, cs_threshold=60)
    with pytest.raises(Exception, match="WorldCover version 'v300'"):
        gee.build_worldcover(AOI, version="v300")


def _invocations(node, function_name):
    """Arguments of every invocation of ``function_name`` anywhere in a serialized graph."""
    found = []
    if isinstance(node, dict):
        if node.get("functionName") == function_name:
            found.append(node["arguments"])
        for value in node.values():
            found += _invocations(value, function_name)
    elif isinstance(node, list):
        for value in node:
            found += _invocations(value, function_name)
    return found


# --------------------------------------------------------------------- request bodies
def test_request_grid_for_an_epsg_grid_is_the_grid_itself():
    g = AnalysisGrid.from_bounds("EPSG:32650", 400000, 2840000, 400300, 2840200, 10)
    assert gee.ee_request_grid(g) == {
        "dimensions": {"width": 30, "height": 20},
        "affineTransform": {
            "scaleX": 10.0,
            "shearX": 0.0,
            "translateX": 400000.0,
            "shearY": 0.0,
            "scaleY": -10.0,
            "translateY": 2840200.0,
        },
        "crsCode": "EPSG:32650",
    }


def test_request_grid_for_the_albers_grid_is_utm_covering_it():
    g = grid_from_aoi(AOI, resolution_m=30)
    req = gee.ee_request_grid(g, scale_m=30)
    assert req["crsCode"] == "EPSG:32650"  # 116.4°E is in UTM zone 50
    t = gee.grid_affine(req)
    assert t.a == 30 and t.e == -30 and t.c % 30 == 0 and t.f % 30 == 0
    # the request covers the analysis grid's outline
    from pyproj import Transformer

    tr = Transformer.from_crs(g.crs, "EPSG:32650", always_xy=True)
    left, b, r, top = tr.transform_bounds(*g.bounds, densify_pts=21)
    w, h = req["dimensions"]["width"], req["dimensions"]["height"]
    assert t.c <= left and t.f >= top and t.c + 30 * w >= r and t.f - 30 * h <= b


def test_chirps_grid_sits_on_the_native_005_degree_lattice():
    g = grid_from_aoi(AOI, resolution_m=30)
    req = gee.chirps_request_grid(g)
    t = gee.grid_affine(req)
    assert req["crsCode"] == "EPSG:4326"
    assert t.a == 0.05 and t.e == -0.05
    assert abs(t.c / 0.05 - round(t.c / 0.05)) < 1e-9 and abs(t.f / 0.05 - round(t.f / 0.05)) < 1e-9
    assert t.c < 116.38 - 0.05 + 1e-9 and t.f > 25.70 + 0.05 - 1e-9  # one cell of buffer


def test_compute_pixels_request_bodies_are_exact(ee_offline, tmp_path):
    grid = gee.ee_request_grid(
        AnalysisGrid.from_bounds("EPSG:32650", 400000, 2840000, 400300, 2840200, 10)
    )
    image = gee.build_dem(AOI)
    prepared = gee.prepare_for_download(image, band_ids=["elevation"], dtype="float32")
    with FakeRest() as rest:
        gee.fetch_image(
            image, tmp_path / "dem_raw.tif", grid, band_ids=["elevation"], progress=False
        )
    assert len(rest.bodies) == 1
    _, kwargs = rest.raw.projects.return_value.image.return_value.computePixels.call_args
    assert kwargs["project"] == "projects/my-project"
    assert kwargs["body"] == {
        "expression": serializer.encode(prepared),
        "fileFormat": "NPY",  # what earthengine-api sends for NUMPY_NDARRAY
        "bandIds": ["elevation"],
        "grid": grid,
    }


def test_tiles_are_assembled_in_place(ee_offline, tmp_path):
    grid = {
        "dimensions": {"width": 70, "height": 50},
        "affineTransform": {
            "scaleX": 10.0,
            "shearX": 0.0,
            "translateX": 400000.0,
            "shearY": 0.0,
            "scaleY": -10.0,
            "translateY": 2840500.0,
        },
        "crsCode": "EPSG:32650",
    }
    # 2 bands × 4 bytes; 6,000 bytes per request → several tiles
    with FakeRest(value_fn=lambda i, y, x: (y - 2840000) * 1000 + (x - 400000) + i) as rest:
        out = gee.fetch_image(
            gee.build_dem(AOI).addBands(gee.build_dem(AOI).rename("e2")),
            tmp_path / "tiles.tif",
            grid,
            band_ids=["elevation", "e2"],
            max_bytes=6000,
            progress=False,
        )
    assert len(rest.bodies) > 4
    with rasterio.open(out) as src:
        data = src.read()
        assert src.crs.to_epsg() == 32650 and src.transform == gee.grid_affine(grid)
        assert src.descriptions == ("elevation", "e2")
    rows = (2840500 - 10 * np.arange(50))[:, None] - 2840000
    cols = (10 * np.arange(70))[None, :]
    np.testing.assert_array_equal(data[0], rows * 1000 + cols)
    np.testing.assert_array_equal(data[1], rows * 1000 + cols + 1)


def test_large_aoi_is_split_under_the_limits(ee_offline):
    image = gee.build_s2_ndvi_halfmonths(AOI, 2023)
    stack = gee.ndvi_period_stack(image)
    width, height = 70_000, 40_000  # 700 km × 400 km at 10 m
    grid = gee._pixel_grid("EPSG:32650", Affine(10, 0, 200000, 0, -10, 3000000), width, height)
    bands = [f"P{p:02d}" for p in range(1, 25)]
    bodies = gee.compute_pixels_requests(stack, grid, band_ids=bands, dtype_bytes=2)
    covered = 0
    seen = set()
    for body in bodies:
        d = body["grid"]["dimensions"]
        assert d["width"] <= 32768 and d["height"] <= 32768
        assert d["width"] * d["height"] * len(body["bandIds"]) * 2 <= 48e6
        assert body["grid"]["crsCode"] == "EPSG:32650" and body["expression"] is stack
        t = body["grid"]["affineTransform"]
        col0 = (t["translateX"] - 200000) / 10
        row0 = (3000000 - t["translateY"]) / 10
        assert col0 == int(col0) and row0 == int(row0)
        key = (int(row0), int(col0), tuple(body["bandIds"]))
        assert key not in seen
        seen.add(key)
        covered += d["width"] * d["height"] * len(body["bandIds"])
    assert covered == width * height * len(bands)
    minimum = width * height * len(bands) * 2 / 48e6  # 2,800 requests of exactly 48 MB
    assert minimum <= len(bodies) <= 1.05 * minimum


def test_more_than_1024_bands_are_split_into_band_groups(ee_offline):
    grid = gee._pixel_grid("EPSG:4326", Affine(0.05, 0, 116, 0, -0.05, 26), 4, 3)
    bands = [f"b{i}" for i in range(1100)]
    bodies = gee.compute_pixels_requests(
        ee.Image(1), grid, band_ids=bands, dtype_bytes=4, file_format="GEO_TIFF"
    )
    assert [len(b["bandIds"]) for b in bodies] == [1024, 76]
    assert sum((b["bandIds"] for b in bodies), []) == bands


def test_npy_band_groups_keep_the_header_loadable(ee_offline):
    """numpy.load refuses .npy headers over 10,000 bytes (366 CHIRPS bands make 12,918)."""
    grid = gee._pixel_grid("EPSG:4326", Affine(0.05, 0, 116, 0, -0.05, 26), 4, 3)
    bands = [f"2020{d:04d}_precipitation" for d in range(366)]
    bodies = gee.compute_pixels_requests(ee.Image(1), grid, band_ids=bands, dtype_bytes=4)
    assert len(bodies) == 2
    for body in bodies:
        payload = _npy_response(body, lambda i, y, x: y)
        assert np.load(io.BytesIO(payload)).dtype.names == tuple(body["bandIds"])


# ------------------------------------------------------------------------- retries
def test_429_then_success_is_retried(ee_offline, tmp_path):
    grid = gee.ee_request_grid(
        AnalysisGrid.from_bounds("EPSG:32650", 400000, 2840000, 400300, 2840200, 10)
    )
    sleeps = []
    with FakeRest(failures=[429]) as rest:
        out = gee.fetch_image(
            gee.build_dem(AOI),
            tmp_path / "r.tif",
            grid,
            band_ids=["elevation"],
            sleep=sleeps.append,
            backoff_s=1.5,
            progress=False,
        )
    assert len(rest.bodies) == 2 and rest.bodies[0] == rest.bodies[1]
    assert sleeps == [1.5]
    assert out.exists()


def test_persistent_429_raises_quota_error_after_backoff(ee_offline, tmp_path):
    grid = gee.ee_request_grid(
        AnalysisGrid.from_bounds("EPSG:32650", 400000, 2840000, 400300, 2840200, 10)
    )
    sleeps = []
    with FakeRest(failures=[429] * 4), pytest.raises(QuotaError, match="quota or rate limit"):
        gee.fetch_image(
            gee.build_dem(AOI),
            tmp_path / "q.tif",
            grid,
            band_ids=["elevation"],
            sleep=sleeps.append,
            max_retries=3,
            backoff_s=2.0,
            progress=False,
        )
    assert sleeps == [2.0, 4.0, 8.0]
    assert not (tmp_path / "q.tif").exists()


def test_503_is_retried_and_400_is_not(ee_offline, tmp_path):
    grid = gee.ee_request_grid(
        AnalysisGrid.from_bounds("EPSG:32650", 400000, 2840000, 400300, 2840200, 10)
    )
    sleeps = []
    with FakeRest(failures=[503, 503]) as rest:
        gee.fetch_image(
            gee.build_dem(AOI),
            tmp_path / "a.tif",
            grid,
            band_ids=["elevation"],
            sleep=sleeps.append,
            progress=False,
        )
    assert len(rest.bodies) == 3 and sleeps == [2.0, 4.0]
    with FakeRest(failures=[400]), pytest.raises(SourceError, match="HTTP 400 from fake"):
        gee.fetch_image(
            gee.build_dem(AOI),
            tmp_path / "b.tif",
            grid,
            band_ids=["elevation"],
            sleep=sleeps.append,
            progress=False,
        )
    assert sleeps == [2.0, 4.0]


# --------------------------------------------------------------------------- cache
def test_rerun_uses_the_cache_and_records_provenance(ee_offline, tmp_path):
    grid = gee.ee_request_grid(
        AnalysisGrid.from_bounds("EPSG:32650", 400000, 2840000, 400300, 2840200, 10)
    )
    out = tmp_path / "c.tif"
    with FakeRest() as rest:
        gee.fetch_image(
            gee.build_dem(AOI),
            out,
            grid,
            band_ids=["elevation"],
            progress=False,
            provenance={"dates": "static"},
        )
        first = out.read_bytes()
        gee.fetch_image(gee.build_dem(AOI), out, grid, band_ids=["elevation"], progress=False)
        assert len(rest.bodies) == 1  # second call: cached
        other = gee.build_dem(AOI, dataset="NASA/NASADEM_HGT/001")
        gee.fetch_image(other, out, grid, band_ids=["elevation"], progress=False)
        assert len(rest.bodies) == 2  # another expression: downloaded again
    record = _cache.read_provenance(out)
    assert record["asset_ids"] == ["NASA/NASADEM_HGT/001"]
    assert len(record["request_hash"]) == 64 and record["n_requests"] == 1
    assert first[:4] in (b"II*\x00", b"MM\x00*")


# ------------------------------------------------------------------ authentication
def test_missing_credentials_say_what_to_set(monkeypatch):
    import google.auth
    import google.auth.exceptions

    monkeypatch.delenv("EE_SERVICE_ACCOUNT_KEY", raising=False)
    monkeypatch.setattr(
        google.auth,
        "default",
        mock.Mock(side_effect=google.auth.exceptions.DefaultCredentialsError("none")),
    )
    init = mock.Mock()
    monkeypatch.setattr(ee, "Initialize", init)
    with pytest.raises(AuthenticationError, match="set EE_SERVICE_ACCOUNT_KEY") as err:
        gee.initialize()
    assert "application-default" in str(err.value)
    init.assert_not_called()


def test_service_account_key_from_environment(monkeypatch):
    key = {
        "client_email": "sb@proj.iam.gserviceaccount.com",
        "project_id": "shuibao-proj",
        "private_key": "x",
    }
    monkeypatch.setenv("MY_EE_KEY", json.dumps(key))
    creds = mock.Mock(return_value="CREDS")
    init = mock.Mock()
    monkeypatch.setattr(ee, "ServiceAccountCredentials", creds)
    monkeypatch.setattr(ee, "Initialize", init)
    assert gee.initialize(key_env="MY_EE_KEY") == "shuibao-proj"
    creds.assert_called_once_with(key["client_email"], key_data=json.dumps(key))
    init.assert_called_once_with("CREDS", project="shuibao-proj", url=gee.HIGH_VOLUME_URL)


def test_bad_key_in_environment_is_an_authentication_error(monkeypatch, tmp_path):
    monkeypatch.setenv("EE_SERVICE_ACCOUNT_KEY", '{"not": "a key"}')
    with pytest.raises(AuthenticationError, match="does not hold a service-account JSON key"):
        gee.initialize()
    monkeypatch.setenv("EE_SERVICE_ACCOUNT_KEY", str(tmp_path / "missing.json"))
    with pytest.raises(AuthenticationError, match="neither a JSON service-account key"):
        gee.initialize()


# -------------------------------------------------------------- standard files
@pytest.fixture
def albers_grid():
    return grid_from_aoi(AOI, resolution_m=60)


def test_fetch_dem_and_ndvi_write_the_standard_files(ee_offline, tmp_path, albers_grid):
    with FakeRest(value_fn=lambda i, y, x: 300.0 + 0 * y) as rest:
        dem_path = gee.fetch_dem(albers_grid, tmp_path / "dem.tif", progress=False)
    assert rest.bodies[0]["grid"]["crsCode"] == "EPSG:32650"
    dem = open_raster(dem_path)
    assert albers_grid.matches(dem) and dem.attrs["units"] == "m"
    np.testing.assert_allclose(dem.values, 300.0, rtol=1e-6)

    with FakeRest(value_fn=lambda i, y, x: 100.0 * (i + 1) + 0 * y) as rest:
        ndvi_path = gee.fetch_ndvi(albers_grid, 2023, tmp_path / "ndvi_2023.tif", progress=False)
    assert rest.bodies[0]["bandIds"] == [f"P{p:02d}" for p in range(1, 25)]
    with rasterio.open(ndvi_path) as src:
        assert src.count == 24 and src.dtypes[0] == "int16" and src.nodata == -32768
        assert src.scales[0] == pytest.approx(1e-4) and src.descriptions[0] == "P01"
    ndvi = open_raster(ndvi_path)
    np.testing.assert_allclose(ndvi.isel(band=2).values, 0.03, atol=1e-6)  # 300 × 1e-4


def test_fetch_landcover_soil_and_chirps(ee_offline, tmp_path, albers_grid):
    with FakeRest(value_fn=lambda i, y, x: np.where(x < x.mean(), 1, 7) + 0 * y):
        lc = gee.fetch_landcover(albers_grid, tmp_path / "landcover_2021.tif", progress=False)
    with rasterio.open(lc) as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 255
        assert set(np.unique(src.read(1))) == {1, 7}

    with FakeRest(value_fn=lambda i, y, x: [40.0, 40.0, 20.0, 1.5][i] + 0 * y) as rest:
        soil = gee.fetch_soil(albers_grid, tmp_path / "soil.tif", progress=False)
    assert rest.bodies[0]["bandIds"] == ["sand_pct", "silt_pct", "clay_pct", "organic_carbon_pct"]
    assert gee.grid_affine(rest.bodies[0]["grid"]).a == 250.0
    with rasterio.open(soil) as src:
        assert src.descriptions == ("sand_pct", "silt_pct", "clay_pct", "organic_carbon_pct")
        np.testing.assert_allclose(src.read()[:, 0, 0], [40, 40, 20, 1.5], rtol=1e-6)

    with FakeRest(value_fn=lambda i, y, x: float(i % 7) + 0 * y) as rest:
        rain_path = gee.fetch_chirps(
            albers_grid, [2020], tmp_path / "rain_daily.nc", progress=False
        )
    sent = sum((b["bandIds"] for b in rest.bodies), [])
    assert len(sent) == 366 and len(rest.bodies) == 2  # leap year; two band groups (npy header)
    assert sent[59] == "20200229_precipitation"
    rain = xr.open_dataset(rain_path, decode_coords="all")["precipitation"]
    assert rain.dims == ("time", "y", "x") and rain.attrs["units"] == "mm/day"
    assert rain.rio.crs.to_epsg() == 4326 and rain.sizes["time"] == 366
    assert float(rain.isel(time=3).mean()) == 3.0
    rain.close()


def test_fetchers_initialise_earth_engine_first(monkeypatch, tmp_path):
    """Without an initialised client the fetcher authenticates before building anything."""
    monkeypatch.setattr(ee.data, "is_initialized", lambda: False)
    init = mock.Mock(side_effect=AuthenticationError("no credentials (test)"))
    # the fetchers authenticate through the transport module
    monkeypatch.setattr(gee.transport, "initialize", init)
    grid = grid_from_aoi(AOI, resolution_m=60)
    with pytest.raises(AuthenticationError, match="no credentials"):
        gee.fetch_dem(grid, tmp_path / "dem.tif", project="p1", key_env="K")
    init.assert_called_once_with(project="p1", key_env="K")
