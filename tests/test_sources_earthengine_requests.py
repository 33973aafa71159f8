"""The essentials of every Earth Engine request, asserted on the serialized expression graph.

The frozen goldens (tests/golden/earthengine_expressions.json) say only "nothing
changed"; these tests say *what* is asked for: dataset IDs, bands, filters, masks,
reducers, unit conversions and request scales, as listed in the Earth Engine
catalogue (and the SoilGrids community catalogue). They run on the builders'
current graphs **and** on the golden graphs, so a golden that lost an essential
cannot pass review. Offline: earthengine-api builds and serializes graphs without
a connection (``ee.apitestcase.ApiTestCase``).
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import shapely
import yaml
from ee import apitestcase

from pipeline.sources import earthengine as ee_src
from pipeline.sources.local import WORLDCOVER_TO_SHUIBAO

GOLDEN = Path(__file__).parent / "golden" / "earthengine_expressions.json"
SCHEMA = Path(__file__).resolve().parents[1] / "configs" / "schema.yaml"
AOI = shapely.box(116.38, 25.66, 116.42, 25.70)


@pytest.fixture
def ee_offline():
    case = apitestcase.ApiTestCase()
    case.setUp()
    yield case
    case.tearDown()


# ------------------------------------------------------------ graph decoding
@dataclass(eq=False)
class Call:
    """One function invocation of the graph; ``args`` hold decoded values."""

    fn: str
    args: dict = field(default_factory=dict)


@dataclass(eq=False)
class Lambda:
    """A function definition (e.g. the body mapped over a collection)."""

    params: list
    body: object


class Graph:
    """A serialized (cloud API) expression, with value references resolved once."""

    def __init__(self, serialized: dict):
        self._values = serialized["values"]
        self._memo: dict[str, object] = {}
        self.root = self._ref(serialized["result"])

    def _ref(self, key):
        if key not in self._memo:
            self._memo[key] = None  # guards against cycles (there are none)
            self._memo[key] = self._decode(self._values[key])
        return self._memo[key]

    def _decode(self, node):
        if "constantValue" in node:
            return node["constantValue"]
        if "valueReference" in node:
            return self._ref(node["valueReference"])
        if "arrayValue" in node:
            return [self._decode(v) for v in node["arrayValue"].get("values", [])]
        if "dictionaryValue" in node:
            return {k: self._decode(v) for k, v in node["dictionaryValue"]["values"].items()}
        if "functionInvocationValue" in node:
            f = node["functionInvocationValue"]
            args = {k: self._decode(v) for k, v in f.get("arguments", {}).items()}
            return Call(f["functionName"], args)
        if "functionDefinitionValue" in node:
            f = node["functionDefinitionValue"]
            return Lambda(f["argumentNames"], self._ref(f["body"]))
        if "argumentReference" in node:
            return ("arg", node["argumentReference"])
        if "bytesValue" in node or "integerValue" in node:
            return node.get("bytesValue", node.get("integerValue"))
        raise AssertionError(f"unknown graph node {sorted(node)}")

    def calls(self, fn: str, start=None) -> list[Call]:
        """Every distinct invocation of ``fn`` reachable from ``start`` (the root)."""
        found, seen, stack = [], set(), [self.root if start is None else start]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, Call):
                if node.fn == fn:
                    found.append(node)
                stack.extend(node.args.values())
            elif isinstance(node, Lambda):
                stack.append(node.body)
            elif isinstance(node, list | tuple):
                stack.extend(node)
            elif isinstance(node, dict):
                stack.extend(node.values())
        return found

    def loaded_ids(self) -> set[str]:
        return {c.args["id"] for c in self.calls("ImageCollection.load") + self.calls("Image.load")}

    def constants(self, fn: str, arg: str) -> list:
        return [c.args[arg] for c in self.calls(fn)]


def _current(name) -> Graph:
    build = {
        "dem_glo30": lambda: ee_src.build_dem(AOI),
        "dem_nasadem": lambda: ee_src.build_dem(AOI, dataset="NASA/NASADEM_HGT/001"),
        "chirps_2014_2015": lambda: ee_src.build_chirps_daily(AOI, [2014, 2015]),
        "soilgrids_0_30cm": lambda: ee_src.build_soilgrids(AOI),
        "worldcover_v200": lambda: ee_src.build_worldcover(AOI),
        "s2_ndvi_2023": lambda: ee_src.build_s2_ndvi_halfmonths(AOI, 2023),
    }[name]
    return Graph(json.loads(build().serialize(for_cloud_api=True)))


def _golden(name) -> Graph | None:
    entry = json.loads(GOLDEN.read_text(encoding="utf-8"))[name]
    return Graph(entry["expression"]) if "expression" in entry else None


def _graphs(name) -> list[Graph]:
    """The builder's current graph, and the frozen golden one when the golden keeps it."""
    golden = _golden(name)
    return [_current(name)] + ([golden] if golden is not None else [])


