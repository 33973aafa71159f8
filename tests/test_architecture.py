"""The import rules between layers, checked by an ``ast`` walk over ``pipeline/``.

- base (config, errors, grid, io, layout, landcover, sl190, packaged, environment, …) imports
  nothing above it;
- science (factors, classify, stats, ml, treatment, disturbance) imports no stage, workflow, source or report module
  and no snakemake;
- sources import no science.
A test of the test writes a throwaway violating module and checks it is reported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PIPELINE = Path(__file__).resolve().parents[1] / "pipeline"

BASE = {"pipeline.config", "pipeline.errors", "pipeline.grid", "pipeline.io", "pipeline.layout",
        "pipeline.landcover", "pipeline.sl190", "pipeline.packaged", "pipeline.environment",
        "pipeline.example_data", "pipeline.raster_style", "pipeline.units", "pipeline.vector_io",
        "pipeline.landuse_polygons", "pipeline.tables", "pipeline.illustrative", "pipeline.checks",
        "pipeline.codehash", "pipeline"}  # fmt: skip
SCIENCE = ("pipeline.factors", "pipeline.classify", "pipeline.stats", "pipeline.ml",
           "pipeline.treatment", "pipeline.disturbance", "pipeline.watersheds",
           "pipeline.district", "pipeline.exactsum", "pipeline.regions")  # fmt: skip
#: the workflow layer (may import anything)
WORKFLOW = ("pipeline.stages", "pipeline.sources", "pipeline.report", "pipeline.notebook",
            "pipeline.cli", "pipeline.scripts", "pipeline.init_config", "pipeline.workflow")  # fmt: skip
ABOVE_SCIENCE = ("pipeline.stages", "pipeline.sources", "pipeline.report", "pipeline.notebook",
                 "pipeline.cli", "pipeline.scripts", "snakemake")  # fmt: skip


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, module: str) -> set[str]:
    """Absolute names imported by a module (``from pipeline import x`` → ``pipeline.x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def violations(root: Path = PIPELINE) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        imported = {
            n for n in imports_of(path, module) if n.split(".")[0] in ("pipeline", "snakemake")
        }
        pipeline_mods = {n for n in imported if n.startswith("pipeline.")}
        if module in BASE:
            bad = {n for n in pipeline_mods if not _within(n, BASE - {"pipeline"})}
            bad |= {n for n in imported if n.startswith("snakemake")}
            found += [f"base {module} imports {n}" for n in sorted(bad)]
        elif _within(module, SCIENCE):
            bad = {n for n in imported if _within(n, ABOVE_SCIENCE)}
            found += [f"science {module} imports {n}" for n in sorted(bad)]
        elif _within(module, ("pipeline.sources",)):
            bad = {
                n for n in imported if _within(n, SCIENCE + ("pipeline.stages", "pipeline.report"))
            }
            found += [f"source {module} imports {n}" for n in sorted(bad)]
    return found


def test_layers_hold():
    assert violations() == []


def test_every_module_has_a_layer():
    """A new module must be placed in a layer here, so the rules above apply to it."""
    unplaced = [
        m
        for m in (module_name(p, PIPELINE) for p in sorted(PIPELINE.rglob("*.py")))
        if m not in BASE and not _within(m, SCIENCE + WORKFLOW)
    ]
    assert unplaced == []


@pytest.mark.parametrize(
    ("relpath", "source", "expected"),
    [
        ("factors/bad.py", "from pipeline.stages import factors\n", "science pipeline.factors.bad"),
        ("ml/bad.py", "import snakemake\n", "science pipeline.ml.bad imports snakemake"),
        ("sources/bad.py", "from pipeline import classify\n", "source pipeline.sources.bad"),
        ("sources/bad.py", "from ..factors import cover\n", "bad imports pipeline.factors.cover"),
        ("layout.py", "from pipeline.stats import summarize\n", "base pipeline.layout"),
    ],
)
def test_a_violation_is_detected(tmp_path, relpath, source, expected):
    root = tmp_path / "pipeline"
    path = root / relpath
    path.parent.mkdir(parents=True)
    path.write_text(source, encoding="utf-8")
    found = violations(root)
    assert found and any(expected in f for f in found), found
    assert all(f.startswith(found[0].split(" imports ")[0]) for f in found), found


def test_allowed_imports_are_not_reported(tmp_path):
    root = tmp_path / "pipeline"
    (root / "factors").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "factors" / "ok.py").write_text("from pipeline import layout, sl190\n")
    (root / "sources" / "ok.py").write_text("from pipeline.layout import write_dem\n")
    assert violations(root) == []
