"""Notebooks: committed without outputs; the sensitivity notebook's numbers equal a workflow run.

The notebooks themselves are executed by ``pytest --nbmake notebooks/`` (make test); here:

- every committed notebook has no outputs and no execution counts (diffs stay readable; strip
  with ``python -m pipeline.notebook strip notebooks/*.ipynb``), the project kernel, an opening
  "what / how long" cell and a closing figure;
- :func:`pipeline.notebook.soil_loss_variant` (the sensitivity notebook's code path) gives, for
  a non-default parameter value, the erosion area Snakemake gives with that value in the
  config (to 0.01 ha), reusing one workflow run.
"""

from __future__ import annotations

import nbformat
import pytest
from nbformat import v4

from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.notebook import (
    SMALL_CONFIG,
    WorkflowRun,
    apply_overrides,
    ensure_results,
    run_workflow,
    soil_loss_variant,
    strip_outputs,
    write_config,
)
from tests.conftest import REPO

NOTEBOOK_DIR = REPO / "notebooks"
EXPECTED = [
    "01_quickstart.ipynb",
    "02_factor_sensitivity.ipynb",
    "03_custom_district.ipynb",
    "04_ml_and_accuracy.ipynb",
    "05_sediment_check.ipynb",
    "06_project_evaluation.ipynb",
]
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def test_the_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} have outputs or execution counts; "
        f"run `python -m pipeline.notebook strip {path.relative_to(REPO)}` before committing"
    )
    timed = [i for i, cell in enumerate(nb.cells) if "execution" in cell.metadata]
    assert not timed, f"{path.name}: cells {timed} keep execution timing metadata"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_says_what_and_how_long_and_ends_with_a_figure(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert "**What this shows.**" in first.source and "**How long.**" in first.source
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "plt.show()" in last_code.source and "plt.subplots" in last_code.source


def test_strip_outputs_removes_outputs_and_counts(tmp_path):
    nb = v4.new_notebook()
    cell = v4.new_code_cell("1 + 1")
    cell.execution_count = 3
    cell.outputs = [v4.new_output("execute_result", {"text/plain": "2"}, execution_count=3)]
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00"}
    nb.cells = [v4.new_markdown_cell("# t"), cell]
    path = tmp_path / "t.ipynb"
    nbformat.write(nb, path)
    assert strip_outputs(path) is True
    back = nbformat.read(path, as_version=4)
    assert back.cells[1].outputs == [] and back.cells[1].execution_count is None
    assert "execution" not in back.cells[1].metadata
    assert back.cells[1].source == "1 + 1"
    assert strip_outputs(path) is False  # already clean: file untouched


def test_overrides_change_only_the_named_leaf():
    cfg = apply_overrides(load_config(SMALL_CONFIG), {"support.table.orchard": 0.5})
    assert cfg["support"]["table"]["orchard"] == 0.5
    assert cfg["support"]["table"]["terraced_cropland"] == 0.15  # the rest of the table kept


def test_bad_override_names_the_key():
    with pytest.raises(ConfigError, match="terrain.max_slope_length_m"):
        apply_overrides(load_config(SMALL_CONFIG), {"terrain.max_slope_length_m": -1})
    with pytest.raises(ConfigError, match="'nosuch' is not a section"):
        apply_overrides(load_config(SMALL_CONFIG), {"nosuch.key": 1})


def test_variant_refuses_what_needs_a_new_workflow_run(tmp_path):
    run = WorkflowRun(tmp_path, load_config(SMALL_CONFIG))
    with pytest.raises(ConfigError, match=r"\['model'\].*run the workflow"):
        soil_loss_variant(run, {"model": "csle"}, year=2024, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="year 1999"):
        soil_loss_variant(run, {}, year=1999, out_dir=tmp_path)


@pytest.mark.slow
def test_sensitivity_variant_equals_a_workflow_run_with_that_value(tmp_path_factory):
    """The sensitivity notebook's code path against Snakemake, for a 100 m slope-length cap."""
    workdir = tmp_path_factory.mktemp("notebook_workflow")
    year = 2024
    run = ensure_results(SMALL_CONFIG, workdir, until="statistics", years=[year])
    overrides = {"terrain.max_slope_length_m": 100.0}

    baseline = soil_loss_variant(run, {}, year=year, out_dir=workdir / "variants")
    variant = soil_loss_variant(run, overrides, year=year, out_dir=workdir / "variants")
    assert variant.rerun == ["terrain", "soil_loss"]
    assert baseline.erosion_area_ha == pytest.approx(run.summary(year)["erosion_area_ha"], abs=0.01)

    # The same value through the workflow: Snakemake reruns terrain, soil_loss and statistics.
    config_path = write_config(
        apply_overrides(run.config, overrides), workdir / "max_slope_length_100.yaml"
    )
    run_workflow(
        config_path, workdir, targets=[run.relative(p) for p in run.statistics_targets([year])]
    )
    workflow = WorkflowRun.from_config(config_path, workdir).summary(year)

    assert variant.erosion_area_ha == pytest.approx(workflow["erosion_area_ha"], abs=0.01)
    assert variant.summary["land_area_ha"] == pytest.approx(workflow["land_area_ha"], abs=0.01)
    # the parameter matters, so the comparison could fail
    assert abs(variant.erosion_area_ha - baseline.erosion_area_ha) > 1.0
