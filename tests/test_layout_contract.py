"""The file contract (pipeline/layout.py) is complete: every file a rule writes matches one
of its patterns, each pattern is registered once, and docs/contract.md shows the same table."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline import layout
from pipeline.notebook import snakemake_command
from tests.conftest import REPO

CONFIGS = REPO / "configs"


def _summary_outputs(config: Path, workdir: Path) -> list[tuple[str, str]]:
    """(output file, rule) of every job of the DAG, from ``snakemake --summary`` (no job runs)."""
    cmd = snakemake_command(config, workdir, cores=1, extra=["--summary"])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert rows and rows[0][0] == "output_file", proc.stdout[:500]
    return [(r[0], r[2]) for r in rows[1:] if len(r) > 2]


def _everything_config(tmp_path: Path) -> Path:
    """The small treatment demo with disturbance and sediment on and the CSLE model."""
    cfg = yaml.safe_load((REPO / "tests/configs/small_treatment.yaml").read_text("utf-8"))
    cfg |= {"model": "csle", "disturbance": {"enabled": True}, "sediment": {"enabled": True}}
    cfg["treatment"]["measure_factors"] = {"e_table": {"terrace": 0.2}}
    cfg["years"] = [2020, 2023, 2024]
    path = tmp_path / "everything.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["demo", "demo-treatment", "everything"])
def test_every_rule_output_matches_one_contract_pattern(name, tmp_path):
    config = _everything_config(tmp_path) if name == "everything" else CONFIGS / f"{name}.yaml"
    outputs = _summary_outputs(config, tmp_path)
    rules = {rule for _, rule in outputs}
    if name == "everything":  # the optional blocks are really in this DAG
        assert {"sediment", "disturbance", "treatment_report", "gpkg", "factor_e_t"} <= rules
    lay = layout.Layout()
    unmatched = [(f, rule) for f, rule in outputs if lay.key_of(f) is None]
    assert not unmatched, f"outputs outside pipeline/layout.py FILES: {unmatched}"


def test_a_file_outside_the_contract_does_not_match():
    lay = layout.Layout()
    assert lay.key_of("results/demo/2024/tables/not_a_contract_file.csv") is None
    assert lay.key_of("results/demo/2024/report.html") == "report_html"
    assert lay.key_of("resources/demo/disturbance/2024/before.tif") == "disturbance_composite"
    assert lay.key_of("results/demo/common/factors/LS.tif") == "factor_LS"


def test_each_pattern_is_registered_once():
    seen: dict[tuple[str, str], str] = {}
    for key, entry in layout.FILES.items():
        where = (entry.root, entry.pattern)
        assert where not in seen, f"{key} and {seen[where]} share the pattern {where}"
        seen[where] = key


def test_each_concrete_path_matches_exactly_one_key():
    """No two patterns overlap on the files the demo writes (a file has one key)."""
    lay = layout.Layout()
    regexes = lay._regexes()
    samples = {
        "results/demo/2024/tables/zone_soil_loss_township.csv": "zone_soil_loss",
        "results/demo/2024/treatment/bulletin_treatment_zh.md": "treatment_bulletin",
        "results/demo/change_2023_2024/zone_change_watershed.csv": "zone_change",
        "results/demo/2024/shuibao_2024.gpkg": "gpkg",
        "resources/demo/treatment/targets.csv": "treatment_demo_input",
    }
    for path, key in samples.items():
        hits = [k for k, rx in regexes if rx.fullmatch(path)]
        assert hits == [key], (path, hits)


def test_contract_doc_is_generated_from_the_layout():
    doc = REPO / "docs" / "contract.md"
    text = doc.read_text(encoding="utf-8")
    assert layout.render_contract_doc(text) == text, (
        "docs/contract.md is out of date: run `python -m pipeline.layout docs/contract.md`"
    )
    for key in layout.FILES:
        if not key.startswith("factor_"):
            assert f"`{key}`" in text
