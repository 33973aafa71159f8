"""One small workflow run with a ready R raster and a ready K raster made from the demo's
own grid (constant values): the soil loss is R·K·LS·C·P exactly (float32), R and K on the
grid are the maps' values, and the provenance names the files."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import rasterio
import yaml

from pipeline.notebook import snakemake_command
from tests.conftest import REPO

pytestmark = pytest.mark.slow

SMALL = REPO / "tests" / "configs" / "small.yaml"
R_VALUE = 6000.0  # MJ mm ha-1 h-1 a-1
K_VALUE = 0.03  # t ha h ha-1 MJ-1 mm-1


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


def read(path):
    with rasterio.open(path) as src:
        return src.read(1, masked=True).filled(np.nan).astype("float64"), src.tags()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ready_factors")
    cfg = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    cfg["years"] = [2023]
    cfg["cover"]["endmember_years"] = [2023]
    cfg["ml"] = {"enabled": False}
    cfg["rainfall"] = {"reference_period": [2015, 2024]}
    base = workdir / "base.yaml"
    base.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    snakemake(workdir, base, "resources/small/dem.tif")
    # ready maps on the demo's own grid: the DEM's profile, constant values
    with rasterio.open(workdir / "resources" / "small" / "dem.tif") as src:
        profile = src.profile | {"driver": "GTiff", "dtype": "float32", "nodata": -9999.0}
        shape = (src.height, src.width)
    for name, value in (("r_map.tif", R_VALUE), ("k_map.tif", K_VALUE)):
        profile.pop("blockxsize", None), profile.pop("blockysize", None)
        profile.pop("tiled", None)
        with rasterio.open(workdir / name, "w", **profile) as dst:
            dst.write(np.full(shape, value, dtype="float32"), 1)
    cfg["rainfall"] |= {"method": "raster", "r_raster": {"path": "r_map.tif"}}
    cfg["soil"] = {"method": "raster", "k_raster": {"path": "k_map.tif"}}
    ready = workdir / "ready.yaml"
    ready.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    snakemake(workdir, ready, "results/small/2023/soil_loss.tif")
    return workdir


def test_loss_is_r_k_ls_c_p_of_the_ready_maps(run):
    res = run / "results" / "small"
    r, r_tags = read(res / "2023" / "factors" / "R.tif")
    k, k_tags = read(res / "common" / "factors" / "K.tif")
    ls, _ = read(res / "common" / "factors" / "LS.tif")
    c, _ = read(res / "2023" / "factors" / "C.tif")
    p, _ = read(res / "2023" / "factors" / "P.tif")
    a, _ = read(res / "2023" / "soil_loss.tif")
    inside = np.isfinite(r)
    assert inside.mean() > 0.5
    np.testing.assert_array_equal(r[inside], np.float32(R_VALUE))
    np.testing.assert_array_equal(k[np.isfinite(k)], np.float32(K_VALUE))
    ok = np.isfinite(a)
    assert ok.sum() > 1000
    # A = R·K·LS·C·P = 6000 · 0.03 · LS·C·P = 180 · LS·C·P (float32 storage: rtol 1e-6)
    np.testing.assert_allclose(a[ok], 180.0 * ls[ok] * c[ok] * p[ok], rtol=2e-6)
    assert r_tags["r_source"] == "r_map.tif" and r_tags["r_mode"] == "raster"
    assert k_tags["k_source"] == "k_map.tif"
    # the half-month shares (C weights) still come from the rain record
    shares = (res / "2023" / "factors" / "R_halfmonth_share.csv").read_text("utf-8-sig")
    assert len(shares.strip().splitlines()) == 25
