"""Stage: the report for one year — bulletins, tables, maps, charts, HTML."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from pipeline import layout
from pipeline.io import open_raster, write_text
from pipeline.report.sediment import sediment_sections
from pipeline.stages.common import chunks_2d
from pipeline.stages.statistics import read_change

log = logging.getLogger("shuibao.report")


_read_json = layout.read_json
_csv = layout.read_table


def ml_sections(inputs: Mapping[str, str]) -> list[tuple[str, object]]:
    """Tables of the ML section: CV accuracy, error-adjusted areas, agreement."""
    if "ml_cv" not in inputs:
        return []
    cv = _read_json(inputs["ml_cv"])
    rows = []
    for key, label in (
        ("spatial", "空间分块交叉验证 spatial block CV"),
        ("random", "随机交叉验证 random CV (for comparison)"),
    ):
        res = cv.get(key, {})
        if res:
            rows.append(
                {
                    "validation 验证方式": label,
                    "overall accuracy 总体精度": res.get("overall_accuracy"),
                    "kappa": res.get("kappa"),
                    # folds and block size are top-level keys of cv_metrics.json
                    "folds 折数": res.get("n_splits", cv.get("n_splits")),
                    "block size 分块边长 (m)": cv.get("block_size_m") if key == "spatial" else None,
                }
            )
    sections: list[tuple[str, object]] = [
        ("ML 交叉验证精度 cross-validation accuracy", pd.DataFrame(rows))
    ]
    sections.append(
        (
            "误差校正面积（Olofsson et al. 2014，95 % 置信区间）error-adjusted areas with 95 % CI",
            _csv(inputs["ml_areas"]),
        )
    )
    sections.append(
        ("RUSLE 与 ML 分级一致性（公顷）agreement RUSLE × ML (ha)", _csv(inputs["ml_agreement"]))
    )
    return sections


@dataclass
class ReportData:
    """What the report shows, read from the workflow's outputs (nothing is computed)."""

    table: pd.DataFrame
    summary: dict
    zone_tables: dict[str, pd.DataFrame]
    change: dict | None
    breaks: tuple[float, ...]


def read_report_data(inputs: Mapping[str, str]) -> ReportData:
    """The statistics tables, the change between years and the class breaks of
    ``intensity.tif`` (its tags) for one year."""
    change = None
    if "change_summary" in inputs:
        matrix, change = read_change(inputs["change_matrix"], inputs["change_summary"])
        change = {**change, "matrix": matrix}
    return ReportData(
        table=_csv(inputs["classes"]),
        summary=_read_json(inputs["summary"]),
        zone_tables={layer: _csv(inputs[f"zones_{layer}"]) for layer in layout.ZONE_LAYERS},
        change=change,
        breaks=layout.read_class_breaks(inputs["intensity"]),
    )


def _plot_figures(data: ReportData, inputs, fig: Mapping[str, str], *, title_year, lang, ch):
    """The maps and charts of the report (one PNG each)."""
    from pipeline.report import charts, maps

    zones = gpd.read_file(inputs["townships"])
    aoi = gpd.read_file(inputs["aoi"])
    maps.plot_intensity_map(
        open_raster(inputs["intensity"], chunks=ch),
        fig["intensity"],
        title=f"{title_year} 土壤侵蚀强度 / intensity",
        zones=zones,
        aoi=aoi,
        lang=lang,
        breaks=data.breaks,
        zone_label_column="name",
    )
    maps.plot_continuous_map(
        open_raster(inputs["soil_loss"], chunks=ch),
        fig["soil_loss"],
        title=f"{title_year} 土壤侵蚀模数 soil loss",
        units="t·ha⁻¹·a⁻¹",
        cmap="YlOrRd",
        log=True,
        zones=zones,
        aoi=aoi,
        lang=lang,
    )
    for key in [k for k in inputs if k.startswith("factor_")]:
        if key in fig:
            maps.plot_factor_map(
                open_raster(inputs[key], chunks=ch),
                fig[key],
                factor=key.removeprefix("factor_"),
                zones=zones,
                aoi=aoi,
                lang=lang,
            )
    charts.plot_class_shares(data.table, fig["class_shares"], lang=lang)
    for layer, name in layout.ZONE_LAYERS.items():
        charts.plot_zone_stacked_bars(data.zone_tables[layer], fig[name], layer=layer, lang=lang)


def _html_figures(inputs: Mapping[str, str], fig: Mapping[str, str]) -> dict:
    figures = {
        "intensity_map": fig["intensity"],
        "soil_loss_map": fig["soil_loss"],
        "class_shares": fig["class_shares"],
        "zones_township": fig["townships"],
        "zones_watershed": fig["watersheds"],
    }
    if "change_chart" in inputs:
        figures["change"] = inputs["change_chart"]
    if "ml_map" in inputs:
        figures["intensity_ml"] = (inputs["ml_map"], "机器学习强度分级图 ML intensity map")
    if "sediment_chart" in inputs:
        figures["sediment"] = (inputs["sediment_chart"], "泥沙：模型与实测 sediment vs gauge")
    figures.update({k: fig[k] for k in fig if k.startswith("factor_")})
    return figures


