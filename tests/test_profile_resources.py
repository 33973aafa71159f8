"""The default Snakemake profile gives every rule of the workflow measured resources."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

PROFILE = REPO / "profiles" / "default" / "config.yaml"


def _rule_names() -> set[str]:
    """Every rule name in the Snakefile and pipeline/rules/*.smk, with the per-input rules
    ``inputs_{part}`` that inputs.smk makes in a loop over ``_INPUT_OUTPUTS``."""
    names: set[str] = set()
    for path in [REPO / "Snakefile", *sorted((REPO / "pipeline" / "rules").glob("*.smk"))]:
        text = path.read_text(encoding="utf-8")
        names.update(re.findall(r"^\s*rule (\w+):", text, flags=re.M))
        if 'f"inputs_{_part}"' in text:
            block = text.split("_INPUT_OUTPUTS = {", 1)[1].split("\n}", 1)[0]
            names.update(f"inputs_{p}" for p in re.findall(r'^    "(\w+)":', block, flags=re.M))
    return names - {"all"}  # `all` is a local target rule: no job, no resources


def test_rule_names_are_found():
    names = _rule_names()
    # a few of each kind, so that a broken pattern cannot pass the test below vacuously
    assert {"inputs_grid", "inputs_dem", "inputs_rain", "inputs_year", "terrain"} <= names
    assert {"treatment_report", "disturbance", "zone_tables", "sediment"} <= names


def test_every_rule_has_memory_and_runtime_in_the_default_profile():
    resources = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))["set-resources"]
    missing = sorted(_rule_names() - set(resources))
    assert not missing, f"rules without resources in {PROFILE.name}: {missing}"
    for rule, res in resources.items():
        assert set(res) >= {"mem_mb", "runtime"}, rule
        assert isinstance(res["mem_mb"], int) and 256 <= res["mem_mb"] <= 64_000, rule
        assert isinstance(res["runtime"], int) and 1 <= res["runtime"] <= 600, rule


def test_profile_names_no_rule_that_does_not_exist():
    resources = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))["set-resources"]
    assert not sorted(set(resources) - _rule_names())
