"""CSLE end to end on the small demo: with the schema's defaults (empty E and T tables:
E = T = 1, warned), then with an engineering-measures polygon layer (illustrative table)."""

from __future__ import annotations

import json
import subprocess

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml
from shapely.geometry import box

from pipeline.notebook import snakemake_command
from tests.conftest import REPO

pytestmark = pytest.mark.slow

CSLE = REPO / "tests" / "configs" / "small_csle.yaml"


def snakemake(workdir, configfile, *targets):
    # only the outputs the tests read (and what they need), not the whole workflow
    cmd = snakemake_command(configfile, workdir, extra=targets)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1200)


def _fail(proc, workdir):
    logs = "\n".join(
        f"--- {p.relative_to(workdir)}\n{p.read_text()[-2000:]}"
        for p in workdir.glob("logs/**/*.log")
    )
    pytest.fail(f"workflow failed:\n{proc.stderr[-5000:]}\n{logs}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("csle")
    proc = snakemake(workdir, CSLE, "results/small/2024/tables/summary.json")
    if proc.returncode != 0:
        _fail(proc, workdir)
    res = workdir / "results" / "small" / "2024"
    default = {
        "summary": json.loads((res / "tables" / "summary.json").read_text()),
        "loss": rasterio.open(res / "soil_loss.tif").read(1, masked=True),
        "e": rasterio.open(res / "factors" / "E.tif").read(1, masked=True),
        "t_log": (workdir / "logs" / "small" / "2024" / "factor_e_t.log").read_text(),
    }
    # a measures layer: the west half of the AOI under 水平梯田, a square under 鱼鳞坑, one
    # code (坡面水系) with no table value
    aoi = gpd.read_file(workdir / "resources" / "small" / "aoi.gpkg")
    x0, y0, x1, y1 = aoi.total_bounds
    xm = (x0 + x1) / 2
    layer = gpd.GeoDataFrame(
        {"measure": ["水平梯田", "鱼鳞坑", "坡面水系"]},
        geometry=[
            box(x0, y0, xm, y1),
            box(xm, y0, xm + 500, y0 + 500),
            box(x1 - 300, y1 - 300, x1, y1),
        ],
        crs=aoi.crs,
    )
    layer.to_file(workdir / "measures.gpkg")
    cfg = yaml.safe_load(CSLE.read_text(encoding="utf-8"))
    cfg["csle"] = {
        "measures": {
            "path": "measures.gpkg",
            "code_col": "measure",
            # illustrative values (not from a cited 赋值表), so the run is stamped
            "table": {"水平梯田": 0.1, "鱼鳞坑": 0.3},
            "illustrative": True,
        }
    }
    measured_cfg = workdir / "csle_measures.yaml"
    measured_cfg.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    proc = snakemake(workdir, measured_cfg, "results/small/2024/bulletin_zh.md")
    if proc.returncode != 0:
        _fail(proc, workdir)
    measured = {
        "summary": json.loads((res / "tables" / "summary.json").read_text()),
        "loss": rasterio.open(res / "soil_loss.tif").read(1, masked=True),
        "e": rasterio.open(res / "factors" / "E.tif").read(1, masked=True),
        "log": (workdir / "logs" / "small" / "2024" / "factor_e_t.log").read_text(),
        "bulletin": (res / "bulletin_zh.md").read_text(encoding="utf-8"),
    }
    with rasterio.open(res / "factors" / "E.tif") as src:  # pixel centres in the 水平梯田 box
        rows, cols = np.indices(src.shape)
        xs, ys = src.xy(rows, cols)
        xs, ys = np.asarray(xs).reshape(src.shape), np.asarray(ys).reshape(src.shape)
        measured["terraced"] = (xs > x0 + 40) & (xs < xm - 40) & (ys > y0 + 40) & (ys < y1 - 40)
    return default, measured


def test_schema_defaults_run_with_e_and_t_one(runs):
    default, _ = runs
    e = default["e"]
    assert e.count() > 0 and np.allclose(e.compressed(), 1.0)
    assert default["summary"]["erosion_area_ha"] > 0
    assert "T = 1" in default["t_log"]  # unlisted cropland warned


def test_measures_layer_sets_e_and_lowers_loss(runs):
    default, measured = runs
    e, box_ = measured["e"], measured["terraced"]
    inside = box_ & ~np.ma.getmaskarray(e)
    assert inside.sum() > 1000 and np.allclose(e.data[inside], 0.1)  # 水平梯田 → 0.1
    assert "坡面水系" in measured["log"]  # code without a value: E = 1, warned
    # A scales linearly with E: loss under the terraces is 0.1 × the default run's
    a0, a1 = default["loss"], measured["loss"]
    ok = inside & ~(np.ma.getmaskarray(a0) | np.ma.getmaskarray(a1)) & (a0.data > 0)
    assert ok.sum() > 1000
    assert np.allclose(a1.data[ok], 0.1 * a0.data[ok], rtol=1e-4)
    assert measured["summary"]["erosion_area_ha"] < default["summary"]["erosion_area_ha"]
    assert "示意" in measured["bulletin"]
