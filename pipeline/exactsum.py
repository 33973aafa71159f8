"""Exact, order-independent grouped sums of float64 values (for tiles and dask blocks).

A floating-point sum depends on the order of its additions, so the class areas of a raster
summed block by block (dask chunks, or the tiles of a tiled workflow) differ in the last
bits from the same sum taken another way. Here each value x = m · 2^e (``numpy.frexp``) is
split into its 53-bit integer mantissa and exponent; the mantissas are summed as integers
per (group, exponent) — in two 26/27-bit halves, so that int64 never overflows for up to
2^36 values per part — and the exact total is rounded to float64 once, at the end
(:func:`finish`). Partial sums of any partition of the values (tiles, chunks, in any order)
:func:`merge` to the same integers, hence the same float64: a tiled run's tables equal
the single-process ones byte for byte, whatever the tile or chunk size. The result is the
correctly rounded sum (round half to even of the exact real sum).

Written by hand: numpy, flox and math.fsum give either an order-dependent float sum or a
scalar exact sum, not a vectorised grouped one that partial results can be merged into.
The idea is that of exact "long accumulators" (Kulisch & Miranker 1981, Computer arithmetic
in theory and practice, Academic Press), reduced to one integer per (group, exponent).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

_SPLIT = 26  # mantissa (53 bits) = hi · 2^26 + lo


@dataclass(frozen=True)
class Partial:
    """Partial exact sums: for each (group, exponent) key, the integer sums of the mantissa
    halves. ``n_groups`` fixes the group range [0, n_groups)."""

    n_groups: int
    group: np.ndarray  # int64
    exp: np.ndarray  # int64 (frexp exponent)
    hi: np.ndarray  # int64
    lo: np.ndarray  # int64

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Arrays for ``numpy.savez`` under ``prefix``."""
        return {
            f"{prefix}.n": np.asarray(self.n_groups, dtype=np.int64),
            f"{prefix}.group": self.group,
            f"{prefix}.exp": self.exp,
            f"{prefix}.hi": self.hi,
            f"{prefix}.lo": self.lo,
        }

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> Partial:
        return cls(
            int(arrays[f"{prefix}.n"]),
            *(
                np.asarray(arrays[f"{prefix}.{k}"], dtype=np.int64)
                for k in ("group", "exp", "hi", "lo")
            ),
        )


def _reduce(n_groups, group, exp, hi, lo) -> Partial:
    if group.size == 0:
        e = np.empty(0, np.int64)
        return Partial(int(n_groups), e, e, e, e)
    key = group.astype(np.int64) * 4096 + (exp.astype(np.int64) + 2048)
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return Partial(
        int(n_groups),
        group[order][starts].astype(np.int64),
        exp[order][starts].astype(np.int64),
        np.add.reduceat(hi[order].astype(np.int64), starts),
        np.add.reduceat(lo[order].astype(np.int64), starts),
    )


def partial(values, groups, n_groups: int) -> Partial:
    """Partial exact sums of ``values`` (float, any shape) by ``groups`` (ints, same shape).

    Values that are NaN or zero, and group numbers outside [0, n_groups), are left out.

    >>> p = partial(np.array([0.1, 0.2, 0.3, np.nan]), np.array([0, 0, 1, 1]), 2)
    >>> finish(p).tolist()
    [0.30000000000000004, 0.3]
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    g = np.asarray(groups).ravel()
    ok = (g >= 0) & (g < n_groups) & np.isfinite(v) & (v != 0)
    v, g = v[ok], g[ok].astype(np.int64)
    m, e = np.frexp(v)
    mi = np.ldexp(m, 53).astype(np.int64)  # exact: |m| < 1 has 53 significant bits
    hi = mi >> _SPLIT  # floor division: lo stays in [0, 2^26)
    lo = mi - (hi << _SPLIT)
    return _reduce(n_groups, g, e.astype(np.int64), hi, lo)


def merge(parts: Iterable[Partial]) -> Partial:
    """One partial from several (exact; the order of ``parts`` does not matter)."""
    parts = list(parts)
    if not parts:
        raise ValueError("merge: no partial sums given")
    n = {p.n_groups for p in parts}
    if len(n) != 1:
        raise ValueError(f"merge: partial sums over different group counts {sorted(n)}")
    cat = [np.concatenate([getattr(p, k) for p in parts]) for k in ("group", "exp", "hi", "lo")]
    return _reduce(n.pop(), *cat)


def finish(p: Partial) -> np.ndarray:
    """The correctly rounded float64 sum of each group (0.0 for an empty group)."""
    out = np.zeros(p.n_groups, dtype=np.float64)
    if p.group.size == 0:
        return out
    e0 = int(p.exp.min()) - 53  # every term is an integer multiple of 2^e0
    totals: dict[int, int] = {}
    for g, e, hi, lo in zip(
        p.group.tolist(), p.exp.tolist(), p.hi.tolist(), p.lo.tolist(), strict=True
    ):
        totals[g] = totals.get(g, 0) + (((hi << _SPLIT) + lo) << (e - 53 - e0))
    for g, s in totals.items():
        out[g] = _ldexp_int(s, e0)
    return out


def _ldexp_int(s: int, e: int) -> float:
    """s · 2^e correctly rounded to float64 (s an int of any size)."""
    if s == 0:
        return 0.0
    if e >= 0:
        return float(s << e)
    return s / (1 << -e)  # Python's int/int true division is correctly rounded


def grouped_sum(values, groups, n_groups: int) -> np.ndarray:
    """Exact grouped sums in one call: ``finish(partial(values, groups, n_groups))``.

    >>> grouped_sum(np.full(10, 0.1), np.zeros(10, int), 1).tolist()  # sum() gives 0.9999999999999999
    [1.0]
    """
    return finish(partial(values, groups, n_groups))


def blockwise_partial(values, groups, n_groups: int) -> Partial:
    """:func:`partial` over numpy or dask arrays; dask arrays are reduced block by block
    (bounded memory) and the block partials merged exactly."""
    v, g = values, groups
    if not (hasattr(v, "dask") or hasattr(g, "dask")):
        return partial(np.asarray(v), np.asarray(g), n_groups)
    import dask
    import dask.array as dsa

    ref = g if hasattr(g, "dask") else v  # keep the dask array's chunks
    v = dsa.asarray(v).rechunk(ref.chunks)
    g = dsa.asarray(g).rechunk(ref.chunks)
    blocks = [
        dask.delayed(partial)(vb, gb, n_groups)
        for vb, gb in zip(v.to_delayed().ravel(), g.to_delayed().ravel(), strict=True)
    ]
    return merge(dask.compute(*blocks))
