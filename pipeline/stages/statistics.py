"""Stages: class areas by district and zone, change between years."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pipeline import layout
from pipeline.errors import InputDataError
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
    soil_loss_path=None,
    aoi_path=None,
    factor_paths: Mapping[str, str] | None = None,
    statistics: Mapping | None = None,
    classification: Mapping | None = None,
    compute: Mapping | None = None,
) -> None:
    """District class-area table (ha, shares), summary JSON and per-zone tables.

    With ``soil_loss_path`` and ``aoi_path`` (the workflow), the land area is the AOI's true
    area, unassessed pixels are counted (the run stops above
    ``statistics.max_unassessed_pct``, naming the factor), and the summary carries the mean
    soil-loss modulus, total soil loss and the district's SL 190-2007 class
    (``pipeline.district``).
    """
    from pipeline import classify, district, stats

    ch = chunks_2d(compute)
    intensity = open_raster(intensity_path, chunks=ch)
    area = stats.pixel_area_ha(intensity)
    table = stats.class_area_table(intensity, area)
    if soil_loss_path is not None and aoi_path is not None:
        from pipeline.stages.common import aoi_mask
        from pipeline.stages.soil_loss import read_aoi

        cfg = dict(statistics or {})
        cls = dict(classification or {})
        breaks = tuple(
            cls.get("breaks_t_ha_yr") or classify.class_breaks(cls.get("region", "south_red_soil"))
        )
        soil_loss = open_raster(soil_loss_path, chunks=ch)
        aoi = read_aoi(aoi_path, intensity.rio.crs)
        inside = aoi_mask(aoi.geometry, intensity)
        totals = district.soil_loss_totals(
            soil_loss, area, inside=inside, erosion_threshold_t_ha_yr=breaks[0]
        )
        kwargs = {
            "aoi_area_ha": district.aoi_true_area_ha(aoi),
            "assessed_area_ha": totals["assessed_area_ha"],
            "inside_area_ha": totals["inside_area_ha"],
            "max_unassessed_pct": float(cfg.get("max_unassessed_pct", 0.5)),
        }
        try:
            book = district.area_bookkeeping(**kwargs)
        except InputDataError:
            factors = {k: open_raster(p, chunks=ch) for k, p in (factor_paths or {}).items()}
            missing = district.missing_factor_areas(factors, area, inside=inside)
            district.area_bookkeeping(**kwargs, missing=missing)
            raise
        table, summary = district.district_summary(
            table,
            totals=totals,
            bookkeeping=book,
            breaks_t_ha_yr=breaks,
            official_area_ha=cfg.get("official_area_ha"),
        )
    else:
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
