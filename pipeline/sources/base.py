"""The preamble every source's ``prepare_inputs`` opens with, written once.

A source (:class:`pipeline.sources.registry.Source`) is asked for some inputs (``only``,
names from ``pipeline.layout.INPUT_NAMES``) of some ``years`` in ``out_dir``
(``resources/{aoi}/``). Before it fetches or reads anything it: makes ``out_dir``,
refuses inputs it does not provide (a ConfigError naming them and what to choose
instead), sorts the years, and loads the analysis grid, writing ``grid.json`` and
``aoi.gpkg`` from ``source.local`` first when they are not there yet. :func:`begin`
does exactly that and returns what the source then works from.

Examples
--------
>>> req = begin("resources/x", source, years=[2024, 2023], only=["dem"],
...             provides={"dem"}, refuse="cannot provide {unsupported}")  # doctest: +SKIP
>>> req.years, req.names                                                  # doctest: +SKIP
([2023, 2024], ['dem'])
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.grid import AnalysisGrid


@dataclass(frozen=True)
class Request:
    """What a source's ``prepare_inputs`` works from, after :func:`begin`."""

    out_dir: Path
    names: list[str]  # the inputs asked for, sorted
    years: list[int]  # sorted
    grid: AnalysisGrid


def begin(
    out_dir,
    source: Mapping,
    *,
    years: Sequence[int],
    only: Collection[str] | None,
    provides: Collection[str],
    refuse: str,
) -> Request:
    """The common preamble of ``prepare_inputs``.

    Parameters
    ----------
    out_dir : path
        ``resources/{aoi}/``; created if absent.
    source : mapping
        The ``source`` section of the configuration (its ``local`` part names the AOI).
    years : sequence of int
        Assessment years.
    only : collection of str, optional
        Inputs asked for (default: all that the source ``provides``).
    provides : collection of str
        What the source can write (its ``PROVIDES``).
    refuse : str
        The ConfigError message for inputs it cannot write; ``{unsupported}`` is replaced
        by their sorted list.

    Raises
    ------
    ConfigError
        Inputs asked for that the source does not provide.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    provides = frozenset(provides)
    names = sorted(provides if only is None else set(only))
    unsupported = sorted(set(names) - provides)
    if unsupported:
        raise ConfigError(refuse.format(unsupported=unsupported))
    from pipeline.sources.local import load_or_prepare_grid

    grid = load_or_prepare_grid(out_dir, source)
    return Request(out_dir, names, sorted(int(y) for y in years), grid)
