"""Shared pytest fixtures.

- ``shared_data``: the folder of small real data sets beside the repository
  (``../shared/data``); tests read them there and never copy them. Users and clean
  clones do not have it: the tests that need it skip, naming the folder, unless
  ``SHUIBAO_REQUIRE_REAL_DATA=1`` (set by CI) makes its absence a failure.
- A network guard: any socket connection to a non-loopback address fails the
  test, so no test can silently depend on the internet.
"""

from __future__ import annotations

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
