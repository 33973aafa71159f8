"""Bulletin tables: rounding that adds up, CSV files and one XLSX workbook.

Rounding rule (stated in every report): printed shares are rounded by the
largest-remainder (Hamilton) method, so the printed class shares sum to exactly
100.00 % and printed class areas to the printed total. Each value is first cut
down to ``decimals`` places; the units still missing from the total go, one
each, to the values with the largest cut-off remainders (ties: the earlier
class). Written by hand because it is a few lines of numpy; no well-kept
library offers it for pandas tables.

Files (``write_tables``):

- CSV, machine tables at full precision, UTF-8 with BOM (Excel shows Chinese);
  headers are the schema column names, whose suffix carries the unit
  (``_ha`` hectares, ``_pct`` per cent):
  ``district_classes.csv``, ``district_summary.csv``,
  ``zone_classes_<layer>.csv``, ``zone_summary_<layer>.csv``,
  ``change_matrix.csv``, ``change_by_class.csv``, ``change_summary.csv``.
- ``tables.xlsx``, the human tables, one per sheet with Chinese headers naming
  the unit (``report.units``), totals rows and a frozen header
  (``pipeline.report.workbook``); values are stored at full precision and
  displayed with two decimals.

All files are written atomically (``pipeline.io.atomic_path``) and
deterministically: the XLSX has fixed document timestamps and fixed ZIP entry
times, so the same tables give the same bytes.
"""

from __future__ import annotations

import datetime
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.classify import CLASS_CODES, CLASSES
from pipeline.errors import InputDataError
from pipeline.io import write_csv
from pipeline.stats import CLASS_TABLE_COLUMNS, ZONE_TABLE_COLUMNS, zone_summary

ROUNDING_RULE_ZH = "百分比按最大余数法修约至两位小数，各级占比之和为 100.00%"
ROUNDING_RULE_EN = (
    "percentages are rounded to two decimals by the largest-remainder method, "
    "so class shares sum to exactly 100.00 %"
)
SHEET_NAMES = {"township": "townships", "watershed": "watersheds", "village": "villages"}
_FIXED_TIME = datetime.datetime(2000, 1, 1, 0, 0, 0)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

# XLSX headers: schema column -> bilingual header with unit
HEADERS = {
    "class_code": "代码 code",
    "class_key": "键 key",
    "class_zh": "强度分级",
    "class_en": "intensity class",
    "area_ha": "面积 area (ha)",
    "share_of_district_pct": "占总面积 share of district (%)",
    "share_of_erosion_pct": "占水土流失面积 share of erosion area (%)",
    "zone_layer": "图层 layer",
    "zone_id": "编号 zone id",
    "zone_name": "名称 name",
    "share_of_zone_pct": "占区域面积 share of zone (%)",
    "share_of_zone_erosion_pct": "占区域水土流失面积 share of zone erosion (%)",
    "land_area_ha": "土地总面积 land area (ha)",
    "erosion_area_ha": "水土流失面积 erosion area (ha)",
    "erosion_share_pct": "水土流失面积占比 erosion share (%)",
    "light_area_ha": "轻度 light (ha)",
    "moderate_area_ha": "中度 moderate (ha)",
    "intense_area_ha": "强烈 intense (ha)",
    "very_intense_area_ha": "极强烈 very intense (ha)",
    "severe_area_ha": "剧烈 severe (ha)",
    "area_y0_ha": "基准年面积 area year 0 (ha)",
    "area_y1_ha": "本年面积 area year 1 (ha)",
    "net_change_ha": "净变化 net change (ha)",
    "net_change_pct": "净变化率 net change (%)",
}
SUMMARY_LABELS = {
    "land_area_ha": "土地总面积 land area (ha)",
    "erosion_area_ha": "水土流失面积 soil-erosion area (ha)",
    "erosion_share_pct": "水土流失面积占比 erosion share of land area (%)",
    "soil_conservation_rate_pct": "水土保持率 soil-conservation rate (%) = 1 − erosion/land",
    "slight_area_ha": "微度面积 slight area (ha)",
    "moderate_and_above_area_ha": "中度及以上面积 moderate and above (ha)",
    "moderate_and_above_share_pct": "中度及以上占水土流失面积 moderate+ share of erosion (%)",
    "intense_and_above_area_ha": "强烈及以上面积 intense and above (ha)",
    "intense_and_above_share_pct": "强烈及以上占水土流失面积 intense+ share of erosion (%)",
    "dominant_class_code": "主要流失强度代码 dominant erosion class code",
    "dominant_class_zh": "主要流失强度 dominant erosion class",
    "erosion_area_y0_ha": "上年水土流失面积 erosion area, year 0 (ha)",
    "erosion_area_y1_ha": "本年水土流失面积 erosion area, year 1 (ha)",
    "erosion_area_change_ha": "水土流失面积变化 change in erosion area (ha)",
    "erosion_area_change_pct": "水土流失面积变化率 change in erosion area (%)",
    "improved_ha": "强度降低面积 improved to a lower class (ha)",
    "deteriorated_ha": "强度升高面积 deteriorated to a higher class (ha)",
    "unchanged_ha": "强度不变面积 unchanged (ha)",
}


