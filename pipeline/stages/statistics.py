"""Stages: class areas by district and zone, change between years."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pipeline import layout
from pipeline.io import open_raster, write_csv
from pipeline.stages.common import chunks_2d

log = logging.getLogger("shuibao.statistics")


_read_zones = layout.read_zones


def make_statistics(
    *,
    intensity_path,
    zone_paths: Mapping[str, str],
    year: int,
    out_classes,
    out_summary,
    out_zones: Mapping[str, str],
    compute: Mapping | None = None,
) -> None:
    """District class-area table (ha, shares), summary JSON and per-zone tables."""
    from pipeline import stats

    intensity = open_raster(intensity_path, chunks=chunks_2d(compute))
    area = stats.pixel_area_ha(intensity)
    table = stats.class_area_table(intensity, area)
    summary = stats.summarize(table)
    summary["year"] = int(year)
    write_csv(table, out_classes)
    layout.write_json(summary, out_summary)
    for layer, path in zone_paths.items():
        zones = _read_zones(path, intensity.rio.crs)
        long = stats.zonal_class_areas(
            intensity,
            area,
            zones,
            id_col="zone_id",
            name_col="name",
            layer_name=layer,
            method="centre",  # the district mask's rule: tiling zones sum to the district
        )
        write_csv(long, out_zones[layer])
    log.info(
        "year %s: erosion area %.2f ha of %.2f ha",
        year,
        summary["erosion_area_ha"],
        summary["land_area_ha"],
    )


def make_change(
    *,
    intensity_y0,
    intensity_y1,
    year0: int,
    year1: int,
    out_matrix,
    out_summary,
    out_chart=None,
    compute: Mapping | None = None,
) -> None:
    """Transition matrix (ha) and change summary between two assessment years."""
    from pipeline import stats

    a = open_raster(intensity_y0, chunks=chunks_2d(compute))
    b = open_raster(intensity_y1, chunks=chunks_2d(compute))
    area = stats.pixel_area_ha(a)
    matrix = stats.change_matrix(a, b, area)
    summary = stats.change_summary(matrix, year0=int(year0), year1=int(year1))
    write_csv(matrix.reset_index(), out_matrix)
    layout.write_json({k: v for k, v in summary.items() if k != "matrix"}, out_summary)
    if out_chart:
        from pipeline.report.charts import plot_change

        plot_change(summary, out_chart, year0=year0, year1=year1, matrix=matrix, lang="zh")


read_change = layout.read_change
