"""End-to-end: the Snakemake workflow on a small embedded demo district.

Reads the real workflow's run on the small config (the session's shared ``small_run``),
then checks the acceptance properties of [backbone]: the bulletin has no XX,
class areas add up, the district area equals the AOI polygon's area, a second
run does nothing, and a changed parameter reruns only the rules that use it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import geopandas as gpd
import pandas as pd
import pytest
import yaml

from pipeline.notebook import snakemake_command
from tests.conftest import REPO

pytestmark = pytest.mark.slow

SMALL = REPO / "tests" / "configs" / "small.yaml"


def snakemake(workdir, *args, configfile=SMALL):
    cmd = snakemake_command(configfile, workdir, extra=args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def job_counts(dry_run_stdout: str) -> dict[str, int]:
    """Parse Snakemake's 'Job stats' table from a dry run."""
    counts = {}
    in_table = False
    for line in dry_run_stdout.splitlines():
        if line.startswith("job") and "count" in line:
            in_table = True
            continue
        if in_table:
            m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if m and m.group(1) != "total":
                counts[m.group(1)] = int(m.group(2))
            elif line.strip().startswith("total"):
                break
    return counts


@pytest.fixture(scope="module")
def run(small_run):
    """The session's shared run of the small config (tests/conftest.py: ``small_run``)."""
    return small_run


def results(run, *parts):
    return run.joinpath("results", "small", *parts)


@pytest.mark.parametrize("year", [2023, 2024])
def test_bulletin_has_every_number(run, year):
    zh = results(run, str(year), "bulletin_zh.md").read_text(encoding="utf-8")
    en = results(run, str(year), "bulletin_en.md").read_text(encoding="utf-8")
    assert "XX" not in zh and "XX" not in en
    assert "水土流失面积" in zh and "公顷" in zh
    summary = json.loads(results(run, str(year), "tables", "summary.json").read_text())
    assert f"{summary['erosion_area_ha']:,.2f}".replace(",", "") in zh.replace(",", "")
    # district intensity by the mean modulus, total loss, unassessed area and the rule
    assert "平均土壤侵蚀模数" in zh and "土壤流失量" in zh and "未评估面积" in zh
    assert f"属于{summary['district_class_zh']}" in zh
    assert "面积加权平均土壤侵蚀模数" in zh
    assert f"{summary['mean_modulus_t_km2_a']:.2f}" in zh


@pytest.mark.parametrize("year", [2023, 2024])
def test_class_areas_add_up_and_match_the_aoi(run, year):
    table = pd.read_csv(results(run, str(year), "tables", "class_areas.csv"), encoding="utf-8-sig")
    summary = json.loads(results(run, str(year), "tables", "summary.json").read_text())
    erosion = table.loc[table["class_code"] >= 2, "area_ha"].sum()
    assert abs(erosion - summary["erosion_area_ha"]) < 0.01
    assert abs(table["area_ha"].sum() - summary["classified_area_ha"]) < 0.01
    aoi = gpd.read_file(run / "resources" / "small" / "aoi.gpkg")
    aoi_ha = aoi.to_crs(aoi.crs).geometry.area.sum() / 1e4  # equal-area grid CRS
    # land area = the AOI polygon's true area; classes + unassessed differ by rasterisation
    assert abs(summary["land_area_ha"] - aoi_ha) / aoi_ha < 1e-6
    parts = summary["classified_area_ha"] + summary["unassessed_area_ha"]
    assert abs(parts + summary["boundary_difference_ha"] - summary["land_area_ha"]) < 1e-6
    assert abs(parts - aoi_ha) / aoi_ha < 1e-3
    shares = table.loc[table["class_code"] >= 2, "share_of_erosion_pct"].sum()
    assert abs(shares - 100.0) < 1e-6