def round_shares(values, total: float = 100.0, decimals: int = 2) -> np.ndarray:
    """Round non-negative values so they sum exactly to ``total`` (largest remainder).

    ``values`` are taken as weights: they are first scaled to sum to ``total``
    (a no-op for shares that already sum to 100), then rounded to ``decimals``
    places by the largest-remainder (Hamilton) method. Ties go to the earlier
    value. All-zero input returns zeros.

    Parameters
    ----------
    values : array-like of float
        Non-negative finite weights (areas in ha, or shares in %).
    total : float
        The sum the rounded values must have (rounded itself to ``decimals``).
    decimals : int
        Decimal places.

    Returns
    -------
    numpy.ndarray
        float64 values with ``decimals`` places whose printed sum is ``total``.

    Examples
    --------
    >>> round_shares([1, 1, 1]).tolist()
    [33.34, 33.33, 33.33]
    >>> round_shares([10.004, 20.004, 30.004], total=60.01).tolist()
    [10.01, 20.0, 30.0]
    """
    v = np.asarray(values, dtype="float64").ravel()
    if v.size == 0:
        return v
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise InputDataError(f"shares to round must be finite and non-negative, got {v.tolist()}")
    scale = 10**decimals
    units_total = int(round(float(total) * scale))
    s = v.sum()
    if s == 0 or units_total == 0:
        return np.zeros_like(v)
    exact = v / s * units_total
    floors = np.floor(exact).astype("int64")
    missing = max(units_total - int(floors.sum()), 0)  # 0 <= missing <= len(v)
    order = np.argsort(-(exact - floors), kind="stable")
    floors[order[:missing]] += 1
    return np.round(floors / scale, decimals)


def fmt(value: float, decimals: int = 2) -> str:
    """Fixed-point text of a number (``-0.00`` printed as ``0.00``)."""
    text = f"{float(value):.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def display_class_table(district_table: pd.DataFrame, *, decimals: int = 2) -> pd.DataFrame:
    """The class table as printed: areas and shares rounded so that they add up.

    Class areas are rounded by largest remainder to the rounded district total;
    shares of the district sum to 100.00; shares of the erosion area (classes
    2–6) sum to 100.00 (NaN for 微度, and all NaN without erosion area).
    The bulletin paragraph, the markdown table and the HTML report use this.

    Examples
    --------
    >>> from pipeline.stats import _class_table
    >>> t = display_class_table(_class_table(np.array([1.0, 1, 1, 0, 0, 0])))
    >>> t["share_of_district_pct"].tolist()
    [33.34, 33.33, 33.33, 0.0, 0.0, 0.0]
    """
    t = district_table.set_index("class_code").loc[list(CLASS_CODES)].reset_index()
    areas = t["area_ha"].to_numpy(dtype="float64")
    out = t[CLASS_TABLE_COLUMNS].copy()
    land = round(float(areas.sum()), decimals)
    out["area_ha"] = round_shares(areas, total=land, decimals=decimals)
    out["share_of_district_pct"] = round_shares(areas, decimals=decimals)
    erosion = areas[1:]
    shares = np.full(6, np.nan)
    if erosion.sum() > 0:
        shares[1:] = round_shares(erosion, decimals=decimals)
    out["share_of_erosion_pct"] = shares
    return out


