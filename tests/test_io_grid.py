"""Analysis grid and raster I/O: equal-area CRS, atomic and deterministic writes."""

from __future__ import annotations

import hashlib

import dask.array as dsa
import numpy as np
import pytest
from pyproj import Geod, Transformer

from pipeline.errors import GridError, InputDataError
from pipeline.grid import AnalysisGrid, check_same_grid, local_albers_crs
from pipeline.io import open_raster, write_cog


@pytest.fixture
def grid():
    crs = local_albers_crs(116.3, 25.6, 116.5, 25.8)
    return AnalysisGrid.from_bounds(crs, -1000, -1000, 1000, 1000, 20.0)


def test_local_albers_is_equal_area(grid):
    # A 0.2° x 0.2° box: area in the local Albers CRS equals the geodesic area.
    lon0, lat0, lon1, lat1 = 116.3, 25.6, 116.5, 25.8
    geod = Geod(ellps="GRS80")
    lons = np.concatenate(
        [
            np.linspace(lon0, lon1, 200),
            np.full(200, lon1),
            np.linspace(lon1, lon0, 200),
            np.full(200, lon0),
        ]
    )
    lats = np.concatenate(
        [
            np.full(200, lat0),
            np.linspace(lat0, lat1, 200),
            np.full(200, lat1),
            np.linspace(lat1, lat0, 200),
        ]
    )
    true_area, _ = geod.polygon_area_perimeter(lons, lats)
    x, y = Transformer.from_crs(4326, grid.crs, always_xy=True).transform(lons, lats)
    from shapely.geometry import Polygon

    projected = Polygon(zip(x, y, strict=True)).area
    assert abs(projected / abs(true_area) - 1) < 1e-6
    assert grid.is_equal_area


def test_grid_geometry_and_json_roundtrip(grid, tmp_path):
    assert grid.shape == (100, 100)
    assert grid.res == (20.0, 20.0)
    assert grid.bounds == (-1000.0, -1000.0, 1000.0, 1000.0)
    assert grid.coords()["x"][0] == -990.0 and grid.coords()["y"][0] == 990.0
    grid.to_json(tmp_path / "grid.json")
    assert AnalysisGrid.from_json(tmp_path / "grid.json") == grid
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(GridError, match="bad.json"):
        AnalysisGrid.from_json(tmp_path / "bad.json")


def test_check_same_grid_names_the_array(grid):
    a = grid.dataarray(np.zeros(grid.shape), name="a", units="1")
    b = a.isel(x=slice(0, 50))
    with pytest.raises(GridError, match="'LS'"):
        check_same_grid(R=a, LS=b)
    shifted = a.assign_coords(x=a.x + 10.0)
    with pytest.raises(GridError, match="x coordinates"):
        check_same_grid(R=a, C=shifted)


def test_write_cog_is_deterministic_and_keeps_units(grid, tmp_path):
    rng = np.random.default_rng(0)
    da = grid.dataarray(
        dsa.from_array(rng.random(grid.shape).astype("float32"), chunks=32),
        name="soil_loss_t_ha_yr",
        units="t ha-1 a-1",
    )
    p1, p2 = tmp_path / "a.tif", tmp_path / "b.tif"
    write_cog(da, p1, tags={"shuibao_stage": "test"})
    write_cog(da, p2, tags={"shuibao_stage": "test"})
    assert hashlib.sha256(p1.read_bytes()).digest() == hashlib.sha256(p2.read_bytes()).digest()
    back = open_raster(p1)
    assert back.attrs["units"] == "t ha-1 a-1"
    np.testing.assert_array_equal(back.values, da.values)
    assert sorted(q.name for q in tmp_path.iterdir()) == ["a.tif", "b.tif"]  # no scratch files


def test_failed_write_leaves_nothing(grid, tmp_path):
    def boom(block):
        raise RuntimeError("disk full")

    bad = dsa.map_blocks(boom, dsa.zeros(grid.shape, chunks=50, dtype="float32"), dtype="float32")
    target = tmp_path / "out.tif"
    with pytest.raises(RuntimeError, match="disk full"):
        write_cog(grid.dataarray(bad, name="x", units="1"), target)
    assert list(tmp_path.iterdir()) == []


def test_int16_scaled_ndvi_roundtrip(grid, tmp_path):
    stored = np.full((2, *grid.shape), 5000, dtype="int16")
    stored[0, 0, 0] = -32768
    da = grid.dataarray(stored, name="ndvi", units="1")
    write_cog(da, tmp_path / "ndvi.tif", nodata=-32768, scale=1e-4, band_names=["P01", "P02"])
    back = open_raster(tmp_path / "ndvi.tif")
    assert list(back["band"].values) == ["P01", "P02"]
    assert np.isnan(back.values[0, 0, 0])
    assert back.values[1, 5, 5] == pytest.approx(0.5, abs=1e-6)


def test_missing_raster_is_a_clear_error(tmp_path):
    with pytest.raises(InputDataError, match="nope.tif"):
        open_raster(tmp_path / "nope.tif")
