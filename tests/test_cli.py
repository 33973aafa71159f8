"""``shuibao init / check / run``: messages instead of tracebacks, the same checks as the
workflow, and a wheel that works outside the repository (slow test)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
import yaml

from pipeline import cli
from pipeline.config import load_config
from pipeline.init_config import write_config
from tests.conftest import REPO

SMALL = REPO / "tests" / "configs" / "small.yaml"


def _check(tmp_path, capsys, *args) -> tuple[int, str]:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        status = cli.main(["check", *args])
    finally:
        os.chdir(cwd)
    out = capsys.readouterr()
    return status, out.err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "is a directory"),
        (b"\x7fELF\x02\x01\x01\x00\xff\xfe\x00\x00", "is not UTF-8 text"),
        (b"aoi: x\nyears: [2023\nmodel: rusle\n", "line 3, column 6: not valid YAML"),
        (b"aoi: x\n  years: 1\n", "line 2, column 8: not valid YAML"),
        (b"aoi: x\nyears: [2023]\nmodle: rusle\n", "modle"),
    ],
    ids=["directory", "binary", "unclosed-list", "indentation", "misspelt-key"],
)
def test_check_names_the_file_and_line_without_a_traceback(tmp_path, capsys, content, expected):
    path = tmp_path / "district.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    status, err = _check(tmp_path, capsys, "--configfile", str(path))
    assert status == 2
    assert "district.yaml" in err and expected in err
    assert "Traceback" not in err


def test_check_survives_a_closed_pipe(tmp_path, monkeypatch):
    class ClosedPipe(io.StringIO):
        def write(self, s):
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self):
            return os.open(os.devnull, os.O_WRONLY)

    monkeypatch.setattr(cli, "_dry_run", lambda config, extra: 0)
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert cli.main(["check", "--configfile", str(SMALL)]) == 1  # quietly, no traceback


def test_check_runs_the_workflow_parse_time_checks(tmp_path, capsys):
    """Valid for the schema, rejected by the workflow (local source without a DEM): the
    dry run reports the workflow's own message naming the key."""
    cfg = tmp_path / "no_dem.yaml"
    cfg.write_text(
        "aoi: x\nyears: [2023]\nsource: {kind: local, local: {aoi: nofile.gpkg}}\n",
        encoding="utf-8",
    )
    load_config(cfg)  # the schema alone accepts it
    status, err = _check(tmp_path, capsys, "--configfile", str(cfg))
    assert status == 2
    assert "source.local.dem" in err and "dry run failed" in err
    assert 'File "' not in err  # stack frames are dropped


def test_check_accepts_the_small_demo_and_counts_jobs(tmp_path, capsys):
    status, err = _check(tmp_path, capsys, str(SMALL), "--quiet")
    assert status == 0, err
    # 2 years with ML, a change pair (one job: change, per-zone change and its split) and
    # FVC end-members; inputs: grid, DEM, soil, zones, rain and one job per year
    assert "valid; dry run: 30 jobs to run" in err


def test_run_passes_snakemake_options_with_values_through(tmp_path, monkeypatch):
    """`make demo` runs `shuibao run --configfile … --workflow-profile profiles/default`:
    the profile's path must reach Snakemake with its option, not be taken for the
    positional configuration file."""
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    argv = ["run", "--configfile", str(SMALL), "--cores", "2", "--workflow-profile",
            str(REPO / "profiles" / "default"), "-n"]  # fmt: skip
    assert cli.main(argv) == 0
    cmd = calls[0]
    i = cmd.index("--workflow-profile")
    assert cmd[i + 1] == str(REPO / "profiles" / "default")
    assert cmd[cmd.index("--configfile") + 1] == str(SMALL.resolve())
    assert cmd[cmd.index("--cores") + 1] == "2" and cmd[-1] == "-n"
    # the positional form keeps working, and the file is not passed twice
    calls.clear()
    assert cli.main(["run", str(SMALL), "--printshellcmds"]) == 0
    assert calls[0].count(str(SMALL.resolve())) == 1 and calls[0][-1] == "--printshellcmds"


