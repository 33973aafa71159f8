"""The treatment paragraph (#15) in the bulletin and the report (pipeline/report/treatment_sections.py).

The report rule gets the treatment outputs only when treatment is configured (dry runs), and
the paragraph the treatment_report rule wrote is appended to the bulletin and shown with its
chart and map in report.html.
"""

from __future__ import annotations

import re
import subprocess

import pandas as pd
import pytest

from pipeline.notebook import snakemake_command
from pipeline.report import html
from pipeline.report.treatment_sections import (
    append_treatment_paragraph,
    treatment_figures,
    treatment_sections,
)
from tests.conftest import REPO

ZH = "十四五以来全区累计完成水土流失治理面积 1.2345 万亩（目标 2.00 万亩，完成 61.73%）。"
EN = "Since 2020 the district has treated 823.00 ha (target 1,333.33 ha, 61.73 % done)."
# the smallest valid PNG: 1 × 1 pixel, 8-bit greyscale
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000003a7e9b55"
    "0000000a49444154789c6360000000020001e221bc330000000049454e44ae426082"
)


@pytest.fixture
def treatment_inputs(tmp_path):
    paths = {
        "treatment_bulletin_zh": tmp_path / "bulletin_treatment_zh.md",
        "treatment_bulletin_en": tmp_path / "bulletin_treatment_en.md",
        "treatment_chart": tmp_path / "progress.png",
        "treatment_map": tmp_path / "parcels_top.png",
    }
    paths["treatment_bulletin_zh"].write_text(ZH + "\n", encoding="utf-8")
    paths["treatment_bulletin_en"].write_text(EN + "\n", encoding="utf-8")
    paths["treatment_chart"].write_bytes(PNG)
    paths["treatment_map"].write_bytes(PNG)
    return {k: str(v) for k, v in paths.items()}


def test_paragraph_is_appended_to_the_bulletin_in_its_language(treatment_inputs):
    bulletin = "# 2024 年水土流失公报\n\n全区水土流失面积 12.34 km²。\n"
    zh = append_treatment_paragraph(bulletin, treatment_inputs, lang="zh")
    assert zh == bulletin + "\n" + ZH + "\n"  # the bulletin kept as is, the paragraph after it
    en = append_treatment_paragraph("Bulletin.\n", treatment_inputs, lang="en")
    assert en.endswith(EN + "\n") and ZH not in en


def test_without_treatment_the_bulletin_is_unchanged(tmp_path, treatment_inputs):
    assert append_treatment_paragraph("公报。\n", {}, lang="zh") == "公报。\n"
    empty = tmp_path / "empty.md"
    empty.write_text("\n", encoding="utf-8")
    inputs = {"treatment_bulletin_zh": str(empty)}
    assert append_treatment_paragraph("公报。\n", inputs, lang="zh") == "公报。\n"
    assert treatment_figures({}) == {} and treatment_sections({}, lang="zh") == []


def test_report_html_shows_the_paragraph_chart_and_map(treatment_inputs):
    table = pd.DataFrame(
        {"class_code": [1], "area_ha": [100.0], "share_of_district_pct": [100.0],
         "share_of_erosion_pct": [0.0]}
    )  # fmt: skip
    page = html.render_html_report(
        title="t",
        district_name="d",
        year=2024,
        bulletin_paragraph="p",
        district_table=table,
        summary={},
        figures=treatment_figures(treatment_inputs),
        extra_sections=treatment_sections(treatment_inputs, lang="zh"),
    )
    assert ZH in page and EN not in page
    assert "十四五水土流失治理与项目成效" in page
    assert page.count("data:image/png;base64,") == 2
    assert "parcels to treat first" in page and "cumulative treated area" in page


def _report_inputs(config, workdir) -> set[str]:
    cmd = snakemake_command(config, workdir, cores=1, extra=["-n"])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    blocks = re.findall(r"rule report:\n\s+input: ([^\n]+)", proc.stdout)
    assert blocks, proc.stdout[-2000:]
    return {p for block in blocks for p in block.split(", ")}


def test_report_depends_on_the_treatment_outputs_only_when_configured(tmp_path):
    with_tr = _report_inputs(REPO / "tests/configs/small_treatment.yaml", tmp_path / "a")
    for year in (2020, 2024):
        base = f"results/small_treatment/{year}/treatment"
        for name in ("bulletin_treatment_zh.md", "bulletin_treatment_en.md", "progress.png",
                     "parcels_top.png"):  # fmt: skip
            assert f"{base}/{name}" in with_tr
    without = _report_inputs(REPO / "tests/configs/small.yaml", tmp_path / "b")
    assert not [p for p in without if "/treatment/" in p]
