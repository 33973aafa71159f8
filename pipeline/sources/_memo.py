"""On-disk memo of an expensive in-memory result shared by several workflow jobs.

The demo's inputs jobs (DEM, soil, zones and one per year) each need the same synthetic
DEM, its flow routing and the first year's land cover (about 15 s of CPU on 2000² cells,
most of it pyflwdir's depression filling on the fine grid). :func:`memoised` computes such
a value once and pickles it in a cache folder; the other jobs load the pickle. The file
name is the SHA-256 of everything that determines the value (the caller's arguments, the
source of the generating modules, the versions of numpy, scipy and pyflwdir), so a changed
setting or code never reads a stale value; a POSIX file lock makes concurrent jobs wait for
the one computing instead of computing the same thing twice. Files of other keys of a
name are removed when a new one is written (unless ``latest_only=False``).
The memo is an optimisation only: without a cache folder, on a platform without
``fcntl`` or with an unreadable file the value is computed as before, and a loaded value
is the very object that was pickled (same bytes in every array).

Hand-written because the candidates do not fit: ``joblib.Memory`` hashes the (4-million
cell) arguments on every call and has no cross-process lock; ``functools.cache`` lives in
one process only.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pickle
import tempfile
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pipeline.codehash import code_hash
from pipeline.sources._cache import request_hash

log = logging.getLogger(__name__)

T = TypeVar("T")
SUFFIX = ".memo.pkl"


def code_key(module: str, *parts: Any) -> dict:
    """A memo key: the source hash of ``module`` and of the ``pipeline`` modules it imports
    (``pipeline.codehash``), the versions of the numeric libraries, and ``parts`` (an
    ``AnalysisGrid`` as CRS WKT, transform and shape; anything else by ``repr``)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for dist in ("numpy", "scipy", "numba", "pyflwdir", "shapely", "rasterio"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    described = []
    for part in parts:
        if hasattr(part, "transform") and hasattr(part, "crs") and hasattr(part, "height"):
            part = (part.crs.to_wkt(), tuple(part.transform), part.height, part.width)
        described.append(repr(part))
    return {"code": code_hash(module), "versions": versions, "parts": described}


class _Pickler(pickle.Pickler):
    """A pickler that stores a module (pyflwdir keeps its D8 core module on every
    ``FlwdirRaster``) by name and imports it again on load."""

    def reducer_override(self, obj):
        if isinstance(obj, types.ModuleType):
            return importlib.import_module, (obj.__name__,)
        return NotImplemented


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``fcntl`` lock on ``path`` (no lock where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no cross-job lock, still correct
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def memoised(
    cache_dir: str | os.PathLike | None,
    name: str,
    key: Any,
    compute: Callable[[], T],
    *,
    latest_only: bool = True,
) -> T:
    """``compute()``, or its value pickled earlier under the same ``name`` and ``key``.

    ``key`` is any JSON-able description of what determines the value (hashed with
    ``pipeline.sources._cache.request_hash``); include the code and library versions.
    ``cache_dir=None`` computes without a memo. With ``latest_only`` the files of other
    keys of ``name`` are removed when a new one is written.
    """
    if cache_dir is None:
        return compute()
    folder = Path(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    digest = request_hash({"name": name, "key": key})[:32]
    path = folder / f"{name}-{digest}{SUFFIX}"
    with _locked(folder / f"{name}.lock"):
        if path.exists():
            try:
                with open(path, "rb") as fh:
                    value = pickle.load(fh)
                log.info("memo: %s read from %s", name, path)
                return value
            except Exception as exc:  # a truncated or foreign file: compute again
                log.warning("memo: cannot read %s (%s); computing %s again", path, exc, name)
        value = compute()
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}-", suffix=".tmp")
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; like any other file
            with os.fdopen(fd, "wb") as fh:
                _Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        for old in folder.glob(f"{name}-*{SUFFIX}") if latest_only else ():
            if old != path:
                with contextlib.suppress(OSError):
                    old.unlink()
        log.info("memo: %s written to %s", name, path)
        return value