def test_init_writes_a_commented_config_that_the_schema_accepts(tmp_path):
    out = write_config(tmp_path / "ct.yaml", aoi="changting", name="长汀县", years="2022,2023")
    text = out.read_text(encoding="utf-8")
    assert text.count("#") > 20  # commented for a new user
    cfg = load_config(out)
    assert cfg["aoi"] == "changting" and cfg["district_name"] == "长汀县"
    assert cfg["years"] == [2022, 2023]
    assert cfg["source"]["local"]["dem"]["path"] == "data/changting/dem.tif"
    with pytest.raises(Exception, match="exists already; pass --force"):
        write_config(out, aoi="changting")
    with pytest.raises(Exception, match="letters, digits"):
        write_config(tmp_path / "bad.yaml", aoi="长汀 county")


@pytest.mark.slow
def test_wheel_runs_the_small_demo_outside_the_repository(tmp_path):
    """Build the wheel, install it in a fresh venv (no deps: a path entry reuses this
    environment's packages, not its editable Shuibao), run `shuibao run` elsewhere."""
    start = time.monotonic()
    # from a copy of the sources: an in-tree build would leave build/ (and reuse a stale one)
    src = tmp_path / "src"
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".*",
            "build",
            "dist",
            "*.egg-info",
            "results",
            "resources",
            "logs",
            "data",
            "__pycache__",
            "notebooks",
            "benchmarks",
        ),
    )
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = sorted(dist.glob("shuibao-*.whl"))
    assert build.returncode == 0 and wheels, build.stderr[-2000:]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps"]
        + [str(wheels[0])],
        check=True,
    )
    site = Path(
        subprocess.check_output(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    # a plain path line: this environment's packages, but not its editable-install finder
    (site / "_shuibao_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "district"
    work.mkdir()
    cfg = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    cfg |= {"years": [2024], "ml": {"enabled": False}, "report": {"languages": ["zh"]}}
    cfg["cover"] = {}  # end-members from the one year assessed
    cfg["source"]["demo"] |= {"size_km": 2.0, "n_survey_points": 50, "rain_record_years": 3,
                              "rain_last_year": 2024}  # fmt: skip
    (work / "small.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = subprocess.check_output(
        [str(py), "-c", "import pipeline.packaged as p; print(p.workflow_root())"],
        cwd=work,
        env=env,
        text=True,
    ).strip()
    assert Path(where).is_relative_to(site), where  # the wheel's copy, not the repository
    shuibao = str(venv / "bin" / "shuibao")
    check = subprocess.run(
        [shuibao, "check", "--configfile", "small.yaml", "--quiet"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    run = subprocess.run(
        [shuibao, "run", "--configfile", "small.yaml", "--cores", "2"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    bulletin = work / "results" / "small" / "2024" / "bulletin_zh.md"
    assert "水土流失面积" in bulletin.read_text(encoding="utf-8")
    assert (work / "results" / "small" / "2024" / "report.html").stat().st_size > 10_000
    print(f"wheel build + install + run: {time.monotonic() - start:.0f} s")
    shutil.rmtree(work / ".snakemake", ignore_errors=True)


_BAD_YAML = b"aoi: x\nyears: [2023, 2024\nsource:\n  kind: demo\n"


def test_run_names_the_yaml_error_line_before_starting_snakemake(tmp_path, capsys, monkeypatch):
    """`shuibao run` (and `make demo`, which goes through it) parses the config first."""
    path = tmp_path / "district.yaml"
    path.write_bytes(_BAD_YAML)
    started = []
    monkeypatch.setattr(cli.subprocess, "call", lambda *a, **k: started.append(a) or 0)
    status = cli.main(["run", "--configfile", str(path)])
    err = capsys.readouterr().err
    assert status == 2 and not started
    # the unclosed list is noticed at "source:" (line 3, column 7)
    assert "district.yaml" in err and "line 3, column 7: not valid YAML" in err


def test_make_demo_goes_through_the_validating_wrapper():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "shuibao run --configfile $(CONFIG)" in demo
    assert "snakemake " not in demo.replace("Snakemake", "")


@pytest.mark.slow
def test_plain_snakemake_still_names_no_line(tmp_path):
    """Snakemake 9 parses --configfile before the Snakefile runs, so the workflow cannot
    improve its message; README's troubleshooting sends users to `shuibao check`. If this
    fails, Snakemake now names the line: update README.md's troubleshooting section."""
    path = tmp_path / "district.yaml"
    path.write_bytes(_BAD_YAML)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile")]
        + ["--configfile", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "not valid JSON or YAML" in out
    assert "line 3" not in out
