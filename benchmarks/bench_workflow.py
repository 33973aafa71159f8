"""Time the whole workflow on a demo configuration (default: ``configs/demo.yaml``, the
10 km × 10 km district at 10 m, 1 million cells).

    .venv/bin/python benchmarks/bench_workflow.py [--config configs/demo.yaml] [--cores 2]

Runs Snakemake in a fresh temporary directory (numba kernels as ``make env`` left them) and
prints, from each rule's ``benchmark:`` file, the per-job wall time and peak RSS, then:

- the wall time of the run (the Snakemake command, start-up included) and its CPU time
  (user + system of every process it started), and the share of the cores kept busy;
- a **machine-speed probe**: the CPU seconds a fresh interpreter needs to import numpy,
  pandas, xarray, rioxarray and dask.array (the floor every workflow job pays), the least
  of three tries. This VM's speed drifts by ±25 % within an hour; the probe, taken right
  before the run, says which state the run met, so two runs can be compared.

The target of issue 17: the default demo workflow in ≤ 60 s on 2 cores. Measured with this
script and with ``make clean && /usr/bin/time make demo`` (see the README for the figures).
Not a test: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.notebook import snakemake_command

REPO = Path(__file__).resolve().parents[1]
PROBE = "import numpy, pandas, xarray, rioxarray, dask.array"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def speed_probe(tries: int = 3) -> float:
    """CPU seconds of a fresh interpreter importing the per-job stack (least of ``tries``)."""
    best = float("inf")
    for _ in range(tries):
        before = _children_cpu()
        subprocess.run([sys.executable, "-c", PROBE], check=True)
        best = min(best, _children_cpu() - before)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "configs" / "demo.yaml"))
    ap.add_argument("--cores", default="2")
    ap.add_argument("--keep", help="work directory to use and keep (default: a temp dir)")
    args = ap.parse_args()
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="shuibao-bench-"))
    cmd = snakemake_command(args.config, workdir, cores=args.cores, extra=["--quiet", "rules"])
    probe = speed_probe()
    load = os.getloadavg()[0]
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd)
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    rows = []
    for bench in sorted(workdir.glob("logs/**/*.bench.tsv")):
        with open(bench) as fh:
            rec = next(csv.DictReader(fh, delimiter="\t"))
        rows.append(
            (str(bench.relative_to(workdir / "logs")), float(rec["s"]), float(rec["max_rss"]))
        )
    print(f"{'job':55s} {'wall s':>8s} {'max RSS MiB':>12s}")
    for name, sec, rss in rows:
        print(f"{name:55s} {sec:8.1f} {rss:12.0f}")
    busy = cpu / (wall * int(args.cores)) if wall > 0 else float("nan")
    print(
        f"workflow: {len(rows)} jobs, wall {wall:.1f} s, CPU {cpu:.1f} s "
        f"({busy:.0%} of {args.cores} cores busy); exit {proc.returncode}; work dir {workdir}"
    )
    print(f"machine: speed probe {probe:.2f} CPU-s ({PROBE}), load average {load:.2f} before")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
