"""One job for a pair of assessment years: the district's change, per zone, and its split.

The three tables read the same two intensity maps; as separate Snakemake jobs each paid
a Python start-up (~1.3 s of CPU) for well under a second of work. The stage functions
stay separate and importable (:func:`pipeline.stages.statistics.make_change`,
:func:`pipeline.stages.deliverables.make_zone_change`,
:func:`pipeline.stages.change_split.make_change_split`); this only runs them in turn.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.stages.change_split import make_change_split
from pipeline.stages.deliverables import make_zone_change
from pipeline.stages.statistics import make_change


def make_change_pair(
    *,
    intensity_y0,
    intensity_y1,
    soil_loss_y0,
    soil_loss_y1,
    r_y0,
    r_y1,
    year0: int,
    year1: int,
    zone_paths: Mapping[str, str],
    out_matrix,
    out_summary,
    out_chart,
    out_zone_tables: Mapping[str, str],
    out_split,
    classification: Mapping,
    rainfall: Mapping,
    compute: Mapping | None = None,
) -> None:
    """Transition matrix, change summary and chart; per-zone change tables; and the split
    of the change in soil loss into the part due to R and the part due to the land."""
    make_change(
        intensity_y0=intensity_y0,
        intensity_y1=intensity_y1,
        year0=year0,
        year1=year1,
        out_matrix=out_matrix,
        out_summary=out_summary,
        out_chart=out_chart,
        compute=compute,
    )
    make_zone_change(
        intensity_y0=intensity_y0,
        intensity_y1=intensity_y1,
        zone_paths=zone_paths,
        out_tables=out_zone_tables,
        compute=compute,
    )
    make_change_split(
        soil_loss_y0=soil_loss_y0,
        soil_loss_y1=soil_loss_y1,
        r_y0=r_y0,
        r_y1=r_y1,
        year0=year0,
        year1=year1,
        out_json=out_split,
        classification=classification,
        rainfall=rainfall,
    )