def _aoi_filtered(g: Graph) -> None:
    """filterBounds(AOI): Filter.intersects on '.all' with the AOI polygon's corners."""
    (flt,) = g.calls("Filter.intersects")
    assert flt.args["leftField"] == ".all"
    (poly,) = g.calls("GeometryConstructors.Polygon", flt)
    ring = poly.args["coordinates"][0]
    lons = sorted({round(p[0], 6) for p in ring})
    lats = sorted({round(p[1], 6) for p in ring})
    assert lons == [116.38, 116.42] and lats == [25.66, 25.70]


# ------------------------------------------------------------------------ DEM
def test_dem_glo30_request(ee_offline):
    """COPERNICUS/DEM/GLO30 is a tiled ImageCollection: band DEM, mosaic of the tiles over
    the AOI, with the tiles' projection set back (a bare mosaic is 1° WGS84)."""
    for g in _graphs("dem_glo30"):
        assert g.loaded_ids() == {"COPERNICUS/DEM/GLO30"}
        assert g.constants("Image.select", "bandSelectors") == [["DEM"]]
        _aoi_filtered(g)
        root = g.root
        assert root.fn == "Image.resample" and root.args["mode"] == "bilinear"
        assert root.args["image"].fn == "Image.toFloat"
        (setproj,) = g.calls("Image.setDefaultProjection")
        assert setproj.args["image"].fn == "ImageCollection.mosaic"
        assert setproj.args["crs"].fn == "Image.projection"
        assert setproj.args["crs"].args["image"].fn == "Collection.first"
        assert g.constants("Image.rename", "names") == [["elevation"]]


def test_dem_nasadem_request(ee_offline):
    for g in _graphs("dem_nasadem"):
        assert g.loaded_ids() == {"NASA/NASADEM_HGT/001"}
        assert g.calls("ImageCollection.load") == []  # a single Image
        assert g.constants("Image.select", "bandSelectors") == [["elevation"]]
        assert g.root.fn == "Image.resample" and g.root.args["mode"] == "bilinear"


# ---------------------------------------------------------------------- CHIRPS
def test_chirps_request(ee_offline):
    """UCSB-CHG/CHIRPS/DAILY band precipitation (mm/day), whole calendar years."""
    for g in _graphs("chirps_2014_2015"):
        assert g.loaded_ids() == {"UCSB-CHG/CHIRPS/DAILY"}
        assert g.constants("Image.select", "bandSelectors") == [["precipitation"]]
        (rng,) = g.calls("DateRange")
        assert (rng.args["start"], rng.args["end"]) == ("2014-01-01", "2016-01-01")
        (flt,) = g.calls("Filter.dateRangeContains")
        assert flt.args["rightField"] == "system:time_start"


# ------------------------------------------------------------------- SoilGrids
def test_soilgrids_request(ee_offline):
    """projects/soilgrids-isric/{sand,silt,clay,soc}_mean, bands {var}_{depth}_mean.

    Stored units (community catalogue): sand/silt/clay g/kg → % is ÷ 10; soc dg/kg
    → % is ÷ 100. Each depth is weighted by thickness / 30 cm (5, 10, 15 cm).
    """
    for g in _graphs("soilgrids_0_30cm"):
        assert g.loaded_ids() == {
            f"projects/soilgrids-isric/{v}_mean" for v in ("sand", "silt", "clay", "soc")
        }
        selected = {tuple(b) for b in g.constants("Image.select", "bandSelectors")}
        assert selected == {
            (f"{v}_{d}_mean",)
            for v in ("sand", "silt", "clay", "soc")
            for d in ("0-5cm", "5-15cm", "15-30cm")
        }
        for mult in g.calls("Image.multiply"):
            (band,) = mult.args["image1"].args["bandSelectors"]
            var, depth, _ = band.split("_")
            top, bottom = (int(v) for v in depth.removesuffix("cm").split("-"))
            divisor = 100.0 if var == "soc" else 10.0
            weight = mult.args["image2"].args["value"]
            assert weight == pytest.approx((bottom - top) / 30 / divisor, rel=1e-12), band
        renamed = sorted(n for names in g.constants("Image.rename", "names") for n in names)
        assert renamed == sorted(["sand_pct", "silt_pct", "clay_pct", "organic_carbon_pct"])
        assert g.root.fn == "Image.resample" and g.root.args["mode"] == "bilinear"


# ------------------------------------------------------------------ WorldCover
def test_worldcover_request(ee_offline):
    """ESA/WorldCover/v200 (2021) band Map, remapped to Shuibao codes, nodata 255."""
    for g in _graphs("worldcover_v200"):
        assert g.loaded_ids() == {"ESA/WorldCover/v200"}
        assert g.constants("Image.select", "bandSelectors") == [["Map"]]
        (remap,) = g.calls("Image.remap")
        src, dst = remap.args["from"], remap.args["to"]
        assert src == sorted(WORLDCOVER_TO_SHUIBAO)
        assert set(src) <= {10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100}  # the WorldCover legend
        assert remap.args["defaultValue"] == 255
        assert all(1 <= d <= 11 for d in dst)
        assert g.root.fn == "Image.rename" and g.root.args["names"] == ["landcover"]
        assert g.root.args["input"].fn == "Image.toUint8"


