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

    Every sum is exact (:mod:`pipeline.exactsum`): :func:`statistics_partials` of the whole
    raster and the merged partials of its tiles (``rules/tiles.smk``) give the same tables.
    """
    ch = chunks_2d(compute)
    intensity = open_raster(intensity_path, chunks=ch)
    with_totals = soil_loss_path is not None and aoi_path is not None
    cls = dict(classification or {})
    zones = {layer: _prepared_zones(path, intensity, layer) for layer, path in zone_paths.items()}
    parts = statistics_partials(
        intensity=intensity,
        soil_loss=open_raster(soil_loss_path, chunks=ch) if with_totals else None,
        aoi_path=aoi_path if with_totals else None,
        zones={layer: z for layer, (z, _) in zones.items()},
        breaks=_breaks(cls),
    )
    write_statistics(
        parts,
        template=intensity,
        zones=zones,
        year=year,
        out_classes=out_classes,
        out_summary=out_summary,
        out_zones=out_zones,
        aoi_path=aoi_path if with_totals else None,
        factor_paths=factor_paths,
        statistics=statistics,
        classification=classification,
        compute=compute,
    )


def _breaks(cls: Mapping) -> tuple:
    from pipeline import classify

    return tuple(
        cls.get("breaks_t_ha_yr") or classify.class_breaks(cls.get("region", "south_red_soil"))
    )


def _prepared_zones(path, template, layer: str):
    """(zones prepared as stats.zonal_class_areas does, the layer as read) for a zone file."""
    from pipeline import stats

    raw = _read_zones(path, template.rio.crs)
    grid = stats._grid_of(template, "intensity")
    z, _ = stats._prepare_zones(raw, grid, "zone_id", "name", layer)
    return z, raw


def statistics_partials(
    *,
    intensity,
    soil_loss=None,
    aoi_path=None,
    zones: Mapping | None = None,
    breaks=(),
    transform=None,
) -> dict:
    """Exact partial sums (:class:`pipeline.exactsum.Partial`) behind the statistics tables,
    for the whole raster or one tile of it (numpy or dask).

    Keys: ``classes`` (area by class; group 6 = every valid pixel), ``totals`` (the five
    sums of :func:`pipeline.district.soil_loss_totals`, with ``soil_loss``), and
    ``zone_<layer>`` (area by zone × class, pixel centres). ``transform`` is the affine of the
    full raster shifted to the tile (``T * T.translation(c0, r0)``); default: the
    ``intensity`` raster's own.
    """
    from pipeline import district, exactsum, stats
    from pipeline.classify import CLASS_CODES

    area = stats.pixel_area_ha(intensity)
    area_data = stats._on_grid_of(intensity, area).data
    group = stats._class_group(intensity)
    lib = stats._array_lib(group)
    valid = lib.where(lib.isnan(stats._strip(intensity).data), -1, len(CLASS_CODES))
    n = len(CLASS_CODES) + 1
    out = {
        "classes": exactsum.merge(
            [
                exactsum.blockwise_partial(area_data, group, n),
                exactsum.blockwise_partial(area_data, valid, n),
            ]
        )
    }
    if soil_loss is not None and aoi_path is not None:
        from pipeline.stages.soil_loss import read_aoi

        aoi = read_aoi(aoi_path, intensity.rio.crs)
        inside = _inside(aoi.geometry, intensity, transform)
        values, groups = district.totals_terms(soil_loss, area, inside, breaks[0])
        out["totals"] = exactsum.blockwise_partial(values, groups, 5)
    for layer, z in (zones or {}).items():
        idx = _zone_index(z, intensity, transform)
        out[f"zone_{layer}"] = exactsum.blockwise_partial(
            area_data, stats._class_group(intensity, idx), len(z) * len(CLASS_CODES)
        )
    return out


def _inside(geometries, template, transform):
    from pipeline.stages.common import aoi_mask

    if transform is None:
        return aoi_mask(geometries, template)
    from rasterio.features import geometry_mask

    return ~geometry_mask(list(geometries), out_shape=template.shape[-2:], transform=transform)


def _zone_index(z, template, transform):
    from types import SimpleNamespace

    from pipeline import stats

    grid = stats._grid_of(template) if transform is None else SimpleNamespace(transform=transform)
    return stats._centre_zone_index(z, grid, template)


def write_statistics(
    parts: Mapping,
    *,
    template,
    zones: Mapping,
    year: int,
    out_classes,
    out_summary,
    out_zones: Mapping[str, str],
    aoi_path=None,
    factor_paths: Mapping[str, str] | None = None,
    statistics: Mapping | None = None,
    classification: Mapping | None = None,
    compute: Mapping | None = None,
) -> None:
    """The statistics tables from (merged) :func:`statistics_partials`; ``template`` is the
    full intensity raster (grid, attrs; read only to name a missing factor)."""
    from pipeline import district, exactsum, stats
    from pipeline.classify import CLASS_CODES

    sums = exactsum.finish(parts["classes"])
    areas, total_valid = sums[: len(CLASS_CODES)], float(sums[len(CLASS_CODES)])
    area = stats.pixel_area_ha(template)
    stats._check_codes(areas, total_valid, template)
    table = stats._class_table(areas)
    table.attrs.update(stats._table_attrs(template, area))
    if "totals" in parts:
        from pipeline.stages.soil_loss import read_aoi

        cfg = dict(statistics or {})
        breaks = _breaks(dict(classification or {}))
        aoi = read_aoi(aoi_path, template.rio.crs)
        totals = district.totals_dict(*district.totals_from_sums(exactsum.finish(parts["totals"])))
        kwargs = {
            "aoi_area_ha": district.aoi_true_area_ha(aoi),
            "assessed_area_ha": totals["assessed_area_ha"],
            "inside_area_ha": totals["inside_area_ha"],
            "max_unassessed_pct": float(cfg.get("max_unassessed_pct", 0.5)),
        }
        try:
            book = district.area_bookkeeping(**kwargs)
        except InputDataError:
            from pipeline.stages.common import aoi_mask

            ch = chunks_2d(compute)
            inside = aoi_mask(aoi.geometry, template)
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
    for layer, path in out_zones.items():
        z, _ = zones[layer]
        zareas = exactsum.finish(parts[f"zone_{layer}"]).reshape(len(z), len(CLASS_CODES))
        long = stats._zone_frames(z, zareas, id_col="zone_id", name_col="name", layer_name=layer)
        long.attrs.update(stats._table_attrs(template, area))
        long.attrs["coverage"] = "pixel centres (rasterio.features.rasterize)"
        write_csv(long, path)
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
