"""Packaging: pip (pyproject.toml) and conda (environment.yml) name the same runtime deps."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.conftest import REPO

# pip name -> conda-forge name, where they differ
PIP_TO_CONDA = {"dask": "dask"}


def _name(spec: str) -> str:
    name = re.split(r"[\s\[<>=!~;]", spec.strip(), maxsplit=1)[0]
    return name.lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    pip_names = {PIP_TO_CONDA.get(_name(d), _name(d)) for d in pyproject["project"]["dependencies"]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda_names = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    conda_names -= {"python", "pip"}
    assert pip_names == conda_names, (
        f"only in pyproject: {sorted(pip_names - conda_names)}; "
        f"only in environment.yml: {sorted(conda_names - pip_names)}"
    )


def test_every_rule_names_the_conda_environment():
    for smk in (REPO / "pipeline" / "rules").glob("*.smk"):
        text = smk.read_text()
        n_rules = len(re.findall(r"^\s*rule \w+:", text, flags=re.M))
        assert text.count('"../../environment.yml"') == n_rules, smk.name