def test_zone_tables_sum_to_district(run):
    table = pd.read_csv(results(run, "2024", "tables", "class_areas.csv"), encoding="utf-8-sig")
    for layer in ("township", "watershed"):
        zones = pd.read_csv(
            results(run, "2024", "tables", f"zones_{layer}.csv"), encoding="utf-8-sig"
        )
        by_class = zones.groupby("class_code")["area_ha"].sum()
        for code, area in zip(table["class_code"], table["area_ha"], strict=True):
            if layer == "township":  # townships tile the district exactly
                assert abs(by_class.get(code, 0.0) - area) < 0.01
            else:  # small watersheds cover the district at most once
                assert by_class.get(code, 0.0) <= area + 0.01


def test_change_matrix_margins(run):
    matrix = pd.read_csv(
        results(run, "change_2023_2024", "change_matrix.csv"), encoding="utf-8-sig"
    )
    matrix = matrix.set_index("from_class")
    for year, margin in ((2023, matrix.sum(axis=1)), (2024, matrix.sum(axis=0))):
        table = pd.read_csv(
            results(run, str(year), "tables", "class_areas.csv"), encoding="utf-8-sig"
        )
        for code, area in zip(table["class_code"], table["area_ha"], strict=True):
            value = margin.loc[code] if year == 2023 else margin.loc[str(code)]
            assert abs(value - area) < 0.01


def test_second_run_does_nothing(run):
    proc = snakemake(run, "-n")
    assert proc.returncode == 0, proc.stderr
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changed_parameter_reruns_only_dependent_rules(run, tmp_path):
    cfg = yaml.safe_load(SMALL.read_text())
    cfg["support"] = {
        "table": {
            "forest": 1.0,
            "shrub": 1.0,
            "grass": 1.0,
            "orchard": 0.5,
            "terraced_cropland": 0.15,
            "sloping_cropland": 1.0,
            "paddy": 0.1,
            "built_up": 0.0,
            "water": 0.0,
            "bare": 1.0,
            "construction": 1.0,
        }
    }
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    proc = snakemake(run, "-n", configfile=changed)
    assert proc.returncode == 0, proc.stderr
    counts = job_counts(proc.stdout)
    assert counts.get("factor_p") == 2
    for untouched in (
        "inputs_dem",
        "inputs_year",
        "factor_r",
        "factor_k",
        "terrain",
        "factor_cover",
    ):
        assert untouched not in counts, f"{untouched} would rerun: {counts}"
    assert {"soil_loss", "statistics", "report"} <= set(counts)


def test_bad_config_fails_at_parse_time_naming_the_key(tmp_path):
    cfg = yaml.safe_load(SMALL.read_text())
    cfg["terrain"] = {"max_slope_length_m": -5}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    proc = snakemake(tmp_path, "-n", configfile=bad)
    assert proc.returncode != 0
    assert "terrain.max_slope_length_m" in proc.stdout + proc.stderr


def test_outputs_are_cogs_with_units(run):
    from rio_cogeo.cogeo import cog_validate

    from pipeline.io import open_raster

    path = results(run, "2024", "soil_loss.tif")
    valid, errors, _ = cog_validate(str(path))
    assert valid, errors
    assert open_raster(path).attrs["units"] == "t ha-1 a-1"


def test_html_report_is_self_contained(run, tmp_path):
    # Moved away from its folder, the report still shows everything: images are embedded.
    copy = tmp_path / "report.html"
    shutil.copy(results(run, "2024", "report.html"), copy)
    text = copy.read_text(encoding="utf-8")
    assert "<img" in text and "data:image/png;base64," in text
    assert 'src="http' not in text and 'href="http' not in text


def test_snakemake_report_registers_the_figures(run, tmp_path):
    import zipfile

    target = tmp_path / "report.zip"
    proc = snakemake(run, "--report", str(target))
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = zipfile.ZipFile(target).namelist()
    for figure in ("intensity.png", "soil_loss.png", "class_shares.png", "change.png"):
        assert any(n.endswith(figure) for n in names), (figure, names[:20])
