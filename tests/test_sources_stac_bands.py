"""STAC seasonal band composites, offline: a static catalogue served on 127.0.0.1.

Two 2024 scenes: a spring one with Earth Search naming (``raster:bands`` scale 1e-4,
offset −0.1) and a cloud block in its SCL, and a summer one with Planetary Computer
naming and processing baseline 04.00 (DN − 1000). Winter and autumn have no scene.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pystac
import pytest
import shapely
from affine import Affine
from pyproj import Transformer
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterBand, RasterExtension

from pipeline.errors import InputDataError
from pipeline.sources import stac_bands
from pipeline.sources.local import grid_from_aoi
from tests.stac_server import _footprint, _write_cog, serve_directory

UTM = "EPSG:32650"
SIZE = 128  # px at 10 m
DN = {"B2": 1300, "B4": 1600, "B8": 4200, "B11": 3500}
CLOUD_PX_20M = 16


def _catalog(root):
    cx, cy = Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(116.40, 25.68)
    x0 = np.floor((cx - SIZE * 5) / 20) * 20
    y0 = np.ceil((cy + SIZE * 5) / 20) * 20
    t10, t20 = Affine(10, 0, x0, 0, -10, y0), Affine(20, 0, x0, 0, -20, y0)
    geom, bbox = _footprint(UTM, (x0, y0 - SIZE * 10, x0 + SIZE * 10, y0))
    cat = pystac.Catalog("t", "t")
    coll = pystac.Collection(
        "sentinel-2-c1-l2a",
        "s2",
        pystac.Extent(
            pystac.SpatialExtent([[-180, -90, 180, 90]]),
            pystac.TemporalExtent([[dt.datetime(2024, 1, 1, tzinfo=dt.UTC), None]]),
        ),
    )
    for sid, when, naming, baseline in (
        ("S2A_es_20240410", dt.datetime(2024, 4, 10, 3, tzinfo=dt.UTC), "es", "05.10"),
        ("S2B_pc_20240715", dt.datetime(2024, 7, 15, 3, tzinfo=dt.UTC), "pc", "04.00"),
    ):
        keys = stac_bands.ASSET_KEYS[0 if naming == "es" else 1]
        item = pystac.Item(
            sid, geom, bbox, when, {"s2:processing_baseline": baseline, "eo:cloud_cover": 5.0}
        )
        scl = np.full((SIZE // 2, SIZE // 2), 4, np.uint8)
        if naming == "es":
            scl[:CLOUD_PX_20M, :CLOUD_PX_20M] = 8  # cloud (medium probability)
        arrays = {
            k: (np.full((SIZE, SIZE), DN[b], np.uint16), t10)
            for k, b in zip(keys[:4], DN, strict=True)
        }
        arrays[keys[3]] = (np.full((SIZE // 2, SIZE // 2), DN["B11"], np.uint16), t20)
        arrays[keys[4]] = (scl, t20)
        for key, (data, transform) in arrays.items():
            href = root / "s2" / sid / f"{key}.tif"
            _write_cog(href, data, crs=UTM, transform=transform, nodata=0)
            asset = pystac.Asset(str(href), media_type=pystac.MediaType.COG, roles=["data"])
            item.add_asset(key, asset)
            proj = ProjectionExtension.ext(asset, add_if_missing=True)
            proj.code, proj.shape, proj.transform = UTM, list(data.shape), list(transform)[:6]
            band = RasterBand.create(nodata=0, data_type=str(data.dtype))
            if naming == "es" and key != "scl":
                band = RasterBand.create(nodata=0, data_type="uint16", scale=0.0001, offset=-0.1)
            RasterExtension.ext(asset, add_if_missing=True).bands = [band]
        coll.add_item(item)
    cat.add_child(coll)
    cat.normalize_hrefs(str(root))
    cat.make_all_asset_hrefs_relative()
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


@pytest.fixture
def http_env(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    monkeypatch.setenv("CPL_VSIL_CURL_ALLOWED_EXTENSIONS", ".tif")


def test_seasonal_composites_over_http(tmp_path, http_env):
    catalog = _catalog(tmp_path.resolve())
    grid = grid_from_aoi(shapely.box(116.395, 25.676, 116.405, 25.685), resolution_m=20)
    with serve_directory(catalog.parent) as base_url:
        comp = stac_bands.fetch_seasonal_composite(
            grid, 2024, catalog_url=f"{base_url}/catalog.json", chunks=None, gap_fill=True
        )
        assert any(r[1].endswith(".tif") and r[2] for r in base_url.requests), "ranged GETs"
    assert comp.dims == ("band", "season", "y", "x") and comp.dtype == np.float32
    assert grid.matches(comp.isel(band=0, season=0))
    # Earth Search c1: DN × 1e-4 − 0.1; Planetary Computer PB 04.00: (DN − 1000) × 1e-4 — the same
    for band, dn in DN.items():
        expected = dn * 1e-4 - 0.1
        spring = comp.sel(season="spring", band=band).values
        summer = comp.sel(season="summer", band=band).values
        np.testing.assert_allclose(summer, expected, rtol=1e-5)
        clear = np.isfinite(spring)
        assert clear.any() and (~clear).any(), "the spring cloud block is masked"
        np.testing.assert_allclose(spring[clear], expected, rtol=1e-5)
        assert not np.isclose(summer, dn * 1e-4, rtol=1e-3).any()  # offset not ignored
    assert np.isnan(comp.sel(season="winter").values).all()
    assert np.isnan(comp.sel(season="autumn").values).all()


def test_items_without_the_four_bands_are_an_error():
    item = pystac.Item("x", None, None, dt.datetime(2024, 1, 1), {})
    item.add_asset("red", pystac.Asset("r.tif"))
    with pytest.raises(InputDataError, match="SWIR-1"):
        stac_bands.asset_keys(item)
