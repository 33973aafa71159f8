"""Time the whole workflow on a demo configuration (default: the 20 km × 10 m demo).

    .venv/bin/python benchmarks/bench_workflow.py [--config configs/demo.yaml] [--cores 2]

Runs Snakemake in a fresh temporary directory, prints the wall time of the run and,
from each rule's ``benchmark:`` file, the per-job wall time and peak RSS. The brief's
target: the default demo workflow in under 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.notebook import snakemake_command

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "configs" / "demo.yaml"))
    ap.add_argument("--cores", default="2")
    ap.add_argument("--keep", help="work directory to use and keep (default: a temp dir)")
    args = ap.parse_args()
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="shuibao-bench-"))
    cmd = snakemake_command(args.config, workdir, cores=args.cores, extra=["--quiet", "rules"])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd)
    wall = time.perf_counter() - t0
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
    print(f"workflow wall time: {wall:.1f} s (exit {proc.returncode}); work dir {workdir}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
