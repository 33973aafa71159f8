"""Which code made an output: a hash of the ``pipeline`` modules a stage imports.

Base layer (standard library only). Snakemake's ``code`` rerun trigger sees only a
rule's script; the science lives in the modules the stage imports. :func:`code_hash`
walks the stage module's imports statically (``ast``: every ``import`` and
``from … import`` anywhere in the file, function-level ones included), keeps those
inside the ``pipeline`` package, follows them transitively and hashes the source bytes
of every module reached (and the ``__init__`` of their packages). A changed line in
``pipeline/factors/terrain.py`` changes the hash of the terrain rule, not of the
report rule.

Each workflow job records, for its outputs, the Shuibao version, the package versions
and this hash (:func:`write_record`, called by ``pipeline.stages.common``);
:func:`stale_outputs` lists the outputs whose record differs from the installed code,
so that a run after an upgrade never mixes versions silently (a warning at the start of
every run; ``shuibao check`` lists them).

Written by hand: no library hashes a package's transitive import closure.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

#: The ``pipeline`` package folder.
PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE = "pipeline"
#: Where job records live, relative to the working directory.
RECORD_DIR = Path(".shuibao") / "provenance"
#: Environment variable through which the Snakemake process hands the stage modules' hashes
#: to its jobs (JSON ``{module: hash}``), so that each job does not parse the package again.
ENV_VAR = "SHUIBAO_CODE_HASHES"


def _module_file(name: str, package_dir: Path, package: str) -> Path | None:
    if name != package and not name.startswith(package + "."):
        return None
    rel = name.split(".")[1:]
    base = package_dir.joinpath(*rel)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str, package: str) -> set[str]:
    """Dotted names a file imports (with ``from a import b``: both ``a`` and ``a.b``)."""
    st = path.stat()
    return set(_imports_cached(str(path), module, package, st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=4096)
def _imports_cached(path_str: str, module: str, package: str, mtime_ns: int, size: int):
    # parsed once per file version and process: the workflow hashes ~10 stage modules at
    # start-up, which share most of their imports (351 parses of ~60 files before)
    path = Path(path_str)
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError:
        return frozenset()
    is_pkg = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_pkg else 0)
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(n for n in names if n == package or n.startswith(package + "."))


def module_files(
    root: str, *, package_dir: Path = PACKAGE_DIR, package: str = PACKAGE
) -> list[Path]:
    """Source files of module ``root`` and every ``package`` module it imports, transitively.

    >>> [p.name for p in module_files("pipeline.errors")]
    ['__init__.py', 'errors.py']
    """
    seen: dict[str, Path] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name, package_dir, package)
        if path is None:
            continue
        seen[name] = path
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages
        todo += sorted(_imports(path, name, package) - set(seen))
    return sorted(set(seen.values()), key=lambda p: p.relative_to(package_dir).as_posix())


def hash_files(files: Iterable[Path], base: Path) -> str:
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(base).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes().replace(b"\r\n", b"\n"))
        h.update(b"\0")
    return h.hexdigest()[:16]


@functools.cache
def code_hash(root: str, *, package_dir: Path = PACKAGE_DIR, package: str = PACKAGE) -> str:
    """16-hex-digit hash of the sources of ``root`` and the ``package`` modules it imports."""
    return hash_files(module_files(root, package_dir=package_dir, package=package), package_dir)


def stage_hashes(stages_package: str = "pipeline.stages") -> dict[str, str]:
    """:func:`code_hash` of every module of ``stages_package`` (the modules whose functions
    the workflow's jobs run); one parse of the package serves all of them."""
    folder = PACKAGE_DIR.joinpath(*stages_package.split(".")[1:])
    names = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    return {f"{stages_package}.{n}": code_hash(f"{stages_package}.{n}") for n in names}


def job_code_hash(module: str) -> str:
    """The hash the workflow computed when it started (:data:`ENV_VAR`), else
    :func:`code_hash` here; the same value unless the code was edited during the run."""
    try:
        known = json.loads(os.environ.get(ENV_VAR) or "{}")
    except ValueError:
        known = {}
    value = known.get(module) if isinstance(known, dict) else None
    return value if isinstance(value, str) and value else code_hash(module)


# ------------------------------------------------------------------ job records
def _record_path(outputs: list[str], workdir: Path) -> Path:
    key = hashlib.sha256("\n".join(sorted(outputs)).encode()).hexdigest()[:20]
    return workdir / RECORD_DIR / f"{key}.json"


def write_record(
    *, rule: str, module: str, outputs: Iterable[str], version: str, software: str,
    workdir: str | os.PathLike = ".", module_hash: str | None = None,
) -> Path:  # fmt: skip
    """Record which code and software made ``outputs`` (one small JSON per job)."""
    outputs = sorted(str(o) for o in outputs)
    path = _record_path(outputs, Path(workdir))
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "rule": rule,
        "module": module,
        "code_hash": module_hash or code_hash(module),
        "shuibao_version": version,
        "software": software,
        "outputs": outputs,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
    return path


def stale_outputs(
    *, version: str, workdir: str | os.PathLike = ".", software: str | None = None
) -> list[dict]:
    """Existing outputs made by another Shuibao version or other code than installed now.

    Returns one entry per job record that differs: ``rule``, ``outputs`` (those that
    still exist), ``made_with`` and ``now`` (version and code hash; the software
    line too when ``software`` is given and differs).
    """
    folder = Path(workdir) / RECORD_DIR
    stale = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
            module = rec["module"]
        except (OSError, ValueError, KeyError):
            continue
        outputs = [o for o in rec.get("outputs", []) if (Path(workdir) / o).exists()]
        if not outputs:
            continue
        try:
            now_hash = code_hash(module)
        except OSError:
            now_hash = "absent"
        differs = rec.get("code_hash") != now_hash or rec.get("shuibao_version") != version
        if software is not None and rec.get("software") not in (None, software):
            differs = True
        if differs:
            stale.append(
                {
                    "rule": rec.get("rule"),
                    "outputs": outputs,
                    "made_with": {
                        "shuibao_version": rec.get("shuibao_version"),
                        "code_hash": rec.get("code_hash"),
                    },
                    "now": {"shuibao_version": version, "code_hash": now_hash},
                }
            )
    return stale


def describe_stale(stale: list[dict], *, limit: int = 20) -> str:
    """Human-readable lines for :func:`stale_outputs` (empty string when none)."""
    if not stale:
        return ""
    lines = [
        f"{len(stale)} job(s) have outputs made by another Shuibao version or other code "
        "than installed now (rerun them with --forcerun RULE, or delete them and run again):"
    ]
    for entry in stale[:limit]:
        made, now = entry["made_with"], entry["now"]
        lines.append(
            f"  {entry['rule']}: {', '.join(entry['outputs'][:3])}"
            f"{' …' if len(entry['outputs']) > 3 else ''} — made by {made['shuibao_version']} "
            f"code {made['code_hash']}, installed {now['shuibao_version']} code {now['code_hash']}"
        )
    if len(stale) > limit:
        lines.append(f"  … and {len(stale) - limit} more")
    return "\n".join(lines)
