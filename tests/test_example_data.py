"""``make example-data``: download from the origin's layout, verify SHA-256, keep nothing bad.

No network here: the origin is replaced by a local HTTP server (127.0.0.1) or a file://
URL serving a copy of the files in the source repository's folder layout.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest
import yaml

from pipeline import example_data
from pipeline.errors import InputDataError
from tests.conftest import REPO


def _mirror(tmp_path: Path, files: dict[str, bytes], example) -> Path:
    """The files at their source paths, as the origin serves them."""
    root = tmp_path / "origin"
    for local, content in files.items():
        path = root / example.files[local][0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


@pytest.fixture
def fake_example(monkeypatch):
    blobs = {"a.tif": b"GeoTIFF bytes" * 10, "b.csv": b"date,rain\n2020-01-01,3.5\n"}
    ex = example_data.Example(
        title="fake",
        origin="test",
        licence="CC0",
        base_url="http://192.0.2.1/never-used",
        files={k: (f"data/x/{k}", hashlib.sha256(v).hexdigest(), len(v)) for k, v in blobs.items()},
    )
    monkeypatch.setitem(example_data.EXAMPLES, "fake", ex)
    return ex, blobs


def test_file_url_download_is_verified_and_not_repeated(tmp_path, fake_example):
    ex, blobs = fake_example
    origin = _mirror(tmp_path, blobs, ex)
    dest = tmp_path / "data" / "examples" / "fake"
    messages = []
    example_data.fetch_example("fake", dest, base_url=origin.as_uri(), log=messages.append)
    for name, content in blobs.items():
        assert (dest / name).read_bytes() == content
    assert all("downloaded" in m for m in messages)
    messages.clear()
    example_data.fetch_example("fake", dest, base_url="http://192.0.2.1/x", log=messages.append)
    assert all("present, SHA-256 verified" in m for m in messages)  # no network needed


def test_a_corrupted_file_is_refused_and_not_left_behind(tmp_path, fake_example):
    ex, blobs = fake_example
    origin = _mirror(tmp_path, {**blobs, "b.csv": b"date,rain\n2020-01-01,9.9\n"}, ex)
    dest = tmp_path / "dest"
    with pytest.raises(InputDataError, match=r"b\.csv: SHA-256 .* differs from the expected"):
        example_data.fetch_example("fake", dest, base_url=origin.as_uri(), log=lambda m: None)
    assert not (dest / "b.csv").exists()
    assert not list(dest.glob("*.part"))


def test_an_unreachable_origin_names_the_url(tmp_path, fake_example):
    with pytest.raises(InputDataError, match=r"cannot download file:///nonexistent/data/x/a\.tif"):
        example_data.fetch_example(
            "fake", tmp_path / "d", base_url="file:///nonexistent", log=lambda m: None
        )


def test_youwuzhen_over_http_matches_the_recorded_digests(tmp_path, shared_data):
    """The real files (../shared/data, identical to the origin's git blobs) served by a
    local HTTP server in the origin's layout; the example config then finds them."""
    ex = example_data.EXAMPLES["youwuzhen"]
    src = shared_data / "youwuzhen_fujian_cn"
    origin = _mirror(tmp_path, {k: (src / k).read_bytes() for k in ex.files}, ex)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(origin))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        work = tmp_path / "work"
        dest = work / "data" / "examples" / "youwuzhen"
        status = example_data.main(
            [
                "youwuzhen",
                "--dest",
                str(dest),
                "--base-url",
                f"http://127.0.0.1:{server.server_port}",
            ]
        )
    finally:
        server.shutdown()
    assert status == 0
    for name, (_, digest, size) in ex.files.items():
        assert (dest / name).stat().st_size == size
        assert example_data.sha256(dest / name) == digest
    # every file configs/example-local.yaml reads is among them, at the path it names
    cfg = yaml.safe_load((REPO / "configs" / "example-local.yaml").read_text(encoding="utf-8"))
    local = cfg["source"]["local"]
    paths = [
        local["aoi"],
        local["dem"]["path"],
        local["landcover"]["path"],
        local["soil"]["classes"],
        local["soil"]["lookup"],
        local["rain"]["gauge_csv"],
    ]
    for p in paths:
        assert (work / p).is_file(), p
    shutil.rmtree(work)


def test_gura_digests_match_the_real_files(shared_data):
    """The Gura sample in ../shared/data is the origin's files: every recorded size and
    SHA-256 matches (so `make example-data` keeps exactly what the Gura test reads)."""
    ex = example_data.EXAMPLES["gura"]
    src = shared_data / "gura_invest_sdr_subset_ke"
    for name, (source_path, digest, size) in ex.files.items():
        assert source_path == f"inst/extdata/NDR/{name}"
        assert (src / name).stat().st_size == size, name
        assert example_data.sha256(src / name) == digest, name
