"""Acceptance of [comparable] item 2 on the small demo: two years with identical land (land
cover and NDVI of 2023 copied onto 2024) and different rain.

- default (rainfall.mode reference_mean): the change of the erosion area is 0.00 ha;
- rainfall.mode year: the change is non-zero and the split attributes all of it to R.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pandas as pd
import pytest
import yaml

from pipeline.notebook import snakemake_command
from tests.conftest import REPO

pytestmark = pytest.mark.slow

SMALL = REPO / "tests" / "configs" / "small.yaml"


def snakemake(workdir, configfile, *targets):
    cmd = snakemake_command(configfile, workdir, extra=targets)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        logs = "\n".join(
            f"--- {p.relative_to(workdir)}\n{p.read_text()[-2000:]}"
            for p in workdir.glob("logs/**/*.log")
        )
        pytest.fail(f"workflow failed:\n{proc.stderr[-5000:]}\n{logs}")
    return proc


def erosion_area(workdir, year):
    table = pd.read_csv(
        workdir / "results" / "small" / str(year) / "tables" / "class_areas.csv",
        encoding="utf-8-sig",
    )
    return float(table.loc[table["class_code"] >= 2, "area_ha"].sum())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("change_split")
    cfg = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    cfg["ml"] = {"enabled": False}
    cfg["rainfall"] = {"reference_period": [2015, 2024]}
    default_cfg = workdir / "default.yaml"
    default_cfg.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    res = workdir / "resources" / "small"
    snakemake(  # the inputs jobs only (one per input and per year)
        workdir,
        default_cfg,
        *(f"resources/small/{n}_{y}.tif" for n in ("landcover", "ndvi") for y in (2023, 2024)),
    )
    for name in ("landcover", "ndvi"):  # the same land in both years
        shutil.copyfile(res / f"{name}_2023.tif", res / f"{name}_2024.tif")
    # only what the tests read: both years' class areas and the 2024 bulletin (which needs
    # the change split), not the GeoPackages or the 2023 report
    targets = ("results/small/2023/tables/class_areas.csv", "results/small/2024/bulletin_zh.md")
    snakemake(workdir, default_cfg, *targets)
    split_dir = workdir / "results" / "small" / "change_2023_2024"
    out = {
        "default": (
            erosion_area(workdir, 2024) - erosion_area(workdir, 2023),
            json.loads((split_dir / "change_split.json").read_text()),
            (workdir / "results" / "small" / "2024" / "bulletin_zh.md").read_text("utf-8"),
        )
    }
    cfg["rainfall"]["mode"] = "year"
    year_cfg = workdir / "year.yaml"
    year_cfg.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    snakemake(workdir, year_cfg, *targets)
    out["year"] = (
        erosion_area(workdir, 2024) - erosion_area(workdir, 2023),
        json.loads((split_dir / "change_split.json").read_text()),
        (workdir / "results" / "small" / "2024" / "bulletin_zh.md").read_text("utf-8"),
    )
    print({k: (v[0], v[1]["erosion_change_ha"]) for k, v in out.items()})
    return out


def test_reference_mean_gives_no_change_on_identical_land(runs):
    change, split, bulletin = runs["default"]
    assert round(change, 2) == 0.0
    assert split["erosion_change_ha"] == {"total": 0.0, "land": 0.0, "rain": 0.0}
    assert "reference_mean" in bulletin and "2015–2024" in bulletin


def test_year_mode_change_is_all_rain(runs):
    change, split, bulletin = runs["year"]
    c = split["erosion_change_ha"]
    assert abs(change) > 1.0  # different rain, different erosion area
    assert c["total"] == pytest.approx(change, abs=0.01)
    assert c["land"] == pytest.approx(0.0, abs=1e-6)
    assert c["rain"] == pytest.approx(c["total"], abs=1e-6)
    assert "降雨因素" in bulletin and "降雨侵蚀力模式：year" in bulletin