#: known bias of D8 routing, stated when it is chosen (tests/test_terrain_default_routing.py)
_D8_NOTE = (
    " LS with D8 flow routing: on slopes oblique to the grid L is 15–30 % low (median), "
    "up to 40 % (95th percentile); the default MFD is within ~1 %."
)


def make_report(
    *,
    inputs: Mapping[str, str],
    year: int,
    outputs: Mapping[str, str],
    figures: Sequence[str],
    district_name: str,
    district_name_en: str,
    languages: Sequence[str],
    model: str,
    classification: Mapping,
    compute: Mapping | None = None,
    config_hash: str | None = None,
    terrain: Mapping | None = None,
    units: str | None = None,
    config: Mapping | None = None,
    rainfall: Mapping | None = None,
    illustrative: Sequence[str] = (),
) -> None:
    """Bulletins (zh, en), bulletin tables, maps and charts, and the HTML report of ``year``.

    Reads the statistics outputs and the class breaks of ``intensity.tif``; computes nothing.
    """
    from pipeline.environment import environment_record
    from pipeline.report import bulletin, handover, html, provenance, tables
    from pipeline.report.statements import run_statements

    data = read_report_data(inputs)
    names = {"zh": district_name, "en": district_name_en}

    def bulletin_args(lang: str) -> dict:
        return dict(
            lang=lang,
            district_name=names[lang],
            year=year,
            change=data.change,
            breaks=data.breaks,
            type_region=classification.get("region"),
        )

    split = _read_json(inputs["change_split"]) if "change_split" in inputs else None

    def statements(lang: str) -> str:  # R mode, rain/land split, 示意 stamp
        return run_statements(
            lang=lang, rainfall=rainfall or {}, illustrative=illustrative, change_split=split
        )

    # hand-over (#14): areas printed in report.units, extra tables, provenance appendix
    extra = handover.read_extra_tables(inputs)
    app = provenance.appendix(config or {}, handover.resources_dir(inputs))
    u_table, u_summary, u_zones, u_change = handover.in_units(
        data.table, data.summary, data.zone_tables, data.change, units
    )

    def bulletin_args_u(lang: str) -> dict:
        return {**bulletin_args(lang), "change": u_change}

    for lang in ("zh", "en"):
        text = bulletin.bulletin_markdown(u_summary, u_table, **bulletin_args_u(lang))
        text = handover.relabel_text(text, units, lang)
        head, sep, rest = text.partition("\n\n")
        head2, sep2, rest2 = rest.partition("\n\n")  # title, paragraph, rest
        text = head + sep + head2 + "\n\n" + statements(lang) + sep2 + rest2
        # appended after the unit relabelling: the paragraph prints its own areas in ha
        if "disturbance_summary" in inputs:  # issue #16: one paragraph appended
            from pipeline.report.disturbance import disturbance_paragraph

            dist = _read_json(inputs["disturbance_summary"])
            text += "\n" + disturbance_paragraph(dist, lang=lang, district_name=names[lang]) + "\n"
        write_text(text, outputs[f"bulletin_{lang}"])
    tables.write_tables(
        outputs["tables"],
        district_table=data.table,
        summary=data.summary,
        zone_tables=data.zone_tables,
        change=data.change,
        year=year,
        district_name=district_name,
        extra_tables=extra,
        provenance_rows=provenance.appendix_rows(app),
        units=units,
    )

    lang = languages[0] if languages else "zh"
    fig = {Path(p).stem: p for p in figures}
    _plot_figures(
        data, inputs, fig, title_year=f"{names[lang]} {year}", lang=lang, ch=chunks_2d(compute)
    )
    page = html.render_html_report(
        title=f"{names[lang]} {year} 年水土流失动态监测报告"
        if lang == "zh"
        else f"{names[lang]} {year} soil-erosion monitoring report",
        district_name=names[lang],
        year=year,
        bulletin_paragraph=handover.relabel_text(
            bulletin.bulletin_paragraph(u_summary, u_table, **bulletin_args_u(lang)), units, lang
        )
        + ("" if lang == "zh" else " ")
        + statements(lang),
        district_table=tables.display_class_table(u_table),
        summary=u_summary,
        zone_tables=u_zones,
        change=u_change,
        figures=_html_figures(inputs, fig),
        extra_sections=sediment_sections(inputs)
        + ml_sections(inputs)
        + handover.html_sections(extra, units)
        + provenance.appendix_sections(app),
        banner=app["banner"],
        footer=f"Model {model.upper()}; SL 190-2007 breaks "
        f"{', '.join(f'{b:g}' for b in data.breaks)} t·ha⁻¹·a⁻¹ (lower ≤ A < upper). "
        + (f"Config hash {config_hash}. " if config_hash else "")
        + "Software: {software}. Platform: {platform}.".format(**environment_record())
        + _D8_NOTE * ((terrain or {}).get("routing") == "d8"),
    )
    write_text(handover.relabel_html(page, units), outputs["html"])
    log.info("report for %s written to %s", year, outputs["html"])
