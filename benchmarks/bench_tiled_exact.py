"""Benchmark: the tiled terrain equals the single-process terrain on a large DEM.

Usage::

    .venv/bin/python benchmarks/bench_tiled_exact.py                     # 64 M cells, D8 and MFD
    .venv/bin/python benchmarks/bench_tiled_exact.py --cells 16 --routing d8

The DEM is the synthetic province of ``bench_province.py`` (sine waves of 5 km to 60 m,
a regional tilt, a 3 km lattice of closed basins, rounded to 0.1 m, so filled depressions
and flats cross the 2048² tile borders), built whole here because the single-process
path needs it whole. For each routing it computes

- single process: ``_routing.fill_and_route_d8`` + ``_tiled_kernels.route`` (filled DEM and
  D8 codes) and ``terrain.terrain_factors`` (slope, A_in, L, S, LS), as the workflow's
  terrain step does;
- tiled: ``_tiled.run`` in 2048² tiles (the workflow's ``compute.tiles``),

and reports: filled DEMs identical (bit for bit), D8 codes identical, the largest relative
difference of every layer (LS must be ≤ 1e-6), the number of tiles the largest filled
depression and flats span, and the wall time and peak RSS of each path. The acceptance of
issue [scale] asks for exactly this on 64 M cells; ``tests/test_tiled_terrain.py`` checks
it on a small DEM in the test suite. Not a test: it takes minutes and ~11 GB (the whole-DEM
single-process path; the tiled path alone holds ~1 GB).

Measured 2026-12-02 (64 M cells = 8000², 16 tiles of 2048², slope-length cap 300 m, 2 threads,
a 2-core machine shared with other jobs at load 4-7, so the times are upper bounds):

- D8: tiled 307.5 s, single process 83.6 s; filled DEM and D8 codes identical (14,461,169
  filled cells, the largest filled depression over 2 tiles, 14,605,799 flat cells); slope,
  A_in, L, S and LS: largest relative difference 0 (bit for bit); PASS.
- MFD: tiled 361.7 s (17 MFD rounds), single process 217.6 s; the same: identical bit for bit;
  PASS. Peak RSS of the process 10.7 GiB (the whole-DEM arrays of the single-process path).
- Again after the banded fill, the flats rounds and the bounded global passes were merged
  (load 3-5, a test suite beside it): D8 tiled 125.1 s, single 251.8 s; MFD tiled 461.7 s
  (17 rounds), single 256.2 s; both identical bit for bit, PASS.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CELL = 10.0
TILE = 2048


def _province():
    spec = importlib.util.spec_from_file_location(
        "bench_province", ROOT / "benchmarks" / "bench_province.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def compare(side: int, routing: str, cap: float | None) -> None:
    from pipeline.factors import _routing, _tiled
    from pipeline.factors import _tiled_kernels as K
    from pipeline.factors import terrain as T
    from pipeline.grid import AnalysisGrid

    prov = _province()
    z = prov.dem_window(0, side, 0, side, prov._waves())
    print(
        f"{side}² = {side * side / 1e6:.0f} M cells, {routing}, slope-length cap {cap} m",
        flush=True,
    )

    # tiled first (its peak RSS is then the process's before the whole-DEM work)
    work = Path(tempfile.mkdtemp(prefix="bench-tiled-exact-"))
    try:
        ls_t = np.full((len(_tiled.LAYERS), side, side), np.nan, dtype=np.float32)

        def sink(t, stack):
            ls_t[:, t.r0 : t.r1, t.c0 : t.c1] = stack

        t0 = time.perf_counter()
        info = _tiled.run(
            lambda r0, r1, c0, c1: z[r0:r1, c0:c1],
            z.shape,
            dx=CELL,
            dy=CELL,
            sink=sink,
            tile=(TILE, TILE),
            routing=routing,
            max_slope_length_m=cap,
            workdir=work / "store",
            keep=True,
            workers=2,
        )
        t_tiled = time.perf_counter() - t0
        store = _tiled.TileStore(work / "store")
        filled_t = np.empty(z.shape, dtype=np.float32)
        codes_t = np.empty(z.shape, dtype=np.uint8)
        for t in _tiled.Layout(z.shape, (TILE, TILE)).tiles:
            filled_t[t.r0 : t.r1, t.c0 : t.c1] = store.load("filled", t, "fw")[1:-1, 1:-1]
            codes_t[t.r0 : t.r1, t.c0 : t.c1] = store.load("codes", t, "codes")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"  tiled: {info['tiles']} tiles, {t_tiled:.1f} s"
        + (f", {info['mfd_rounds']} MFD rounds" if "mfd_rounds" in info else ""),
        flush=True,
    )

    t0 = time.perf_counter()
    zf = z.copy()
    _routing.fill_and_route_d8(zf, CELL, CELL)
    codes, dist = K.route(zf, 0, 0, *zf.shape, CELL, CELL, np.empty((0, 0), np.int32))
    grid = AnalysisGrid.from_bounds(
        "EPSG:32650", 300000.0, 3000000.0 - side * CELL, 300000.0 + side * CELL, 3000000.0, CELL
    )
    dem = grid.dataarray(z.astype(np.float64), name="dem", units="m")
    single = T.terrain_factors(dem, routing=routing, max_slope_length_m=cap)
    t_single = time.perf_counter() - t0
    print(f"  single process: {t_single:.1f} s (fill + codes + terrain_factors)", flush=True)

    same_fill = np.array_equal(filled_t, zf, equal_nan=True)
    same_codes = np.array_equal(codes_t, codes)
    raised = zf > z
    tile_of = (np.arange(side)[:, None] // TILE) * ((side + TILE - 1) // TILE) + (
        np.arange(side)[None, :] // TILE
    )
    from scipy import ndimage

    lab, n = ndimage.label(raised, structure=np.ones((3, 3)))
    spans = 0
    if n:
        biggest = lab == np.argmax(np.bincount(lab.ravel())[1:]) + 1
        spans = np.unique(tile_of[biggest]).size
    flat = (dist > 0) & (dist != K.INF)
    print(
        f"  filled DEM identical: {same_fill}; D8 codes identical: {same_codes} "
        f"({int(raised.sum()):,} filled cells, largest depression over {spans} tiles, "
        f"{int(flat.sum()):,} flat cells)"
    )
    worst = 0.0
    for k, name in enumerate(_tiled.LAYERS):
        a = ls_t[k].astype(np.float64)
        b = single[name].values.astype(np.float64)
        both = np.isfinite(a) & np.isfinite(b)
        same_nan = bool(np.array_equal(np.isnan(a), np.isnan(b)))
        rel = np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1e-30)
        mx = float(rel.max()) if rel.size else 0.0
        if name == "ls_factor":
            worst = mx
        print(f"  {name}: max relative difference {mx:.2e}, NaN at the same cells: {same_nan}")
    ok = same_fill and same_codes and worst <= 1e-6
    print(f"  RESULT {'PASS' if ok else 'FAIL'}; peak RSS {_rss_mib():.0f} MiB", flush=True)
    if not ok:
        raise SystemExit(1)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=float, default=64.0, help="million cells (default 64)")
    ap.add_argument("--routing", default="d8,mfd")
    ap.add_argument("--cap", type=float, default=300.0, help="slope-length cap, m (0: none)")
    args = ap.parse_args(argv)
    side = int(round((args.cells * 1e6) ** 0.5))
    for routing in args.routing.split(","):
        compare(side, routing, args.cap or None)


if __name__ == "__main__":
    main()
