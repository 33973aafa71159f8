"""Stage: the report for one year — bulletins, tables, maps, charts, HTML."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from pipeline import classify
from pipeline.io import open_raster, write_text
from pipeline.stages.common import chunks_2d
from pipeline.stages.statistics import read_change

log = logging.getLogger("shuibao.report")


def _read_json(path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _csv(path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig")


def _breaks(classification: Mapping) -> tuple[float, ...]:
    return tuple(
        classification.get("breaks_t_ha_yr")
        or classify.class_breaks(classification.get("region", "south_red_soil"))
    )


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
                    "folds 折数": res.get("n_splits"),
                    "block size 分块边长 (m)": res.get("block_size_m"),
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
    rainfall: Mapping | None = None,
    illustrative: Sequence[str] = (),
) -> None:
    from pipeline.report import bulletin, charts, html, maps, tables
    from pipeline.report.statements import run_statements

    table = _csv(inputs["classes"])
    summary = _read_json(inputs["summary"])
    zone_tables = {layer: _csv(inputs[f"zones_{layer}"]) for layer in ("township", "watershed")}
    matrix = change = None
    if "change_summary" in inputs:
        matrix, change = read_change(inputs["change_matrix"], inputs["change_summary"])
        change = {**change, "matrix": matrix}
    breaks = _breaks(classification)
    names = {"zh": district_name, "en": district_name_en}

    def bulletin_args(lang: str) -> dict:
        return dict(
            lang=lang,
            district_name=names[lang],
            year=year,
            change=change,
            breaks=breaks,
            type_region=classification.get("region"),
        )

    split = _read_json(inputs["change_split"]) if "change_split" in inputs else None

    def statements(lang: str) -> str:  # R mode, rain/land split, 示意 stamp
        return run_statements(
            lang=lang, rainfall=rainfall or {}, illustrative=illustrative, change_split=split
        )

    for lang in ("zh", "en"):
        text = bulletin.bulletin_markdown(summary, table, **bulletin_args(lang))
        head, sep, rest = text.partition("\n\n")
        head2, sep2, rest2 = rest.partition("\n\n")  # title, paragraph, rest
        text = head + sep + head2 + "\n\n" + statements(lang) + sep2 + rest2
        write_text(text, outputs[f"bulletin_{lang}"])
    tables.write_tables(
        outputs["tables"],
        district_table=table,
        summary=summary,
        zone_tables=zone_tables,
        change=change,
        year=year,
        district_name=district_name,
    )

    lang = languages[0] if languages else "zh"
    fig = {Path(p).stem: p for p in figures}
    ch = chunks_2d(compute)
    zones = gpd.read_file(inputs["townships"])
    aoi = gpd.read_file(inputs["aoi"])
    intensity = open_raster(inputs["intensity"], chunks=ch)
    title_year = f"{names[lang]} {year}"
    maps.plot_intensity_map(
        intensity,
        fig["intensity"],
        title=f"{title_year} 土壤侵蚀强度 / intensity",
        zones=zones,
        aoi=aoi,
        lang=lang,
        breaks=breaks,
        zone_label_column="name",
    )
    soil_loss = open_raster(inputs["soil_loss"], chunks=ch)
    maps.plot_continuous_map(
        soil_loss,
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
        name = key.removeprefix("factor_")
        if key in fig:
            maps.plot_factor_map(
                open_raster(inputs[key], chunks=ch),
                fig[key],
                factor=name,
                zones=zones,
                aoi=aoi,
                lang=lang,
            )
    charts.plot_class_shares(table, fig["class_shares"], lang=lang)
    charts.plot_zone_stacked_bars(
        zone_tables["township"], fig["townships"], layer="township", lang=lang
    )
    charts.plot_zone_stacked_bars(
        zone_tables["watershed"], fig["watersheds"], layer="watershed", lang=lang
    )

    html_figures = {
        "intensity_map": fig["intensity"],
        "soil_loss_map": fig["soil_loss"],
        "class_shares": fig["class_shares"],
        "zones_township": fig["townships"],
        "zones_watershed": fig["watersheds"],
    }
    if "change_chart" in inputs:
        html_figures["change"] = inputs["change_chart"]
    if "ml_map" in inputs:
        html_figures["intensity_ml"] = (inputs["ml_map"], "机器学习强度分级图 ML intensity map")
    html_figures.update({k: fig[k] for k in fig if k.startswith("factor_")})
    paragraph = bulletin.bulletin_paragraph(summary, table, **bulletin_args(lang))
    paragraph += ("" if lang == "zh" else " ") + statements(lang)
    html.build_html_report(
        outputs["html"],
        title=f"{names[lang]} {year} 年水土流失动态监测报告"
        if lang == "zh"
        else f"{names[lang]} {year} soil-erosion monitoring report",
        district_name=names[lang],
        year=year,
        bulletin_paragraph=paragraph,
        district_table=tables.display_class_table(table),
        summary=summary,
        zone_tables=zone_tables,
        change=change,
        figures=html_figures,
        extra_sections=ml_sections(inputs),
        footer=f"Model {model.upper()}; SL 190-2007 breaks {', '.join(f'{b:g}' for b in breaks)} "
        "t·ha⁻¹·a⁻¹ (lower ≤ A < upper).",
    )
    log.info("report for %s written to %s", year, outputs["html"])
