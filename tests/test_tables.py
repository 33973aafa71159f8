"""Largest-remainder rounding and the CSV/XLSX writers."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from pipeline.errors import InputDataError
from pipeline.report.tables import display_class_table, round_shares, write_tables
from pipeline.stats import (
    CLASS_TABLE_COLUMNS,
    ZONE_SUMMARY_COLUMNS,
    ZONE_TABLE_COLUMNS,
    _class_table,
    change_summary,
    summarize,
)


def _units(values) -> int:
    """Sum of values as an exact count of hundredths."""
    return int(sum(round(v * 100) for v in values))


def test_round_shares_examples():
    assert round_shares([1, 1, 1]).tolist() == [33.34, 33.33, 33.33]
    assert round_shares([2, 1]).tolist() == [66.67, 33.33]
    assert round_shares([0, 0, 0]).tolist() == [0.0, 0.0, 0.0]
    assert round_shares([99.6223, 0.3777]).tolist() == [99.62, 0.38]
    assert round_shares([5.0, 5.0], total=1, decimals=1).tolist() == [0.5, 0.5]
    assert round_shares([]).tolist() == []


def test_round_shares_fixes_what_plain_rounding_breaks():
    values = [33.335, 33.335, 33.33]
    shares = round_shares(values)
    assert _units(shares) == 10000
    assert np.all(np.abs(shares - np.asarray(values)) < 0.01)
    six = [16.666, 16.666, 16.666, 16.666, 16.666, 16.67]
    assert _units(np.round(six, 2)) == 10002
    assert _units(round_shares(six)) == 10000


def test_round_shares_to_an_area_total():
    areas = [563258.747855, 2135.515614, 0.0]
    rounded = round_shares(areas, total=round(sum(areas), 2))
    assert _units(rounded) == round(sum(areas) * 100)
    assert np.all(np.abs(rounded - areas) < 0.01)


@pytest.mark.parametrize("bad", [[-1, 2], [np.nan, 1], [np.inf, 1]])
def test_round_shares_rejects_bad_values(bad):
    with pytest.raises(InputDataError, match="finite and non-negative"):
        round_shares(bad)


def test_display_table_adds_up():
    t = _class_table(np.array([600.123, 300.456, 50.2, 20.1, 10.05, 3.333]))
    d = display_class_table(t)
    assert _units(d["area_ha"]) == _units([round(t["area_ha"].sum(), 2)])
    assert _units(d["share_of_district_pct"]) == 10000
    assert _units(d["share_of_erosion_pct"].iloc[1:]) == 10000
    assert np.isnan(d["share_of_erosion_pct"].iloc[0])
    assert np.all(np.abs(d["area_ha"] - t["area_ha"]) < 0.01)


def _demo_inputs():
    table = _class_table(np.array([600.123, 300.456, 50.2, 20.1, 10.05, 3.333]))
    rows = []
    for zid, name, scale in (("T1", "甲镇", 0.4), ("T2", "乙镇", 0.6)):
        for r in table.itertuples():
            rows.append(
                {
                    "zone_layer": "township",
                    "zone_id": zid,
                    "zone_name": name,
                    "class_code": r.class_code,
                    "class_zh": r.class_zh,
                    "class_en": r.class_en,
                    "area_ha": r.area_ha * scale,
                    "share_of_zone_pct": r.share_of_district_pct,
                    "share_of_zone_erosion_pct": r.share_of_erosion_pct,
                }
            )
    townships = pd.DataFrame(rows)
    watersheds = townships.assign(zone_layer="watershed")
    matrix = pd.DataFrame(
        np.diag(table["area_ha"].to_numpy()),
        index=pd.Index(range(1, 7), name="from_class"),
        columns=pd.Index(range(1, 7), name="to_class"),
    )
    matrix.loc[2, 1] = 5.0
    change = change_summary(matrix, year0=2023, year1=2024)
    return table, townships, watersheds, change


def test_write_tables_files_headers_and_sheets(tmp_path):
    table, townships, watersheds, change = _demo_inputs()
    written = write_tables(
        tmp_path,
        district_table=table,
        summary=summarize(table),
        zone_tables={"township": townships, "watershed": watersheds},
        change=change,
        year=2024,
        district_name="示例区",
    )
    expected = {
        "district_classes",
        "district_summary",
        "zone_classes_township",
        "zone_summary_township",
        "zone_classes_watershed",
        "zone_summary_watershed",
        "change_matrix",
        "change_by_class",
        "change_summary",
        "xlsx",
    }
    assert set(written) == expected
    assert all(p.exists() for p in written.values())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    raw = written["district_classes"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    district = pd.read_csv(written["district_classes"], encoding="utf-8-sig")
    assert list(district.columns) == CLASS_TABLE_COLUMNS
    assert district["class_zh"].tolist()[:2] == ["微度", "轻度"]
    np.testing.assert_allclose(district["area_ha"], table["area_ha"], rtol=1e-12)
    zones = pd.read_csv(written["zone_classes_township"], encoding="utf-8-sig")
    assert list(zones.columns) == ZONE_TABLE_COLUMNS
    wide = pd.read_csv(written["zone_summary_watershed"], encoding="utf-8-sig")
    assert list(wide.columns) == ZONE_SUMMARY_COLUMNS
    summary = pd.read_csv(written["district_summary"], encoding="utf-8-sig")
    assert summary.loc[0, "district_name"] == "示例区" and summary.loc[0, "year"] == 2024
    matrix = pd.read_csv(written["change_matrix"], encoding="utf-8-sig")
    assert matrix.columns.tolist()[:3] == ["from_class", "from_class_zh", "to_1_ha"]
    assert matrix.loc[1, "to_1_ha"] == 5.0

    wb = load_workbook(written["xlsx"])
    assert wb.sheetnames == [
        "分级面积",
        "汇总",
        "乡镇",
        "小流域",
        "转移矩阵",
        "分级变化",
        "变化汇总",
    ]
    ws = wb["分级面积"]
    headers = [c.value for c in ws[1]]
    assert headers == [
        "代码",
        "强度分级",
        "面积（公顷）",
        "占土地总面积（%）",
        "占水土流失面积（%）",
    ]
    assert ws.freeze_panes == "A2"
    assert ws.cell(row=2, column=3).value == pytest.approx(600.123)
    assert ws.cell(row=2, column=3).number_format == "#,##0.00"
    assert ws.cell(row=2, column=4).number_format == "0.00"
    total_row = ws.max_row
    assert ws.cell(row=total_row, column=1).value == "合计"
    assert ws.cell(row=total_row, column=3).value == pytest.approx(table["area_ha"].sum())
    assert ws.cell(row=total_row, column=4).value == pytest.approx(100.0)
    labels = [wb["汇总"].cell(row=r, column=1).value for r in range(1, wb["汇总"].max_row + 1)]
    assert any(str(v).startswith("水土保持率") for v in labels)
    assert wb["乡镇"].cell(row=2, column=2).value == "甲镇"


def test_write_tables_is_deterministic(tmp_path):
    table, townships, _, change = _demo_inputs()
    kwargs = dict(
        district_table=table,
        summary=summarize(table),
        zone_tables=[townships],
        change=change,
        year=2024,
        district_name="示例区",
    )
    a = write_tables(tmp_path / "a", **kwargs)
    b = write_tables(tmp_path / "b", **kwargs)
    for key in a:
        assert a[key].read_bytes() == b[key].read_bytes(), key
    with zipfile.ZipFile(a["xlsx"]) as z:
        assert {info.date_time for info in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_write_tables_errors(tmp_path):
    table, townships, _, change = _demo_inputs()
    with pytest.raises(InputDataError, match="district_table lacks columns"):
        write_tables(
            tmp_path,
            district_table=table.drop(columns="area_ha"),
            summary={},
            year=2024,
            district_name="x",
        )
    with pytest.raises(InputDataError, match="zone table lacks columns"):
        write_tables(
            tmp_path,
            district_table=table,
            summary=summarize(table),
            zone_tables=[townships.drop(columns="zone_name")],
            year=2024,
            district_name="x",
        )
    with pytest.raises(InputDataError, match="change_summary"):
        write_tables(
            tmp_path,
            district_table=table,
            summary=summarize(table),
            change={"erosion_area_change_ha": 1.0},
            year=2024,
            district_name="x",
        )


def test_change_read_back_from_json_without_matrix(tmp_path):
    import json

    table, _, _, change = _demo_inputs()
    from_json = json.loads(
        json.dumps({k: v for k, v in change.items() if k != "matrix"}, default=float)
    )
    written = write_tables(
        tmp_path,
        district_table=table,
        summary=summarize(table),
        change=from_json,
        year=2024,
        district_name="示例区",
    )
    assert "change_matrix" not in written and "change_by_class" in written
    per_class = pd.read_csv(written["change_by_class"], encoding="utf-8-sig")
    assert per_class.loc[1, "net_change_ha"] == pytest.approx(-5.0)
    assert "分级变化" in load_workbook(written["xlsx"]).sheetnames
