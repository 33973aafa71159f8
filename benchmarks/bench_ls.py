"""Benchmark: LS factor on synthetic DEMs of 1, 16 and 64 million cells, D8 and MFD.

Usage::

    .venv/bin/python benchmarks/bench_ls.py                 # 1, 16, 64 M cells, D8 and MFD
    .venv/bin/python benchmarks/bench_ls.py --sizes 16 --routing mfd
    .venv/bin/python benchmarks/bench_ls.py --sizes 16 --no-uncached --no-peers

Each size and routing runs in fresh processes, as Snakemake runs a step:

- "cold, no cache": a new process with an empty numba cache (NUMBA_CACHE_DIR set to a new
  temporary folder), so numba compiles every kernel;
- "cold, cached": a new process with numba's on-disk cache (the kernels use cache=True);
  the target of issue 17 is this one: ≤ 10 s wall, ≤ 1 GiB peak RSS at 16 M cells;
- "warm": the same process computing LS a second time.

The DEM (a sum of oriented sine waves with 5 km to 60 m wavelengths, 10 m cells, rounded to
0.1 m like a real DEM, so it has flats and closed depressions) is first written to a tiled
float32 GeoTIFF; the timed step opens it with ``pipeline.io.open_raster`` in 2048² chunks
(as the workflow does) and computes ``ls_factor`` (300 m cap, no channel threshold, the
routing given) into a float32 array held in memory. Wall is the whole child process
(interpreter start, imports, numba cache loading, read, LS); CPU is its user + system time;
peak RSS is its ``ru_maxrss``. GDAL's block cache is capped at 128 MB (GDAL_CACHEMAX; its
default, 5 % of RAM, otherwise adds up to ~0.3 GB of cached DEM blocks at 64 M cells). With
whitebox-workflows, GRASS (``r.watershed``) or SAGA (``saga_cmd``) installed, the same file
goes through them and the ratio is printed; otherwise "GRASS/SAGA not installed" (they are
Debian packages, grass-core and saga; ``apt-get install grass-core saga``). Not a test: numbers
depend on the machine and its load.

Measured here (the load average is printed with each line):

- 16 M cells, 2026-12-03, a quiet machine (``--sizes 16 --no-uncached --no-peers``, load
  average 1.1, its own processes): cold, cached: D8 5.89 s wall (imports 0.80 s, LS 4.25 s),
  7.32 s CPU, 793 MiB peak RSS; MFD 8.54 s wall (imports 0.98 s, LS 6.68 s), 10.25 s CPU,
  863 MiB. Both within the ≤ 10 s / ≤ 1 GiB target. Warm (second LS in one process): D8
  2.58 s, MFD 6.02 s. A second run the same way with the peers (load average 0.6-0.9, GRASS
  GIS 8.2.1 and SAGA from Debian's grass-core and saga, whitebox-workflows 2.0.6 from PyPI,
  installed for this run only): cold, cached D8 5.24 s (738 MiB), MFD 8.45 s (917 MiB); GRASS
  ``r.watershed`` (MFD, LS output, import included) 14.29 s, so Shuibao's MFD LS in a fresh
  process takes 0.59 × GRASS's time (warm 5.72 s: 0.40 ×); SAGA (fill, MFD accumulation,
  slope, LS) 26.64 s (Shuibao warm / SAGA: D8 0.09, MFD 0.21); whitebox-workflows (fill with
  flat resolution, D8 SCA, slope, sediment transport index) 260.45 s, most of it in its
  depression filling of this DEM's many flats (rounded to 0.1 m).

Earlier, with 2 cores shared with other jobs:

- 16 M cells, 2026-12-02, this code, ``--child`` runs back to back (load average 4.0-4.1):
  cold, cached: D8 19.1 s wall, 12.0 s CPU, 755 MiB peak RSS; MFD 21.8 s wall, 16.0 s
  CPU, 916 MiB. The code before the parallel fill (commit c277254), same way, load
  4.7-5.1: D8 20.8 s wall, 11.4 s CPU, 722 MiB; MFD 24.9 s wall, 17.0 s CPU, 859 MiB.
- The full run (``--sizes 16``, load average 6.4-7.6): D8 empty cache 87.9 s wall (32.9 s
  CPU, 878 MiB), cached 54.3 s wall (14.7 s CPU, 787 MiB), warm 18.6 s; MFD empty cache
  92.2 s wall (43.9 s CPU, 971 MiB), cached 67.4 s wall (21.5 s CPU, 865 MiB), warm 27.6 s
  (1149 MiB: two LS runs in one process). whitebox-workflows, GRASS and SAGA not installed.
- So the wall time is bounded by the load, not by the CPU the step needs: CPU per stage
  (``ls_factor``, cached kernels): imports ≈ 1.5, GeoTIFF read 1.0 (2 threads), fill 4.3
  (2 threads), route 0.9 (2 threads), MFD accumulation 4.3 (serial), LS chunks 2.6 (2
  threads). On a free 2-core machine that adds up to ≈ 6.5 s wall for D8 and ≈ 10.7 s for
  MFD (an estimate from these CPU times, not a measurement: the machine was never free
  during this work). The 10 s / 1 GiB target holds for memory (both routings, cold); for
  wall time it needs a quiet machine (D8) and a faster MFD accumulation (MFD).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHUNK = 2048
CELL = 10.0


def synthetic_dem(n_cells: int, chunk: int = CHUNK):
    """A lazy (dask) DEM of about n_cells cells, square, 10 m cells, EPSG:32650."""
    import dask.array as da
    import numpy as np
    import rioxarray  # noqa: F401
    import xarray as xr

    side = int(round(n_cells**0.5))
    rng = np.random.default_rng(42)
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
        for _ in range(2):
            angle = rng.uniform(0, np.pi)
            phase = rng.uniform(0, 2 * np.pi)
            waves.append((2 * np.pi / wavelength, np.cos(angle), np.sin(angle), phase, amplitude))

    def block(block_info=None):
        (r0, r1), (c0, c1) = block_info[None]["array-location"]
        y = (np.arange(r0, r1, dtype=np.float64)[:, None]) * CELL
        x = (np.arange(c0, c1, dtype=np.float64)[None, :]) * CELL
        z = 400.0 + 0.01 * y + np.zeros((r1 - r0, c1 - c0))
        for k, cx, cy, phase, amp in waves:
            z += amp * np.sin(k * (cx * x + cy * y) + phase)
        return (np.round(z * 10.0) / 10.0).astype(np.float32)

    data = da.map_blocks(block, chunks=(_chunks(side, chunk),) * 2, dtype=np.float32)
    coords = {
        "y": 3.0e6 - (np.arange(side) + 0.5) * CELL,
        "x": 3.0e5 + (np.arange(side) + 0.5) * CELL,
    }
    dem = xr.DataArray(data, dims=("y", "x"), coords=coords, name="dem")
    return dem.rio.write_crs("EPSG:32650")


def write_dem(n_cells: int, folder: Path) -> Path:
    """Write the synthetic DEM as a tiled, compressed float32 GeoTIFF (nodata −9999)."""
    import dask
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    dem = synthetic_dem(n_cells)
    side = dem.shape[0]
    path = folder / f"dem_{side}.tif"
    profile = dict(
        driver="GTiff",
        width=side,
        height=side,
        count=1,
        dtype="float32",
        crs="EPSG:32650",
        transform=from_origin(3.0e5, 3.0e6, CELL, CELL),
        nodata=-9999.0,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        predictor=3,
        BIGTIFF="IF_SAFER",
    )
    with rasterio.open(path, "w", **profile) as dst, dask.config.set(scheduler="synchronous"):
        for r0, r1 in _bounds(dem.chunks[0]):
            for c0, c1 in _bounds(dem.chunks[1]):
                block = dem.data[r0:r1, c0:c1].compute()
                dst.write(block, 1, window=Window(c0, r0, c1 - c0, r1 - r0))
    return path


def _bounds(chunks):
    start = 0
    for size in chunks:
        yield start, start + size
        start += size


def _chunks(side, chunk):
    full, rest = divmod(side, chunk)
    return (chunk,) * full + ((rest,) if rest else ())


def _rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(path: str, routing: str, repeats: int) -> dict:
    """Runs inside the fresh process: LS of the DEM file, as the workflow step would."""
    t_start = time.perf_counter()
    import dask
    import dask.array as da
    import numpy as np

    from pipeline.factors.terrain import ls_factor
    from pipeline.io import open_raster

    t_import = time.perf_counter() - t_start
    dask.config.set(scheduler="threads", num_workers=2)
    dem = open_raster(path, chunks={"y": CHUNK, "x": CHUNK})
    out = {"cells": int(dem.size), "import_s": t_import, "runs_s": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        ls = ls_factor(dem, routing=routing)
        target = np.empty(ls.shape, dtype=np.float32)
        da.store(ls.data, target, lock=False)
        out["runs_s"].append(time.perf_counter() - t0)
        out["ls_mean"] = float(np.nanmean(target))
        del target, ls
    out["process_s"] = time.perf_counter() - t_start
    use = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = use.ru_utime + use.ru_stime
    out["peak_rss_mib"] = _rss_mib()
    return out


def run_child(path, routing, repeats, *, fresh_cache: bool) -> dict:
    env = dict(os.environ)
    tmp = None
    if fresh_cache:
        tmp = tempfile.mkdtemp(prefix="numba-cache-")
        env["NUMBA_CACHE_DIR"] = tmp
    env.setdefault("OMP_NUM_THREADS", "1")
    # GDAL's block cache defaults to 5 % of RAM and counts in the RSS; cap it as a workflow
    # on a shared machine should (override with GDAL_CACHEMAX in the environment)
    env.setdefault("GDAL_CACHEMAX", "128")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            str(path),
            "--routing",
            routing,
            "--repeats",
            str(repeats),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    wall = time.perf_counter() - t0
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["fresh_process_wall_s"] = wall
    return result


# ------------------------------------------------------------------------------ peers
def peer_whitebox(path: Path) -> float | None:
    """whitebox-workflows on the same file: its nearest to an LS pipeline, in seconds.

    fill_depressions (with flat resolution) → d8_flow_accum (specific catchment area) →
    slope → sediment_transport_index (Moore & Burch's LS), in memory, 2 threads.
    """
    try:
        import whitebox_workflows as wbw
    except ImportError:
        return None
    env = wbw.WbEnvironment()
    env.max_procs = 2
    env.verbose = False
    hyd = env.hydrology  # this build disables the flat env.<tool> methods
    t0 = time.perf_counter()
    dem = env.read_raster(str(path))
    filled = hyd.fill_depressions(dem=dem)
    sca = hyd.d8_flow_accum(input=filled, out_type="sca")
    slope = env.terrain.slope(input=dem)
    hyd.sediment_transport_index(sca=sca, slope=slope)
    return time.perf_counter() - t0


def _timed_shell(cmd: list[str], cwd: Path) -> float | None:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"  {cmd[0]} failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
        return None
    return time.perf_counter() - t0


def peer_grass(path: Path) -> float | None:
    """GRASS GIS r.watershed (fill-free least-cost routing, MFD by default, LS output) on the
    same file, in a temporary location, seconds including the import; None if absent."""
    grass = shutil.which("grass")
    if grass is None:
        return None
    script = (
        f"r.in.gdal -o input={path} output=dem --quiet && g.region raster=dem && "
        # threshold (cells): LS wants it; larger than the grid, so no channel stops a slope
        "r.watershed elevation=dem accumulation=acc length_slope=ls_grass max_slope_length=300 "
        "threshold=1000000000 memory=1000 --quiet"
    )
    return _timed_shell(
        [grass, "--tmp-location", "EPSG:32650", "--exec", "bash", "-c", script], path.parent
    )


def peer_saga(path: Path) -> float | None:
    """SAGA GIS on the same file: fill sinks (Wang & Liu), flow accumulation (top-down,
    MFD), slope, LS factor (Moore et al. / Desmet & Govers options), seconds; None if absent."""
    saga = shutil.which("saga_cmd")
    if saga is None:
        return None
    d = path.parent
    steps = [
        [saga, "ta_preprocessor", "4", "-ELEV", str(path), "-FILLED", str(d / "filled.sdat")],
        [saga, "ta_hydrology", "0", "-ELEVATION", str(d / "filled.sdat"),
         "-FLOW", str(d / "acc.sdat"), "-METHOD", "4"],
        [saga, "ta_morphometry", "0", "-ELEVATION", str(path), "-SLOPE", str(d / "slope.sdat")],
        [saga, "ta_hydrology", "22", "-SLOPE", str(d / "slope.sdat"),
         "-AREA", str(d / "acc.sdat"), "-LS", str(d / "ls.sdat"), "-METHOD", "1"],
    ]  # fmt: skip
    total = 0.0
    for cmd in steps:
        seconds = _timed_shell(cmd, d)
        if seconds is None:
            return None
        total += seconds
    return total


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,16,64", help="million cells, comma-separated")
    ap.add_argument(
        "--routing", default="d8,mfd", help="d8, mfd or both comma-separated (default both)"
    )
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument(
        "--peer-max",
        type=float,
        default=16.0,
        help="largest size (M cells) to run the peers on (default 16)",
    )
    ap.add_argument("--no-uncached", action="store_true", help="skip the empty-cache run")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    routings = [r.strip() for r in args.routing.split(",") if r.strip()]
    for r in routings:
        if r not in ("d8", "mfd"):
            ap.error(f"--routing: {r!r} is not d8 or mfd")
    if args.child is not None:
        print(json.dumps(child(args.child, args.routing, args.repeats)))
        return
    print(
        f"LS benchmark, routing {', '.join(routings)}, chunks {CHUNK}², 2 dask threads, "
        f"{os.cpu_count()} CPUs, GDAL_CACHEMAX {os.environ.get('GDAL_CACHEMAX', '128')} MB, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-ls-"))
    try:
        # prime numba's on-disk cache (a kernel edited since the last run recompiles here)
        small = write_dem(256 * 256, workdir)
        for routing in routings:
            run_child(small, routing, 1, fresh_cache=False)
        for size in [float(s) for s in args.sizes.split(",")]:
            run_size(size, args, routings, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_size(size, args, routings, workdir):
    path = write_dem(int(size * 1e6), workdir)
    mib = path.stat().st_size / 2**20
    print(f"{size:g} M cells: DEM {path.name} ({mib:.0f} MiB on disk, 10 m cells)")
    warm = {}
    for routing in routings:
        print(f"  routing {routing}:")
        if not args.no_uncached:
            nocache = run_child(path, routing, 1, fresh_cache=True)
            print(
                f"    cold, new process, empty numba cache: "
                f"{nocache['fresh_process_wall_s']:.2f} s wall (LS {nocache['runs_s'][0]:.2f} s), "
                f"CPU {nocache['cpu_s']:.2f} s, peak RSS {nocache['peak_rss_mib']:.0f} MiB"
            )
        fresh = run_child(path, routing, 1, fresh_cache=False)
        print(
            f"    cold, new process, numba cache: {fresh['fresh_process_wall_s']:.2f} s wall "
            f"(import {fresh['import_s']:.2f} s, LS {fresh['runs_s'][0]:.2f} s), CPU "
            f"{fresh['cpu_s']:.2f} s, peak RSS {fresh['peak_rss_mib']:.0f} MiB, load average "
            f"{os.getloadavg()[0]:.1f}"
        )
        cached = run_child(path, routing, 2, fresh_cache=False)
        warm[routing] = cached["runs_s"][1]
        print(
            f"    warm (second LS in one process): {cached['runs_s'][1]:.2f} s; peak RSS "
            f"{cached['peak_rss_mib']:.0f} MiB; mean LS {cached['ls_mean']:.4f}"
        )
        sys.stdout.flush()
    if args.no_peers or size > args.peer_max:
        return
    wb = peer_whitebox(path)
    if wb is None:
        print("  whitebox-workflows: not installed")
    elif "d8" in warm:
        print(
            f"  whitebox-workflows fill + D8 SCA + slope + sediment transport index: "
            f"{wb:.2f} s (same process as the parent, after reading the file); "
            f"Shuibao warm D8 LS / whitebox = {warm['d8'] / wb:.2f}"
        )
    peers = {"GRASS r.watershed": peer_grass(path), "SAGA": peer_saga(path)}
    if all(v is None for v in peers.values()):
        print("  GRASS/SAGA not installed")
    for name, seconds in peers.items():
        if seconds is None:
            continue
        ratios = ", ".join(f"{r.upper()} {w / seconds:.2f}" for r, w in warm.items())
        print(f"  {name}: {seconds:.2f} s; Shuibao warm LS / {name}: {ratios}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
