"""One job for a pair of assessment years: the district's change, per zone, and its split.

The three tables read the same two intensity maps; as separate Snakemake jobs each paid
a Python start-up (~1.3 s of CPU) for well under a second of work. The stage functions
stay separate and importable (:func:`pipeline.stages.statistics.make_change`,
:func:`pipeline.stages.deliverables.make_zone_change`,
:func:`pipeline.stages.change_split.make_change_split`); this only runs them in turn,
each with its own keyword arguments.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.stages.change_split import make_change_split
from pipeline.stages.deliverables import make_zone_change
from pipeline.stages.statistics import make_change


def make_change_pair(*, change: Mapping, zone_change: Mapping, split: Mapping) -> None:
    """Transition matrix, change summary and chart (``change``: the arguments of
    ``make_change``); per-zone change tables (``zone_change``: of ``make_zone_change``);
    the split of the change in soil loss into the part due to R and the part due to the
    land (``split``: of ``make_change_split``)."""
    make_change(**change)
    make_zone_change(**zone_change)
    make_change_split(**split)
