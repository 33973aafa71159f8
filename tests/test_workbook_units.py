"""Report units (公顷, km², 亩, 万亩), the hand-over workbook and strictly valid JSON."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from pipeline.errors import ConfigError
from pipeline.io import strict_json
from pipeline.report.bulletin import bulletin_markdown, bulletin_paragraph
from pipeline.report.tables import write_tables
from pipeline.stats import _class_table, summarize
from pipeline.units import from_ha, mapping_from_ha, relabel_text, table_from_ha

AREAS_HA = np.array([12345.678, 6000.125, 2500.5, 800.25, 300.75, 99.99])


def _bulletin(unit):
    table = table_from_ha(_class_table(AREAS_HA), unit)
    summary = mapping_from_ha(summarize(_class_table(AREAS_HA)), unit)
    text = bulletin_paragraph(summary, table, lang="zh", district_name="示例区", year=2024)
    return relabel_text(text, unit, "zh")


def test_wanmu_equals_hectares_over_666_67_to_printed_precision():
    ha_text = _bulletin("ha")
    wm_text = _bulletin("wanmu")
    ha_numbers = [float(x) for x in re.findall(r"([\d.]+) 公顷", ha_text)]
    wm_numbers = [float(x) for x in re.findall(r"([\d.]+) 万亩", wm_text)]
    assert "公顷" not in wm_text and len(wm_numbers) == len(ha_numbers) > 3
    # independent expectation: 1 万亩 = 10 000 亩 = 10 000 × 666.67 m² = 666.67 ha
    land_ha = AREAS_HA.sum()
    assert wm_numbers[0] == pytest.approx(round(land_ha / 666.67, 2), abs=0.01)
    erosion_ha = AREAS_HA[1:].sum()
    assert wm_numbers[1] == pytest.approx(round(erosion_ha / 666.67, 2), abs=0.01)
    for ha, wm in zip(ha_numbers, wm_numbers, strict=True):
        assert abs(wm - ha / 666.67) <= 0.005 + 1e-9 + ha * 1e-5  # printed precision (2 dp)
    # shares are unit-free: the percentages are identical
    assert re.findall(r"([\d.]+)%", ha_text) == re.findall(r"([\d.]+)%", wm_text)


def test_mu_and_km2_factors():
    assert from_ha(1.0, "mu") == 15.0
    assert from_ha(100.0, "km2") == pytest.approx(1.0)
    assert from_ha(666.6666666666666, "wanmu") == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="report.units"):
        from_ha(1.0, "acre")


def test_english_relabel_leaves_rates_alone():
    text = "The erosion area was 12.50 ha (ha); breaks 5 t/(ha·a), A in t·ha⁻¹·a⁻¹."
    out = relabel_text(text, "km2", "en")
    assert out == "The erosion area was 12.50 km² (km²); breaks 5 t/(ha·a), A in t·ha⁻¹·a⁻¹."


def test_markdown_table_in_mu():
    table = table_from_ha(_class_table(AREAS_HA), "mu")
    summary = mapping_from_ha(summarize(_class_table(AREAS_HA)), "mu")
    md = relabel_text(
        bulletin_markdown(summary, table, lang="zh", district_name="示例区", year=2024), "mu", "zh"
    )
    assert "面积（亩）" in md
    assert f"{AREAS_HA[5] * 15:.2f}" in md  # 剧烈 99.99 ha = 1499.85 亩


def _workbook(tmp_path, units):
    t = _class_table(AREAS_HA)
    long = pd.DataFrame(
        {
            "zone_layer": "township",
            "zone_id": [1] * 6 + [2] * 6,
            "zone_name": ["甲镇"] * 6 + ["乙镇"] * 6,
            "class_code": list(range(1, 7)) * 2,
            "class_zh": "x",
            "class_en": "x",
            "area_ha": list(AREAS_HA * 0.4) + list(AREAS_HA * 0.6),
            "share_of_zone_pct": 0.0,
            "share_of_zone_erosion_pct": 0.0,
        }
    )
    soil = pd.DataFrame(
        {
            "zone_layer": "township",
            "zone_id": [1, 2],
            "zone_name": ["甲镇", "乙镇"],
            "land_area_ha": [AREAS_HA.sum() * 0.4, AREAS_HA.sum() * 0.6],
            "total_soil_loss_t_yr": [1000.0, 3000.0],
            "mean_modulus_t_km2_yr": [
                1000.0 / (AREAS_HA.sum() * 0.4) * 100,
                3000.0 / (AREAS_HA.sum() * 0.6) * 100,
            ],
        }
    )
    district = soil.iloc[[0]].assign(
        zone_id="district",
        total_soil_loss_t_yr=4000.0,
        mean_modulus_t_km2_yr=4000.0 / AREAS_HA.sum() * 100,
    )
    return write_tables(
        tmp_path / units,
        district_table=t,
        summary=summarize(t),
        zone_tables={"township": long},
        year=2024,
        district_name="示例区",
        extra_tables={"soil_loss_township": soil, "soil_loss_district": district},
        provenance_rows=[("配置哈希 config hash", "abc123"), ("report.units", units)],
        units=units,
    )


def test_workbook_headers_formats_totals(tmp_path):
    written = _workbook(tmp_path, "ha")
    wb = load_workbook(written["xlsx"])
    assert wb.sheetnames == ["分级面积", "汇总", "乡镇", "数据来源与参数"]
    ws = wb["乡镇"]
    headers = [c.value for c in ws[1]]
    assert headers[:4] == ["编号", "名称", "土地总面积（公顷）", "水土流失面积（公顷）"]
    assert "平均土壤侵蚀模数（t/(km²·a)）" in headers and "土壤流失总量（t/a）" in headers
    assert ws.freeze_panes == "A2"
    total = {h: ws.cell(row=ws.max_row, column=j + 1) for j, h in enumerate(headers)}
    assert total["名称"].value == "合计"
    assert total["土地总面积（公顷）"].value == pytest.approx(AREAS_HA.sum())
    assert total["土地总面积（公顷）"].number_format == "#,##0.00"
    # share recomputed from the summed areas, not summed
    assert total["水土流失面积占比（%）"].value == pytest.approx(
        AREAS_HA[1:].sum() / AREAS_HA.sum() * 100
    )
    assert total["水土流失面积占比（%）"].number_format == "0.00"
    assert total["土壤流失总量（t/a）"].value == pytest.approx(4000.0)
    # district mean modulus = 4000 t / land in km²
    assert total["平均土壤侵蚀模数（t/(km²·a)）"].value == pytest.approx(
        4000.0 / (AREAS_HA.sum() / 100)
    )
    prov = wb["数据来源与参数"]
    assert [c.value for c in prov[1]] == ["项目", "内容"]
    assert prov.cell(row=2, column=2).value == "abc123"


def test_workbook_in_wanmu_and_deterministic(tmp_path):
    a = _workbook(tmp_path / "a", "wanmu")
    b = _workbook(tmp_path / "b", "wanmu")
    assert a["xlsx"].read_bytes() == b["xlsx"].read_bytes()
    ws = load_workbook(a["xlsx"])["分级面积"]
    assert ws.cell(row=1, column=3).value == "面积（万亩）"
    assert ws.cell(row=2, column=3).value == pytest.approx(AREAS_HA[0] / (10000 * 10000 / 15 / 1e4))
    # machine CSVs stay in hectares
    csv = pd.read_csv(a["district_classes"], encoding="utf-8-sig")
    np.testing.assert_allclose(csv["area_ha"], AREAS_HA)


def test_strict_json_has_no_nan():
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    text = strict_json({"a": float("nan"), "b": [np.float64(np.inf), 1.5], "c": np.int64(3)})
    doc = json.loads(text, parse_constant=refuse)
    assert doc == {"a": None, "b": [None, 1.5], "c": 3}


def test_rendered_report_in_wanmu_has_no_hectare_labels():
    from pipeline.report.handover import in_units, relabel_html
    from pipeline.report.html import render_html_report
    from pipeline.report.tables import display_class_table

    t = _class_table(AREAS_HA)
    s = summarize(t)
    long = pd.DataFrame(
        {
            "zone_layer": "township",
            "zone_id": 1,
            "zone_name": "甲镇",
            "class_code": list(range(1, 7)),
            "class_zh": "x",
            "class_en": "x",
            "area_ha": AREAS_HA,
            "share_of_zone_pct": 0.0,
            "share_of_zone_erosion_pct": 0.0,
        }
    )
    ut, us, uz, _ = in_units(t, s, {"township": long}, None, "wanmu")
    html = render_html_report(
        title="t",
        district_name="区",
        year=2024,
        bulletin_paragraph="x",
        district_table=display_class_table(ut),
        summary=us,
        zone_tables=uz,
    )
    out = relabel_html(html, "wanmu")
    assert "公顷" not in out and ">ha<" not in out and "(ha)" not in out
    assert "万亩" in out and "areas in ha" not in out
    # the land area key figure: hectares / 666.67 to two decimals
    assert f"{AREAS_HA.sum() / 666.67:,.2f}" in out or f"{AREAS_HA.sum() / 666.67:.2f}" in out
