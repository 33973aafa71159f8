"""The on-disk memo shared by the demo's inputs jobs (pipeline/sources/_memo.py)."""

from __future__ import annotations

import filecmp

import numpy as np
import pytest

from pipeline.sources import _memo


def test_second_call_reads_the_value_and_does_not_compute(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.arange(5, dtype=np.float32), "module": np}  # a module attribute too

    first = _memo.memoised(tmp_path, "x", {"k": 1}, compute)
    second = _memo.memoised(tmp_path, "x", {"k": 1}, compute)
    assert len(calls) == 1
    assert second["a"].tobytes() == first["a"].tobytes() and second["module"] is np


def test_another_key_computes_again_and_replaces_the_old_file(tmp_path):
    _memo.memoised(tmp_path, "x", 1, lambda: 1)
    assert _memo.memoised(tmp_path, "x", 2, lambda: 2) == 2
    assert len(list(tmp_path.glob("x-*.memo.pkl"))) == 1
    _memo.memoised(tmp_path, "y", 1, lambda: 1, latest_only=False)
    _memo.memoised(tmp_path, "y", 2, lambda: 2, latest_only=False)
    assert len(list(tmp_path.glob("y-*.memo.pkl"))) == 2


def test_no_folder_means_no_memo_and_a_broken_file_is_recomputed(tmp_path):
    calls = []
    assert _memo.memoised(None, "x", 1, lambda: calls.append(1) or 7) == 7
    assert _memo.memoised(None, "x", 1, lambda: calls.append(1) or 7) == 7
    assert len(calls) == 2
    _memo.memoised(tmp_path, "x", 1, lambda: 7)
    (path,) = tmp_path.glob("x-*.memo.pkl")
    path.write_bytes(b"not a pickle")
    assert _memo.memoised(tmp_path, "x", 1, lambda: 8) == 8


def test_code_key_changes_with_the_grid():
    from pipeline.grid import AnalysisGrid

    g1 = AnalysisGrid.from_bounds("EPSG:32650", 0, 0, 300, 300, 30)
    g2 = AnalysisGrid.from_bounds("EPSG:32650", 0, 0, 300, 300, 10)
    k1 = _memo.code_key("pipeline.sources.demo", g1, 1)
    assert k1 == _memo.code_key("pipeline.sources.demo", g1, 1)
    assert k1 != _memo.code_key("pipeline.sources.demo", g2, 1)
    assert k1 != _memo.code_key("pipeline.sources.demo", g1, 2)


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    """The small demo written whole without a memo, and per part through one memo folder
    (the way the workflow's inputs jobs do it: the first computes, the others read)."""
    from pipeline.sources.demo import generate_demo

    root = tmp_path_factory.mktemp("demo_memo")
    kw = {"size_km": 3.0, "resolution_m": 30.0, "progress": False, "rain_record_years": 2}
    generate_demo(root / "plain", years=(2023, 2024), **kw)
    cache = root / "cache"
    generate_demo(root / "parts", years=(2023,), write={"dem"}, cache_dir=cache, **kw)
    generate_demo(root / "parts", years=(2023,), write={"soil", "townships"}, cache_dir=cache, **kw)
    parts = {"landcover_2024", "ndvi_2024", "survey_2024", "rain_daily", "watersheds"}
    generate_demo(root / "parts", years=(2023, 2024), write=parts, cache_dir=cache, **kw)
    return root


def test_demo_files_are_the_same_bytes_with_the_memo(demo_runs):
    parts = sorted(p.name for p in (demo_runs / "parts").iterdir())
    assert len(parts) == 8  # dem, soil, townships, landcover/ndvi/survey 2024, rain, watersheds
    for name in parts:
        assert filecmp.cmp(demo_runs / "plain" / name, demo_runs / "parts" / name, shallow=False), (
            name
        )
    # one terrain memo for all three calls; land cover per list of years
    assert len(list((demo_runs / "cache").glob("demo_terrain-*.memo.pkl"))) == 1
    assert len(list((demo_runs / "cache").glob("demo_landcover-*.memo.pkl"))) == 2
