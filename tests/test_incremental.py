"""Incremental yearly reruns, by dry run: adding a year schedules only that year's jobs
and the new change pair; replacing a local input file schedules exactly what depends on
it; years from the command line are integers.

No job runs: every output of the small demo (or of a local-files config with empty
stand-in files) is created empty and marked up to date with ``snakemake --touch``; then
``snakemake -n`` shows what a change would rerun (Snakemake's mtime trigger, the one that
needs no recorded metadata).
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest
import yaml

from pipeline.notebook import snakemake_command
from tests.conftest import REPO

SMALL = REPO / "tests" / "configs" / "small.yaml"


def snakemake(workdir, configfile, *args):
    cmd = snakemake_command(configfile, workdir, cores=1, extra=args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=workdir)
    return proc


def job_counts(stdout: str) -> dict[str, int]:
    """Snakemake's 'Job stats' table of a dry run."""
    counts, in_table = {}, False
    for line in stdout.splitlines():
        if line.startswith("job") and "count" in line:
            in_table = True
            continue
        if in_table:
            m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if m and m.group(1) != "total":
                counts[m.group(1)] = int(m.group(2))
            elif line.strip().startswith("total"):
                break
    return counts


def scheduled_wildcards(stdout: str, rule: str) -> list[str]:
    """The ``wildcards:`` line of every scheduled job of ``rule``."""
    out, current = [], None
    for line in stdout.splitlines():
        m = re.match(r"^rule (\w+):", line.strip())
        if m:
            current = m.group(1)
        elif current == rule and line.strip().startswith("wildcards:"):
            out.append(line.strip().removeprefix("wildcards:").strip())
    return out


def pretend_complete(workdir, configfile):
    """Create every output empty and mark it up to date (no job runs)."""
    proc = snakemake(workdir, configfile, "-n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = []
    for line in proc.stdout.splitlines():
        if line.startswith("    output:"):
            outputs += [p.strip() for p in line.split(":", 1)[1].split(",")]
    assert outputs
    for rel in outputs:
        path = workdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix:
            path.touch()
        else:  # directory() outputs (bulletin_tables)
            path.mkdir(exist_ok=True)
    proc = snakemake(workdir, configfile, "--touch")
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = snakemake(workdir, configfile, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]


def write_config(path, cfg):
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def test_adding_a_year_schedules_only_that_year_and_the_new_change_pair(tmp_path):
    pretend_complete(tmp_path, SMALL)
    cfg = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    cfg["years"] = [2023, 2024, 2025]
    proc = snakemake(tmp_path, write_config(tmp_path / "three.yaml", cfg), "-n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    for rule in ("inputs_grid", "inputs_dem", "inputs_soil", "inputs_zones", "inputs_rain",
                 "factor_k", "terrain"):  # fmt: skip
        assert rule not in counts, f"{rule} would rerun: {counts}"
    for rule in ("inputs_year", "factor_r", "factor_cover", "factor_p", "soil_loss",
                 "statistics", "ml", "report"):  # fmt: skip
        assert counts.get(rule) == 1, (rule, counts)
        assert all("year=2025" in w for w in scheduled_wildcards(proc.stdout, rule)), rule
    assert counts.get("change") == 1
    assert scheduled_wildcards(proc.stdout, "change") == ["aoi=small, y0=2024, y1=2025"]


def test_years_from_the_command_line_are_integers(tmp_path):
    pretend_complete(tmp_path, SMALL)
    proc = snakemake(tmp_path, SMALL, "-n", "--config", "years=[2023,2024,2025]")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert job_counts(proc.stdout).get("inputs_year") == 1


# ------------------------------------------------------------ local input files
LOCAL_FILES = {
    "aoi": "data/aoi.gpkg",
    "dem": "data/dem.tif",
    "lc2023": "data/landcover_2023.tif",
    "lc2024": "data/landcover_2024.tif",
    "rain": "data/rain.csv",
    "soil_classes": "data/soil.tif",
    "soil_lookup": "data/soil.csv",
}


def local_config(tmp_path):
    for rel in LOCAL_FILES.values():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).touch()
    cfg = {
        "aoi": "loc",
        "years": [2023, 2024],
        "source": {
            "kind": "local",
            "local": {
                "aoi": LOCAL_FILES["aoi"],
                "dem": {"path": LOCAL_FILES["dem"]},
                "landcover": {"path": "data/landcover_{year}.tif", "recode": {1: "forest"}},
                "rain": {"gauge_csv": LOCAL_FILES["rain"], "date_col": "d", "value_col": "p"},
                "soil": {
                    "classes": LOCAL_FILES["soil_classes"],
                    "lookup": LOCAL_FILES["soil_lookup"],
                    "code_col": "c",
                    "columns": {
                        "sand_pct": "s",
                        "silt_pct": "i",
                        "clay_pct": "l",
                        "organic_carbon_pct": "o",
                    },  # fmt: skip
                },
            },
        },
        "cover": {"method": "table"},
        "ml": {"enabled": False},
    }
    return write_config(tmp_path / "local.yaml", cfg)


