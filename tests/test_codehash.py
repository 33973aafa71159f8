"""Code hashes of the stages (pipeline/codehash.py) and the listing of outputs made by
other code: a change in a module a stage imports (even inside a function) changes that
stage's hash and no other; outputs recorded with another hash or version are listed."""

from __future__ import annotations

import json

import pytest

from pipeline import codehash


@pytest.fixture
def pkg(tmp_path):
    root = tmp_path / "pkg"
    (root / "stages").mkdir(parents=True)
    (root / "science").mkdir()
    files = {
        "__init__.py": "",
        "stages/__init__.py": "",
        "science/__init__.py": "",
        "base.py": "X = 1\n",
        "science/terrain.py": "from pkg import base\n",
        "science/report_maths.py": "Y = 2\n",
        "stages/terrain.py": "def run():\n    from pkg.science import terrain\n",
        "stages/report.py": "from . import common\nfrom ..science.report_maths import Y\n",
        "stages/common.py": "import os\n",
    }
    for rel, text in files.items():
        (root / rel).write_text(text)
    return root


def _hash(pkg, module):
    return codehash.code_hash.__wrapped__(module, package_dir=pkg, package="pkg")


def test_the_import_walk_follows_function_level_and_relative_imports(pkg):
    names = lambda m: [  # noqa: E731
        p.relative_to(pkg).as_posix()
        for p in codehash.module_files(m, package_dir=pkg, package="pkg")
    ]
    assert names("pkg.stages.terrain") == [
        "__init__.py", "base.py", "science/__init__.py", "science/terrain.py",
        "stages/__init__.py", "stages/terrain.py",
    ]  # fmt: skip
    assert names("pkg.stages.report") == [
        "__init__.py", "science/__init__.py", "science/report_maths.py",
        "stages/__init__.py", "stages/common.py", "stages/report.py",
    ]  # fmt: skip


def test_a_changed_module_changes_only_the_hashes_of_stages_importing_it(pkg):
    terrain, report = _hash(pkg, "pkg.stages.terrain"), _hash(pkg, "pkg.stages.report")
    (pkg / "base.py").write_text("X = 2  # a new coefficient\n")
    assert _hash(pkg, "pkg.stages.terrain") != terrain
    assert _hash(pkg, "pkg.stages.report") == report
    (pkg / "science" / "report_maths.py").write_text("Y = 3\n")
    assert _hash(pkg, "pkg.stages.report") != report


def test_the_real_stages_have_distinct_hashes_covering_their_science():
    files = {p.name for p in codehash.module_files("pipeline.stages.factors")}
    assert {"terrain.py", "rainfall.py", "factors.py", "common.py"} <= files
    assert "report.py" not in {p.name for p in codehash.module_files("pipeline.stages.soil_loss")}
    assert codehash.code_hash("pipeline.stages.factors") != codehash.code_hash(
        "pipeline.stages.report"
    )


def test_outputs_made_by_other_code_or_version_are_listed(tmp_path):
    (tmp_path / "a.tif").write_text("x")
    (tmp_path / "b.csv").write_text("x")
    codehash.write_record(
        rule="terrain", module="pipeline.stages.factors", outputs=["a.tif"],
        version="0.1.0", software="numpy 2", workdir=tmp_path,
    )  # fmt: skip
    codehash.write_record(
        rule="statistics", module="pipeline.stages.statistics", outputs=["b.csv"],
        version="0.1.0", software="numpy 2", workdir=tmp_path,
    )  # fmt: skip
    assert codehash.stale_outputs(version="0.1.0", workdir=tmp_path) == []
    # another version installed: both listed
    assert len(codehash.stale_outputs(version="0.2.0", workdir=tmp_path)) == 2
    # code changed under one record: only that one is listed, naming rule and file
    rec_path = next(
        p
        for p in (tmp_path / codehash.RECORD_DIR).glob("*.json")
        if json.loads(p.read_text())["rule"] == "terrain"
    )
    rec = json.loads(rec_path.read_text())
    rec["code_hash"] = "0000000000000000"
    rec_path.write_text(json.dumps(rec))
    stale = codehash.stale_outputs(version="0.1.0", workdir=tmp_path)
    assert [s["rule"] for s in stale] == ["terrain"]
    text = codehash.describe_stale(stale)
    assert "terrain: a.tif" in text and "0000000000000000" in text
    # an output deleted since: nothing to list for it
    (tmp_path / "a.tif").unlink()
    assert codehash.stale_outputs(version="0.1.0", workdir=tmp_path) == []
