"""The self-contained HTML bulletin report: one file, opens offline.

Rendered with Jinja2 (autoescape on, so every text that comes from data — zone names,
the bulletin paragraph, table headers — is HTML-escaped) from ``template.html`` with
``report.css`` inlined. Figures are embedded as ``data:image/png;base64`` URIs, so the
page makes no request at all; a Content-Security-Policy meta tag
(``default-src 'none'; img-src data:; style-src 'unsafe-inline'``) makes the browser
refuse any that slipped in, and blocks scripts. Written by hand because the report's
layout is the bulletin's own; Jinja2 does the templating and escaping.

The output is deterministic: the same inputs give the same bytes (no timestamp unless
``footer`` passes one in).
"""

from __future__ import annotations

import base64
import math
import numbers
import os
import struct
from pathlib import Path

import pandas as pd

import pipeline
from pipeline.classify import CLASSES, EROSION_CODES
from pipeline.errors import InputDataError
from pipeline.io import write_text
from pipeline.report.maps import CLASS_COLOURS, SOIL_LOSS_UNITS

_HERE = Path(__file__).resolve().parent
TEMPLATE_FILE = "template.html"
CSS_FILE = "report.css"

#: Content-Security-Policy of the report page: nothing but inline styles and data: images.
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)

#: Known summary keys: (Chinese label, English label, unit).
SUMMARY_LABELS: dict[str, tuple[str, str, str]] = {
    "land_area_ha": ("土地总面积", "Land area", "ha"),
    "erosion_area_ha": ("水土流失面积", "Soil-erosion area", "ha"),
    "erosion_share_pct": ("水土流失面积占土地面积", "Share of land area", "%"),
    "soil_conservation_rate_pct": ("水土保持率", "Soil conservation rate", "%"),
    "dominant_class_zh": ("主要侵蚀强度", "Dominant class", ""),
    "dominant_class_en": ("主要侵蚀强度（英文）", "Dominant class", ""),
    "mean_soil_loss_t_ha_yr": ("平均土壤侵蚀模数", "Mean soil loss", SOIL_LOSS_UNITS),
    "total_soil_loss_t_yr": ("土壤侵蚀总量", "Total soil loss", "t·a⁻¹"),
    "slight_area_ha": ("微度侵蚀面积", "Slight-class area", "ha"),
    "moderate_and_above_area_ha": ("中度及以上面积", "Moderate and above", "ha"),
    "moderate_and_above_share_pct": (
        "中度及以上占水土流失面积",
        "Moderate and above, share of erosion area",
        "%",
    ),
    "intense_and_above_area_ha": ("强烈及以上面积", "Intense and above", "ha"),
    "intense_and_above_share_pct": (
        "强烈及以上占水土流失面积",
        "Intense and above, share of erosion area",
        "%",
    ),
}
_UNIT_SUFFIXES = (
    ("_t_ha_yr", SOIL_LOSS_UNITS),
    ("_t_yr", "t·a⁻¹"),
    ("_km2", "km²"),
    ("_ha", "ha"),
    ("_pct", "%"),
)
#: Captions of known figure keys (Chinese, English).
FIGURE_CAPTIONS: dict[str, tuple[str, str]] = {
    "intensity_map": ("土壤侵蚀强度分级图", "Soil-erosion intensity classes (SL 190-2007)"),
    "soil_loss_map": ("土壤侵蚀模数图", "Soil loss A (t·ha⁻¹·a⁻¹)"),
    "class_shares": ("水土流失面积构成", "Composition of the soil-erosion area"),
    "zones_township": ("各乡镇（街道）水土流失面积", "Soil-erosion area by township"),
    "zones_watershed": ("各小流域水土流失面积", "Soil-erosion area by small watershed"),
    "change": ("年际变化", "Change between years"),
    "factor_R": ("降雨侵蚀力因子 R", "Rainfall erosivity R"),
    "factor_K": ("土壤可蚀性因子 K", "Soil erodibility K"),
    "factor_LS": ("地形因子 LS", "Topographic factor LS"),
    "factor_C": ("植被覆盖与管理因子 C", "Cover-management factor C"),
    "factor_P": ("水土保持措施因子 P", "Support practice factor P"),
    "factor_B": ("生物措施因子 B", "Biological measures factor B"),
    "factor_E": ("工程措施因子 E", "Engineering measures factor E"),
    "factor_T": ("耕作措施因子 T", "Tillage measures factor T"),
}
_LAYER_NAMES = {
    "township": ("乡镇（街道）", "Townships"),
    "watershed": ("小流域", "Small watersheds"),
    "village": ("行政村", "Villages"),
}
_DASH = "—"
#: Summary keys shown elsewhere (notes), not as key figures.
_SUMMARY_KEYS_NOT_SHOWN = frozenset(
    {"boundary_convention", "class_breaks_t_ha_yr", "region", "dominant_class_code", "year"}
)


