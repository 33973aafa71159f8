"""One writer and one reader per input contract file, and no pointer outside the repository.

Checked from the source text (``ast``), no run: every call in ``pipeline/`` that is given
the literal name of an input file of the contract (``resources/{aoi}/dem.tif`` …) and is
named ``write*`` / ``read*`` / ``open*`` / ``to_file`` / ``copyfile`` must be the contract's
writer or reader for that file (``pipeline.layout.FILES``), an alias of it
(``read_grid_json = layout.read_grid``) or a thin wrapper whose body calls it. The calls that
do not are listed in ``KNOWN`` (what was there when this test was written); the test fails
when a new one appears and when a listed one is fixed (then remove it from ``KNOWN``).

Limits: a file name first stored in a variable is not followed, and only the input files
(year-independent names and the ``{year}`` ones spelled as f-strings) are checked; the
results files are matched by the workflow-level test in test_layout_contract.py.
"""

from __future__ import annotations

import ast
import re
import subprocess

from pipeline import layout
from tests.conftest import REPO

PIPELINE = REPO / "pipeline"

#: (module, called name, contract key) known to bypass the contract's reader/writer.
KNOWN = {
    # the demo-as-input source copies the demo's rain file byte for byte
    ("pipeline/sources/demo/inputs.py", "copyfile", "rain"),
}


def _input_files() -> dict[str, str]:
    """Literal file name (or f-string prefix for ``{year}`` files) → contract key."""
    out = {}
    for key, f in layout.FILES.items():
        if f.root != layout.RESOURCES or "/" in f.pattern or "{file}" in f.pattern:
            continue
        if f.pattern.startswith("."):  # caches
            continue
        out[f.pattern.split("{year}")[0] if "{year}" in f.pattern else f.pattern] = key
    return out


def _short(dotted: str) -> str:
    """``layout.write_dem`` → ``write_dem``; ``layout.read_vector (validated …)`` → ``read_vector``."""
    return dotted.split()[0].rsplit(".", 1)[-1]


def _modules(root=PIPELINE):
    for path in sorted(root.rglob("*.py")):
        if "scripts" in path.parts:
            continue
        yield path.relative_to(root.parent).as_posix(), ast.parse(path.read_text("utf-8"))


def _callee(call: ast.Call) -> str | None:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _delegates() -> dict[str, set[str]]:
    """Function name → names it calls, and import aliases (``as``) → the imported name."""
    calls: dict[str, set[str]] = {}
    for _, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                called = {_callee(c) for c in ast.walk(node) if isinstance(c, ast.Call)}
                calls.setdefault(node.name, set()).update(called - {None})
            elif isinstance(node, ast.ImportFrom):
                for a in node.names:
                    if a.asname and a.asname != a.name:
                        calls.setdefault(a.asname, set()).add(a.name)
    return calls


def _allowed(name: str, registered: str, calls: dict[str, set[str]], depth: int = 4) -> bool:
    """``name`` is ``registered``, or calls it (through at most ``depth`` wrappers)."""
    if name == registered:
        return True
    return depth > 0 and any(
        _allowed(c, registered, calls, depth - 1) for c in calls.get(name, ()) if c != name
    )


def _uses(root=PIPELINE):
    """(module, called name, contract key, role) for every call given an input file name."""
    names = _input_files()
    for module, tree in _modules(root):
        parent = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        for node in ast.walk(tree):
            text = None
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if isinstance(parent.get(node), ast.JoinedStr):
                    continue
                text = node.value
            elif isinstance(node, ast.JoinedStr) and node.values:
                first = node.values[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    text = first.value
            key = names.get(text) if text else None
            if key is None:
                continue
            up = parent.get(node)
            while up is not None and not isinstance(up, ast.Call):
                up = parent.get(up)
            if up is None or (name := _callee(up)) is None:
                continue
            low = name.lower().lstrip("_")
            if low.startswith(("write", "to_file", "copyfile")):
                yield module, name, key, "writer"
            elif low.startswith(("read", "open")):
                yield module, name, key, "reader"


def test_each_input_file_has_one_writer_and_one_reader():
    calls = _delegates()
    found, bad = set(), set()
    for module, name, key, role in _uses():
        registered = _short(getattr(layout.FILES[key], role))
        found.add((module, name, key))
        if not _allowed(name, registered, calls):
            bad.add((module, name, key))
    assert found, "the scan found no use of an input file at all: the test is broken"
    # the writers the sources use are really there (the scan sees them)
    assert ("pipeline/sources/demo/generate.py", "write_dem", "dem") in found
    assert not bad - KNOWN, f"new readers/writers bypassing pipeline/layout.py: {bad - KNOWN}"
    assert not KNOWN - bad, f"fixed, remove from KNOWN: {KNOWN - bad}"


def test_the_scan_catches_a_second_writer(tmp_path):
    """A throwaway module writing dem.tif with its own writer is reported."""
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "bad.py").write_text(
        "def f(da, out):\n    write_thing(da, out / 'dem.tif')\n    read_it(f'ndvi_{2024}.tif')\n"
    )
    uses = set(_uses(tmp_path / "pipeline"))
    assert ("pipeline/bad.py", "write_thing", "dem", "writer") in uses
    assert ("pipeline/bad.py", "read_it", "ndvi", "reader") in uses
    calls = _delegates()
    assert not _allowed("write_thing", "write_dem", calls)
    assert _allowed("write_dem", "write_dem", calls)
    assert _allowed("read_grid_json", "read_grid", calls)  # the alias in sources.local


# ------------------------------------------------------------- outside the repository
#: Files users get: code, docs, configs, notebooks (tests may read ../shared/data and skip).
_SHIPPED = ("pipeline", "docs", "configs", "notebooks", "profiles", "benchmarks", "README.md",
            "Snakefile", "pyproject.toml", "environment.yml", "Makefile")  # fmt: skip
_OUTSIDE = re.compile(r"\.\./shared|(?<![\w.])shared/\w|(?<![\w/.])notes/")


def _shipped_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", *_SHIPPED], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return [f for f in out if f.endswith((".py", ".md", ".smk", ".yaml", ".yml", ".ipynb",
                                          ".toml", ".txt", ".cfg")) or "/" not in f]  # fmt: skip


def test_no_code_or_doc_points_outside_the_repository():
    files = _shipped_files()
    assert "pipeline/layout.py" in files and "docs/contract.md" in files
    hits = []
    for f in files:
        text = (REPO / f).read_text("utf-8", errors="replace")
        hits += [f"{f}: {m.group(0)!r}" for m in _OUTSIDE.finditer(text)]
    assert not hits, f"references to files outside the repository: {hits}"
    assert _OUTSIDE.search("see ../shared/science.md") and _OUTSIDE.search("notes/x.md")
    assert not _OUTSIDE.search("pipeline/notes.py and the release notes")


def test_nothing_cites_the_project_s_private_science_notes():
    """Sources are cited by their published reference, never by the name of a notes file
    that users do not have."""
    files = _shipped_files()
    citing = sorted(
        f for f in files if "science.md" in (REPO / f).read_text("utf-8", errors="replace")
    )
    assert not citing, f"cite the published reference instead of science.md: {citing}"
