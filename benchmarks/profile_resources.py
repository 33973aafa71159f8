"""Per-rule peak memory and CPU time from a run's benchmark files, and the profile figures.

    .venv/bin/python benchmarks/profile_resources.py WORKDIR/logs/small [--cells 40000]
        [--target-cells 4000000]

Reads every ``*.bench.tsv`` that the rules' ``benchmark:`` directives wrote under the run's
log folder (``logs/{aoi}/``), groups them by rule (the largest job of each rule counts) and
prints max_rss (MB), CPU and wall seconds, and the ``set-resources`` lines proposed for
profiles/default/config.yaml:

- memory scaled to ``--target-cells``: the part above the bare interpreter with the
  libraries (``--base-mb``, default: the smallest max_rss of the run) grows with the
  cells, ``mem_mb = (base + (rss − base) · target/cells) · 1.5``, rounded up to 128 MB;
- runtime from CPU time (the wall time of a loaded machine is mostly waiting), scaled the
  same way, ``runtime = ceil(cpu · target/cells · 2 / 60)`` minutes, at least 1.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
from pathlib import Path

RENAME = {"inputs": "inputs_year"}  # logs/{aoi}/{year}/inputs.bench.tsv


def rule_of(path: Path) -> str:
    name = path.name.removesuffix(".bench.tsv")
    name = re.sub(r"_\d{4}_\d{4}$", "", name)  # change_2023_2024, zone_change_…
    return RENAME.get(name, name)


def read(folder: Path) -> dict[str, dict[str, float]]:
    rules: dict[str, dict[str, float]] = {}
    for path in sorted(folder.rglob("*.bench.tsv")):
        with open(path, newline="") as fh:
            row = next(csv.DictReader(fh, delimiter="\t"))
        rss, cpu, wall = float(row["max_rss"]), float(row["cpu_time"]), float(row["s"])
        old = rules.setdefault(rule_of(path), {"rss": 0.0, "cpu": 0.0, "wall": 0.0, "n": 0})
        old.update(rss=max(old["rss"], rss), cpu=max(old["cpu"], cpu), wall=max(old["wall"], wall))
        old["n"] += 1
    return rules


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logs", type=Path)
    ap.add_argument("--cells", type=float, default=40_000.0, help="cells of the measured run")
    ap.add_argument("--target-cells", type=float, default=4_000_000.0)
    ap.add_argument("--base-mb", type=float, default=None)
    args = ap.parse_args()
    rules = read(args.logs)
    base = args.base_mb or min(r["rss"] for r in rules.values())
    f = args.target_cells / args.cells
    print(f"{len(rules)} rules; base {base:.0f} MB; scale ×{f:g}")
    print(f"{'rule':24s} {'jobs':>4s} {'max_rss':>8s} {'cpu_s':>7s} {'wall_s':>7s}")
    for rule, r in sorted(rules.items()):
        print(f"{rule:24s} {r['n']:4d} {r['rss']:8.0f} {r['cpu']:7.1f} {r['wall']:7.1f}")
    print("\nset-resources:")
    for rule, r in sorted(rules.items()):
        mem = (base + (r["rss"] - base) * f) * 1.5
        mem_mb = int(math.ceil(mem / 128) * 128)
        runtime = max(1, math.ceil(r["cpu"] * f * 2 / 60))
        print(f"  {rule}: {{mem_mb: {mem_mb}, runtime: {runtime}}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
