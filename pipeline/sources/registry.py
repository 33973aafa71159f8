"""The Source protocol and the registry of sources, by name.

A source writes some of the contract's input files (:mod:`pipeline.layout`) for an AOI
on its analysis grid. It declares which inputs it ``provides`` (names from
``pipeline.layout.INPUT_NAMES``) and implements ``prepare_inputs``. The registry holds
module paths, not modules, so parsing a config imports no client library (Earth Engine,
STAC). ``pipeline/stages/inputs.py`` picks sources from here; adding a source is one
module and one :func:`register` line (docs/extending.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.errors import ConfigError
from pipeline.layout import INPUT_NAMES


class Source(Protocol):
    """What a source module provides."""

    PROVIDES: frozenset[str]

    def prepare_inputs(
        self, out_dir: Path, source: Mapping, *, years: Sequence[int], only: Sequence[str]
    ) -> None:
        """Write the contract files of the inputs ``only`` for ``years`` into ``out_dir``
        (``resources/{aoi}/``, where ``grid.json`` and ``aoi.gpkg`` already are).

        Opens with :func:`pipeline.sources.base.begin` (make ``out_dir``, refuse inputs
        not in ``PROVIDES``, sort the years, load the grid), then writes each input."""


@dataclass(frozen=True)
class SourceEntry:
    name: str
    module: str  # import path of the module implementing Source
    provides: frozenset[str]

    def load(self) -> Source:
        return importlib.import_module(self.module)


SOURCES: dict[str, SourceEntry] = {}


def register(name: str, module: str, provides) -> None:
    provides = frozenset(provides)
    unknown = sorted(provides - set(INPUT_NAMES))
    if unknown:
        raise ValueError(f"source {name!r} declares unknown inputs {unknown}")
    SOURCES[name] = SourceEntry(name, module, provides)


def get(name: str) -> SourceEntry:
    try:
        return SOURCES[name]
    except KeyError as exc:
        raise ConfigError(
            f"config key 'source.kind': unknown source {name!r}; expected one of {sorted(SOURCES)}"
        ) from exc


def provides() -> dict[str, frozenset[str]]:
    return {name: e.provides for name, e in SOURCES.items()}


register("demo", "pipeline.sources.demo.inputs", INPUT_NAMES)
register("local", "pipeline.sources.local", INPUT_NAMES)
register("stac", "pipeline.sources.stac", {"dem", "landcover", "ndvi"})
register(
    "earthengine", "pipeline.sources.earthengine", {"dem", "landcover", "ndvi", "rain", "soil"}
)