def _summary_frame(summary: Mapping, *, district_name: str, year: int) -> pd.DataFrame:
    row = {"district_name": district_name, "year": int(year)}
    row.update({k: summary[k] for k in summary})
    return pd.DataFrame([row])


def _zone_frames(zone_tables) -> list[pd.DataFrame]:
    if zone_tables is None:
        return []
    frames = list(zone_tables.values()) if isinstance(zone_tables, Mapping) else zone_tables
    if isinstance(frames, pd.DataFrame):
        frames = [frames]
    out = []
    for df in frames:
        missing = [c for c in ZONE_TABLE_COLUMNS if c not in df.columns]
        if missing:
            raise InputDataError(
                f"zone table lacks columns {missing}; expected {ZONE_TABLE_COLUMNS}"
            )
        layers = df["zone_layer"].unique().tolist()
        if len(layers) != 1:
            raise InputDataError(f"a zone table must hold one zone_layer, got {layers}")
        out.append(df)
    return out


def _change_parts(change: Mapping):
    """(matrix or None, per-class table, scalar summary) of a change summary.

    The matrix is optional so that a summary read back from JSON (without the
    DataFrame) can still be written; pass ``{**summary, "matrix": matrix}``
    to include it.
    """
    if "per_class" not in change or "erosion_area_change_ha" not in change:
        raise InputDataError(
            "change must be the dict returned by pipeline.stats.change_summary "
            f"(with 'per_class' and 'erosion_area_change_ha'), got keys {sorted(change)}"
        )
    mat = None
    if change.get("matrix") is not None:
        mat = change["matrix"].copy()
        mat.index = pd.Index([int(c) for c in mat.index], name="from_class")
        mat.columns = [f"to_{int(c)}_ha" for c in mat.columns]
        mat = mat.reset_index()
        mat.insert(1, "from_class_zh", [CLASSES[int(c)][1] for c in mat["from_class"]])
    per_class = pd.DataFrame(change["per_class"])
    scalars = {k: v for k, v in change.items() if k not in ("matrix", "per_class")}
    return mat, per_class, pd.DataFrame([scalars])


class _FixedTimeZipFile(zipfile.ZipFile):
    """ZipFile whose entries all carry the same timestamp (deterministic bytes)."""

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo = zipfile.ZipInfo(str(zinfo_or_arcname), date_time=_ZIP_TIME)
            zinfo.compress_type = self.compression
            zinfo.external_attr = 0o600 << 16
            zinfo_or_arcname = zinfo
        else:
            zinfo_or_arcname.date_time = _ZIP_TIME
        return super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        with open(filename, "rb") as fh:  # openpyxl streams worksheets via a temp file
            data = fh.read()
        name = arcname if arcname is not None else os.path.basename(filename)
        self.writestr(str(name), data, compress_type, compresslevel)

    def open(self, name, mode="r", pwd=None, *, force_zip64=False):
        if mode == "w" and not isinstance(name, zipfile.ZipInfo):
            zinfo = zipfile.ZipInfo(str(name), date_time=_ZIP_TIME)
            zinfo.compress_type = self.compression
            zinfo.external_attr = 0o600 << 16
            name = zinfo
        return super().open(name, mode, pwd, force_zip64=force_zip64)