# ------------------------------------------------------------------------- formatting
def _is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _fmt_number(value, digits: int = 2, *, signed: bool = False) -> str:
    if _is_missing(value):
        return _DASH
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{value:+,d}" if signed else f"{value:,d}"
    value = float(value)
    if not math.isfinite(value):
        return _DASH
    text = f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"
    return text.replace("-", "−")


def _cell(text, *, num: bool = False, swatch: str | None = None) -> dict:
    return {"text": str(text), "num": num, "swatch": swatch}


def _num_cell(value, digits: int = 2, *, signed: bool = False) -> dict:
    return _cell(_fmt_number(value, digits, signed=signed), num=True)


def _class_cell(code) -> dict:
    try:
        code = int(code)
    except (TypeError, ValueError):
        return _cell(_DASH if _is_missing(code) else code)
    if code not in CLASSES:
        return _cell(code)
    _, zh, en = CLASSES[code]
    return _cell(f"{zh} {en}", swatch=CLASS_COLOURS[code])


def _require_columns(df, columns, what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputDataError(f"{what}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputDataError(f"{what} lacks column(s) {missing}; it has {list(df.columns)}")


# ------------------------------------------------------------------------------ tables
def _district_table(table: pd.DataFrame) -> dict:
    _require_columns(
        table,
        ["class_code", "area_ha", "share_of_district_pct", "share_of_erosion_pct"],
        "district table",
    )
    rows = []
    for record in table.to_dict("records"):
        code = record.get("class_code")
        label = _class_cell(code)
        if label["swatch"] is None:  # e.g. a total row: show its own label
            label = _cell(record.get("class_zh") or record.get("class_en") or label["text"])
        rows.append(
            {
                "css": "" if label["swatch"] else "total",
                "cells": [
                    label,
                    _num_cell(record["area_ha"]),
                    _num_cell(record["share_of_district_pct"]),
                    _num_cell(record["share_of_erosion_pct"]),
                ],
            }
        )
    return {
        "id": "district-table",
        "caption": "面积单位 ha（公顷）；水土流失面积 = 轻度 + 中度 + 强烈 + 极强烈 + 剧烈",
        "headers": [
            "强度等级 Class",
            "面积 Area (ha)",
            "占土地面积 Share of land area (%)",
            "占水土流失面积 Share of erosion area (%)",
        ],
        "rows": rows,
    }


def _zone_table(long_table: pd.DataFrame, layer: str) -> dict:
    """Wide table: one row per zone, class areas (ha), total, erosion area and share."""
    _require_columns(
        long_table,
        ["zone_id", "zone_name", "class_code", "area_ha"],
        f"zone table {layer!r}",
    )
    table = long_table
    if "zone_layer" in table.columns:
        table = table[table["zone_layer"] == layer]
    codes = pd.to_numeric(table["class_code"], errors="coerce")
    table = table[codes.isin(list(CLASSES))].assign(class_code=codes.astype("Int64"))
    wide = (
        table.groupby(["zone_id", "zone_name", "class_code"], sort=True, dropna=False)["area_ha"]
        .sum()
        .unstack("class_code", fill_value=0.0)
        .reindex(columns=list(CLASSES), fill_value=0.0)
    )
    rows = []
    for (zone_id, zone_name), areas in wide.iterrows():
        total = float(areas.sum())
        erosion = float(areas[list(EROSION_CODES)].sum())
        share = 100.0 * erosion / total if total > 0 else float("nan")
        rows.append(
            {
                "css": "",
                "cells": [
                    _cell(zone_id),
                    _cell(_DASH if _is_missing(zone_name) else zone_name),
                    *[_num_cell(areas[c]) for c in CLASSES],
                    _num_cell(total),
                    _num_cell(erosion),
                    _num_cell(share),
                ],
            }
        )
    zh, en = _LAYER_NAMES.get(layer, (layer, layer))
    return {
        "id": f"zone-table-{_slug(layer)}",
        "caption": "面积单位 ha；水土流失占比 = 水土流失面积 / 合计 "
        "(areas in ha; erosion share = erosion area / total)",
        "headers": [
            "编号 ID",
            "名称 Name",
            *[f"{CLASSES[c][1]} {CLASSES[c][2]} (ha)" for c in CLASSES],
            "合计 Total (ha)",
            "水土流失面积 Erosion area (ha)",
            "水土流失占比 Erosion share (%)",
        ],
        "rows": rows,
    }


def _frame_table(df: pd.DataFrame, table_id: str, caption: str = "") -> dict:
    """Any DataFrame as given: headers are its column names, numbers to 2 decimals."""
    rows = []
    for record in df.itertuples(index=False):
        cells = []
        for value in record:
            if isinstance(value, numbers.Number) and not isinstance(value, bool):
                cells.append(_num_cell(value))
            else:
                cells.append(_cell(_DASH if _is_missing(value) else value))
        rows.append({"css": "", "cells": cells})
    return {
        "id": table_id,
        "caption": caption,
        "headers": [str(c) for c in df.columns],
        "rows": rows,
    }


def _slug(text) -> str:
    return "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in str(text)).strip("-")


# ----------------------------------------------------------------------- key figures
def _unit_for(key: str) -> str:
    for suffix, unit in _UNIT_SUFFIXES:
        if key.endswith(suffix):
            return unit
    return ""


def _key_figures(summary: dict) -> list[dict]:
    items = []
    for key, value in (summary or {}).items():
        if key in _SUMMARY_KEYS_NOT_SHOWN:
            continue
        if isinstance(value, list | tuple | dict | set | pd.DataFrame | pd.Series):
            continue  # nested structures are shown as tables, not key figures
        if key in SUMMARY_LABELS:
            zh, en, unit = SUMMARY_LABELS[key]
            label = f"{zh} {en}"
        else:
            label, unit = str(key), _unit_for(str(key))
        if isinstance(value, numbers.Number) and not isinstance(value, bool):
            text = _fmt_number(value)
        else:
            text = _DASH if _is_missing(value) else str(value)
        items.append({"label": label, "value": text, "unit": unit})
    return items


# ------------------------------------------------------------------------------ change
def _change_context(change) -> dict | None:
    if change is None:
        return None
    if not isinstance(change, dict):
        raise InputDataError(
            "change: expected a dict {'summary': …, 'matrix': …, 'year0': …, 'year1': …} "
            f"or the change summary dict, got {type(change).__name__}"
        )
    if "summary" in change:  # {"summary": …, "matrix": …, "year0": …, "year1": …}
        summary = change.get("summary") or {}
        matrix = change.get("matrix", summary.get("matrix"))
    else:  # the change summary itself (pipeline.stats.change_summary keeps "matrix" in it)
        summary, matrix = change, change.get("matrix")
    year0 = change.get("year0", summary.get("year0", "Y0"))
    year1 = change.get("year1", summary.get("year1", "Y1"))

    labels = {
        "erosion_area_y0_ha": (f"{year0}年水土流失面积", f"Erosion area {year0}", "ha"),
        "erosion_area_y1_ha": (f"{year1}年水土流失面积", f"Erosion area {year1}", "ha"),
        "erosion_area_change_ha": ("水土流失面积变化", "Change in erosion area", "ha"),
        "erosion_area_change_pct": ("变化率", "Relative change", "%"),
        "improved_ha": ("强度降低面积", "Improved (to a lower class)", "ha"),
        "deteriorated_ha": ("强度升高面积", "Deteriorated (to a higher class)", "ha"),
        "unchanged_ha": ("等级未变面积", "Unchanged class", "ha"),
    }
    key_figures = []
    for key, (zh, en, unit) in labels.items():
        if key in summary:
            signed = key.startswith("erosion_area_change")
            key_figures.append(
                {
                    "label": f"{zh} {en}",
                    "value": _fmt_number(summary[key], signed=signed),
                    "unit": unit,
                }
            )
    tables = []
    per_class = summary.get("per_class")
    if per_class:
        frame = pd.DataFrame(per_class)
        _require_columns(
            frame, ["class_code", "area_y0_ha", "area_y1_ha", "net_change_ha"], "per_class"
        )
        with_pct = "net_change_pct" in frame.columns
        rows = []
        for r in frame.to_dict("records"):
            cells = [
                _class_cell(r["class_code"]),
                _num_cell(r["area_y0_ha"]),
                _num_cell(r["area_y1_ha"]),
                _num_cell(r["net_change_ha"], signed=True),
            ]
            if with_pct:
                cells.append(_num_cell(r["net_change_pct"], signed=True))
            rows.append({"css": "", "cells": cells})
        headers = [
            "强度等级 Class",
            f"{year0}年面积 Area {year0} (ha)",
            f"{year1}年面积 Area {year1} (ha)",
            "净变化 Net change (ha)",
        ]
        if with_pct:
            headers.append("变化率 Relative change (%)")
        tables.append(
            {
                "id": "change-per-class",
                "caption": "各强度等级面积变化 Net change by class (ha)",
                "headers": headers,
                "rows": rows,
            }
        )
    if matrix is not None:
        if not isinstance(matrix, pd.DataFrame):
            raise InputDataError(
                f"change matrix: expected a pandas DataFrame, got {type(matrix).__name__}"
            )
        rows = [
            {
                "css": "",
                "cells": [_class_cell(from_code), *[_num_cell(v) for v in values]],
            }
            for from_code, values in zip(matrix.index, matrix.to_numpy(), strict=True)
        ]
        headers = [f"{year0}年 ＼ {year1}年 (ha)"]
        for code in matrix.columns:
            cell = _class_cell(code)
            headers.append(cell["text"])
        tables.append(
            {
                "id": "change-matrix",
                "caption": (
                    f"强度等级转移矩阵 Transition matrix (ha): 行为{year0}年等级，列为{year1}年等级 "
                    f"rows = class in {year0}, columns = class in {year1}"
                ),
                "headers": headers,
                "rows": rows,
            }
        )
    return {"year0": year0, "year1": year1, "key_figures": key_figures, "tables": tables}


# ----------------------------------------------------------------------------- figures
def _image_info(path: Path) -> tuple[str, int | None, int | None]:
    """MIME type and pixel size of a PNG or JPEG file, from its header."""
    head = path.read_bytes()[:32]
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return "image/png", width, height
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", None, None
    raise InputDataError(f"figure {path} is not a PNG or JPEG file")


def _figure_context(figures: dict | None) -> list[dict]:
    out = []
    for index, (key, spec) in enumerate((figures or {}).items(), start=1):
        if isinstance(spec, tuple | list):
            path, caption = Path(spec[0]), str(spec[1])
        else:
            path, caption = Path(spec), None
        if not path.is_file():
            raise InputDataError(f"figure {key!r}: file not found: {path}")
        if caption is None:
            zh, en = FIGURE_CAPTIONS.get(str(key), (str(key), ""))
            caption = f"{zh} {en}".strip()
        mime, width, height = _image_info(path)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        out.append(
            {
                "id": _slug(key) or str(index),
                "key": str(key),
                "caption": caption,
                "data_uri": f"data:{mime};base64,{data}",
                "width": width or "",
                "height": height or "",
            }
        )
    return out


# ---------------------------------------------------------------------------- sections
def _paragraphs(text) -> list[str]:
    if text is None:
        return []
    return [p.strip() for p in str(text).replace("\r\n", "\n").split("\n") if p.strip()]


def _extra_context(extra_sections) -> list[dict]:
    out = []
    for index, section in enumerate(extra_sections or [], start=1):
        if isinstance(section, tuple | list) and len(section) == 2:
            section = {"title": section[0], "content": section[1]}
        if not isinstance(section, dict) or "title" not in section:
            raise InputDataError(
                f"extra section {index}: expected a dict with 'title' and 'text' and/or 'table', "
                f"or a (title, text|DataFrame) pair, got {section!r:.80}"
            )
        content = section.get("content")
        text = section.get("text", content if isinstance(content, str) else None)
        table = section.get("table", content if isinstance(content, pd.DataFrame) else None)
        out.append(
            {
                "title": str(section["title"]),
                "warning": bool(section.get("warning")),
                "paragraphs": _paragraphs(text),
                "table": _frame_table(table, f"extra-table-{index}", section.get("caption", ""))
                if table is not None
                else None,
            }
        )
    return out


def _notes(summary: dict) -> list[str]:
    convention = str((summary or {}).get("boundary_convention", "lower ≤ A < upper"))
    convention = convention.replace("<=", "≤").replace(">=", "≥")
    return [
        "强度分级依据《土壤侵蚀分类分级标准》(SL 190-2007)，土壤侵蚀模数 A 单位 t·ha⁻¹·a⁻¹"
        f"（= t·km⁻²·a⁻¹ ÷ 100）；等级边界约定 {convention}。"
        " Classes follow SL 190-2007; a pixel belongs to a class when lower ≤ A < upper.",
        "水土流失面积为轻度及以上各级面积之和（不含微度）；水土保持率 = 1 − 水土流失面积 / 土地面积。"
        " Soil-erosion area excludes the slight class; soil conservation rate = "
        "1 − erosion area / land area.",
        "面积为真实面积（等积投影或椭球面积），单位公顷 (ha)。"
        " Areas are true areas (equal-area grid or ellipsoidal pixel areas), in hectares.",
    ]


def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_HERE)),
        autoescape=True,  # every {{ value }} is HTML-escaped unless marked safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )


