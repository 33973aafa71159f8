"""The tiled workflow's terrain stages (pipeline/stages/tiles.py), run in the DAG's order
without Snakemake, write the same terrain GeoTIFFs as the untiled terrain stage."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from pipeline.grid import AnalysisGrid, local_albers_crs
from pipeline.io import write_cog
from pipeline.stages import tiles as S
from pipeline.stages.factors import make_terrain
from tests.test_tiled_terrain import hard_dem

TILE = 100  # 200 × 300 cells → 2 × 3 tiles; a pit over 4 tiles, nodata on a tile border


def _dem_file(tmp_path):
    crs = local_albers_crs(116.0, 25.0, 117.0, 26.0)
    grid = AnalysisGrid.from_bounds(crs, 0, 0, 3000, 2000, 10)
    path = tmp_path / "dem.tif"
    write_cog(grid.dataarray(hard_dem()[:200, :300].astype("float32"), name="dem", units="m"), path)
    return path


def _run_tiled(dem, tmp_path, terrain):
    res = tmp_path / "tiles"
    lay = res / "layout.json"
    S.make_tile_layout(dem_path=dem, out_layout=lay, tiles={"size": TILE})
    names = S.tile_names(lay)
    term = res / "terrain"
    for t in names:
        S.make_fill1(dem_path=dem, layout_path=lay, tile=t, out=term / "fill1" / f"{t}.npz")
    S.make_fill_global(
        layout_path=lay,
        summaries=[term / "fill1" / f"{t}.npz" for t in names],
        out=term / "fill_global.npz",
    )
    for t in names:
        S.make_fill2(
            dem_path=dem,
            layout_path=lay,
            tile=t,
            levels_path=term / "fill_global.npz",
            out_filled=term / "filled" / f"{t}.fw.npy",
            out_flats=term / "flats" / f"{t}.npz",
        )
    S.make_flats_global(
        dem_path=dem,
        layout_path=lay,
        filled_paths=[term / "filled" / f"{t}.fw.npy" for t in names],
        out=term / "flats_global.npz",
    )
    for t in names:
        S.make_route(
            dem_path=dem,
            layout_path=lay,
            tile=t,
            filled_path=term / "filled" / f"{t}.fw.npy",
            flats_path=term / "flats_global.npz",
            terrain=terrain,
            out_codes=term / "codes" / f"{t}.codes.npy",
            out_links=term / "links" / f"{t}.npz",
        )
    S.make_accumulate(
        dem_path=dem,
        layout_path=lay,
        store_dir=term,
        links=[term / "links" / f"{t}.npz" for t in names],
        terrain=terrain,
        out_dir=term / "cells",
    )
    for t in names:
        S.make_ls(
            dem_path=dem,
            layout_path=lay,
            tile=t,
            cells_dir=term / "cells",
            codes_path=term / "codes" / f"{t}.codes.npy",
            terrain=terrain,
            out=term / "ls" / f"{t}.stack.npy",
        )
    out = {k: tmp_path / f"tiled_{k}.tif" for k in ("slope", "l", "s", "ls")}
    S.make_terrain_mosaic(
        dem_path=dem,
        layout_path=lay,
        ls_paths=[term / "ls" / f"{t}.stack.npy" for t in names],
        terrain=terrain,
        out_slope=out["slope"],
        out_l=out["l"],
        out_s=out["s"],
        out_ls=out["ls"],
    )
    return names, out


@pytest.mark.parametrize("routing", ["d8", "mfd"])
def test_tiled_stages_equal_the_terrain_stage(tmp_path, routing):
    dem = _dem_file(tmp_path)
    terrain = {"routing": routing}
    names, tiled = _run_tiled(dem, tmp_path, terrain)
    assert len(names) == 6
    plain = {k: tmp_path / f"plain_{k}.tif" for k in ("slope", "l", "s", "ls")}
    make_terrain(
        dem_path=dem,
        out_slope=plain["slope"],
        out_l=plain["l"],
        out_s=plain["s"],
        out_ls=plain["ls"],
        terrain=terrain,
    )
    for k in plain:
        with rasterio.open(plain[k]) as a, rasterio.open(tiled[k]) as b:
            x, y = a.read(1, masked=True), b.read(1, masked=True)
            assert (x.mask == y.mask).all()
            assert a.transform == b.transform
            if routing == "d8" or k == "slope":
                np.testing.assert_array_equal(y.filled(np.nan), x.filled(np.nan))
            else:  # MFD: accumulation equal up to the order of additions
                np.testing.assert_allclose(y.filled(np.nan), x.filled(np.nan), rtol=1e-6)
