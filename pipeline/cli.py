"""Command line of Shuibao.

- ``shuibao init [DISTRICT]`` writes a commented configuration for a new district;
- ``shuibao check --configfile FILE`` validates a configuration (schema, then the same
  parse-time checks and DAG as the workflow, through a Snakemake dry run) and prints it
  with every default filled;
- ``shuibao run --configfile FILE`` runs the workflow on it (further arguments go to
  Snakemake, e.g. ``--cores 4``, ``--unlock``, ``--rerun-incomplete``).

Works from an installed wheel as well as from the repository: the Snakefile, rules and
schema are found by :mod:`pipeline.packaged`. Results go to the working directory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from pipeline.errors import ShuibaoError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shuibao",
        description=__doc__.split("\n\n")[0],
        epilog="Arguments not listed here are passed on to Snakemake.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("check", "validate a configuration (schema + Snakemake dry run), print it with defaults"),
        ("run", "run the workflow on a configuration file"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("config", nargs="?", help="configuration file (or use --configfile)")
        p.add_argument("--configfile", dest="configfile", help="configuration file (YAML)")
        if name == "run":
            p.add_argument("--cores", default="all", help="CPU cores for Snakemake (default all)")
        else:
            p.add_argument("--quiet", action="store_true", help="do not print the configuration")
    init = sub.add_parser("init", help="write a commented configuration for a new district")
    init.add_argument("aoi", nargs="?", default="my_district", help="short id of the district")
    init.add_argument("-o", "--output", help="file to write (default configs/<aoi>.yaml)")
    init.add_argument("--name", help="district name as printed (e.g. 长汀县)")
    init.add_argument("--years", default="2023,2024", help="comma-separated years")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    return parser


def _config_path(args, parser) -> Path:
    path = args.configfile or args.config
    if not path:
        parser.error(f"{args.command}: give the configuration file (--configfile FILE)")
    return Path(path)


def _snakemake(config: Path, *extra: str) -> list[str]:
    from pipeline.packaged import snakefile

    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile()),
        "--configfile",
        str(config.resolve()),
        *extra,
    ]


_NOISE = ("Using workflow specific profile", "Assuming unrestricted", "  File ", "Building DAG")


def _dry_run(config: Path, extra: list[str]) -> int:
    """The workflow's own parse-time checks and DAG, without running a job."""
    proc = subprocess.run(
        _snakemake(config, "--dry-run", "--quiet", "rules", *extra),
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in (proc.stdout + "\n" + proc.stderr).splitlines() if ln.strip()]
    if proc.returncode == 0:
        totals = [ln.split()[-1] for ln in lines if ln.startswith("total ")]
        todo = (
            f"{totals[-1]} jobs to run" if totals else "nothing to do, every output is up to date"
        )
        print(f"shuibao: {config}: valid; dry run: {todo}", file=sys.stderr)
        return 0
    # Snakemake's own lines without the stack frames: our errors name the file and key.
    message = "\n  ".join([ln for ln in lines if not ln.startswith(_NOISE)][:12])
    print(f"shuibao: {config}: the workflow's dry run failed:\n  {message}", file=sys.stderr)
    return 2


def _list_stale_outputs() -> None:
    """Outputs here made by another Shuibao version or other code (pipeline/codehash.py)."""
    import pipeline
    from pipeline import codehash

    text = codehash.describe_stale(codehash.stale_outputs(version=pipeline.__version__))
    if text:
        print(f"shuibao: {text}", file=sys.stderr)


_OWN_WITH_VALUE = ("--configfile", "--cores")
_OWN_FLAGS = ("--quiet",)


def _passthrough(argv: list[str], positional: str | None) -> list[str]:
    """The arguments for Snakemake, in their order: all but the subcommand, Shuibao's own
    options and the positional configuration file.

    argparse would take the value of an option it does not know (``--workflow-profile
    profiles/default``) as the optional positional configuration file, so the pass-through
    is rebuilt from the command line itself.

    >>> _passthrough(["run", "--configfile", "c.yaml", "--workflow-profile", "p", "-n"], None)
    ['--workflow-profile', 'p', '-n']
    >>> _passthrough(["check", "c.yaml", "--cores=2", "--quiet", "--forceall"], "c.yaml")
    ['--forceall']
    """
    out: list[str] = []
    rest = iter(argv[1:])
    for arg in rest:
        if arg in _OWN_WITH_VALUE:
            next(rest, None)
        elif arg.split("=", 1)[0] in _OWN_WITH_VALUE or arg in _OWN_FLAGS:
            continue
        elif positional is not None and arg == positional:
            positional = None  # the first occurrence only
        else:
            out.append(arg)
    return out


def _main(argv: list[str] | None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args, _ = parser.parse_known_args(argv)
    if args.command in ("run", "check"):
        # a positional taken beside --configfile is the value of a Snakemake option
        positional = None if args.configfile else args.config
        extra = _passthrough(argv, positional)
    if args.command == "init":
        from pipeline.init_config import write_config

        out = write_config(
            args.output or Path("configs") / f"{args.aoi}.yaml",
            aoi=args.aoi,
            name=args.name,
            years=args.years,
            force=args.force,
        )
        print(f"shuibao: wrote {out}; edit the paths, then: shuibao check --configfile {out}")
        return 0

    from pipeline.config import load_config

    config = _config_path(args, parser)
    cfg = load_config(config)  # schema errors with file, key (and line for YAML syntax)
    if args.command == "check":
        status = _dry_run(config, extra)
        _list_stale_outputs()
        if status == 0 and not args.quiet:
            import yaml

            print(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), end="")
        return status
    return subprocess.call(_snakemake(config, "--cores", str(args.cores), *extra))


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except ShuibaoError as exc:
        print(f"shuibao: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # output piped into e.g. `head`, which closed early: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("shuibao: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"shuibao: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
