"""Command line: ``shuibao check CONFIG`` validates a configuration; ``shuibao run CONFIG``
runs the Snakemake workflow on it (extra arguments go to Snakemake)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from pipeline.config import load_config
from pipeline.errors import ShuibaoError

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shuibao", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate a configuration file and print it with defaults")
    check.add_argument("config")
    run = sub.add_parser("run", help="run the workflow on a configuration file")
    run.add_argument("config")
    run.add_argument("--cores", default="all")
    args, extra = parser.parse_known_args(argv)
    try:
        cfg = load_config(args.config)
    except ShuibaoError as exc:
        print(f"shuibao: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        import yaml

        print(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))
        return 0
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--configfile",
        str(Path(args.config).resolve()),
        "--cores",
        str(args.cores),
        *extra,
    ]
    return subprocess.call(cmd)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
