"""Tiled terrain (pipeline/factors/_tiled.py) equals the single-process terrain exactly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from pipeline.factors import _routing, _tiled
from pipeline.factors import _tiled_kernels as K
from pipeline.factors import terrain as T
from tests.test_terrain import make_dem

CELL = 10.0
TILE = (100, 100)  # 300 × 400 cells → 3 × 4 tiles


def hard_dem() -> np.ndarray:
    """300 × 400 cells: rounded to 1 m (many flats), a pit spanning 6 tiles, small pits,
    a nodata hole on a tile border, and a closed basin whose filled flat crosses a border."""
    rng = np.random.default_rng(7)
    r = np.arange(300)[:, None]
    c = np.arange(400)[None, :]
    z = 200 + 0.3 * r + 15 * np.sin(c / 9.0) * np.cos(r / 13.0) + rng.random((300, 400)) * 3
    z = np.round(z)
    z[100:220, 80:320] = np.minimum(z[100:220, 80:320], 150.0)  # deep pit over 2 × 3 tiles
    z[40:60, 95:105] = np.nan  # nodata on the border of tiles (0, 0) and (0, 1)
    z[250:290, 180:230] -= 6.0  # a basin over the border of columns 1 and 2
    return z


def _single(z):
    """Single-process fill, codes and accumulations (what terrain.py runs)."""
    zf = z.astype(np.float32)
    _routing.fill_and_route_d8(zf, CELL, CELL)
    codes, dist = K.route(zf, 0, 0, *zf.shape, CELL, CELL, np.empty((0, 0), np.int32))
    return zf, codes, dist


def _tiled_grids(z, routing, tmp_path, **kw):
    store_dir = tmp_path / routing
    ls = np.full((len(_tiled.LAYERS), *z.shape), np.nan, dtype=np.float32)

    def sink(t, stack):
        ls[:, t.r0 : t.r1, t.c0 : t.c1] = stack

    info = _tiled.run(
        lambda r0, r1, c0, c1: z[r0:r1, c0:c1].astype(np.float32),
        z.shape,
        dx=CELL,
        dy=CELL,
        sink=sink,
        tile=TILE,
        routing=routing,
        workdir=store_dir,
        keep=True,
        **kw,
    )
    store = _tiled.TileStore(store_dir)
    filled = np.empty(z.shape, dtype=np.float32)
    codes = np.empty(z.shape, dtype=np.uint8)
    cells = np.empty(z.shape)
    for t in _tiled.Layout(z.shape, TILE).tiles:
        filled[t.r0 : t.r1, t.c0 : t.c1] = store.load("filled", t, "fw")[1:-1, 1:-1]
        codes[t.r0 : t.r1, t.c0 : t.c1] = store.load("codes", t, "codes")
        cells[t.r0 : t.r1, t.c0 : t.c1] = store.load("cells", t, "cells")
    return info, filled, codes, cells, ls


def test_the_dem_has_what_makes_tiling_hard():
    z = hard_dem()
    zf, codes, dist = _single(z)
    tile_of = (np.arange(300)[:, None] // 100) * 4 + np.arange(400)[None, :] // 100
    raised = zf > np.where(np.isnan(z), np.inf, z)
    lab, _ = ndimage.label(raised, structure=np.ones((3, 3)))
    biggest = lab == np.argmax(np.bincount(lab.ravel())[1:]) + 1
    assert np.unique(tile_of[biggest]).size >= 6  # one filled depression over 6 tiles
    # flat cells (no lower neighbour) whose flat-drain path crosses a tile border
    flat = (dist > 0) & (dist != K.INF)
    assert flat.sum() > 5000
    k = np.vectorize(lambda v: _routing._DECODE[v])(codes)
    rr = np.arange(300)[:, None] + np.where(k >= 0, _routing.DR[k], 0)
    cc = np.arange(400)[None, :] + np.where(k >= 0, _routing.DC[k], 0)
    crossing = flat & (tile_of != (rr // 100) * 4 + cc // 100)
    assert crossing.sum() > 50
    assert (dist[flat] > 100).any()  # flats reaching far over a border


@pytest.mark.parametrize("routing", ["d8", "mfd"])
@pytest.mark.parametrize("cap", [None, 150.0])
def test_tiled_equals_single_process(tmp_path, routing, cap):
    z = hard_dem()
    zf, codes, _ = _single(z)
    info, filled, tcodes, cells, ls = _tiled_grids(z, routing, tmp_path, max_slope_length_m=cap)
    assert info["tiles"] == 12
    np.testing.assert_array_equal(filled, zf)  # NaN at the same places, values identical
    np.testing.assert_array_equal(tcodes, codes)
    if routing == "d8":
        ref = _routing.d8_upstream_counts(codes).astype(np.float64)
        np.testing.assert_array_equal(cells, ref)  # integer counts: exact
        assert ref.max() > 20_000  # flow crosses many tiles
    else:
        ref = _routing.mfd_upstream_cells(zf, codes, CELL, CELL, 1.0, False, True)
        np.testing.assert_allclose(cells, ref, rtol=1e-9, equal_nan=True)
        assert info["mfd_rounds"] >= 3  # flow crossed borders back and forth
    single = T.terrain_factors(make_dem(z, CELL), routing=routing, max_slope_length_m=cap)
    for k, name in enumerate(_tiled.LAYERS):
        np.testing.assert_allclose(ls[k], single[name].values, rtol=1e-6, equal_nan=True)


def test_xarray_wrapper_with_dask_input_and_channels(tmp_path):
    z = hard_dem()
    dem = make_dem(z, CELL).chunk(64)
    kw = dict(routing="mfd", max_slope_length_m=300.0, channel_threshold_m2=5e5)
    tiled = _tiled.terrain_factors_tiled(dem, tile=(128, 96), **kw)
    single = T.terrain_factors(make_dem(z, CELL), **kw)
    assert (single.l_factor == 0).sum() > 100  # channels present
    for name in _tiled.LAYERS:
        np.testing.assert_allclose(tiled[name], single[name], rtol=1e-6, equal_nan=True)
        assert tiled[name].attrs["units"] == single[name].attrs["units"]


def test_ring_distances_are_needed():
    """Without the global flats pass, tiles resolve border flats differently."""
    z = hard_dem()
    zf, codes, _ = _single(z)
    layout = _tiled.Layout(z.shape, TILE)
    differ = 0
    for t in layout.tiles:
        fw = np.full((t.shape[0] + 2, t.shape[1] + 2), np.nan, dtype=np.float32)
        fw[...] = np.pad(zf, 1, constant_values=np.nan)[t.r0 : t.r1 + 2, t.c0 : t.c1 + 2]
        no_ring = np.full(fw.shape, -1, dtype=np.int32)
        local = _tiled.route_pass(fw, no_ring, CELL, CELL)
        differ += int((local != codes[t.r0 : t.r1, t.c0 : t.c1]).sum())
    assert differ > 50


def test_flat_resolution_drains_every_flat_cell():
    """On a filled surface, following the codes always ends at an outlet (acyclic)."""
    z = hard_dem()
    zf, codes, dist = _single(z)
    counts = _routing.d8_upstream_counts(codes)
    assert counts[codes == 0].sum() == np.isfinite(z).sum()
    assert not ((dist == K.INF) & (codes != 247)).any()


def test_layout_merges_a_one_cell_remainder():
    lay = _tiled.Layout((201, 300), (100, 100))
    assert [t.shape[0] for t in lay.tiles if t.j == 0] == [100, 101]


def test_geotiff_windows(tmp_path):
    """run() over windows read from a GeoTIFF (nodata → NaN) gives the single-process LS."""
    z = hard_dem()[:150, :220]
    dem = make_dem(z, CELL)
    path = tmp_path / "dem.tif"
    dem.fillna(-9999.0).rio.write_nodata(-9999.0).rio.to_raster(path)
    read, shape, dx, dy = _tiled.geotiff_reader(path)
    assert shape == z.shape and dx == dy == CELL
    ls = np.empty(shape, dtype=np.float32)

    def sink(t, stack):
        ls[t.r0 : t.r1, t.c0 : t.c1] = stack[0]

    kw = dict(routing="mfd", max_slope_length_m=None)
    _tiled.run(read, shape, dx=dx, dy=dy, sink=sink, tile=(64, 64), layers=("ls_factor",), **kw)
    single = T.ls_factor(dem, **kw)
    np.testing.assert_allclose(ls, single.values, rtol=1e-6, equal_nan=True)


def test_flats_rounds_give_the_global_ring_distances(tmp_path):
    """The rounds of perimeter distances (run's flats step, memory of the perimeters) reach
    the single-process breadth-first distances at every ring cell, as the global pass over
    whole border flats (flats_global) does, and need more than one round on this DEM."""
    z = hard_dem()
    zf, _, dist = _single(z)
    layout = _tiled.Layout(z.shape, TILE)
    store = _tiled.TileStore(tmp_path)
    padded = np.pad(zf, 1, constant_values=np.nan)
    first, summaries = [], []
    for t in layout.tiles:
        fw = np.ascontiguousarray(padded[t.r0 : t.r1 + 2, t.c0 : t.c1 + 2])
        store.save("filled", t, fw=fw)
        first.append(_tiled._flat_perimeter(fw, np.full(layout.ring(t).size, -1), CELL, CELL))
        cls = K.classify(fw, 1, 1, *t.shape)
        pos, kind = K.flat_components(fw, cls)
        r, c = np.divmod(pos, t.shape[1])
        summaries.append({"r": r, "c": c, "z": fw[r + 1, c + 1], "kind": kind})
    stats = {}
    rings = _tiled._flat_rounds(layout, store, first, CELL, CELL, 1, stats=stats)
    assert stats["rounds"] > 2
    flat_d = np.where(np.isnan(zf) | (dist == K.INF), -1, dist).ravel()
    for t, ring, ref in zip(
        layout.tiles, rings, _tiled.flats_global(layout, summaries, windows=False), strict=True
    ):
        g = layout.ring(t)
        expect = np.where(g >= 0, flat_d[np.maximum(g, 0)], -1)
        np.testing.assert_array_equal(ring, expect)
        np.testing.assert_array_equal(ring, ref)
