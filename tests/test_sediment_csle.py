"""The sediment stage: with ``model: csle`` it weights the IC by B; gauge catchments.

CSLE has no C factor: the stage reads the year's B (biological measures) as the weighting
factor W of Borselli et al. (2008) (pipeline/factors/sediment.py says why B and not B·E·T).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from pipeline.errors import ConfigError
from pipeline.io import write_cog
from pipeline.notebook import SMALL_CONFIG, run_workflow
from pipeline.stages.sediment import make_sediment
from tests.test_sediment import like, plane

PARAMS = {
    "sdr_max": 0.8,
    "ic0": 0.5,
    "k": 2.0,
    "stream_threshold_cells": 1000,
    "sensitivity": 0.5,
    "snap_radius_m": 90.0,
    "gauges": [],
}


def _run(tmp_path, model: str, weight_name: str, gauges=()) -> tuple[dict, np.ndarray]:
    n, d, s, w = 6, 30.0, 0.2, 0.05
    dem = plane(n, 2, d=d, slope=s)
    write_cog(dem.astype("float32"), tmp_path / "dem.tif")
    write_cog(like(dem, 10.0).astype("float32"), tmp_path / "soil_loss.tif")
    write_cog(like(dem, w).astype("float32"), tmp_path / f"{weight_name}.tif")
    out = tmp_path / model
    out.mkdir()
    make_sediment(
        dem_path=tmp_path / "dem.tif",
        soil_loss_path=tmp_path / "soil_loss.tif",
        weight_path=tmp_path / f"{weight_name}.tif",
        year=2020,
        params={**PARAMS, "gauges": list(gauges)},
        out_export=out / "export.tif",
        out_sdr=out / "sdr.tif",
        out_csv=out / "gauge_comparison.csv",
        out_json=out / "gauge_comparison.json",
        out_chart=out / "gauge_comparison.png",
        model=model,
    )
    import rasterio

    with rasterio.open(out / "sdr.tif") as src:
        sdr = src.read(1).astype(float)
    return json.loads((out / "gauge_comparison.json").read_text(encoding="utf-8")), sdr


def test_csle_stage_weights_ic_by_b_as_rusle_does_by_c(tmp_path):
    meta_b, sdr_b = _run(tmp_path, "csle", "B")
    meta_c, sdr_c = _run(tmp_path, "rusle", "C")
    assert meta_b["weight"] == "B" and meta_c["weight"] == "C"
    np.testing.assert_array_equal(sdr_b, sdr_c)  # same raster as W, same SDR
    # Hand computation, top row of the plane (k = 1, n = 6, no stream): closed form of
    # tests/test_sediment.py, IC = log10(W²·S²·√k / (n − k + 1)) = log10(0.05²·0.2²/6),
    # SDR = 0.8 / (1 + exp((0.5 − IC)/2)).
    ic = math.log10(0.05**2 * 0.2**2 * 1.0 / 6)
    expected = 0.8 / (1 + math.exp((0.5 - ic) / 2))
    np.testing.assert_allclose(sdr_b[0], expected, rtol=1e-5)  # float32 raster


def test_unknown_model_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="model"):
        _run(tmp_path, "usle", "C")


def test_csle_workflow_feeds_b_to_the_sediment_rule(tmp_path):
    """Dry run of the demo workflow with model csle and sediment on: no C.tif is needed."""
    cfg = yaml.safe_load(open(SMALL_CONFIG, encoding="utf-8"))
    cfg["model"] = "csle"
    cfg.setdefault("sediment", {})["enabled"] = True
    path = tmp_path / "csle.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    proc = run_workflow(path, tmp_path / "work", extra=["-n"])
    text = proc.stdout + proc.stderr
    # each job: "rule sediment:" then indented "input: …", "output: …" lines
    inputs = [
        after.splitlines()[1]
        for after in text.split("rule sediment:")[1:]
        if after.splitlines()[1].strip().startswith("input:")
    ]
    assert inputs and all("factors/B.tif" in line for line in inputs)
    assert not any("factors/C.tif" in line for line in inputs)


def test_gauge_catchment_d8_or_the_whole_aoi(tmp_path):
    """On the 6 × 2 plane every column is its own D8 flow line, so the gauge at the foot of
    column 0 drains 6 cells: d8 gives 6 × 0.09 ha = 0.54 ha and a gross erosion of
    10 t/(ha·a) × 0.54 ha = 5.4 t/a; catchment aoi takes all 12 cells, 1.08 ha, 10.8 t/a."""
    loads = tmp_path / "annual.csv"
    loads.write_text("year,load_t\n2020,1.0\n", encoding="utf-8")
    # cell centres: x = 515, 545; y = 985 … 835 (plane(): origin 500/1000, 30 m cells)
    gauge = {"id": "g", "x": 515.0, "y": 835.0, "crs": "EPSG:32650"}
    gauge["annual_load"] = {"path": str(loads)}
    rows = {}
    for catchment in ("d8", "aoi"):
        sub = tmp_path / catchment
        sub.mkdir()
        meta, _ = _run(sub, "rusle", "C", gauges=[{**gauge, "catchment": catchment}])
        rows[catchment] = meta["gauges"]["g"]
        assert meta["gauges"]["g"]["snap"]["d8_share_of_aoi"] == pytest.approx(0.5)
    assert rows["d8"]["area_ha"] == pytest.approx(0.54)
    assert rows["d8"]["gross_t"] == pytest.approx(5.4, rel=1e-6)
    assert rows["aoi"]["area_ha"] == pytest.approx(1.08)
    assert rows["aoi"]["gross_t"] == pytest.approx(10.8, rel=1e-6)
    with pytest.raises(ConfigError, match="catchment"):
        bad = tmp_path / "bad"
        bad.mkdir()
        _run(bad, "rusle", "C", gauges=[{**gauge, "catchment": "basin"}])
