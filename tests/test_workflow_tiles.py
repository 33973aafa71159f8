"""A tiled run (compute.tiles.size, rules/tiles.smk) on the small demo gives the same tables
and bulletins as the untiled run, byte for byte.

200 × 200 cells in tiles of 100: 2 × 2 tiles, every tile touching the other three, with
filled depressions that cross the tile borders (checked below, so the global fill step is
really exercised). One pair of workflow runs for the module."""

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
TILE = 100


def _run(workdir, configfile):
    cmd = snakemake_command(configfile, workdir, extra=())
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        logs = "\n".join(
            f"--- {p.relative_to(workdir)}\n{p.read_text()[-2000:]}"
            for p in workdir.glob("logs/**/*.log")
        )
        pytest.fail(f"workflow failed:\n{proc.stderr[-5000:]}\n{logs}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request):
    """The untiled run is the session's shared run of the same config (tests/conftest.py),
    asked for after the tiled run: while another worker makes it, this one runs the tiles."""
    root = tmp_path_factory.mktemp("tiles")
    cfg = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    cfg.setdefault("compute", {})["tiles"] = {"size": TILE}
    tiled_cfg = root / "tiled.yaml"
    tiled_cfg.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    tiled = root / "tiled"
    _run(tiled, tiled_cfg)
    return request.getfixturevalue("small_run"), tiled


def _outputs(workdir):
    res = workdir / "results" / "small"
    files = [
        *res.glob("*/tables/*.csv"),
        *res.glob("*/bulletin_tables/*.csv"),
        *res.glob("change_*/*.csv"),
        *res.glob("*/bulletin_*.md"),
    ]
    return sorted(p.relative_to(workdir) for p in files)


def test_tables_and_bulletins_are_byte_identical(runs):
    plain, tiled = runs
    names = _outputs(plain)
    assert len(names) >= 20, names  # class areas, zones, bulletin tables, change, bulletins
    assert names == _outputs(tiled)
    differ = [str(n) for n in names if (plain / n).read_bytes() != (tiled / n).read_bytes()]
    assert not differ, f"tiled run differs in {differ}"


def test_the_tiled_run_really_ran_per_tile(runs):
    _, tiled = runs
    logs = tiled / "logs" / "small" / "tiles"
    names = sorted(p.stem.removeprefix("fill1_") for p in logs.glob("fill1_*.log"))
    assert names == ["0000_0000", "0000_0001", "0001_0000", "0001_0001"]
    for year in ("2023", "2024"):
        assert len(list((logs / year).glob("soil_loss_*.log"))) == 4
    assert not (tiled / "logs" / "small" / "terrain.log").exists()  # no whole-grid terrain job


def test_depressions_cross_tile_borders_and_soil_loss_is_equal(runs):
    plain, tiled = runs
    with rasterio.open(tiled / "resources" / "small" / "dem.tif") as src:
        dem = src.read(1, masked=True).filled(np.nan)
    filled = np.full(dem.shape, np.nan, dtype=np.float32)
    store = tiled / "resources" / "small" / "tiles" / "terrain" / "filled"
    for i in range(2):
        for j in range(2):
            fw = np.load(store / f"{i:04d}_{j:04d}.fw.npy")
            filled[i * TILE : (i + 1) * TILE, j * TILE : (j + 1) * TILE] = fw[1:-1, 1:-1]
    raised = filled > dem
    across_rows = raised[TILE - 1, :] & raised[TILE, :]
    across_cols = raised[:, TILE - 1] & raised[:, TILE]
    assert across_rows.sum() + across_cols.sum() > 0, "no filled depression crosses a border"
    for name in ("common/factors/LS.tif", "2024/soil_loss.tif", "2024/intensity.tif"):
        with rasterio.open(plain / "results" / "small" / name) as a:
            with rasterio.open(tiled / "results" / "small" / name) as b:
                np.testing.assert_allclose(b.read(1), a.read(1), rtol=1e-6, equal_nan=True)
