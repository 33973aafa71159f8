"""Benchmark: disturbance detection on the demo district (20 km at 10 m = 2000 × 2000 cells).

Usage::

    .venv/bin/python benchmarks/bench_disturbance.py            # demo district, 2 threads
    .venv/bin/python benchmarks/bench_disturbance.py --size-km 8 --repeat 3

Not timed: the demo land cover (``pipeline.sources.demo``), the disturbance scene and its
eight seasonal composites (``pipeline.sources.demo_disturbance``; 2 × 256 MB float32).
Timed ("detection"): ``pipeline.disturbance.detect_patches`` — NDVI and BSI of every
season, the yearly states, change classes, morphology, labelling, minimum mapping unit,
polygons and patch means — and then ``assess_compliance`` against the demo's approved
projects. Threads are capped with ``--threads`` (OMP/MKL/numba/dask). Target: ≤ 10 s on
2 cores. The detection is also checked against the hidden truth (precision, recall, area).
Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-km", type=float, default=20.0)
    ap.add_argument("--resolution-m", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import dask

    dask.config.set(scheduler="threads", num_workers=args.threads)

    from pipeline.disturbance import assess_compliance, detect_patches
    from pipeline.disturbance.compliance import patch_change_dates
    from pipeline.sources import demo
    from pipeline.sources import demo_disturbance as dd

    t0 = time.perf_counter()
    grid = demo.make_grid(size_km=args.size_km, resolution_m=args.resolution_m)
    dem = demo.make_dem(grid, seed=args.seed)
    aoi = demo.make_aoi(grid, seed=args.seed)
    lc = demo.make_landcover(dem, aoi, years=(2023, 2024), seed=args.seed)
    scene = dd.make_disturbance_demo(
        lc[2023], lc[2024], years=(2023, 2024), seed=args.seed, aoi=aoi
    )
    del dem, lc
    comp = dd.make_composites(scene, seed=args.seed)
    print(
        f"grid {grid.shape[0]}×{grid.shape[1]}, scene and composites built in "
        f"{time.perf_counter() - t0:.1f} s (not timed); {len(scene['truth'])} true patches"
    )
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        _, patches = detect_patches(comp[2023], comp[2024], years=(2023, 2024))
        t_detect = time.perf_counter() - t
        patches["change_date"] = patch_change_dates(patches)
        patches = patches.join(assess_compliance(patches, scene["projects"]))
        times.append((t_detect, time.perf_counter() - t))
    for t_detect, t_total in times:
        print(
            f"detection {t_detect:.2f} s; with compliance {t_total:.2f} s ({args.threads} threads)"
        )

    truth = scene["truth"]
    big = truth[truth["area_ha"] >= 0.1]

    def matched(a, b):
        n = 0
        for ga in a.geometry:
            for j in b.sindex.query(ga, predicate="intersects"):
                gb = b.geometry.iloc[j]
                iou = ga.intersection(gb).area / ga.union(gb).area
                if iou >= 0.5 or gb.contains(ga.centroid) or ga.contains(gb.centroid):
                    n += 1
                    break
        return n / max(len(a), 1)

    print(
        f"{len(patches)} patches, {patches['area_ha'].sum():.1f} ha; truth ≥ MMU {len(big)}, "
        f"{big['area_ha'].sum():.1f} ha; precision {matched(patches, truth):.3f}, "
        f"recall {matched(big, patches):.3f}"
    )


if __name__ == "__main__":
    main()
