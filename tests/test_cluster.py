"""The cluster path (#17): the SLURM profile loads, lints and plans; jobs submitted through an
executor plugin run.

- profiles/slurm (snakemake-executor-plugin-slurm): ``snakemake --lint`` and a dry run with it
  as the workflow profile, which must show its per-rule resources.
- The multi-job path, locally: snakemake-executor-plugin-cluster-generic with a submit script
  that starts each job script in the background on this machine (what sbatch does on a
  cluster), for the terrain chain of the small demo (grid → DEM → LS: three jobs).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from pipeline.notebook import SNAKEFILE
from tests.conftest import REPO

SMALL = REPO / "tests" / "configs" / "small.yaml"
SLURM = REPO / "profiles" / "slurm"


def _snakemake(workdir, *args, timeout=600):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
           "--directory", str(workdir), "--configfile", str(SMALL), *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=workdir)


def test_slurm_profile_lints_and_plans_with_its_resources(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    lint = _snakemake(tmp_path, "--workflow-profile", str(SLURM), "--lint")
    assert lint.returncode == 0, lint.stdout[-3000:] + lint.stderr[-3000:]
    dry = _snakemake(tmp_path, "--workflow-profile", str(SLURM), "-n")
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out[-4000:]
    assert "profiles/slurm" in out
    # the terrain job carries the profile's figures (profiles/slurm/config.yaml)
    block = out[out.index("rule terrain:") :].split("\n\n")[0]
    assert re.search(r"\bmem_mb=4608\b", block) and re.search(r"\bruntime=4\b", block), block


SUBMIT = """#!/bin/bash
# A local 'sbatch': start the job script in the background, print a job id.
jobscript="${@: -1}"
echo "$jobscript" >> "$(dirname "$0")/submitted.txt"
bash "$jobscript" > "$jobscript.out" 2>&1 &
echo $!
"""


@pytest.mark.slow
def test_cluster_generic_executor_runs_the_jobs_it_submits(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_cluster_generic")
    submit = tmp_path / "submit.sh"
    submit.write_text(SUBMIT)
    submit.chmod(0o755)
    target = "results/small/common/factors/LS.tif"
    proc = _snakemake(
        tmp_path,
        "--executor", "cluster-generic",
        "--cluster-generic-submit-cmd", str(submit),
        "--jobs", "2",
        "--latency-wait", "30",
        target,
        timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-4000:]
    submitted = (tmp_path / "submitted.txt").read_text().split()
    assert len(submitted) == 3  # inputs_grid, inputs_dem, terrain: one submission each
    assert (tmp_path / target).stat().st_size > 0
    assert (tmp_path / "logs" / "small" / "terrain.log").exists()
