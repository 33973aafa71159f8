"""Where the workflow files are: the repository, or the copy inside an installed wheel.

A source checkout (editable install, notebooks, ``snakemake`` at the repository root) uses
the repository: ``Snakefile``, ``configs/``, ``environment.yml`` and ``profiles/`` beside
the ``pipeline`` package. A wheel carries a copy of the same layout in
``pipeline/workflow/`` (made by setup.py at build time), found through
``importlib.resources``. Standard library only (base layer).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]


def workflow_root() -> Path:
    """Directory holding ``Snakefile``, ``configs/``, ``environment.yml``, ``profiles/``
    and ``pipeline/rules`` in their usual relative layout."""
    if (_REPO / "Snakefile").is_file() and (_REPO / "configs" / "schema.yaml").is_file():
        return _REPO
    packaged = Path(str(resources.files("pipeline") / "workflow"))
    if (packaged / "Snakefile").is_file():
        return packaged
    raise FileNotFoundError(
        f"Shuibao's workflow files are missing: neither {_REPO / 'Snakefile'} nor "
        f"{packaged / 'Snakefile'} exists; reinstall Shuibao (pip install shuibao)"
    )


def snakefile() -> Path:
    return workflow_root() / "Snakefile"


def schema_path() -> Path:
    return workflow_root() / "configs" / "schema.yaml"


def default_profile() -> Path:
    return workflow_root() / "profiles" / "default"


def example_config(name: str) -> Path:
    """``configs/<name>.yaml`` shipped with Shuibao (e.g. ``demo``, ``example-local``)."""
    return workflow_root() / "configs" / f"{name}.yaml"
