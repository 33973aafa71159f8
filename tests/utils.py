"""Test helpers shared across test modules."""

from __future__ import annotations

import contextlib

import dask
import numpy as np
import xarray as xr


class _CountingScheduler:
    def __init__(self, max_computes: int = 0):
        self.total_computes = 0
        self.max_computes = max_computes

    def __call__(self, dsk, keys, **kwargs):
        self.total_computes += 1
        if self.total_computes > self.max_computes:
            raise RuntimeError(
                f"dask computed {self.total_computes} time(s); at most {self.max_computes} allowed"
            )
        return dask.get(dsk, keys, **kwargs)


@contextlib.contextmanager
def raise_if_dask_computes(max_computes: int = 0):
    """Fail if dask computes more than ``max_computes`` times inside the block.

    The same guard xarray uses in its own test suite (xarray/tests/__init__.py).
    """
    scheduler = _CountingScheduler(max_computes)
    with dask.config.set(scheduler=scheduler):
        yield scheduler


def as_backend(da: xr.DataArray, backend: str, chunks=3) -> xr.DataArray:
    """The same DataArray, numpy- or dask-backed."""
    if backend == "numpy":
        return da.compute() if hasattr(da.data, "dask") else da
    if backend == "dask":
        return da.chunk(chunks)
    raise ValueError(backend)


def assert_same_values(a: xr.DataArray, b: xr.DataArray, *, rtol: float = 0.0) -> None:
    np.testing.assert_allclose(
        np.asarray(a.values), np.asarray(b.values), rtol=rtol, equal_nan=True
    )
