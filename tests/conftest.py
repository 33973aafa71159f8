"""Shared pytest fixtures.

- ``shared_data``: the folder of small real data sets beside the repository
  (``../shared/data``); tests read them there and never copy them. Users and clean
  clones do not have it: the tests that need it skip, naming the folder, unless
  ``SHUIBAO_REQUIRE_REAL_DATA=1`` (set by CI) makes its absence a failure.
- ``small_run``: the workflow run once per test session on ``tests/configs/small.yaml``,
  shared by every test module and every xdist worker that only reads its outputs (one run
  instead of one per module; a file lock makes the first worker run it and the others wait).
- A network guard: any socket connection to a non-loopback address fails the
  test, so no test can silently depend on the internet.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        reason = (
            f"real data sets not found at {SHARED_DATA} (../shared/data beside the repository; "
            "a clean clone has none)"
        )
        if os.environ.get("SHUIBAO_REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"{reason}, and SHUIBAO_REQUIRE_REAL_DATA=1 requires them")
        pytest.skip(reason)
    return SHARED_DATA


SMALL_CONFIG = REPO / "tests" / "configs" / "small.yaml"


def _session_root(tmp_path_factory) -> Path:
    """A folder shared by all xdist workers of this session (and only this session)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    """The working directory of one complete workflow run on the small demo config.

    Read-only for its users: dry runs and reports are fine, anything that writes outputs
    must copy it first (``shutil.copytree``) or run its own workflow.
    """
    import subprocess

    from pipeline.notebook import snakemake_command

    root = _session_root(tmp_path_factory)
    workdir = root / "shared_small_run"
    failed = root / "shared_small_run.failed"
    with open(root / "shared_small_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (workdir / ".complete").exists() and not failed.exists():
            workdir.mkdir(exist_ok=True)
            cmd = snakemake_command(SMALL_CONFIG, workdir, cores=2)
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3000)
            if proc.returncode == 0:
                (workdir / ".complete").write_text("ok")
            else:
                logs = "\n".join(
                    f"--- {p.relative_to(workdir)}\n{p.read_text(errors='replace')[-3000:]}"
                    for p in workdir.glob("logs/**/*.log")
                )
                failed.write_text(f"{proc.stderr[-6000:]}\n{logs}")
    if failed.exists():
        pytest.fail(f"the shared small workflow run failed:\n{failed.read_text()}")
    return workdir


#: Where configs/example-local.yaml expects the downloaded Youwuzhen files (`make
#: example-data`), and the folder of the same files in ../shared/data.
EXAMPLE_DATA_PREFIX = "data/examples/youwuzhen/"
SHARED_YOUWUZHEN = "youwuzhen_fujian_cn"


# Notebook 03 (run by `pytest --nbmake`) reads the Youwuzhen files from here when set.
if (SHARED_DATA / SHARED_YOUWUZHEN).is_dir():
    os.environ.setdefault("SHUIBAO_EXAMPLE_DATA", str(SHARED_DATA / SHARED_YOUWUZHEN))


def example_paths_to_shared(obj, shared_data: Path):
    """The example config with its ``data/examples/youwuzhen/`` paths pointing at the same
    files in ../shared/data (absolute), so tests can run it anywhere."""
    if isinstance(obj, dict):
        return {k: example_paths_to_shared(v, shared_data) for k, v in obj.items()}
    if isinstance(obj, list):  # e.g. sediment.gauges
        return [example_paths_to_shared(v, shared_data) for v in obj]
    if isinstance(obj, str) and obj.startswith(EXAMPLE_DATA_PREFIX):
        return str(shared_data / SHARED_YOUWUZHEN / obj.removeprefix(EXAMPLE_DATA_PREFIX))
    return obj


def _is_loopback(address) -> bool:
    if isinstance(address, tuple):
        host = address[0]
    else:  # AF_UNIX path
        return True
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback
                for info in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False


class NetworkAccessError(RuntimeError):
    pass


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise NetworkAccessError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise NetworkAccessError(f"test tried to reach the network: {address!r}")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    yield
