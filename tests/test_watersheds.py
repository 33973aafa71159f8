"""Small watersheds from the DEM: size, full coverage, codes from outlet positions."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from pipeline.grid import AnalysisGrid, local_albers_crs
from pipeline.io import write_cog
from pipeline.stages.deliverables import make_delineated_watersheds
from pipeline.watersheds import delineate_small_watersheds, outlet_code

CRS = local_albers_crs(116.3, 25.6, 116.5, 25.8)
RES = 50.0


def _dem(width_m=6000, height_m=4000, x0=0.0):
    g = AnalysisGrid.from_bounds(CRS, x0, 0, x0 + width_m, height_m, RES)
    x = g.coords()["x"][None, :]
    y = g.coords()["y"][:, None]
    # two V-shaped valleys (axes at x = 1500 m and 4500 m) draining south (to y = 0)
    z = 100 + 0.02 * np.minimum(abs(x - 1500), abs(x - 4500)) + 0.01 * y
    return g.dataarray(z + 0 * y, name="dem", units="m")


def test_units_cover_the_grid_and_respect_the_minimum_size():
    idx, codes = delineate_small_watersheds(_dem(), min_area_km2=2.0)
    v = idx.values
    assert (v >= 0).all()
    areas_km2 = np.bincount(v.ravel()) * RES * RES / 1e6
    assert len(codes) == len(areas_km2) >= 4
    assert len(set(codes)) == len(codes)
    # subbasins_area starts a new unit only where ≥ min area drains in: none much smaller
    assert areas_km2.min() >= 2.0 * 0.9
    assert codes == sorted(codes)  # the index order is the code order


def test_codes_come_from_outlet_positions_not_run_order():
    a_idx, a_codes = delineate_small_watersheds(_dem(), min_area_km2=2.0)
    # the same terrain seen through a wider window (more basins to the east)
    b_idx, b_codes = delineate_small_watersheds(_dem(width_m=9000), min_area_km2=2.0)
    assert len(b_codes) > len(a_codes)
    # the unit holding a point in the western valley keeps its code
    r, c = 60, 20  # y = 975 m, x = 1025 m
    assert a_codes[int(a_idx.values[r, c])] == b_codes[int(b_idx.values[r, c])]
    # same DEM, same codes (year to year)
    assert delineate_small_watersheds(_dem(), min_area_km2=2.0)[1] == a_codes


def test_outlet_code_format():
    assert outlet_code(116.4, 25.7) == "XLY1164000E257000N"


def test_stage_writes_a_zone_layer(tmp_path):
    dem = _dem()
    write_cog(dem, tmp_path / "dem.tif")
    gpd.GeoDataFrame(geometry=[box(0, 0, 6000, 4000)], crs=CRS).to_file(tmp_path / "aoi.gpkg")
    out = tmp_path / "ws.gpkg"
    make_delineated_watersheds(
        dem_path=tmp_path / "dem.tif",
        aoi_path=tmp_path / "aoi.gpkg",
        out_path=out,
        min_area_km2=2.0,
    )
    ws = gpd.read_file(out)
    assert {"zone_id", "name", "name_en", "area_km2"} <= set(ws.columns)
    assert ws["zone_id"].is_unique and ws["zone_id"].str.startswith("XLY").all()
    assert ws["area_km2"].sum() == pytest.approx(24.0, rel=1e-6)  # tiles the 6 × 4 km AOI
