"""Earth Engine seasonal band composites, offline (earthengine-api ApiTestCase + mocked REST)."""

from __future__ import annotations

from unittest import mock

import ee
import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.sources import earthengine_bands as eeb
from pipeline.sources.local import grid_from_aoi
from tests.test_sources_earthengine import AOI, FakeRest, ee_offline  # noqa: F401


def test_graph_uses_harmonized_s2_cloud_score_plus_and_four_seasons(ee_offline):  # noqa: F811
    with mock.patch.object(ee.data, "computeValue", side_effect=AssertionError("getInfo")):
        image = eeb.build_s2_seasonal_bands(AOI, 2024, cs_threshold=0.65)
        text = image.serialize(for_cloud_api=True)
        again = eeb.build_s2_seasonal_bands(AOI, 2024, cs_threshold=0.65)
    assert text == again.serialize(for_cloud_api=True)  # deterministic, no round trip
    assert "COPERNICUS/S2_SR_HARMONIZED" in text
    assert "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED" in text
    assert '"Image.linkCollection"' in text and "cs_cdf" in text
    assert "0.65" in text and "0.0001" in text  # Cloud Score+ threshold; DN → reflectance
    assert '"2024-01-01"' in text and '"2025-01-01"' in text
    assert text.count('"Filter.calendarRange"') == 5  # winter = Jan–Feb ∪ Dec, then 3 seasons
    assert "QA60" not in text
    for name in eeb.band_ids():
        assert f'"{name}"' in text
    assert eeb.band_ids()[:4] == ["winter_B2", "winter_B4", "winter_B8", "winter_B11"]


def test_bad_settings_are_config_errors(ee_offline):  # noqa: F811
    with pytest.raises(ConfigError, match="cs_threshold"):
        eeb.build_s2_seasonal_bands(AOI, 2024, cs_threshold=1.5)


def test_fetch_writes_reflectance_on_the_grid(ee_offline, tmp_path):  # noqa: F811
    grid = grid_from_aoi(AOI, resolution_m=60)
    # band i of the request carries DN 100·(i + 1): reflectance 0.01·(i + 1)
    with FakeRest(value_fn=lambda i, y, x: 100.0 * (i + 1) + 0 * y) as rest:
        comp = eeb.fetch_seasonal_composite(grid, 2024, cache_dir=tmp_path, dem_dataset="ignored")
    assert rest.bodies[0]["bandIds"] == eeb.band_ids()
    assert rest.bodies[0]["grid"]["crsCode"] == "EPSG:32650"
    assert comp.dims == ("band", "season", "y", "x") and comp.dtype == np.float32
    assert grid.matches(comp.isel(band=0, season=0))
    # summer (season 2) B11 (band 3) is request band 2·4 + 3 = 11 → 0.12
    np.testing.assert_allclose(comp.sel(season="summer", band="B11").values, 0.12, atol=1e-6)
    np.testing.assert_allclose(comp.sel(season="winter", band="B2").values, 0.01, atol=1e-6)