def touch_later(path):
    later = time.time() + 5
    os.utime(path, (later, later))


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("local_incremental")
    configfile = local_config(workdir)
    pretend_complete(workdir, configfile)
    return workdir, configfile


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        # a land-cover map of one year: that year only (C is computed from land cover)
        ("lc2024", {"inputs_year": 1, "factor_cover": 1, "factor_p": 1, "soil_loss": 1,
                    "statistics": 1, "change": 1, "report": 1}),
        # the rain record: R, hence C weights, of every year; not K, terrain or inputs
        ("rain", {"inputs_rain": 1, "factor_r": 2, "factor_cover": 2, "soil_loss": 2,
                  "statistics": 2, "change": 1, "report": 2}),
        # the soil lookup table: soil, K and what follows, every year
        ("soil_lookup", {"inputs_soil": 1, "factor_k": 1, "soil_loss": 2, "statistics": 2,
                         "change": 1, "report": 2}),
        # the DEM: terrain, and R (put on the grid with the DEM) of every year
        ("dem", {"inputs_dem": 1, "terrain": 1, "factor_r": 2, "soil_loss": 2}),
    ],
)  # fmt: skip
def test_replaced_local_file_schedules_exactly_its_dependants(
    local_run, tmp_path, changed, expected
):
    workdir, configfile = local_run
    path = workdir / LOCAL_FILES[changed]
    before = path.stat()
    try:
        touch_later(path)
        proc = snakemake(workdir, configfile, "-n")
    finally:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    for rule, n in expected.items():
        assert counts.get(rule) == n, (rule, counts)
    if changed == "lc2024":
        # only 2024's jobs (and those of the change pair ending in 2024): nothing of 2023,
        # no year-independent job
        for rule in counts:
            for w in scheduled_wildcards(proc.stdout, rule):
                assert "year=2023" not in w and "y1=2023" not in w, (rule, w)
        for rule in ("inputs_grid", "inputs_dem", "inputs_soil", "inputs_zones",
                     "inputs_rain", "factor_k", "factor_r", "terrain"):  # fmt: skip
            assert rule not in counts, (rule, counts)
    if changed == "rain":
        for rule in ("inputs_grid", "inputs_dem", "inputs_soil", "inputs_zones",
                     "inputs_year", "factor_k", "terrain", "factor_p"):  # fmt: skip
            assert rule not in counts, (rule, counts)
    if changed == "soil_lookup":
        for rule in ("inputs_grid", "inputs_dem", "inputs_zones", "inputs_rain",
                     "inputs_year", "factor_r", "terrain", "factor_cover"):  # fmt: skip
            assert rule not in counts, (rule, counts)
    if changed == "dem":
        for rule in ("inputs_grid", "inputs_soil", "inputs_rain", "inputs_year", "factor_k"):
            assert rule not in counts, (rule, counts)
