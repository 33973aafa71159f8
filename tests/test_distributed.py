"""compute.scheduler: tcp://… runs the stages' dask work on a dask.distributed cluster.

pipeline.stages.common.dask_scheduler (which run_from_snakemake wraps around every job)
connects a distributed Client to the address; the Client becomes dask's default scheduler,
so the science functions' dask.compute calls run on the cluster's workers. Checked here with
an in-process LocalCluster on the loopback interface: same answer as the threaded scheduler,
and the cluster's task stream shows the work ran there.
"""

from __future__ import annotations

import subprocess
import sys

import dask
import numpy as np
import pytest
import xarray as xr

from pipeline import classify, district, stats
from pipeline.config import validate_config
from pipeline.stages.common import dask_scheduler

distributed = pytest.importorskip("distributed")

BREAKS = (5.0, 25.0, 50.0, 80.0, 150.0)  # SL 190-2007 south red-soil breaks, t·ha⁻¹·a⁻¹


def _inputs():
    rng = np.random.default_rng(17)
    a = rng.lognormal(mean=2.0, sigma=1.5, size=(96, 80))
    a[rng.random(a.shape) < 0.05] = np.nan  # unassessed pixels
    coords = {"y": np.arange(96)[::-1] * 20.0 + 10.0, "x": np.arange(80) * 20.0 + 10.0}
    soil_loss = xr.DataArray(a, dims=("y", "x"), coords=coords).chunk({"y": 32, "x": 32})
    area = xr.full_like(soil_loss, 0.04)  # 20 m × 20 m = 0.04 ha, an equal-area grid
    inside = xr.DataArray(np.ones(a.shape, bool), dims=("y", "x"), coords=coords)
    inside[:10, :] = False
    return soil_loss, area, inside.chunk({"y": 32, "x": 32})


def _stage_figures():
    """Class sums and soil-loss totals, as the statistics stage computes them (lazy inputs)."""
    soil_loss, area, inside = _inputs()
    intensity = classify.classify_intensity(soil_loss.where(inside), breaks=BREAKS)
    table = stats.class_area_table(intensity, area)
    totals = district.soil_loss_totals(
        soil_loss, area, inside=inside, erosion_threshold_t_ha_yr=BREAKS[0]
    )
    return table["area_ha"].to_numpy(), totals


def test_tcp_scheduler_gives_the_threaded_answer_on_a_local_cluster():
    with dask.config.set(scheduler="threads"):
        expected_areas, expected_totals = _stage_figures()
    # hand check of the table: every assessed pixel inside has a class, 0.04 ha each
    soil_loss, _, inside = _inputs()
    n = int((soil_loss.notnull() & inside).sum())
    assert expected_areas.sum() == pytest.approx(n * 0.04, rel=1e-12)

    with distributed.LocalCluster(
        processes=False,
        n_workers=1,
        threads_per_worker=2,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        cfg = validate_config({"aoi": "t", "years": [2024], "compute": {"scheduler": address}})
        with dask_scheduler(cfg["compute"]) as client:
            assert client is not None and client.scheduler.address == address
            with distributed.get_task_stream(client) as stream:
                areas, totals = _stage_figures()
            assert len(stream.data) > 0, "no task ran on the cluster"
        assert client.status == "closed"  # the job's client is closed afterwards

    np.testing.assert_allclose(areas, expected_areas, rtol=1e-12, atol=0)
    for key, value in expected_totals.items():
        assert totals[key] == pytest.approx(value, rel=1e-12), key


_LOCAL_RUN = """
import sys
import dask
import dask.array as da
import xarray as xr
from pipeline.stages.common import dask_scheduler
pool = []
with dask_scheduler({"scheduler": "%s", "num_workers": 2}):
    a = xr.DataArray(da.ones((64, 64), chunks=32), dims=("y", "x")).chunk({"y": 16})
    total = float(a.sum().compute())
    pool.append(dask.config.get("num_workers", None))
print(total, pool[0], "distributed" in sys.modules)
"""


@pytest.mark.parametrize("scheduler", ["threads", "synchronous"])
def test_local_schedulers_run_without_importing_distributed(scheduler):
    # a fresh interpreter: this test process has imported distributed already
    out = subprocess.run(
        [sys.executable, "-c", _LOCAL_RUN % scheduler],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["4096.0", "2" if scheduler == "threads" else "None", "False"]
