"""Benchmark: a synthetic province end to end, tile by tile (LS → soil loss → classes → areas).

Usage::

    .venv/bin/python benchmarks/bench_province.py                      # 16, 64, 256 M cells
    .venv/bin/python benchmarks/bench_province.py --sizes 1000 --routing d8
    .venv/bin/python benchmarks/bench_province.py --sizes 16 --tile 1024 --workers 2

Each size runs in a fresh process. The DEM is never whole anywhere: a tile's window is
generated on demand from a seeded function of the global cell coordinates (sums of oriented
sine waves, 5 km to 60 m wavelengths, 10 m cells, a regional tilt, rounded to 0.1 m so it
has flats, plus closed basins of 0.5-4 km), so any window of any size is the same surface.
R, K, C and P are likewise smooth seeded functions of the coordinates, made per tile.

The run is :func:`pipeline.factors._tiled.run` (fill, routing, accumulation, LS, tile by
tile, intermediate tiles on disk in a temporary folder), and its sink computes
A = R·K·LS·C·P with :func:`pipeline.factors.soil_loss.soil_loss_rusle`, the SL 190 classes
with :func:`pipeline.classify.classify_intensity` and adds each class's area (the sink and
the DEM windows work in strips of 256 rows, so their float64 temporaries stay ~30 MiB).
Printed: wall time, CPU time, seconds per stage and the RSS after each, peak RSS (the
child's ``ru_maxrss``: the only process), ns per cell, cells/s, flats and MFD rounds, mean
and largest time per tile job, load average at start and end, and a projection for N nodes
× 2 cores (:func:`projection`: each tile stage ⌈jobs / (N·cores)⌉ × its mean time per tile
job, plus the global passes, which do not parallelise; transfers not counted). Stage
progress goes to stderr. Temporary folders (~17 bytes per cell) are removed on exit, also
on SIGTERM/SIGHUP. Not a test: numbers depend on the machine and its load.

Measured with this version on a 2-core machine shared with other agents' jobs (load average
at start → end of each run given; 2048² tiles, 2 threads, no slope-length cap; CPU = the
child's user + system time, which depends much less on the load than the wall time)::

  cells  routing tiles  wall s   CPU s  CPU ns/cell  cells/s (wall)  peak RSS  rounds         load
  16 M   D8        4      51      41       2559        0.32 M       650 MiB  flats 4         3.3 → 4.4
  64 M   MFD      16     297     214       3341        0.22 M       916 MiB  flats 4, MFD 17 3.9 → 5.0
  256 M  D8       64    1297     676       2641        0.20 M      1105 MiB  flats 5         4.4 → 7.0
  256 M  MFD      64     922     935       3654        0.28 M      1220 MiB  flats 5, MFD 26 3.9 → 2.3
  10⁹    D8      256    3029    2513       2513        0.33 M      1712 MiB  flats 6         8.9 → 5.1

(256 M ran before the last changes to fill_global, 10⁹ after it but before the exchanges'
precomputed indices, which make its 39 s of flats exchanges a few seconds.) CPU per cell is
flat from 16 M to 10⁹ cells; wall time follows the machine's load. The 10⁹ run: 51 min,
15.9 GB of temporary files at most, removed at the end; stages fill pass 1 56 %, fill pass 2
16 %, LS + sink 11 %, flats rounds 10 %, route 4 %, D8 accumulation 2 %, global passes 1 %. Largest stages
(256 M, D8): fill pass 1 47 % (labelled priority flood, ~1.2 µs of CPU per cell, plus making
the DEM window), fill pass 2 18 %, LS + sink 15 %, flats rounds 11 %; the global passes 1 %.
MFD: the MFD rounds are 31 % at 64 M cells (17 rounds), 29 % at 256 M (26 rounds, 1025
tile jobs; the later rounds re-run few tiles).
Peak RSS is reached in ls_pass (two tiles' LS, factors and classes in flight; 650 MiB at
16 M, 1.7 GiB at 10⁹ cells, while the RSS between stages stays 0.3-0.5 GiB: most likely
allocator fragmentation in the worker threads, not data held); fill_global peaks at
1.1 GiB at 10⁹ cells (the graph of the 2.0 M perimeter cells). Projection (× 2 cores) from
the per-tile times: 256 M cells 1291 s on 1 node (measured 1297 s), 344 s on 4, 109 s on
16, 69 s on 64 nodes; 10⁹ cells 3017 s on 1 node (measured 3029 s), 803 s on 4, 250 s on
16, 112 s on 64 nodes (with more slots than tiles each stage takes one mean tile job, plus
the global passes, ~26 s at 10⁹ cells).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CELL = 10.0
STRIP = 256  # rows per strip when making a window or summing a tile's classes


def _waves(seed=42):
    import numpy as np

    rng = np.random.default_rng(seed)
    waves = []
    for wavelength, amplitude in [
        (5000, 120),
        (2300, 60),
        (1100, 30),
        (520, 12),
        (250, 5),
        (120, 2),
        (60, 0.7),
    ]:
        angle = rng.uniform(0, np.pi)
        phase = rng.uniform(0, 2 * np.pi)
        waves.append((2 * np.pi / wavelength, np.cos(angle), np.sin(angle), phase, amplitude))
    return waves


def dem_window(r0, r1, c0, c1, waves):
    """DEM rows r0:r1, columns c0:c1 (float32, m): a function of global coordinates only."""
    import numpy as np

    out = np.empty((r1 - r0, c1 - c0), dtype=np.float32)
    x = np.arange(c0, c1, dtype=np.float64)[None, :] * CELL
    for s0 in range(r0, r1, STRIP):  # strips of rows: float64 temporaries stay small
        s1 = min(s0 + STRIP, r1)
        y = np.arange(s0, s1, dtype=np.float64)[:, None] * CELL
        z = 400.0 + 0.01 * y + 0.004 * x + np.zeros((s1 - s0, c1 - c0))
        for k, cx, cy, phase, amp in waves:
            z += amp * np.sin(k * (cx * x + cy * y) + phase)
        # closed basins: a 3 km lattice of bowls, 0.5-4 km across, a few metres deep
        bowl = np.cos(2 * np.pi * x / 3000.0) * np.cos(2 * np.pi * y / 3100.0)
        z -= 6.0 * np.maximum(0.0, bowl) ** 8
        out[s0 - r0 : s1 - r0] = np.round(z * 10.0) / 10.0
    return out


def factors_window(r0, r1, c0, c1):
    """R (MJ·mm·ha⁻¹·h⁻¹·a⁻¹), K (SI), C, P for the window: smooth functions of position."""
    import numpy as np

    y = np.arange(r0, r1, dtype=np.float64)[:, None] * CELL
    x = np.arange(c0, c1, dtype=np.float64)[None, :] * CELL
    r = 3500.0 + 800.0 * np.sin(x / 40_000.0) * np.cos(y / 55_000.0)
    k = 0.03 + 0.01 * np.sin(x / 7000.0 + y / 9000.0)
    c = 0.02 + 0.18 * (0.5 + 0.5 * np.sin(x / 1300.0) * np.sin(y / 1700.0)) ** 2
    p = np.where(np.sin(x / 2500.0 + 1.0) * np.sin(y / 2900.0) > 0.6, 0.35, 1.0)
    return r, k, c, p


def child(side: int, routing: str, tile: int, workers: int, cap: float | None) -> dict:
    import numpy as np
    import xarray as xr

    from pipeline.classify import classify_intensity
    from pipeline.factors import _tiled
    from pipeline.factors.soil_loss import soil_loss_rusle

    waves = _waves()
    areas = np.zeros(7)  # hectares per class code 0 (nodata) … 6
    cell_ha = CELL * CELL / 1e4

    cache = Path(tempfile.mkdtemp(prefix="bench-province-dem-"))
    lock = threading.Lock()
    # temporary folders go even when the run is stopped (SIGTERM, SIGHUP → SystemExit → finally)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))

    def read(r0, r1, c0, c1):
        # a tile's window is read 3 times (fill passes 1 and 2, LS): generated once and kept
        # on disk, as a DEM file would be read (the whole DEM is never in memory)
        path = cache / f"{r0}_{r1}_{c0}_{c1}.npy"
        if path.exists():
            return np.load(path)
        z = dem_window(r0, r1, c0, c1, waves)
        np.save(path, z)
        return z

    def sink(t, stack):
        counts = np.zeros(7)
        for s0 in range(t.r0, t.r1, STRIP):  # cell by cell, so strips of rows change nothing
            s1 = min(s0 + STRIP, t.r1)
            ls = stack[0, s0 - t.r0 : s1 - t.r0]
            r, k, c, p = factors_window(s0, s1, t.c0, t.c1)
            a = soil_loss_rusle(
                r=xr.DataArray(r, dims=("y", "x")),
                k=xr.DataArray(k, dims=("y", "x")),
                ls=xr.DataArray(ls, dims=("y", "x")),
                c=xr.DataArray(c, dims=("y", "x")),
                p=xr.DataArray(p, dims=("y", "x")),
            )
            cls = classify_intensity(a).values
            codes = np.where(np.isnan(cls), 0, cls).astype(np.int64)
            counts += np.bincount(codes.ravel(), minlength=7)[:7]
        with lock:
            areas[:] += counts * cell_ha

    t0 = time.perf_counter()
    try:
        info = _tiled.run(
            read,
            (side, side),
            dx=CELL,
            dy=CELL,
            sink=sink,
            tile=(tile, tile),
            routing=routing,
            max_slope_length_m=cap,
            layers=("ls_factor",),
            workers=workers,
            log=lambda msg: print(
                f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True
            ),
        )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    info["wall_s"] = time.perf_counter() - t0
    info["cells"] = side * side
    info["areas_ha"] = areas.tolist()
    use = resource.getrusage(resource.RUSAGE_SELF)
    info["peak_rss_mib"] = use.ru_maxrss / 1024.0
    info["cpu_s"] = use.ru_utime + use.ru_stime
    return info


#: stages that run one job per tile (the rest are global passes, one process)
TILE_STAGES = (
    "fill_pass1",
    "fill_pass2",
    "flats_rounds",
    "route_pass",
    "d8_pass2",
    "mfd_rounds",
    "ls_pass",
)


def projection(res: dict, nodes: int, cores: int = 2) -> float:
    """Projected wall time (s) on ``nodes`` × ``cores``: every tile stage takes
    ⌈jobs / (nodes·cores)⌉ × its mean measured time per tile job (MFD: per round, round 1
    and the later delta rounds apart), the global passes take their measured time (they
    run in one process), file transfer between nodes is not counted."""
    slots = nodes * cores
    total = 0.0
    for stage, secs in res["seconds"].items():
        times = res["tile_seconds"].get(stage) or []
        if stage not in TILE_STAGES or not times:
            total += secs
            continue
        if stage == "flats_rounds":  # round 1 runs in fill_pass2; later rounds are alike
            n = res["flats"]["round_tiles"][1:]
            total += sum(math.ceil(k / slots) for k in n) * sum(times) / len(times)
            total += res["flats"]["exchange_s"]
            continue
        if stage == "mfd_rounds":  # round 1 accumulates whole tiles, later rounds a change
            n = res["mfd"]["round_tiles"]
            first, later = times[: n[0]], times[n[0] :]
            total += math.ceil(n[0] / slots) * sum(first) / len(first)
            mean_later = sum(later) / len(later) if later else 0.0
            total += sum(math.ceil(k / slots) for k in n[1:]) * mean_later
            total += res["mfd"]["exchange_s"]
            continue
        total += math.ceil(len(times) / slots) * sum(times) / len(times)
    return total


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="16,64,256", help="million cells, comma-separated")
    ap.add_argument("--routing", default="mfd", choices=["d8", "mfd"])
    ap.add_argument("--tile", type=int, default=2048)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cap", type=float, default=None, help="slope-length cap, m (default none)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.routing, args.tile, args.workers, args.cap)))
        return
    for size in [float(s) for s in args.sizes.split(",")]:
        side = int(round((size * 1e6) ** 0.5))
        load0 = os.getloadavg()[0]
        cmd = [sys.executable, __file__, "--child", str(side), "--routing", args.routing]
        cmd += ["--tile", str(args.tile), "--workers", str(args.workers)]
        if args.cap is not None:
            cmd += ["--cap", str(args.cap)]
        # a fixed mmap threshold: tile-sized arrays go back to the system when freed instead
        # of fragmenting glibc's per-thread arenas (with the default, dynamic threshold the
        # resident size drifts up with the number of tiles)
        env = dict(os.environ, OMP_NUM_THREADS="1", MALLOC_MMAP_THRESHOLD_="1048576")
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            check=False,
            cwd=Path(__file__).resolve().parents[1],
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"child failed (exit {proc.returncode}), see its messages above")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        cells = res["cells"]
        stages = ", ".join(f"{k} {v:.1f}" for k, v in res["seconds"].items())
        print(
            f"{cells / 1e6:.0f} M cells ({side}², {res['tiles']} tiles of {args.tile}², "
            f"{args.routing}, {args.workers} threads): process {wall:.1f} s, "
            f"tiled run {res['wall_s']:.1f} s = {1e9 * res['wall_s'] / cells:.0f} ns/cell "
            f"({cells / res['wall_s'] / 1e6:.2f} M cells/s), CPU {res['cpu_s']:.0f} s = "
            f"{1e9 * res['cpu_s'] / cells:.0f} ns/cell, peak RSS {res['peak_rss_mib']:.0f} MiB"
            + (f", MFD rounds {res['mfd_rounds']}" if "mfd_rounds" in res else "")
            + f", load {load0:.1f} → {os.getloadavg()[0]:.1f}"
        )
        print(f"  stages (s): {stages}")
        rss = ", ".join(f"{k} {v:.0f}" for k, v in res["rss_mib"].items())
        print(f"  RSS after each stage (MiB): {rss}")
        per_tile = ", ".join(
            f"{k} {sum(v) / len(v):.2f} (max {max(v):.2f}, {len(v)} jobs)"
            for k, v in res["tile_seconds"].items()
            if v
        )
        print(f"  per tile job (s, mean): {per_tile}")
        glob = sum(v for k, v in res["seconds"].items() if k not in TILE_STAGES)
        print(
            f"  global passes {glob:.1f} s; flats rounds {res['flats']['rounds']} "
            f"(exchanges {res['flats']['exchange_s']:.1f} s), tiles per round "
            f"{res['flats']['round_tiles']}"
            + (
                f"; MFD exchanges {res['mfd']['exchange_s']:.1f} s, tiles per round "
                f"{res['mfd']['round_tiles']}"
                if "mfd" in res
                else ""
            )
        )
        proj = ", ".join(
            f"{n} × {args.workers} cores {projection(res, n, args.workers):.0f} s"
            for n in (1, 4, 16, 64)
        )
        print(f"  projection (nodes × cores, from the per-tile times): {proj}")
        areas = res["areas_ha"]
        print(f"  class areas (ha, nodata, 微度 … 剧烈): {[round(a) for a in areas]}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
