"""Stage: the year-over-year change split into a rain part and a land part (JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from pipeline import classify
from pipeline.io import open_raster, write_text


def make_change_split(
    *,
    soil_loss_y0,
    soil_loss_y1,
    r_y0,
    r_y1,
    year0: int,
    year1: int,
    out_json,
    classification: Mapping,
    rainfall: Mapping,
) -> None:
    from pipeline import district, stats

    a0, a1 = open_raster(soil_loss_y0), open_raster(soil_loss_y1)
    region = classification.get("region", "south_red_soil")
    breaks = classification.get("breaks_t_ha_yr") or classify.class_breaks(region)
    split = district.change_split(
        a0,
        a1,
        r_y0=open_raster(r_y0),
        r_y1=open_raster(r_y1),
        pixel_area_ha=stats.pixel_area_ha(a0),
        erosion_threshold_t_ha_yr=float(breaks[0]),
    )
    split.update(
        year0=int(year0),
        year1=int(year1),
        r_mode=rainfall.get("mode", "reference_mean"),
        r_method=rainfall.get("method", "zhang_wenbo"),
        reference_period=rainfall.get("reference_period"),
    )
    write_text(json.dumps(split, ensure_ascii=False, indent=2) + "\n", out_json)
