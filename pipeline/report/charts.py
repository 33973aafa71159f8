"""Bulletin charts: class shares, stacked class areas by zone, change between years.

Plain matplotlib (Agg) bar and heat-map charts drawn by hand from the tables made by
pipeline.report.tables (schemas in that module); no charting library adds anything
here but a dependency. Colours are the fixed SL 190 class colours of the maps
(:data:`pipeline.report.maps.CLASS_COLOURS`). Every chart writes its PNG atomically
and draws the same bytes for the same table.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from pipeline.classify import CLASSES, EROSION_CODES
from pipeline.errors import InputDataError
from pipeline.report.fonts import agg_figure, can_render, figure_style, resolve_lang
from pipeline.report.maps import CLASS_COLOURS, class_label, save_figure

_TEXT = {
    "zh": {
        "shares_title": "水土流失面积构成",
        "shares_x": "占水土流失面积比例 (%)",
        "erosion_total": "水土流失面积 {area} ha，占土地面积 {share} %",
        "zone_title": "各{layer}水土流失面积",
        "zone_title_all": "各{layer}土壤侵蚀强度面积",
        "zone_x": "面积 (ha)",
        "change_title": "{y0}—{y1}年各强度等级面积变化",
        "change_y": "面积变化 (ha)",
        "matrix_title": "{y0}—{y1}年强度等级转移 (ha；颜色为占{y0}年该等级面积比例)",
        "from": "{y}年等级",
        "to": "{y}年等级",
        "erosion_change": "水土流失面积变化 {ha} ha ({pct} %)",
        "layers": {"township": "乡镇（街道）", "watershed": "小流域", "village": "村"},
    },
    "en": {
        "shares_title": "Composition of the soil-erosion area",
        "shares_x": "Share of soil-erosion area (%)",
        "erosion_total": "Soil-erosion area {area} ha, {share} % of land area",
        "zone_title": "Soil-erosion area by {layer}",
        "zone_title_all": "Area by erosion intensity class, by {layer}",
        "zone_x": "Area (ha)",
        "change_title": "Net change of class areas, {y0}–{y1}",
        "change_y": "Change in area (ha)",
        "matrix_title": "Class transitions {y0}–{y1} (ha; colour = share of the {y0} class area)",
        "from": "Class in {y}",
        "to": "Class in {y}",
        "erosion_change": "Change in soil-erosion area {ha} ha ({pct} %)",
        "layers": {"township": "township", "watershed": "small watershed", "village": "village"},
    },
}


def _require_columns(df, columns, what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputDataError(f"{what}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputDataError(
            f"{what} lacks column(s) {missing}; it has {list(df.columns)} "
            "(see pipeline.report.tables for the schema)"
        )


def _class_rows(df: pd.DataFrame, what: str) -> pd.DataFrame:
    """Rows whose class_code is 1..6 (drops e.g. a total row), class_code as int."""
    codes = pd.to_numeric(df["class_code"], errors="coerce")
    rows = df[codes.isin(list(CLASSES))].copy()
    rows["class_code"] = codes[rows.index].astype(int)
    if rows.empty:
        raise InputDataError(f"{what} has no rows with class_code 1–6")
    return rows


def _fmt_signed(value: float, digits: int = 2) -> str:
    return f"{value:+,.{digits}f}".replace("-", "−")


# ------------------------------------------------------------------------ class shares
def plot_class_shares(
    district_table: pd.DataFrame,
    out_png: str | os.PathLike,
    *,
    lang: str = "zh",
    title: str | None = None,
) -> Path:
    """Horizontal bars: each erosion class's share of the soil-erosion area, with numbers.

    Parameters
    ----------
    district_table : pandas.DataFrame
        One row per class: ``class_code`` (1–6), ``area_ha`` (ha) and
        ``share_of_erosion_pct`` (%, NaN for 微度); other rows (a total) are ignored.
        The shares are shown as given (the table's rounding sums them to 100.00).
    out_png : path
        Output PNG, written atomically.
    lang : {"zh", "en"}
        Label language ("zh" falls back to "en" without a CJK font).

    Returns
    -------
    pathlib.Path
        ``out_png``.

    Examples
    --------
    >>> plot_class_shares(district_table, "charts/class_shares.png")  # doctest: +SKIP
    """
    lang = resolve_lang(lang)
    text = _TEXT[lang]
    _require_columns(district_table, ["class_code", "area_ha", "share_of_erosion_pct"], "table")
    rows = _class_rows(district_table, "district table").set_index("class_code")
    erosion = [c for c in EROSION_CODES if c in rows.index]
    if not erosion:
        raise InputDataError("district table has no erosion class rows (class_code 2–6)")
    shares = rows.loc[erosion, "share_of_erosion_pct"].astype(float).fillna(0.0)
    areas = rows.loc[erosion, "area_ha"].astype(float)
    labels = [class_label(c, lang=lang) for c in erosion]

    with figure_style():
        fig = agg_figure(figsize=(8.0, 0.55 * len(erosion) + 1.8))
        ax = fig.add_subplot()
        ypos = np.arange(len(erosion))[::-1]  # 轻度 at the top
        ax.barh(
            ypos,
            shares.to_numpy(),
            color=[CLASS_COLOURS[c] for c in erosion],
            edgecolor="#444444",
            linewidth=0.5,
            height=0.65,
        )
        ax.set_yticks(ypos, labels)
        xmax = max(float(shares.max()), 1.0)
        ax.set_xlim(0, xmax * 1.45)
        for y, share, area in zip(ypos, shares, areas, strict=True):
            ax.text(
                share + xmax * 0.015,
                y,
                f"{share:.2f} %  ({area:,.2f} ha)",
                va="center",
                fontsize=9,
            )
        ax.set_xlabel(text["shares_x"])
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_title(title or text["shares_title"], fontsize=12)
        total_erosion = float(areas.sum())
        if "area_ha" in rows and len(rows) == len(CLASSES):
            land = float(rows["area_ha"].astype(float).sum())
            share_land = 100.0 * total_erosion / land if land > 0 else float("nan")
            ax.text(
                0.99,
                0.02,
                text["erosion_total"].format(
                    area=f"{total_erosion:,.2f}", share=f"{share_land:.2f}"
                ),
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=8,
                color="#333333",
            )
        fig.tight_layout()
        return save_figure(fig, out_png)


# ------------------------------------------------------------------- zone stacked bars
def _zone_labels(zones: pd.DataFrame) -> list[str]:
    """zone_name where it can be drawn (CJK needs a font), else zone_id."""
    labels = []
    for zone_id, name in zip(zones["zone_id"], zones["zone_name"], strict=True):
        name = "" if name is None or (isinstance(name, float) and math.isnan(name)) else str(name)
        labels.append(name if name and can_render(name) else str(zone_id))
    return labels


def plot_zone_stacked_bars(
    zone_long_table: pd.DataFrame,
    out_png: str | os.PathLike,
    *,
    layer: str = "township",
    lang: str = "zh",
    include_slight: bool = False,
    title: str | None = None,
) -> Path:
    """Stacked horizontal bars of class areas (ha) for each zone of one layer.

    Parameters
    ----------
    zone_long_table : pandas.DataFrame
        Long table: ``zone_layer``, ``zone_id``, ``zone_name``, ``class_code`` and
        ``area_ha`` (ha) per zone and class.
    layer : str
        Which ``zone_layer`` to draw ("township", "watershed", …).
    include_slight : bool
        Also stack 微度 (slight, not counted as erosion); by default only the erosion
        classes 轻度–剧烈 are drawn, so the bars are each zone's soil-erosion area.
    lang : {"zh", "en"}
        Label language. Zone names that cannot be drawn (Chinese without a CJK font)
        are replaced by their ``zone_id``.

    Returns
    -------
    pathlib.Path
        ``out_png``.

    Examples
    --------
    >>> plot_zone_stacked_bars(zones, "charts/townships.png", layer="township")
    ... # doctest: +SKIP
    """
    lang = resolve_lang(lang)
    text = _TEXT[lang]
    _require_columns(
        zone_long_table,
        ["zone_layer", "zone_id", "zone_name", "class_code", "area_ha"],
        "zone table",
    )
    table = zone_long_table[zone_long_table["zone_layer"] == layer]
    if table.empty:
        raise InputDataError(
            f"zone table has no rows for layer {layer!r}; layers present: "
            f"{sorted(map(str, zone_long_table['zone_layer'].unique()))}"
        )
    table = _class_rows(table, f"zone table ({layer})")
    codes = [c for c in CLASSES if include_slight or c in EROSION_CODES]
    wide = (
        table.groupby(["zone_id", "zone_name", "class_code"], sort=True, dropna=False)["area_ha"]
        .sum()
        .unstack("class_code", fill_value=0.0)
        .reindex(columns=codes, fill_value=0.0)
    )
    wide = wide.assign(_total=wide.sum(axis=1)).sort_values(
        ["_total"], ascending=True, kind="stable"
    )  # largest at the top of a barh chart
    zones = wide.index.to_frame(index=False)
    labels = _zone_labels(zones)
    layer_name = text["layers"].get(layer, layer)

    with figure_style():
        fig = agg_figure(figsize=(9.0, 0.32 * len(wide) + 2.0))
        ax = fig.add_subplot()
        ypos = np.arange(len(wide))
        left = np.zeros(len(wide))
        for code in codes:
            values = wide[code].to_numpy(dtype=float)
            ax.barh(
                ypos,
                values,
                left=left,
                color=CLASS_COLOURS[code],
                edgecolor="#444444",
                linewidth=0.3,
                height=0.7,
            )
            left += values
        totals = wide["_total"].to_numpy(dtype=float)
        xmax = max(float(totals.max()), 1e-9)
        for y, total in zip(ypos, totals, strict=True):
            ax.text(total + xmax * 0.01, y, f"{total:,.2f}", va="center", fontsize=7)
        ax.set_xlim(0, xmax * 1.15)
        ax.set_yticks(ypos, labels, fontsize=8)
        ax.set_ylim(-0.6, len(wide) - 0.4)
        ax.set_xlabel(text["zone_x"])
        ax.spines[["top", "right"]].set_visible(False)
        key = "zone_title_all" if include_slight else "zone_title"
        ax.set_title(title or text[key].format(layer=layer_name), fontsize=12)
        ax.legend(
            handles=[Patch(facecolor=CLASS_COLOURS[c], edgecolor="#444444", lw=0.5) for c in codes],
            labels=[class_label(c, lang=lang) for c in codes],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8,
            frameon=False,
        )
        fig.tight_layout()
        return save_figure(fig, out_png)


# ------------------------------------------------------------------------------ change
def _check_matrix(matrix) -> pd.DataFrame:
    if not isinstance(matrix, pd.DataFrame):
        raise InputDataError(
            f"change matrix: expected a pandas DataFrame, got {type(matrix).__name__}"
        )
    try:
        index = [int(v) for v in matrix.index]
        columns = [int(v) for v in matrix.columns]
    except (TypeError, ValueError) as exc:
        raise InputDataError(
            f"change matrix index/columns must be class codes 1–6, got "
            f"{list(matrix.index)} × {list(matrix.columns)}"
        ) from exc
    bad = sorted(set(index + columns) - set(CLASSES))
    if bad:
        raise InputDataError(f"change matrix has class codes outside 1–6: {bad}")
    out = matrix.copy()
    out.index, out.columns = index, columns
    return out.reindex(index=list(CLASSES), columns=list(CLASSES), fill_value=0.0).astype(float)


def _per_class_from(change, matrix) -> pd.DataFrame | None:
    if isinstance(change, dict) and change.get("per_class") is not None:
        per_class = pd.DataFrame(change["per_class"])
        _require_columns(per_class, ["class_code", "net_change_ha"], "change per_class")
        per_class["class_code"] = per_class["class_code"].astype(int)
        return per_class.set_index("class_code").reindex(list(CLASSES))
    if matrix is not None:
        y0 = matrix.sum(axis=1)
        y1 = matrix.sum(axis=0)
        return pd.DataFrame({"area_y0_ha": y0, "area_y1_ha": y1, "net_change_ha": y1 - y0})
    return None


def plot_change(
    change,
    out_png: str | os.PathLike,
    *,
    year0: int | str | None = None,
    year1: int | str | None = None,
    matrix: pd.DataFrame | None = None,
    lang: str = "zh",
) -> Path:
    """Change between two years: net change per class (bars) and the transition matrix.

    Parameters
    ----------
    change : dict or pandas.DataFrame
        The change summary (``per_class`` list of ``class_code``/``net_change_ha``
        dicts, optional ``erosion_area_change_ha``/``_pct``) or the transition matrix
        itself (index ``from_class`` 1–6, columns ``to_class`` 1–6, ha).
    year0, year1 : int or str, optional
        The two years, for labels; default the summary's ``year0``/``year1``.
    matrix : pandas.DataFrame, optional
        The transition matrix (ha) when ``change`` is the summary (default: the
        summary's ``"matrix"`` entry, as pipeline.stats.change_summary returns); with a matrix a
        heat map panel is drawn beside the bars (colour = share of the year-0 class
        area, numbers = ha). Net change per class is taken from the summary if given,
        else from the matrix (column sums − row sums).
    lang : {"zh", "en"}
        Label language.

    Returns
    -------
    pathlib.Path
        ``out_png``.

    Examples
    --------
    >>> plot_change(summary, "charts/change.png", year0=2023, year1=2024, matrix=m)
    ... # doctest: +SKIP
    """
    lang = resolve_lang(lang)
    text = _TEXT[lang]
    if isinstance(change, pd.DataFrame):
        matrix, summary = change, {}
    elif isinstance(change, dict):
        summary = change
        if matrix is None:
            matrix = change.get("matrix")
    else:
        raise InputDataError(
            f"change: expected the change summary dict or the transition matrix DataFrame, "
            f"got {type(change).__name__}"
        )
    year0 = year0 if year0 is not None else summary.get("year0")
    year1 = year1 if year1 is not None else summary.get("year1")
    if year0 is None or year1 is None:
        raise InputDataError("plot_change needs year0 and year1 (not given, not in the summary)")
    matrix = _check_matrix(matrix) if matrix is not None else None
    per_class = _per_class_from(summary, matrix)
    if per_class is None:
        raise InputDataError("change summary has no 'per_class' list and no matrix was given")
    codes = list(CLASSES)
    net = per_class["net_change_ha"].astype(float).reindex(codes).fillna(0.0)

    with figure_style():
        ncols = 2 if matrix is not None else 1
        fig = agg_figure(figsize=(7.0 * ncols, 5.2))
        ax = fig.add_subplot(1, ncols, 1)
        xpos = np.arange(len(codes))
        ax.bar(
            xpos,
            net.to_numpy(),
            color=[CLASS_COLOURS[c] for c in codes],
            edgecolor="#444444",
            linewidth=0.5,
        )
        ax.axhline(0.0, color="black", linewidth=0.8)
        span = max(float(net.abs().max()), 1e-9)
        for x, value in zip(xpos, net, strict=True):
            ax.text(
                x,
                value + (0.02 * span if value >= 0 else -0.02 * span),
                _fmt_signed(value),
                ha="center",
                va="bottom" if value >= 0 else "top",
                fontsize=8,
            )
        ax.set_ylim(-span * 1.25, span * 1.25)
        short = [CLASSES[c][1] if lang == "zh" else CLASSES[c][2] for c in codes]
        ax.set_xticks(xpos, short, rotation=0 if lang == "zh" else 20)
        ax.set_ylabel(text["change_y"])
        ax.spines[["top", "right"]].set_visible(False)
        change_title = text["change_title"].format(y0=year0, y1=year1)
        if "erosion_area_change_ha" in summary:
            pct = summary.get("erosion_area_change_pct")
            change_title += "\n" + text["erosion_change"].format(
                ha=_fmt_signed(float(summary["erosion_area_change_ha"])),
                pct=_fmt_signed(float(pct)) if pct is not None else "—",
            )
        ax.set_title(change_title, fontsize=11)
        if matrix is not None:
            _draw_matrix(fig.add_subplot(1, ncols, 2), matrix, year0, year1, lang)
        fig.tight_layout()
        return save_figure(fig, out_png)


def _draw_matrix(ax, matrix: pd.DataFrame, year0, year1, lang: str) -> None:
    text = _TEXT[lang]
    values = matrix.to_numpy(dtype=float)
    row_totals = values.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        row_share = np.where(row_totals > 0, 100.0 * values / row_totals, 0.0)
    image = ax.imshow(row_share, cmap="Blues", vmin=0, vmax=100, interpolation="nearest")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if values[i, j] == 0:
                continue
            ax.text(
                j,
                i,
                f"{values[i, j]:,.1f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if row_share[i, j] > 55 else "#222222",
            )
    names = [CLASSES[c][1] if lang == "zh" else CLASSES[c][2] for c in CLASSES]
    ax.set_xticks(range(len(names)), names, rotation=0 if lang == "zh" else 30, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel(text["to"].format(y=year1))
    ax.set_ylabel(text["from"].format(y=year0))
    ax.set_title(text["matrix_title"].format(y0=year0, y1=year1), fontsize=9)
    colorbar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label("%")
