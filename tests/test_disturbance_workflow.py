"""Disturbance stage and workflow wiring (pipeline/stages/disturbance.py, rules/disturbance.smk)."""

from __future__ import annotations

import json
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import yaml

from pipeline.errors import ConfigError
from pipeline.io import open_raster, write_cog
from pipeline.sources import demo
from pipeline.sources.seasonal_bands import read_composite, write_composite
from pipeline.stages.disturbance import (
    disturbance_source,
    disturbance_years,
    make_disturbance,
    make_disturbance_inputs,
)
from tests.conftest import REPO
from tests.test_workflow import job_counts, snakemake

SMALL = REPO / "tests" / "configs" / "small.yaml"


def test_dry_run_without_composites_has_no_disturbance_jobs(tmp_path):
    proc = snakemake(tmp_path, "-n", configfile=SMALL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    assert counts.get("report") == 2
    assert not any(k.startswith("disturbance") for k in counts)


def test_dry_run_with_disturbance_adds_the_jobs(tmp_path):
    cfg = yaml.safe_load(SMALL.read_text()) | {"disturbance": {"enabled": True}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    proc = snakemake(tmp_path, "-n", configfile=path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    assert counts["disturbance_inputs"] == 1 and counts["disturbance"] == 1  # 2024 vs 2023


def test_config_helpers():
    base = {"years": [2023, 2024], "source": {"kind": "demo"}}
    assert disturbance_source(base | {"disturbance": {"enabled": False}}) is None
    assert disturbance_years(base | {"disturbance": {"enabled": True}}) == [2024]
    local = {"years": [2024], "source": {"kind": "local"}, "disturbance": {"enabled": True}}
    with pytest.raises(ConfigError, match="disturbance.local.path"):
        disturbance_source(local)
    local["disturbance"]["local"] = {"path": "x_{year}_{season}.tif"}
    assert disturbance_years(local) == [2024]


@pytest.fixture(scope="module")
def stage_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist")
    paths = demo.generate_demo(
        d / "res", seed=11, size_km=3.0, resolution_m=10.0, n_townships=3,
        n_survey_points=20, rain_record_years=2, progress=False,
    )  # fmt: skip
    out_res = d / "res" / "disturbance" / "2024"
    out_res.mkdir(parents=True)
    make_disturbance_inputs(
        kind="demo",
        year=2024,
        grid_path=paths["grid"],
        aoi_path=paths["aoi"],
        out_before=out_res / "before.tif",
        out_after=out_res / "after.tif",
        out_projects=out_res / "approved_projects.gpkg",
        out_truth=out_res / "truth.gpkg",
        landcover_paths={2023: paths["landcover_2023"], 2024: paths["landcover_2024"]},
        demo_seed=11,
    )
    # constant factors: A = 5000 · 0.004 · 2 · C(1) = 40 t/(ha·a) on every pixel
    lc = open_raster(paths["landcover_2024"])
    factors = {}
    for name, value in (("R", 5000.0), ("K", 0.004), ("LS", 2.0)):
        factors[name] = write_cog(
            lc.copy(data=np.full(lc.shape, value, np.float32)), d / f"{name}.tif", dtype="float32"
        )
    out_dir = d / "out"
    out = {
        k: out_dir / f
        for k, f in {
            "patches": "patches.gpkg",
            "field_check_xlsx": "field_check.xlsx",
            "field_check_csv": "field_check.csv",
            "by_township": "by_township.csv",
            "map": "map.png",
            "summary": "summary.json",
        }.items()
    }
    out_dir.mkdir()
    make_disturbance(
        before_path=out_res / "before.tif",
        after_path=out_res / "after.tif",
        year=2024,
        townships_path=paths["townships"],
        watersheds_path=paths["watersheds"],
        aoi_path=paths["aoi"],
        out=out,
        projects_path=out_res / "approved_projects.gpkg",
        factor_paths=factors,
        ndvi_path=paths["ndvi_2024"],
        params={"compensation_rate_yuan_m2": 1.5},
        district_name="示范区",
    )
    return out, out_res


def test_composite_file_round_trip(stage_run):
    _, res = stage_run
    comp = read_composite(res / "after.tif")
    assert comp.dims == ("band", "season", "y", "x") and comp.dtype == np.float32
    assert [str(s) for s in comp["season"].values] == ["winter", "spring", "summer", "autumn"]
    assert np.isnan(comp.values).any() and 0 <= float(np.nanmin(comp.values))
    assert float(np.nanmax(comp.values)) <= 1.0


def test_stage_outputs_agree(stage_run):
    out, _ = stage_run
    info = pyogrio.read_info(out["patches"], layer="disturbance_patches")
    assert info["features"] > 5 and info["geometry_type"] in ("Polygon", "MultiPolygon", "Unknown")
    if shutil.which("ogrinfo"):
        proc = subprocess.run(["ogrinfo", "-so", "-al", str(out["patches"])], capture_output=True)
        assert proc.returncode == 0
    patches = gpd.read_file(out["patches"])
    summary = json.loads(out["summary"].read_text())
    by_town = pd.read_csv(out["by_township"])
    total = by_town[by_town["township"] == "合计"]
    # patch areas sum to the table's total and to the summary
    assert total["area_ha"].item() == pytest.approx(patches["area_ha"].sum(), rel=1e-9)
    assert by_town[by_town["township"] != "合计"]["area_ha"].sum() == pytest.approx(
        patches["area_ha"].sum(), rel=1e-9
    )
    assert summary["area_ha"] == pytest.approx(patches["area_ha"].sum(), rel=1e-9)
    assert total["patches"].item() == len(patches) == summary["patches"]
    # true areas: polygons on the equal-area grid have the pixel areas
    np.testing.assert_allclose(patches.geometry.area / 1e4, patches["area_ha"], rtol=1e-9)
    # ids unique; soil loss = 40 t/(ha·a) × area on bare patches; fee = area × 1.5 yuan/m²
    assert patches["编号"].is_unique
    bare = patches[patches["change_type"] != "恢复"]
    np.testing.assert_allclose(bare["soil_loss_t"], 40.0 * bare["area_ha"], rtol=1e-5)
    np.testing.assert_allclose(bare["fee_yuan"], bare["area_ha"] * 1e4 * 1.5, rtol=1e-9)
    assert patches[patches["change_type"] == "恢复"]["fee_yuan"].isna().all()
    # field check: category priority, then area
    field = pd.read_csv(out["field_check_csv"])
    rank = field["扰动合规性"].map({"疑似未批先建": 0, "疑似超出防治责任范围": 1, "合规": 2})
    assert rank.is_monotonic_increasing
    xlsx = pd.read_excel(out["field_check_xlsx"], sheet_name=None)
    assert set(xlsx) == {"现场复核清单", "汇总"} and len(xlsx["现场复核清单"]) == len(patches)
    assert out["map"].stat().st_size > 10_000


def test_bulletin_paragraph_figures(stage_run):
    from pipeline.report.disturbance import disturbance_paragraph

    out, _ = stage_run
    summary = json.loads(out["summary"].read_text())
    zh = disturbance_paragraph(summary, lang="zh", district_name="示范区")
    en = disturbance_paragraph(summary, lang="en", district_name="Demo")
    assert f"扰动图斑{summary['patches']}个，面积{summary['area_ha']:.2f}公顷" in zh
    un = summary["by_compliance"].get("疑似未批先建", {"patches": 0})["patches"]
    assert f"疑似未批先建{un}个" in zh and "补偿费" in zh
    assert f"{summary['patches']} construction-disturbance patches" in en
    assert "XX" not in zh and "XX" not in en


def test_write_composite_keeps_values(tmp_path):
    g = demo.make_grid(size_km=0.5, resolution_m=10.0)
    import xarray as xr

    data = np.random.default_rng(0).uniform(0, 0.5, (4, 4, *g.shape)).astype(np.float32)
    data[:, 1, :5, :5] = np.nan
    da = xr.DataArray(
        data,
        dims=("band", "season", "y", "x"),
        coords={
            "band": ["B2", "B4", "B8", "B11"],
            "season": ["winter", "spring", "summer", "autumn"],
            **g.coords(),
        },
    )
    da = da.rio.write_crs(g.crs).rio.write_transform(g.transform)
    back = read_composite(write_composite(da, tmp_path / "c.tif"))
    np.testing.assert_allclose(back.values, data, atol=0.5e-4 + 1e-7)
    assert np.isnan(back.values[:, 1, :5, :5]).all()
