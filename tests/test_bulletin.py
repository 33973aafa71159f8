"""The bulletin paragraph and markdown: no XX, numbers match the table, shares sum to 100.00."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputDataError
from pipeline.report.bulletin import bulletin_markdown, bulletin_paragraph
from pipeline.report.tables import display_class_table
from pipeline.stats import _class_table, change_summary, summarize

ZH_CLASS_RE = re.compile(
    r"(轻度|中度|强烈|极强烈|剧烈)流失面积 ([\d.]+) 公顷，占(?:水土流失面积的)? ([\d.]+)%"
)


def _units(values) -> int:
    return int(sum(round(float(v) * 100) for v in values))


@pytest.fixture
def table():
    t = _class_table(np.array([600.123, 300.456, 50.2, 20.1, 10.05, 3.333]))
    t.attrs.update(
        class_breaks_t_ha_yr=[5.0, 25.0, 50.0, 80.0, 150.0],
        type_region="south_red_soil",
        area_method="equal-area projection (Albers Equal Area): constant pixel area",
    )
    return t


def _change(table, *, delta_light=-12.5):
    """A change whose year-1 side is ``table``: year 0 had ``-delta_light`` ha more 轻度."""
    areas = table["area_ha"].to_numpy()
    m = pd.DataFrame(np.diag(areas), index=range(1, 7), columns=range(1, 7))
    m.loc[2, 1] = -delta_light  # moved from 轻度 (year 0) to 微度 (year 1)
    m.loc[1, 1] = areas[0] + delta_light
    return change_summary(m, year0=2023, year1=2024)


def test_chinese_paragraph_numbers_match_the_table(table):
    s = summarize(table)
    p = bulletin_paragraph(s, table, district_name="示例区", year=2024)
    assert "XX" not in p and "nan" not in p.lower()
    shown = display_class_table(table).set_index("class_zh")
    found = ZH_CLASS_RE.findall(p)
    assert [f[0] for f in found] == ["轻度", "中度", "强烈", "极强烈", "剧烈"]
    for name, area, share in found:
        assert float(area) == shown.loc[name, "area_ha"]
        assert abs(float(area) - table.set_index("class_zh").loc[name, "area_ha"]) < 0.01
        assert float(share) == shown.loc[name, "share_of_erosion_pct"]
    assert _units(f[2] for f in found) == 10000  # printed shares sum to exactly 100.00
    x = float(re.search(r"水土流失面积为 ([\d.]+) 公顷", p).group(1))
    assert x == pytest.approx(s["erosion_area_ha"], abs=0.01)
    assert _units([x]) == _units(f[1] for f in found)  # printed classes add up to X
    y = float(re.search(r"占总面积的 ([\d.]+)%", p).group(1))
    assert y == pytest.approx(s["erosion_share_pct"], abs=0.01)
    rate = float(re.search(r"水土保持率为 ([\d.]+)%", p).group(1))
    assert rate == pytest.approx(s["soil_conservation_rate_pct"], abs=0.01)
    assert _units([y, rate]) == 10000
    land = float(re.search(r"土地总面积 ([\d.]+) 公顷", p).group(1))
    assert land == pytest.approx(s["land_area_ha"], abs=0.01)


def test_chinese_paragraph_states_conventions(table):
    p = bulletin_paragraph(summarize(table), table, district_name="示例区", year=2024)
    assert "属于轻度流失区" in p
    assert "以水力侵蚀为主" in p
    assert "下限 ≤ A < 上限" in p
    assert "微度侵蚀不计入水土流失面积" in p
    assert "水土保持率 = (1 − 水土流失面积 / 土地总面积)" in p
    assert "南方红壤丘陵区容许土壤流失量 5 t/(hm²·a)" in p
    assert "5、25、50、80、150" in p
    assert "最大余数法" in p
    assert "较上年" not in p  # no change given
    no_type = bulletin_paragraph(
        summarize(table), table, district_name="示例区", year=2024, erosion_type_note=False
    )
    assert "水力侵蚀为主" not in no_type


def test_change_versus_last_year(table):
    ch = _change(table, delta_light=-12.5)
    p = bulletin_paragraph(summarize(table), table, district_name="示例区", year=2024, change=ch)
    m = re.search(r"较上年(减少|增加) ([\d.]+) 公顷（(减幅|增幅) ([\d.]+)%）", p)
    assert m is not None, p
    assert m.group(1) == "减少" and m.group(3) == "减幅"
    assert float(m.group(2)) == 12.5
    assert float(m.group(4)) == pytest.approx(abs(ch["erosion_area_change_pct"]), abs=0.005)
    up = _change(table, delta_light=0.0)
    p_up = bulletin_paragraph(summarize(table), table, district_name="示例区", year=2024, change=up)
    assert "与上年持平" in p_up


def test_change_must_match_this_year(table):
    ch = _change(table)
    ch_bad = dict(ch, erosion_area_y1_ha=ch["erosion_area_y1_ha"] + 1.0)
    with pytest.raises(InputDataError, match="does not match this year's erosion area"):
        bulletin_paragraph(summarize(table), table, district_name="x", year=2024, change=ch_bad)
    with pytest.raises(InputDataError, match="change is for year 2024, the bulletin for 2025"):
        bulletin_paragraph(summarize(table), table, district_name="x", year=2025, change=ch)
    other = summarize(_class_table(np.array([1.0, 2, 0, 0, 0, 0])))
    with pytest.raises(InputDataError, match="does not match the district table"):
        bulletin_paragraph(other, table, district_name="x", year=2024)
    with pytest.raises(InputDataError, match="lang must be"):
        bulletin_paragraph(summarize(table), table, district_name="x", year=2024, lang="fr")


def test_english_paragraph(table):
    ch = _change(table, delta_light=-12.5)
    p = bulletin_paragraph(
        summarize(table), table, lang="en", district_name="Demo", year=2024, change=ch
    )
    assert "XX" not in p
    found = re.findall(
        r"(light|moderate|intense|very intense|severe) erosion ([\d.]+) ha, ([\d.]+)%", p
    )
    assert [f[0] for f in found] == ["light", "moderate", "intense", "very intense", "severe"]
    assert _units(f[2] for f in found) == 10000
    assert "a decrease of 12.50 ha" in p
    assert "the district is a light-erosion area" in p
    assert "lower ≤ A < upper" in p
    assert "Water erosion is the main erosion type" in p


def test_no_erosion_area():
    t = _class_table(np.array([100.0, 0, 0, 0, 0, 0]))
    p = bulletin_paragraph(summarize(t), t, district_name="示例区", year=2024)
    assert "水土流失面积为 0.00 公顷" in p and "无水土流失面积" in p
    assert "水土保持率为 100.00%" in p


def test_markdown_table_matches_paragraph(table):
    ch = _change(table)
    md = bulletin_markdown(summarize(table), table, district_name="示例区", year=2024, change=ch)
    lines = md.splitlines()
    assert lines[0] == "# 示例区 2024 年水土流失状况"
    assert "XX" not in md
    rows = [ln for ln in lines if ln.startswith("| 轻度 |")]
    assert rows[0] == "| 轻度 | 300.46 | 30.53 | 78.21 |"
    assert "| 轻度 | 312.96 | 300.46 | -12.50 |" in md  # change table
    assert any(ln.startswith("方法：") and "equal-area" in ln for ln in lines)
    paragraph = bulletin_paragraph(
        summarize(table), table, district_name="示例区", year=2024, change=ch
    )
    assert paragraph in md
    en = bulletin_markdown(summarize(table), table, lang="en", district_name="Demo", year=2024)
    assert en.splitlines()[0] == "# Demo: soil erosion 2024"
    assert "| Light (轻度) | 300.46 | 30.53 | 78.21 |" in en


def test_mula_mutha_bulletin(shared_data):
    from pipeline.classify import classify_intensity
    from pipeline.io import open_raster
    from pipeline.stats import class_area_table, pixel_area_ha

    soil_loss = open_raster(shared_data / "mula_mutha_rusle_2020_in" / "a_factor_2020.tif")
    cls = classify_intensity(soil_loss)
    t = class_area_table(cls, pixel_area_ha(cls))
    p = bulletin_paragraph(summarize(t), t, district_name="Mula–Mutha", year=2020)
    # area-weighted erosion share 0.3777 % (SOURCE.md) -> printed 0.38 %
    assert "占总面积的 0.38%" in p
    assert "其中轻度流失面积 2135.52 公顷，占水土流失面积的 100.00%" in p
    assert "水土保持率为 99.62%" in p


def test_table_read_back_from_csv_without_attrs(table, tmp_path):
    path = tmp_path / "classes.csv"
    table.to_csv(path, index=False, encoding="utf-8-sig")
    plain = pd.read_csv(path, encoding="utf-8-sig")
    md = bulletin_markdown(
        summarize(plain),
        plain,
        district_name="示例区",
        year=2024,
        breaks=[5, 25, 50, 80, 150],
        type_region="south_red_soil",
    )
    assert "（）" not in md and "()" not in md
    assert "南方红壤丘陵区容许土壤流失量 5 t/(hm²·a)" in md
    assert "| 轻度 | 300.46 | 30.53 | 78.21 |" in md
