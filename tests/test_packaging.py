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
    # packages that exist on PyPI only go in the `pip:` section of environment.yml
    for d in env["dependencies"]:
        if isinstance(d, dict):
            conda_names |= {_name(p) for p in d.get("pip", [])}
    assert pip_names == conda_names, (
        f"only in pyproject: {sorted(pip_names - conda_names)}; "
        f"only in environment.yml: {sorted(conda_names - pip_names)}"
    )


def test_every_rule_names_the_conda_environment():
    for smk in (REPO / "pipeline" / "rules").glob("*.smk"):
        text = smk.read_text()
        n_rules = len(re.findall(r"^\s*(?:rule|checkpoint)(?: \w+)?:", text, flags=re.M))
        assert text.count('"../../environment.yml"') == n_rules, smk.name


def test_environment_yml_channels_can_resolve_snakemake():
    """Snakemake is on bioconda; conda-forge first, no `defaults` channel."""
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge", "bioconda", "nodefaults"]


def test_setuptools_is_new_enough_for_the_spdx_license():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert isinstance(pyproject["project"]["license"], str)  # PEP 639 expression
    assert "setuptools>=77" in pyproject["build-system"]["requires"]


def test_lock_file_pins_every_dependency_with_hashes():
    """requirements/lock-linux-py311.txt (make lock) pins each runtime and test dependency."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = [
        *pyproject["project"]["dependencies"],
        *pyproject["project"]["optional-dependencies"]["test"],
    ]
    lock = (REPO / "requirements" / "lock-linux-py311.txt").read_text()
    pinned = {
        m.group(1).lower().replace("_", "-"): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==(\S+)", lock, flags=re.M)
    }
    missing = sorted({_name(d) for d in wanted} - set(pinned))
    assert not missing, f"not in the lock file (run `make lock`): {missing}"
    assert lock.count("--hash=sha256:") >= len(pinned)
    assert "xee" not in pinned