def render_html_report(
    *,
    title: str,
    district_name: str,
    year,
    bulletin_paragraph: str | None,
    district_table: pd.DataFrame,
    summary: dict | None,
    zone_tables: dict[str, pd.DataFrame] | None = None,
    change: dict | None = None,
    figures: dict | None = None,
    extra_sections=None,
    footer: str | None = None,
    banner: str | None = None,
) -> str:
    """The report as an HTML string (see :func:`build_html_report`)."""
    import markupsafe

    zone_sections = []
    for layer, long_table in (zone_tables or {}).items():
        zh, en = _LAYER_NAMES.get(str(layer), (str(layer), str(layer)))
        zone_sections.append(
            {
                "layer_id": _slug(layer) or "layer",
                "heading": f"{zh} {en}" if zh != en else zh,
                "table": _zone_table(long_table, str(layer)),
            }
        )
    css = (_HERE / CSS_FILE).read_text(encoding="utf-8")
    context = {
        "csp": CSP,
        "version": pipeline.__version__,
        "css": markupsafe.Markup(css),  # our own file, not data
        "title": title,
        "district_name": district_name,
        "year": year,
        "bulletin_paragraphs": _paragraphs(bulletin_paragraph),
        "key_figures": _key_figures(summary or {}),
        "district_table": _district_table(district_table),
        "zone_sections": zone_sections,
        "change": _change_context(change),
        "figures": _figure_context(figures),
        "extra_sections": _extra_context(extra_sections),
        "notes": _notes(summary or {}),
        "footer": footer,
        "banner": banner,
    }
    return _environment().get_template(TEMPLATE_FILE).render(**context)


