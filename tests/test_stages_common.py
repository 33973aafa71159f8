"""Direct tests of the stage helpers (pipeline/stages/common.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.io import open_raster
from pipeline.stages import common
from tests import stage_fixtures as fx


def test_table_by_code_maps_keys_to_codes_and_names_a_bad_key():
    assert common.table_by_code({"forest": 1, "paddy": 0.1}, key="support.table") == {
        1: 1.0,
        7: 0.1,
    }
    with pytest.raises(ConfigError, match="'support.table'.*'forrest'"):
        common.table_by_code({"forrest": 1}, key="support.table")


def test_aoi_mask_takes_pixel_centres_and_is_the_same_on_dask(tmp_path):
    path = fx.write_raster(tmp_path / "t.tif", np.zeros((6, 8), "float32"))
    # a triangle: pixel (r, c) is inside when its centre is
    tri = fx.pixel_box(0, 0, 6, 8).exterior.coords[:3]
    import shapely

    aoi = [shapely.Polygon(tri)]
    eager = common.aoi_mask(aoi, open_raster(path)).values
    lazy = common.aoi_mask(aoi, open_raster(path, chunks={"y": 4, "x": 3})).values
    np.testing.assert_array_equal(eager, lazy)
    poly = aoi[0]
    centres = [
        [
            poly.contains(shapely.Point(fx.X0 + (c + 0.5) * fx.RES, fx.Y0 - (r + 0.5) * fx.RES))
            for c in range(8)
        ]
        for r in range(6)
    ]
    np.testing.assert_array_equal(eager, np.array(centres))


def test_provenance_is_deterministic_and_hashes_sections():
    a = common.provenance("factor_p", support={"table": {"forest": 1.0}}, year=2020)
    b = common.provenance("factor_p", support={"table": {"forest": 1.0}}, year=2020)
    c = common.provenance("factor_p", support={"table": {"forest": 0.9}}, year=2020)
    assert a == b and a["shuibao_stage"] == "factor_p" and a["shuibao_year"] == "2020"
    assert a["shuibao_support_hash"] != c["shuibao_support_hash"]
