"""Treatment (#15) in the workflow: absent → unchanged DAG; demo → outputs, reruns, placebo."""

from __future__ import annotations

import json
import subprocess

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.notebook import snakemake_command
from tests.conftest import REPO
from tests.test_workflow import job_counts

SMALL = REPO / "tests" / "configs" / "small.yaml"
SMALL_TR = REPO / "tests" / "configs" / "small_treatment.yaml"
BASE_RULES = {"inputs_grid", "inputs_year", "factor_r", "factor_k", "terrain", "factor_cover", "factor_p",
              "soil_loss", "statistics", "change", "ml", "report", "all"}  # fmt: skip


def snakemake(workdir, *args, configfile):
    cmd = snakemake_command(configfile, workdir, extra=args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1500)


def test_absent_treatment_leaves_the_dag_unchanged(tmp_path):
    proc = snakemake(tmp_path, "-n", configfile=SMALL)
    assert proc.returncode == 0, proc.stderr
    counts = job_counts(proc.stdout)
    assert BASE_RULES <= set(counts)
    assert not [rule for rule in counts if rule.startswith("treatment")]
    assert "rule treatment" not in proc.stdout


def test_demo_treatment_dag(tmp_path):
    proc = snakemake(tmp_path, "-n", configfile=SMALL_TR)
    assert proc.returncode == 0, proc.stderr
    counts = job_counts(proc.stdout)
    assert counts["treatment_demo_inputs"] == 1
    assert counts["treatment_measures_raster"] == 2  # the P hook needs them every year
    assert counts["treatment_projects"] == 1  # 2024 against the 2020 baseline
    assert counts["treatment_report"] == 2


def test_demo_flag_needs_demo_source(tmp_path):
    cfg = yaml.safe_load(SMALL_TR.read_text())
    cfg["source"] = {"kind": "local"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    proc = snakemake(tmp_path, "-n", configfile=bad)
    assert proc.returncode != 0


@pytest.mark.slow
def test_demo_treatment_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("treatment_run")
    proc = snakemake(wd, configfile=SMALL_TR)
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = wd / "results" / "small_treatment" / "2024" / "treatment"
    for lang in ("zh", "en"):
        text = (out / f"bulletin_treatment_{lang}.md").read_text(encoding="utf-8")
        assert "nan" not in text.lower() and "XX" not in text and "{" not in text
    zh = (out / "bulletin_treatment_zh.md").read_text(encoding="utf-8")
    assert "万亩" in zh and "95%置信区间" in zh and "重点乡镇" in zh
    ev = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    plc = ev["placebo_modulus_t_km2_a"]
    assert plc["ci_low"] <= 0.0 <= plc["ci_high"]
    # the model's own effect of the measures (P with vs without the measure table) on the
    # project area in 2024 lies in the DiD interval
    from rasterio.features import rasterize

    from pipeline.config import load_config
    from pipeline.factors.support import p_from_table
    from pipeline.io import open_raster
    from pipeline.stages.common import table_by_code

    cfg = load_config(SMALL_TR)
    a = open_raster(wd / "results/small_treatment/2024/soil_loss.tif")
    p = open_raster(wd / "results/small_treatment/2024/factors/P.tif").values
    lc = open_raster(wd / "resources/small_treatment/landcover_2024.tif", masked=False)
    plc = p_from_table(lc, table_by_code(cfg["support"]["table"], key="support.table")).values
    pr = gpd.read_file(wd / "resources/small_treatment/treatment/projects.gpkg").to_crs(a.rio.crs)
    pid = rasterize(((g, 1) for g in pr.geometry), out_shape=a.shape, transform=a.rio.transform())
    m = (pid > 0) & np.isfinite(a.values)
    with np.errstate(invalid="ignore", divide="ignore"):
        a_without = np.where(p > 0, a.values * plc / p, a.values)
    model_effect = float((a.values - a_without)[m].mean() * 100)
    assert model_effect < 0
    assert ev["all"]["did_modulus_ci_low"] <= model_effect <= ev["all"]["did_modulus_ci_high"]
    # parcels: the XLSX has both rankings; treated parcels are not ranked
    sheets = pd.read_excel(out / "parcels.xlsx", sheet_name=None)
    assert set(sheets) == {"地块_土壤流失量", "地块_中度及以上"}
    gpkg = gpd.read_file(out / "parcels.gpkg")
    assert gpkg.loc[gpkg["excluded_treated"], "rank_soil_loss"].isna().all()
    # second run: nothing; a changed bootstrap setting reruns only the evaluation and report
    proc = snakemake(wd, "-n", configfile=SMALL_TR)
    assert "Nothing to be done" in proc.stdout + proc.stderr
    cfg2 = yaml.safe_load(SMALL_TR.read_text())
    cfg2["treatment"]["evaluation"]["n_boot"] = 199
    changed = wd / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg2, allow_unicode=True))
    proc = snakemake(wd, "-n", configfile=changed)
    # the yearly report shows the treatment paragraph, so it follows (nothing else does)
    assert set(job_counts(proc.stdout)) == {
        "treatment_projects",
        "treatment_report",
        "report",
        "all",
    }