def build_html_report(
    out_html: str | os.PathLike,
    *,
    title: str,
    district_name: str,
    year,
    bulletin_paragraph: str | None,
    district_table: pd.DataFrame,
    summary: dict | None,
    zone_tables: dict[str, pd.DataFrame] | None = None,
    change: dict | None = None,
    figures: dict | None = None,
    extra_sections=None,
    footer: str | None = None,
    banner: str | None = None,
) -> Path:
    """Write the bulletin as ONE self-contained HTML file (opens offline), atomically.

    Parameters
    ----------
    out_html : path
        Output file.
    title, district_name, year
        Page heading (escaped).
    bulletin_paragraph : str or None
        The bulletin text (Chinese or English); each line becomes a paragraph (escaped).
    district_table : pandas.DataFrame
        One row per class: ``class_code``, ``area_ha`` (ha), ``share_of_district_pct``
        and ``share_of_erosion_pct`` (%); rows are shown as given (a total row with a
        non-class code is shown with its ``class_zh`` label), numbers to 2 decimals.
        Pass the display table (``pipeline.report.tables.display_class_table``), whose
        shares are already rounded to sum to 100.00, so the page prints those.
    summary : dict or None
        Key figures: known keys (``land_area_ha``, ``erosion_area_ha``,
        ``erosion_share_pct``, ``soil_conservation_rate_pct``, ``dominant_class_zh``, …)
        get bilingual labels and units; other scalar keys are shown under their own name
        with a unit guessed from the suffix (``_ha``, ``_pct``, ``_t_ha_yr``); lists and
        dicts are skipped.
    zone_tables : dict of layer → pandas.DataFrame, optional
        Long zone tables (``zone_id``, ``zone_name``, ``class_code``, ``area_ha``);
        shown wide, one row per zone, with class areas (ha), total, erosion area and
        erosion share (%).
    change : dict, optional
        The change summary of ``pipeline.stats.change_summary`` (with its ``year0``,
        ``year1``, ``per_class`` and ``matrix`` entries), or ``{"summary": …,
        "matrix": transition DataFrame (ha), "year0": …, "year1": …}``.
    figures : dict of key → path or (path, caption), optional
        PNG/JPEG files embedded as data URIs, in this order. Known keys
        (``intensity_map``, ``soil_loss_map``, ``class_shares``, ``zones_township``,
        ``zones_watershed``, ``change``, ``factor_R`` …) get standard captions.
    extra_sections : list, optional
        Dicts ``{"title", "text"?, "table"? (DataFrame), "caption"?}`` or
        ``(title, text | DataFrame)`` pairs, appended after the figures.
    banner : str, optional
        A warning shown under the title, e.g. "示范数据 / synthetic demo data".
    footer : str, optional
        Footer text (e.g. a generation date); none by default, so output is
        deterministic.

    Returns
    -------
    pathlib.Path
        ``out_html``.

    Examples
    --------
    >>> build_html_report("report.html", title="2024年水土流失公报", district_name="某区",
    ...     year=2024, bulletin_paragraph=text, district_table=table, summary=summary,
    ...     figures={"intensity_map": "maps/intensity.png"})  # doctest: +SKIP
    """
    html = render_html_report(
        title=title,
        district_name=district_name,
        year=year,
        bulletin_paragraph=bulletin_paragraph,
        district_table=district_table,
        summary=summary,
        zone_tables=zone_tables,
        change=change,
        figures=figures,
        extra_sections=extra_sections,
        footer=footer,
        banner=banner,
    )
    return write_text(html, out_html)
