"""Same bytes on another CPU: the demo generator and the small workflow's tables, run once
normally and once as on an older CPU (numpy's SIMD paths above its baseline disabled with
``NPY_DISABLE_CPU_FEATURES``, OpenBLAS forced to its AVX2 Haswell kernels), give files
with identical SHA-256.

numpy's float64 exp/log/log10/power/tanh take CPU-specific SIMD paths and differ in the
last bits between CPUs; the demo therefore rounds its fields to fixed quanta (DEM 1 cm,
rain 0.01 mm, soil 0.01 %, NDVI 1e-4, AOI vertices 1 mm) and resamples without BLAS.

K is computed in float64 and written as float32 for the same reason (in float32 it
differed at thousands of cells, and so did every soil-loss sum and the ML tables).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import pytest

from pipeline.notebook import snakemake_command
from tests.conftest import REPO

SMALL = REPO / "tests" / "configs" / "small.yaml"


def _dispatch_features() -> list[str]:
    """numpy's dispatchable CPU features present on this CPU (the ones to disable)."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # numpy < 2
        from numpy.core import _multiarray_umath as umath
    return [f for f in umath.__cpu_dispatch__ if umath.__cpu_features__.get(f)]


FEATURES = _dispatch_features()
pytestmark = pytest.mark.skipif(
    not FEATURES, reason="this CPU has no SIMD feature above numpy's baseline to disable"
)


def other_cpu_env() -> dict[str, str]:
    env = dict(os.environ)
    env["NPY_DISABLE_CPU_FEATURES"] = " ".join(FEATURES)
    env["OPENBLAS_CORETYPE"] = "Haswell"
    return env


def test_numpy_really_takes_other_paths_under_the_setting():
    code = "import numpy as np; x = np.linspace(0.1, 30, 100001); print(np.exp(x).tobytes().hex())"
    normal = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=other_cpu_env()
    )
    assert normal.returncode == 0 and other.returncode == 0, other.stderr
    if normal.stdout == other.stdout:
        pytest.skip("numpy's exp gives the same bits with and without SIMD on this CPU")


def digests(folder, patterns) -> dict[str, str]:
    out = {}
    for pattern in patterns:
        for path in sorted(folder.glob(pattern)):
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


GENERATE = textwrap.dedent(
    """
    import sys
    from pipeline.sources.demo import generate_demo
    generate_demo(sys.argv[1], size_km=3.0, resolution_m=30.0, years=(2023, 2024), seed=11,
                  n_townships=3, n_survey_points=60, rain_last_year=2024, progress=False)
    """
)


def test_demo_generator_gives_the_same_bytes_without_simd(tmp_path):
    runs = {}
    for name, env in (("normal", dict(os.environ)), ("other", other_cpu_env())):
        out = tmp_path / name
        proc = subprocess.run(
            [sys.executable, "-c", GENERATE, str(out)],
            capture_output=True, text=True, env=env, cwd=REPO, timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[name] = digests(out, ["*"])
    assert len(runs["normal"]) >= 11  # grid, aoi, dem, soil, rain, zones, 2 × (lc, ndvi, survey)
    differ = sorted(k for k in runs["normal"] if runs["normal"][k] != runs["other"].get(k))
    assert not differ, f"files that differ without SIMD: {differ}"


TABLES = [
    "results/small/*/tables/*",
    "results/small/change_*/*.csv",
    "results/small/change_*/*.json",
    "results/small/*/ml/*.csv",
    "results/small/*/bulletin_tables/*.csv",
    "resources/small/*",
]


@pytest.mark.slow
def test_small_workflow_tables_are_the_same_bytes_without_simd(tmp_path, request):
    workdir = tmp_path / "other"
    workdir.mkdir()
    cmd = snakemake_command(SMALL, workdir, cores=2)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=other_cpu_env(), timeout=3000)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # the normal run is the session's shared run of the same config (tests/conftest.py),
    # asked for only now: while another worker makes it, this one makes its own run
    small_run = request.getfixturevalue("small_run")
    runs = {"normal": digests(small_run, TABLES), "other": digests(workdir, TABLES)}
    names = sorted(runs["normal"])
    assert any("class_areas.csv" in n for n in names) and any("summary.json" in n for n in names)
    assert sorted(runs["other"]) == names
    differ = [n for n in names if runs["normal"][n] != runs["other"].get(n)]
    assert not differ, f"tables that differ without SIMD: {differ}"
