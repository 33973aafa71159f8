"""Errors a person can act on, and no debris: a truncated file in resources/ says to delete
it and rerun; a relative path that does not exist says it is relative to the working
directory; a job stopped by SIGTERM (Snakemake or the user killing it) or failing leaves
no output and no temporary (``.scratch``) file; a full disk names the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.grid import AnalysisGrid
from pipeline.io import write_cog
from pipeline.stages.inputs import check_local_files


def test_truncated_file_in_resources_says_delete_and_rerun(tmp_path):
    grid = AnalysisGrid.from_bounds("EPSG:32650", 0, 0, 3000, 3000, 30)
    path = tmp_path / "resources" / "x" / "dem.tif"
    write_cog(grid.dataarray(np.ones(grid.shape, "float32"), name="dem", units="m"), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    code = textwrap.dedent(
        f"""
        import types
        from pipeline.io import open_raster
        from pipeline.stages.common import run_from_snakemake

        def stage():
            open_raster({str(path)!r}).values.sum()

        smk = types.SimpleNamespace(
            log=[], rule="terrain", config={{}}, input=[{str(path)!r}],
            wildcards=types.SimpleNamespace(items=lambda: []), threads=1, output=[],
        )
        run_from_snakemake(smk, stage)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr[-2000:]
    msg = proc.stderr
    assert f"cannot read {path}" in msg and "delete it and run the workflow again" in msg
    assert "Traceback" not in msg


def test_missing_relative_path_says_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = {"source": {"kind": "local", "local": {"aoi": "data/aoi.gpkg"}}}
    with pytest.raises(ConfigError) as info:
        check_local_files(cfg, [2020])
    msg = str(info.value)
    assert "data/aoi.gpkg" in msg and "relative to the working directory" in msg
    assert str(tmp_path) in msg


JOB = textwrap.dedent(
    """
    import sys, time, types
    from pathlib import Path
    from pipeline.io import atomic_path, _scratch_file
    from pipeline.stages.common import run_from_snakemake

    out = Path(sys.argv[1]) / "soil_loss.tif"

    def stage(*, out_path):
        with atomic_path(out_path) as tmp, _scratch_file(out_path) as scratch:
            tmp.write_bytes(b"partial")
            scratch.write_bytes(b"partial")
            out_path.write_bytes(b"half-written by a careless writer")
            print("writing", flush=True)
            if sys.argv[2] == "fail":
                raise RuntimeError("boom")
            time.sleep(60)

    smk = types.SimpleNamespace(
        log=[str(Path(sys.argv[1]) / "job.log")], rule="soil_loss", config={},
        wildcards=types.SimpleNamespace(items=lambda: []), threads=1, output=[str(out)],
    )
    run_from_snakemake(smk, stage, out_path=out)
    """
)


@pytest.mark.parametrize("how", ["sigterm", "fail"])
def test_a_stopped_or_failed_job_leaves_no_output_and_no_scratch_file(tmp_path, how):
    proc = subprocess.Popen(
        [sys.executable, "-c", JOB, str(tmp_path), how],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout.readline().strip() == "writing"
    if how == "sigterm":
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "job.log")
    assert left == [], left


def test_full_disk_names_the_file(tmp_path):
    code = textwrap.dedent(
        """
        import errno, sys, types
        from pipeline.stages.common import run_from_snakemake

        def stage():
            raise OSError(errno.ENOSPC, "No space left on device", "results/x/soil_loss.tif")

        smk = types.SimpleNamespace(
            log=[], rule="soil_loss", config={},
            wildcards=types.SimpleNamespace(items=lambda: []), threads=1, output=[],
        )
        run_from_snakemake(smk, stage)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ},
    )  # fmt: skip
    assert proc.returncode == 1
    assert "no space left on the disk while writing results/x/soil_loss.tif" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_log_says_what_was_computed_how_long_and_shows_progress(tmp_path):
    code = textwrap.dedent(
        f"""
        import types
        import dask.array as da
        from pipeline.stages.common import run_from_snakemake

        def make_terrain():
            da.ones((400, 400), chunks=50).sum().compute()

        smk = types.SimpleNamespace(
            log=[{str(tmp_path / "terrain.log")!r}], rule="terrain", config={{}}, input=[],
            wildcards=types.SimpleNamespace(items=lambda: [("aoi", "x")]), threads=1, output=[],
        )
        run_from_snakemake(smk, make_terrain)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = (tmp_path / "terrain.log").read_text()
    assert "rule terrain (aoi=x): __main__.make_terrain" in text
    assert "code: __main__ hash" in text and "software: shuibao" in text
    assert "terrain: 100%" in text and "task" in text  # the tqdm bar's last refresh
    assert "rule terrain done in" in text
