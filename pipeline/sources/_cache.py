"""Download cache with provenance: skip a request whose result is already on disk.

Every downloaded file ``X`` gets a sidecar ``X.provenance.json`` holding the
request hash (SHA-256 of the canonical JSON of everything that determines the
bytes: serialized expression, grid, band IDs, data type, fill value), the asset
IDs read, the dates covered and when it was fetched. A rerun computes the hash
again and skips the download when file and sidecar match. Hand-written because
no library offers a content-addressed cache keyed on an Earth Engine or STAC
request; ``requests-cache`` and friends cache HTTP responses, not our files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pipeline.io import write_text


def canonical_json(payload: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal payloads give equal strings."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def request_hash(payload: Any) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``payload``."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def provenance_path(path: str | os.PathLike) -> Path:
    """The sidecar path ``<path>.provenance.json``."""
    path = Path(path)
    return path.with_name(path.name + ".provenance.json")


def read_provenance(path: str | os.PathLike) -> dict | None:
    """The provenance record of ``path``, or None if absent or unreadable."""
    side = provenance_path(path)
    try:
        return json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_cached(path: str | os.PathLike, key: str) -> bool:
    """True when ``path`` exists and its sidecar records request hash ``key``."""
    if not Path(path).exists():
        return False
    record = read_provenance(path)
    return bool(record) and record.get("request_hash") == key


def write_provenance(path: str | os.PathLike, key: str, **info: Any) -> Path:
    """Write the sidecar of ``path`` (atomically) with ``request_hash=key`` and ``info``."""
    record = {"request_hash": key, **info}
    record.setdefault("fetched_utc", dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return write_text(
        json.dumps(record, sort_keys=True, indent=1, ensure_ascii=False, default=str) + "\n",
        provenance_path(path),
    )