def write_tables(
    out_dir: str | os.PathLike,
    *,
    district_table: pd.DataFrame,
    summary: Mapping,
    zone_tables=None,
    change: Mapping | None = None,
    year: int,
    district_name: str,
    extra_tables: Mapping[str, pd.DataFrame] | None = None,
    provenance_rows: Sequence[tuple[str, object]] | None = None,
    units: str | None = None,
) -> dict[str, Path]:
    """Write the bulletin tables as CSV files and one XLSX workbook, atomically.

    Parameters
    ----------
    out_dir : path
        Folder for the files (created if needed).
    district_table : pandas.DataFrame
        ``pipeline.stats.class_area_table`` output.
    summary : dict
        ``pipeline.stats.summarize`` output.
    zone_tables : dict or list of pandas.DataFrame, optional
        ``zonal_class_areas`` outputs (long format), one per layer, e.g.
        ``{"township": df_t, "watershed": df_w}``.
    change : dict, optional
        ``pipeline.stats.change_summary`` output (carries the matrix).
    year : int
        The bulletin year.
    district_name : str
        Name of the district (written into the summary table and the workbook).
    extra_tables : dict of pandas.DataFrame, optional
        Further tables in ha from the statistics stages (``soil_loss_<layer>``,
        ``zone_change_<layer>``, ``slope_landuse``, ``key_townships``): written as CSV
        and as sheets (``pipeline.report.workbook``).
    provenance_rows : list of (label, value), optional
        Data sources, parameters and versions for the 数据来源与参数 sheet.
    units : str, optional
        ``report.units`` (ha, km2, mu, wanmu) of the workbook; CSVs stay in ha.

    Returns
    -------
    dict
        Name → path of each file written (CSV keys are the file stems, plus
        ``"xlsx"``).

    Examples
    --------
    >>> import tempfile
    >>> from pipeline.stats import _class_table, summarize
    >>> t = _class_table(np.array([60.0, 30.0, 10.0, 0, 0, 0]))
    >>> d = tempfile.mkdtemp()
    >>> sorted(write_tables(d, district_table=t, summary=summarize(t), year=2024,
    ...                     district_name="示例区"))
    ['district_classes', 'district_summary', 'xlsx']
    """
    out_dir = Path(out_dir)
    missing = [c for c in CLASS_TABLE_COLUMNS if c not in district_table.columns]
    if missing:
        raise InputDataError(f"district_table lacks columns {missing}")
    written: dict[str, Path] = {}
    district = district_table[CLASS_TABLE_COLUMNS]
    summary_df = _summary_frame(summary, district_name=district_name, year=year)
    written["district_classes"] = write_csv(district, out_dir / "district_classes.csv")
    written["district_summary"] = write_csv(summary_df, out_dir / "district_summary.csv")

    zones = _zone_frames(zone_tables)
    zone_wide = []
    for df in zones:
        layer = str(df["zone_layer"].iloc[0])
        wide = zone_summary(df)
        zone_wide.append((layer, wide))
        written[f"zone_classes_{layer}"] = write_csv(
            df[ZONE_TABLE_COLUMNS], out_dir / f"zone_classes_{layer}.csv"
        )
        written[f"zone_summary_{layer}"] = write_csv(wide, out_dir / f"zone_summary_{layer}.csv")

    change_parts = None
    if change is not None:
        change_parts = _change_parts(change)
        mat, per_class, scalars = change_parts
        if mat is not None:
            written["change_matrix"] = write_csv(mat, out_dir / "change_matrix.csv")
        written["change_by_class"] = write_csv(per_class, out_dir / "change_by_class.csv")
        written["change_summary"] = write_csv(scalars, out_dir / "change_summary.csv")

    from pipeline.report.workbook import bulletin_sheets, write_workbook

    for name, df in (extra_tables or {}).items():
        written[name] = write_csv(df, out_dir / f"{name}.csv")
    sheets = bulletin_sheets(
        district_table=district,
        summary=summary,
        summary_labels=SUMMARY_LABELS,
        zone_wide=zone_wide,
        change_parts=change_parts,
        extra_tables=extra_tables,
        provenance_rows=provenance_rows,
        units=units,
    )
    xlsx = out_dir / "tables.xlsx"
    write_workbook(xlsx, sheets, title=f"{district_name} {year} 水土流失监测成果表", units=units)
    written["xlsx"] = xlsx
    return written


__all__ = [
    "ROUNDING_RULE_EN",
    "ROUNDING_RULE_ZH",
    "display_class_table",
    "fmt",
    "round_shares",
    "write_tables",
]