# ------------------------------------------------------------------ Sentinel-2
def test_s2_ndvi_request(ee_offline):
    """COPERNICUS/S2_SR_HARMONIZED linked to GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED (cs_cdf),
    clear where cs_cdf ≥ 0.6, scenes with CLOUDY_PIXEL_PERCENTAGE < 80, NDVI from B8/B4,
    median per period, count of clear observations; 24 half-month images."""
    g = _current("s2_ndvi_2023")
    assert g.loaded_ids() == {
        "COPERNICUS/S2_SR_HARMONIZED",
        "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED",
    }
    (link,) = g.calls("Image.linkCollection")
    assert link.args["linkedBands"] == ["cs_cdf"]
    assert link.args["imageCollection"].fn == "ImageCollection.load"
    assert link.args["imageCollection"].args["id"] == "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED"
    (gte,) = g.calls("Image.gte")
    assert gte.args["image1"].fn == "Image.select"
    assert gte.args["image1"].args["bandSelectors"] == ["cs_cdf"]
    assert gte.args["image2"].args["value"] == 0.6
    (lt,) = g.calls("Filter.lessThan")
    assert lt.args["leftField"] == "CLOUDY_PIXEL_PERCENTAGE" and lt.args["rightValue"] == 80.0
    (nd,) = g.calls("Image.normalizedDifference")
    assert nd.args["bandNames"] == ["B8", "B4"]
    # NDVI masked by Cloud Score+; the other mask is the all-masked placeholder image
    (cs_mask,) = [m for m in g.calls("Image.updateMask") if m.args["mask"] is gte]
    assert cs_mask.args["image"].args["input"] is nd
    (empty,) = [m for m in g.calls("Image.updateMask") if m is not cs_mask]
    assert empty.args["mask"].fn == "Image.constant" and empty.args["mask"].args["value"] == 0
    _aoi_filtered(g)
    assert len(g.calls("reduce.median")) == 24 + 2 * 24 + 1  # own, ±1, ±3 windows, annual
    assert len(g.calls("reduce.count")) == 24
    assert "QA60" not in json.dumps(
        json.loads(ee_src.build_s2_ndvi_halfmonths(AOI, 2023).serialize(for_cloud_api=True))
    )
    root = g.root
    assert root.fn == "ImageCollection.fromImages" and len(root.args["images"]) == 24
    periods = sorted(
        s.args["value"]
        for img in root.args["images"]
        for s in g.calls("Element.set", img)
        if s.args["key"] == "period"
    )
    assert periods == list(range(1, 25))


def test_s2_without_gap_fill_has_one_median_per_period(ee_offline):
    g = Graph(
        json.loads(
            ee_src.build_s2_ndvi_halfmonths(
                AOI, 2023, gap_fill=False, max_cloud_pct=None, cs_threshold=0.65
            ).serialize(for_cloud_api=True)
        )
    )
    assert len(g.calls("reduce.median")) == 24  # own period only (annual median unused)
    assert g.calls("Filter.lessThan") == []
    (gte,) = g.calls("Image.gte")
    assert gte.args["image2"].args["value"] == 0.65


# ---------------------------------------------------------------------- scales
def _schema_ee_defaults() -> dict:
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    props = schema["properties"]["source"]["properties"]["earthengine"]["properties"]
    return {k: v.get("default") for k, v in props.items()}


@pytest.mark.parametrize(
    ("fetcher", "native_m", "schema_key"),
    [
        ("fetch_dem", 30.0, "dem_request_res_m"),  # GLO-30 / NASADEM: 1 arc-second
        ("fetch_ndvi", 10.0, "ndvi_request_res_m"),  # S2 B4/B8: 10 m
        ("fetch_landcover", 10.0, "landcover_request_res_m"),  # WorldCover: 10 m
        ("fetch_soil", 250.0, "soil_request_res_m"),  # SoilGrids 2.0: 250 m
    ],
)
def test_request_scales_are_the_native_resolutions(fetcher, native_m, schema_key):
    default = inspect.signature(getattr(ee_src, fetcher)).parameters["request_res_m"].default
    assert default == native_m
    assert _schema_ee_defaults()[schema_key] == native_m


def test_chirps_scale_is_its_native_005_degrees():
    assert ee_src.CHIRPS_RES_DEG == 0.05


def test_the_golden_file_is_frozen_and_complete():
    """The reviewed goldens are data, never rewritten by a test (no update switch)."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(golden) == [
        "chirps_2014_2015",
        "dem_glo30",
        "dem_nasadem",
        "s2_ndvi_2023",
        "soilgrids_0_30cm",
        "worldcover_v200",
    ]
    text = (Path(__file__).parent / "test_sources_earthengine.py").read_text(encoding="utf-8")
    assert "SHUIBAO_UPDATE_GOLDEN" not in text and "write_text" not in text
