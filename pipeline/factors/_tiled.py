"""Tiled terrain: exact depression filling, D8/MFD routing, accumulation and LS, tile by tile.

The DEM is cut into tiles (default 2048 × 2048 cells). Every tile job reads its tile plus a
ring of one cell (the *window*), writes small border summaries, and a global pass reads only
the summaries. The result equals the single-process one of :mod:`pipeline.factors.terrain`
exactly: the same filled elevations, the same D8 codes, the same accumulation up to the
order of floating-point additions (≤ 1e-12 relative), the same LS.

Stages (each per-tile step is an independent job; its inputs and outputs are the files of a
:class:`TileStore`; the global steps read only summaries)::

  1. fill_pass1   (tile)   labelled priority flood from the tile's perimeter → spill graph
  2. fill_global  (global) minimax levels of all perimeter cells     → perimeter + ring levels
  3. fill_pass2   (tile)   priority flood from the perimeter levels  → filled window, flats
  4. flats        :func:`run`: rounds of flat_perimeter (tile) and flats_exchange (global)
                  until no ring changes (the workflow's flats job,
                  ``pipeline/stages/tiles.py``, runs the same rounds over the tile files;
                  :func:`flats_global`, a breadth-first search on whole border flats, gives
                  the same ring distances and is kept as the reference)  → ring distances
  5. route_pass   (tile)   D8 codes (+ D8: local accumulation and perimeter links)
  6. accumulate   D8: d8_global (global) + d8_pass2 (tile); MFD: rounds of mfd_round (tile)
                  and mfd_exchange (global) until no tile's inflow changes
  7. ls_pass      (tile)   slope, A_in, L, S, LS (``_routing.terrain_block``)

Method
------
- Filling: Barnes (2016), Parallel priority-flood depression filling for trillion cell
  digital elevation models on desktops or clusters, Computers & Geosciences 96: 56-68.
  Pass 1 floods each tile from its perimeter (Priority-Flood, Barnes, Lehman & Mulla 2014,
  Computers & Geosciences 62: 117-127), every perimeter cell its own label, cells next to
  the DEM edge or nodata "ocean"; where two labels' regions touch, max of the two flood
  levels is a spill edge. The global pass joins the tiles' label graphs by the edges between
  adjacent perimeter cells of neighbouring tiles (max of the two elevations) and computes
  every perimeter cell's filled level as its minimax distance to the ocean (a priority
  flood on the graph). Pass 2 floods each tile again from those levels; a cell's filled
  level is the minimax over paths to an outlet, and every such path leaves the tile through
  a perimeter cell whose level is now exact, so the tile's filled surface is the global one.
- Flats (cells of the filled surface without a lower neighbour): a flat cell drains to a
  neighbour of the same level one breadth-first step nearer to the flat's drains (its cells
  with a lower neighbour, or on the DEM edge/nodata) — Garbrecht & Martz (1997, J. Hydrology
  193: 204-213) "towards lower" gradient, a function of the filled surface only, used by the
  single-process path too (``_tiled_kernels.route``). The distances across tiles come
  either (a) from rounds, in :func:`run`: each tile runs the breadth-first search from its
  drains and from its ring's current distances and sends its perimeter distances to the
  neighbours (:func:`flats_exchange`); distances are lengths of real paths, so they only
  decrease, a tile runs again only when a ring cell next to one of its flats (same level)
  changed, and after k rounds every cell whose shortest path to a drain crosses fewer than
  k tile borders is exact (a distributed Bellman-Ford; 4 rounds on the benchmark DEMs,
  whose filled basins are smaller than a tile); or (b) from one global pass
  (:func:`flats_global`) that receives every flat touching a tile border whole and runs
  the search across tiles: one step, but its memory grows with those flats (4.4 % of the
  cells of the benchmark DEM, ~70 bytes each in the pass: ~3 GB at 10⁹ cells). Both give
  the same ring distances (tested). Tile jobs then start their search from the ring's
  global distances. Other cells take the steepest descent, ties in E, SE, …, NE order.
- D8 accumulation: Barnes (2017), Parallel non-divergent flow accumulation for trillion
  cell digital elevation models on desktops or clusters, Environmental Modelling & Software
  92: 202-212. Each tile accumulates locally and links each perimeter cell to the next
  perimeter cell downstream (or to the neighbour-tile cell it drains into); the global pass
  propagates the tiles' perimeter totals along those links in topological order; pass 2
  re-accumulates each tile with the inflow entering at its perimeter. Exact (integers).
- MFD accumulation: flow divides, so a tile's perimeter-to-perimeter transfer is a dense
  matrix, not a link; Barnes (2017) covers D8 only. Here MFD uses rounds: each tile
  accumulates with the inflow received from its neighbours at the previous round (zero at
  first) and sends its outflow to the neighbours' perimeter cells; a round re-runs only the
  tiles whose inflow changed, and it stops when no inflow changes. After k rounds every cell
  whose upstream paths cross fewer than k tile borders is exact, so the rounds end after
  (largest number of border crossings of a flow path) + 1; on the benchmark DEMs that is
  reported by :func:`run`. The answer is exact up to the order of additions.

Memory per tile job (t × t cells, ring included): pass 1 ≈ 21 bytes per cell (window float32,
label int32, level float32, heap ≤ 8 per cell at worst), pass 2 ≈ 14, route ≈ 18 (filled
window, codes, int32 distances, queue), D8 accumulation ≈ 26 (codes, float64 accumulation,
int64 memo), an MFD round ≈ 18, LS ≈ 4 per cell per layer plus the window; i.e. about
100-120 MB for a 2048² tile, independent of the DEM size. The global passes and the driver
of :func:`run` hold, between stages, only arrays of perimeter or ring cells (≈ 4/t of the
cells: 2.0 M cells for 10⁹ cells in 2048² tiles): fill_global the perimeter levels, labels
and spill edges and its graph (~350 bytes per perimeter cell at its peak: 0.67 GiB for
10⁹ cells), the flats
rounds an int32 distance and a flag per perimeter and ring cell, d8_global the links and
totals, the MFD rounds a float64 outflow per ring cell. So a process holds (tiles in
flight × tile memory) + O(N/t), N cells; with the default glibc allocator freed tile arrays
can stay in per-thread arenas, which a fixed mmap threshold avoids
(``MALLOC_MMAP_THRESHOLD_=1048576``, as the benchmark sets). :func:`flats_global` (kept as the
reference of the flats rounds) would also hold the cells of the flats that touch a tile
border. On disk, per cell: the filled window (4 bytes), codes (1) and accumulation (8).

Measured (benchmarks/bench_province.py, no cap, 2048² tiles, 2 threads, on a 2-core machine
shared with other agents, load average 3-9; figures and stage shares there): CPU time per
cell is flat with the DEM size, D8 2.56 µs at 16 M cells, 2.64 µs at 256 M, 2.51 µs at 10⁹
(256 tiles, 3029 s wall = 0.33 M cells/s at load 9 → 5, peak RSS 1.7 GiB, 6 flats rounds); MFD 3.34 µs at 64 M cells (17 MFD rounds, 4
flats rounds, peak RSS 916 MiB), 3.65 µs at 256 M (26 MFD rounds, 922 s wall at load 4 → 2,
peak RSS 1.2 GiB; 64 M cells took 1.9 GiB before the flats rounds, the benchmark's
strip-wise sink and the fixed mmap threshold). The RSS between stages stays ~0.3-0.5 GiB from 16 M to 10⁹ cells; the peak is two tiles in flight in the LS
pass with the benchmark's sink (0.65 GiB at 16 M cells, 1.7 GiB at 10⁹: it drifts up with
the number of tiles though the data held do not, most likely allocator fragmentation in
the worker threads), and fill_global (1.1 GiB at 10⁹ cells).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError
from pipeline.factors import _routing
from pipeline.factors import _tiled_kernels as K

LAYERS = ("slope_deg", "contributing_area_m2", "l_factor", "s_factor", "ls_factor")
#: MFD weight schemes: (exponent p, Quinn contour lengths, cardinal neighbours only)
MFD_WEIGHTS = {
    "cardinal": (1.0, False, True),
    "quinn": (1.0, True, False),
    "freeman": (1.1, False, False),
}


# ---------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class Tile:
    """One tile: index (i, j) and its rows r0:r1, columns c0:c1 in the DEM."""

    i: int
    j: int
    r0: int
    r1: int
    c0: int
    c1: int

    @property
    def name(self) -> str:
        return f"{self.i:04d}_{self.j:04d}"

    @property
    def shape(self) -> tuple[int, int]:
        return self.r1 - self.r0, self.c1 - self.c0


def _bounds(n: int, t: int) -> list[int]:
    edges = list(range(0, n, t)) + [n]
    if len(edges) > 2 and edges[-1] - edges[-2] < 2:  # no tile thinner than 2 cells
        del edges[-2]
    return edges


@dataclass(frozen=True)
class Layout:
    """A DEM of ``shape`` cut into tiles of at most ``tile`` cells (rows, columns)."""

    shape: tuple[int, int]
    tile: tuple[int, int] = (2048, 2048)

    def __post_init__(self):
        if min(self.shape) < 2 or min(self.tile) < 2:
            raise ConfigError(f"tiles: need ≥ 2 × 2 cells, got DEM {self.shape}, tile {self.tile}")

    @property
    def tiles(self) -> list[Tile]:
        rows = _bounds(self.shape[0], self.tile[0])
        cols = _bounds(self.shape[1], self.tile[1])
        return [
            Tile(i, j, rows[i], rows[i + 1], cols[j], cols[j + 1])
            for i in range(len(rows) - 1)
            for j in range(len(cols) - 1)
        ]

    def perimeter(self, t: Tile) -> np.ndarray:
        """Global indices of the tile's perimeter cells, ring order (row-major)."""
        r, c = _ring_rc(*t.shape)
        return (r + t.r0) * self.shape[1] + (c + t.c0)

    def ring(self, t: Tile) -> np.ndarray:
        """Global indices of the window's ring cells (ring order), −1 outside the DEM."""
        nr, nc = t.shape
        r, c = _ring_rc(nr + 2, nc + 2)
        r = r + t.r0 - 1
        c = c + t.c0 - 1
        inside = (r >= 0) & (r < self.shape[0]) & (c >= 0) & (c < self.shape[1])
        return np.where(inside, r * self.shape[1] + c, -1)


def _ring_rc(nr: int, nc: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the outer ring of an nr × nc block (nr, nc ≥ 2), row-major order
    (as ``np.nonzero`` of the ring mask), built without the block."""
    mid = np.arange(1, nr - 1, dtype=np.int64)
    r = np.concatenate([np.zeros(nc, np.int64), np.repeat(mid, 2), np.full(nc, nr - 1)])
    c = np.concatenate([np.arange(nc, dtype=np.int64), np.tile([0, nc - 1], nr - 2), np.arange(nc)])
    return r, c


def _ring_mask(nr: int, nc: int) -> np.ndarray:
    mask = np.zeros((nr, nc), dtype=bool)
    mask[[0, -1], :] = True
    mask[:, [0, -1]] = True
    return mask


def read_window(read: Callable, shape, t: Tile) -> np.ndarray:
    """The tile plus a 1-cell ring as C-contiguous float32, NaN outside the DEM."""
    nr, nc = t.shape
    out = np.full((nr + 2, nc + 2), np.nan, dtype=np.float32)
    r0, r1 = max(t.r0 - 1, 0), min(t.r1 + 1, shape[0])
    c0, c1 = max(t.c0 - 1, 0), min(t.c1 + 1, shape[1])
    out[r0 - t.r0 + 1 : r1 - t.r0 + 1, c0 - t.c0 + 1 : c1 - t.c0 + 1] = read(r0, r1, c0, c1)
    return out


class TileStore:
    """Per-tile arrays as ``.npy`` files in one folder: ``<stage>/<tile>.<name>.npy``."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path(self, stage: str, t: Tile, name: str) -> Path:
        return self.folder / stage / f"{t.name}.{name}.npy"

    def save(self, stage: str, t: Tile, **arrays) -> None:
        (self.folder / stage).mkdir(parents=True, exist_ok=True)
        for name, arr in arrays.items():
            np.save(self.path(stage, t, name), arr)

    def load(self, stage: str, t: Tile, name: str) -> np.ndarray:
        return np.load(self.path(stage, t, name))

    def drop(self, stage: str) -> None:
        shutil.rmtree(self.folder / stage, ignore_errors=True)


# ------------------------------------------------------------------- stage 1: fill
def fill_pass1(zw: np.ndarray) -> dict:
    """Per tile: labelled flood; returns the perimeter elevations, labels and spill edges."""
    plab, ea, eb, ew = K.fill_labels(np.ascontiguousarray(zw, dtype=np.float32))
    nr, nc = zw.shape[0] - 2, zw.shape[1] - 2
    pr, pc = _ring_rc(nr, nc)
    if ea.size:  # keep the lowest edge per label pair
        order = np.lexsort((ew, eb, ea))
        ea, eb, ew = ea[order], eb[order], ew[order]
        first = np.ones(ea.size, dtype=bool)
        first[1:] = (ea[1:] != ea[:-1]) | (eb[1:] != eb[:-1])
        ea, eb, ew = ea[first], eb[first], ew[first]
    return {"pz": zw[pr + 1, pc + 1].copy(), "plab": plab, "ea": ea, "eb": eb, "ew": ew}


def fill_global(layout: Layout, summaries: list[dict]) -> list[dict]:
    """Global: filled level of every perimeter cell; returns per tile {perim, ring} levels."""
    tiles = layout.tiles
    ncol = layout.shape[1]
    g_all, z_all, node_all = [], [], []
    eu, ev, ew = [], [], []
    offset = 1  # node 0 is the ocean
    for t, s in zip(tiles, summaries, strict=True):
        n = s["plab"].size
        node = np.where(s["plab"] == 1, 0, offset + np.arange(n, dtype=np.int64))
        node_all.append(np.where(s["plab"] == 0, -1, node))
        g_all.append(layout.perimeter(t))
        z_all.append(s["pz"])
        for lab, out in ((s["ea"], eu), (s["eb"], ev)):
            out.append(np.where(lab == 1, 0, offset + lab.astype(np.int64) - 2))
        ew.append(s["ew"].astype(np.float64))
        offset += n
    g_all = np.concatenate(g_all)
    order = np.argsort(g_all, kind="stable")
    gs = g_all[order]
    zs = np.concatenate(z_all)[order]
    ns = np.concatenate(node_all)[order]
    del g_all, z_all, node_all, order
    # edges between adjacent perimeter cells of neighbouring tiles, each pair once (a < b;
    # the other tile sees it as b, a)
    for t in tiles:
        g = layout.perimeter(t)
        r, c = np.divmod(g, ncol)
        idx = np.searchsorted(gs, g)
        for k in range(8):
            rr, cc = r + _routing.DR[k], c + _routing.DC[k]
            out_tile = (rr < t.r0) | (rr >= t.r1) | (cc < t.c0) | (cc >= t.c1)
            ok = out_tile & (rr >= 0) & (rr < layout.shape[0]) & (cc >= 0) & (cc < ncol)
            if not ok.any():
                continue
            j = np.searchsorted(gs, rr[ok] * ncol + cc[ok])
            a, b = ns[idx[ok]], ns[j]
            keep = (a >= 0) & (b >= 0) & (a < b)
            eu.append(a[keep])
            ev.append(b[keep])
            ew.append(np.maximum(zs[idx[ok]], zs[j])[keep].astype(np.float64))
    u = np.concatenate(eu)
    del eu
    v = np.concatenate(ev)
    del ev
    w = np.concatenate(ew)
    del ew
    level = _minimax(offset, u, v, w)
    del u, v, w
    f_sorted = np.where(ns >= 0, np.maximum(zs, level[np.maximum(ns, 0)]), np.nan)
    f_sorted = f_sorted.astype(np.float32)
    del level, zs, ns
    out = []
    for t in tiles:
        perim = f_sorted[np.searchsorted(gs, layout.perimeter(t))]
        ring_g = layout.ring(t)
        ring = np.full(ring_g.size, np.nan, dtype=np.float32)
        inside = ring_g >= 0
        ring[inside] = f_sorted[np.searchsorted(gs, ring_g[inside])]
        out.append({"perim": perim, "ring": ring})
    return out


def _minimax(n, u, v, w):
    """K.minimax on the undirected edges (u, v, w): CSR by a stable sort of the sources, built
    one half at a time so that at most one 2E-long int64 array is alive at once."""
    m = u.size
    src = np.concatenate([u, v])
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    del src
    nbr = np.empty(2 * m, dtype=np.int64)
    lo = order < m
    nbr[lo] = v[order[lo]]
    nbr[~lo] = u[order[~lo] - m]
    wt = np.empty(2 * m, dtype=np.float64)
    wt[lo] = w[order[lo]]
    wt[~lo] = w[order[~lo] - m]
    del order, lo
    return K.minimax(indptr, nbr, wt)


def fill_pass2(
    zw: np.ndarray, perim: np.ndarray, ring: np.ndarray, *, flats: bool = True
) -> tuple[np.ndarray, dict | None]:
    """Per tile: the filled window (tile + ring levels) and the summary of its border flats
    (for :func:`flats_global`; None with ``flats=False``, for :func:`flat_perimeter` rounds)."""
    nr, nc = zw.shape[0] - 2, zw.shape[1] - 2
    fw = np.empty_like(zw)
    fw[1:-1, 1:-1] = K.fill_from_perimeter(zw, perim.astype(np.float32))
    fw[_ring_mask(nr + 2, nc + 2)] = ring
    if not flats:
        return fw, None
    cls = K.classify(fw, 1, 1, nr, nc)
    pos, kind = K.flat_components(fw, cls)
    r, c = np.divmod(pos, nc)
    return fw, {"r": r, "c": c, "z": fw[r + 1, c + 1], "kind": kind}


def flats_global(
    layout: Layout, summaries: list[dict], *, windows: bool = True
) -> list[np.ndarray]:
    """Global: BFS distances on the tiles' border flats; returns each window's ring distances
    (as a window of −1 with the ring filled in, or with ``windows=False`` the ring alone, in
    ring order: memory of the perimeters only)."""
    tiles = layout.tiles
    ncol = layout.shape[1]
    g = np.concatenate(
        [(s["r"] + t.r0) * ncol + s["c"] + t.c0 for t, s in zip(tiles, summaries, strict=True)]
    )
    z = np.concatenate([s["z"] for s in summaries])
    kind = np.concatenate([s["kind"] for s in summaries])
    order = np.argsort(g, kind="stable")
    g, z, kind = g[order], z[order], kind[order]
    dist = K.bfs_graph(g, z, kind, ncol) if g.size else np.empty(0, np.int32)
    out = []
    for t in tiles:
        nr, nc = t.shape
        ring_g = layout.ring(t)
        d = np.full(ring_g.size, -1, dtype=np.int32)
        if g.size:
            j = np.minimum(np.searchsorted(g, ring_g), g.size - 1)
            hit = (ring_g >= 0) & (g[j] == ring_g) & (dist[j] != K.INF)
            d[hit] = dist[j[hit]]
        if not windows:
            out.append(d)
            continue
        win = np.full((nr + 2, nc + 2), -1, dtype=np.int32)
        win[_ring_mask(nr + 2, nc + 2)] = d
        out.append(win)
    return out


def _ring_window(shape: tuple[int, int], ring_d: np.ndarray) -> np.ndarray:
    win = np.full(shape, -1, dtype=np.int32)
    win[_ring_mask(*shape)] = ring_d
    return win


def flat_perimeter(fw: np.ndarray, ring_d: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Per tile (a flats round): breadth-first distance of the tile's perimeter cells to the
    flats' drains, with the ring's current distances (ring order, −1 = none) as sources;
    returns int32 in perimeter order, −1 where none is known (nodata, or a flat not yet
    reached). Values are lengths of real paths, so they only decrease from round to round."""
    return _flat_perimeter(fw, ring_d, dx, dy)[0]


def _flat_perimeter(fw, ring_d, dx, dy) -> tuple[np.ndarray, np.ndarray]:
    """:func:`flat_perimeter` and the ring cells that can change the tile's distances:
    those next to a flat tile cell of the same filled level (bool, ring order)."""
    nr, nc = fw.shape[0] - 2, fw.shape[1] - 2
    _, dist = K.route(fw, 1, 1, nr, nc, float(dx), float(dy), _ring_window(fw.shape, ring_d))
    d = dist[_ring_rc(nr, nc)]
    perim = np.where(d == K.INF, -1, d).astype(np.int32)
    # the breadth-first search enters the tile from a ring cell only into a flat cell
    # (no lower neighbour, not next to nodata/the DEM edge: dist ≠ 0) of the same level
    rr, rc = _ring_rc(nr + 2, nc + 2)
    zr = fw[rr, rc]
    sensitive = np.zeros(rr.size, dtype=bool)
    for k in range(8):
        tr, tc = rr + _routing.DR[k] - 1, rc + _routing.DC[k] - 1  # tile coordinates
        ok = (tr >= 0) & (tr < nr) & (tc >= 0) & (tc < nc)
        tr, tc = np.where(ok, tr, 0), np.where(ok, tc, 0)
        zt = fw[tr + 1, tc + 1]
        sensitive |= ok & (dist[tr, tc] != 0) & ~np.isnan(zt) & (zt == zr)
    return perim, sensitive


def ring_sources(layout: Layout) -> list[np.ndarray]:
    """Per tile, for each ring cell (ring order) its index in the concatenation of all the
    tiles' perimeters (tile order, each in ring order), −1 outside the DEM: computed once,
    it makes every exchange of a round a gather (every ring cell inside the DEM is on a
    neighbour's perimeter). int64, as many as the perimeter cells."""
    tiles = layout.tiles
    g = np.concatenate([layout.perimeter(t) for t in tiles])
    order = np.argsort(g, kind="stable")
    gs = g[order]
    out = []
    for t in tiles:
        ring_g = layout.ring(t)
        src = np.full(ring_g.size, -1, dtype=np.int64)
        inside = ring_g >= 0
        src[inside] = order[np.searchsorted(gs, ring_g[inside])]
        out.append(src)
    return out


def flats_exchange(
    layout: Layout, perims: list[np.ndarray], sources: list[np.ndarray] | None = None
) -> list[np.ndarray]:
    """Global (a flats round): each tile's ring distances (ring order, −1 = none) = the
    neighbours' perimeter distances. Memory: the perimeter cells only. ``sources``:
    :func:`ring_sources` (computed here when not given)."""
    sources = ring_sources(layout) if sources is None else sources
    vals = np.concatenate(perims)
    return [np.where(src >= 0, vals[np.maximum(src, 0)], -1).astype(np.int32) for src in sources]


def route_pass(fw: np.ndarray, ring_d: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Per tile: D8 codes (uint8) from the filled window and the ring's flat distances."""
    nr, nc = fw.shape[0] - 2, fw.shape[1] - 2
    codes, _ = K.route(fw, 1, 1, nr, nc, float(dx), float(dy), ring_d)
    return codes


def d8_pass1(codes: np.ndarray, layout: Layout, t: Tile) -> dict:
    """Per tile (D8): local accumulation at the perimeter and Barnes' perimeter links."""
    acc = K.d8_accumulate(codes, np.empty(0))
    pr, pc = _ring_rc(*t.shape)
    kind, target = K.d8_links(codes, t.r0, t.c0, layout.shape[1])
    return {"local": acc[pr, pc], "kind": kind, "target": target}


def d8_global(layout: Layout, summaries: list[dict]) -> list[np.ndarray]:
    """Global (D8): inflow from other tiles at every perimeter cell, per tile (ring order)."""
    tiles = layout.tiles
    g = np.concatenate([layout.perimeter(t) for t in tiles])
    local = np.concatenate([s["local"] for s in summaries])
    kind = np.concatenate([s["kind"] for s in summaries])
    target = np.concatenate([s["target"] for s in summaries])
    order = np.argsort(g, kind="stable")
    inflow = np.empty(g.size)
    inflow[order] = K.d8_global(g[order], local[order], kind[order], target[order])
    out, start = [], 0
    for t in tiles:
        n = layout.perimeter(t).size
        out.append(inflow[start : start + n])
        start += n
    return out


def mfd_round(fw, codes, inject, dx, dy, weights="cardinal"):
    """Per tile (MFD): accumulation (cells) with the given inflow, and the ring's outflow."""
    p, contour, cardinal = MFD_WEIGHTS[weights]
    return K.mfd_tile(fw, codes, inject, float(dx), float(dy), p, contour, cardinal)


def mfd_exchange(
    layout: Layout, outflows: list[np.ndarray], sources: list[np.ndarray] | None = None
) -> list[np.ndarray]:
    """Global (MFD): each tile's perimeter inflow = the neighbours' outflow into it.
    ``sources``: :func:`ring_sources` (computed here when not given)."""
    sources = ring_sources(layout) if sources is None else sources
    sizes = [2 * (t.shape[0] + t.shape[1]) - 4 for t in layout.tiles]  # perimeter cells
    idx, val = [], []
    for src, out in zip(sources, outflows, strict=True):
        sel = (src >= 0) & (out != 0)
        idx.append(src[sel])
        val.append(out[sel])
    # bincount adds in input order: per perimeter cell, 0 + the tiles' outflows in tile order
    total = np.bincount(np.concatenate(idx), np.concatenate(val), minlength=sum(sizes))
    return np.split(total, np.cumsum(sizes)[:-1])


def ls_pass(zw, cells, codes, *, dx, dy, routing, cap, threshold, m_method, s_method, layers):
    """Per tile: the LS layers (float32, (len(layers), rows, cols)) via terrain_block."""
    out = np.empty((len(layers), *codes.shape), dtype=np.float32)
    slots = np.full(5, -1, dtype=np.int64)
    for k, layer in enumerate(layers):
        slots[LAYERS.index(layer)] = k
    channel = np.zeros((0, 0), dtype=bool)
    if threshold is not None:
        channel = np.ascontiguousarray(cells * (dx * dy) >= threshold)
    _routing.terrain_block(
        zw,
        1,
        1,
        np.ascontiguousarray(cells),
        codes,
        channel,
        float(dx),
        float(dy),
        -1.0 if cap is None else float(cap),
        _routing.M_CHINA if m_method == "china" else _routing.M_MCCOOL,
        _routing.S_CHINA if s_method == "china" else _routing.S_MCCOOL,
        routing == "mfd",
        slots,
        out,
    )
    return out


# ---------------------------------------------------------------------------- driver
def _rss_mib() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB (Linux; NaN elsewhere)."""
    vals = {"VmRSS": float("nan"), "VmHWM": float("nan")}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in vals:
                    vals[key] = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return vals["VmRSS"], vals["VmHWM"]


def _map(fn, items, workers, times: list | None = None):
    """``[fn(x) for x in items]`` on ``workers`` threads; appends each call's seconds to
    ``times`` (the per-tile times from which a benchmark projects a cluster run)."""

    def call(x):
        t0 = time.perf_counter()
        res = fn(x)
        if times is not None:
            times.append(time.perf_counter() - t0)
        return res

    if workers <= 1:
        return [call(x) for x in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(call, items))


def run(
    read: Callable[[int, int, int, int], np.ndarray],
    shape: tuple[int, int],
    *,
    dx: float,
    dy: float,
    sink: Callable[[Tile, np.ndarray], None],
    tile: tuple[int, int] = (2048, 2048),
    routing: str = "mfd",
    mfd_weights: str = "cardinal",
    max_slope_length_m: float | None = None,
    channel_threshold_m2: float | None = None,
    m_method: str = "china",
    s_method: str = "china",
    layers: tuple[str, ...] = LAYERS,
    workdir: str | os.PathLike | None = None,
    keep: bool = False,
    workers: int = 1,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Run every stage in this process, tile by tile; ``sink(tile, stack)`` gets the LS layers.

    ``read(r0, r1, c0, c1)`` returns DEM rows r0:r1, columns c0:c1 as float32, NaN nodata
    (e.g. a rasterio window read or a slice of a dask array). Intermediate tiles go to
    ``workdir`` (a temporary folder, removed unless ``keep``). ``workers`` tiles run at once
    (numba kernels release the GIL). Returns timings (s) per stage and the MFD round count.
    """
    if routing not in ("d8", "mfd"):
        raise ConfigError(f"routing: {routing!r} is not one of ['d8', 'mfd']")
    if mfd_weights not in MFD_WEIGHTS:
        raise ConfigError(f"mfd_weights: {mfd_weights!r} is not one of {list(MFD_WEIGHTS)}")
    layout = Layout(tuple(shape), tuple(tile))
    tiles = layout.tiles
    tmp = workdir is None
    store = TileStore(tempfile.mkdtemp(prefix="shuibao-tiles-") if tmp else workdir)
    info: dict = {"tiles": len(tiles), "seconds": {}}
    say = log or (lambda _msg: None)

    info["rss_mib"] = {}
    info["tile_seconds"] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        res = fn(info["tile_seconds"].setdefault(name, []))
        info["seconds"][name] = time.perf_counter() - t0
        rss, peak = _rss_mib()
        info["rss_mib"][name] = rss
        say(f"{name}: {info['seconds'][name]:.2f} s, RSS {rss:.0f} MiB (peak {peak:.0f} MiB)")
        return res

    try:
        s1 = timed(
            "fill_pass1",
            lambda ts: _map(lambda t: fill_pass1(read_window(read, shape, t)), tiles, workers, ts),
        )
        levels = timed("fill_global", lambda _: fill_global(layout, s1))
        s1 = None  # free before the next stage

        def p2(args):
            t, lv = args
            fw, _ = fill_pass2(read_window(read, shape, t), lv["perim"], lv["ring"], flats=False)
            store.save("filled", t, fw=fw)
            # first flats round, on the window in memory: no ring distances known yet
            return _flat_perimeter(fw, np.full(layout.ring(t).size, -1, np.int32), dx, dy)

        perims = timed(
            "fill_pass2", lambda ts: _map(p2, list(zip(tiles, levels, strict=True)), workers, ts)
        )
        levels = None  # free before the next stage
        ring_d = timed(
            "flats_rounds",
            lambda ts: _flat_rounds(
                layout, store, perims, dx, dy, workers, ts, info.setdefault("flats", {})
            ),
        )
        perims = None
        info["flats_rounds"] = info["flats"]["rounds"]

        def p3(args):
            t, rd = args
            fw = store.load("filled", t, "fw")
            codes = route_pass(fw, _ring_window(fw.shape, rd), dx, dy)
            store.save("codes", t, codes=codes)
            return d8_pass1(codes, layout, t) if routing == "d8" else None

        s3 = timed(
            "route_pass", lambda ts: _map(p3, list(zip(tiles, ring_d, strict=True)), workers, ts)
        )
        ring_d = None  # free before the next stage
        if routing == "d8":
            inflow = timed("d8_global", lambda _: d8_global(layout, s3))

            def p4(args):
                t, inj = args
                store.save("cells", t, cells=K.d8_accumulate(store.load("codes", t, "codes"), inj))

            timed(
                "d8_pass2", lambda ts: _map(p4, list(zip(tiles, inflow, strict=True)), workers, ts)
            )
        else:
            info["mfd_rounds"] = timed(
                "mfd_rounds",
                lambda ts: _mfd_rounds(
                    layout, store, dx, dy, mfd_weights, workers, ts, info.setdefault("mfd", {})
                ),
            )

        def p5(t):
            stack = ls_pass(
                read_window(read, shape, t),
                store.load("cells", t, "cells"),
                store.load("codes", t, "codes"),
                dx=dx,
                dy=dy,
                routing=routing,
                cap=max_slope_length_m,
                threshold=channel_threshold_m2,
                m_method=m_method,
                s_method=s_method,
                layers=tuple(layers),
            )
            sink(t, stack)

        timed("ls_pass", lambda ts: _map(p5, tiles, workers, ts))
    finally:
        if tmp and not keep:
            shutil.rmtree(store.folder, ignore_errors=True)
    info["workdir"] = str(store.folder)
    return info


def _flat_rounds(layout, store, perims, dx, dy, workers, times=None, stats=None):
    """``perims``: per tile, :func:`_flat_perimeter` with no ring. Rounds of :func:`flats_exchange` (global) and :func:`flat_perimeter` (tiles whose ring
    changed) until no ring changes; returns every tile's ring distances (ring order).

    A distributed Bellman-Ford on the flats: a tile's perimeter distances are path lengths
    given its ring, so they only decrease; after k rounds every cell whose shortest path to
    a drain crosses fewer than k tile borders has its exact breadth-first distance, and the
    fixed point equals the global breadth-first search of :func:`flats_global`."""
    tiles = layout.tiles
    stats = {} if stats is None else stats
    stats["round_tiles"] = [len(tiles)]
    stats["exchange_s"] = 0.0
    sensitive = [sv for _, sv in perims]
    perims = [p for p, _ in perims]
    rings = [np.full(layout.ring(t).size, -1, np.int32) for t in tiles]
    t0 = time.perf_counter()
    sources = ring_sources(layout)
    stats["exchange_s"] += time.perf_counter() - t0
    while True:
        t0 = time.perf_counter()
        new = flats_exchange(layout, perims, sources)
        stats["exchange_s"] += time.perf_counter() - t0
        # a tile runs again only if a ring cell next to one of its flats changed
        todo = [k for k in range(len(tiles)) if np.any((new[k] != rings[k]) & sensitive[k])]
        rings = new
        if not todo:
            stats["rounds"] = len(stats["round_tiles"])
            return rings
        stats["round_tiles"].append(len(todo))
        if len(stats["round_tiles"]) > 100_000:  # distances only decrease: cannot happen
            raise RuntimeError("flats rounds did not converge")

        def again(k, rings=rings):
            return flat_perimeter(store.load("filled", tiles[k], "fw"), rings[k], dx, dy)

        for k, p in zip(todo, _map(again, todo, workers, times), strict=True):
            perims[k] = p


def flat_rings(layout: Layout, store, dx: float, dy: float, workers: int = 1) -> list[np.ndarray]:
    """Every tile's ring distances on the border flats, from the filled windows in ``store``
    (anything with ``load("filled", tile, "fw")``), one window in memory per worker: the
    first perimeter distances with no ring known, then :func:`_flat_rounds`. For a caller
    whose filled windows are already on disk (the workflow's flats job); :func:`run` takes
    the first round on the window it has just filled instead of loading it again."""

    def first(t):
        fw = store.load("filled", t, "fw")
        return _flat_perimeter(fw, np.full(layout.ring(t).size, -1, np.int32), dx, dy)

    return _flat_rounds(layout, store, _map(first, layout.tiles, workers), dx, dy, workers)


def _mfd_rounds(layout, store, dx, dy, weights, workers, times=None, stats=None) -> int:
    """Round 1 accumulates every tile alone; each later round adds, by linearity, only the
    change of inflow (``mfd_tile_delta``) in the tiles that received some. ``stats`` (a dict)
    gets the number of tiles run per round and the seconds of the global exchanges."""
    stats = {} if stats is None else stats
    stats["round_tiles"] = [len(layout.tiles)]
    stats["exchange_s"] = 0.0
    tiles = layout.tiles
    p, contour, cardinal = MFD_WEIGHTS[weights]
    t0 = time.perf_counter()
    sources = ring_sources(layout)
    stats["exchange_s"] += time.perf_counter() - t0
    empty = np.empty(0)

    def first(t):
        acc, out = K.mfd_tile(
            store.load("filled", t, "fw"),
            store.load("codes", t, "codes"),
            empty,
            float(dx),
            float(dy),
            p,
            contour,
            cardinal,
        )
        store.save("cells", t, cells=acc)
        return out

    outflows = _map(first, tiles, workers, times)
    rounds = 1
    while True:
        t0 = time.perf_counter()
        delta = mfd_exchange(layout, outflows, sources)
        stats["exchange_s"] += time.perf_counter() - t0
        todo = [k for k in range(len(tiles)) if np.any(delta[k] != 0)]
        if not todo:
            return rounds
        stats["round_tiles"].append(len(todo))
        rounds += 1

        def more(k, delta=delta):
            t = tiles[k]
            acc = store.load("cells", t, "cells")
            out = K.mfd_tile_delta(
                store.load("filled", t, "fw"),
                store.load("codes", t, "codes"),
                acc,
                delta[k],
                float(dx),
                float(dy),
                p,
                contour,
                cardinal,
            )
            store.save("cells", t, cells=acc)
            return out

        outflows = [np.zeros(layout.ring(t).size) for t in tiles]
        for k, out in zip(todo, _map(more, todo, workers, times), strict=True):
            outflows[k] = out
        if rounds > 100_000:  # the flow graph is acyclic: cannot happen
            raise RuntimeError("MFD rounds did not converge")


def geotiff_reader(path: str | os.PathLike):
    """(read, shape, dx, dy) for :func:`run` from a single-band GeoTIFF in a metric CRS.

    ``read`` opens the file once per call and reads one window (nodata → NaN), so tile jobs
    in threads or processes never hold more than their window.
    """
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(path) as src:
        shape = (src.height, src.width)
        dx, dy = abs(src.transform.a), abs(src.transform.e)

    def read(r0, r1, c0, c1):
        with rasterio.open(path) as src:
            band = src.read(1, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True)
        return np.ma.filled(band.astype(np.float32), np.nan)

    return read, shape, dx, dy


def iter_tiles(shape, tile) -> Iterator[Tile]:
    """The tiles of a DEM of ``shape`` (helper for callers that write their own sinks)."""
    yield from Layout(tuple(shape), tuple(tile)).tiles


def halo_free_chunks(n: int, t: int) -> tuple[int, ...]:
    """Chunk sizes along one axis that match :class:`Layout` tiles (for dask outputs)."""
    b = _bounds(n, t)
    return tuple(b[k + 1] - b[k] for k in range(len(b) - 1))


__all__ = [
    "LAYERS",
    "Layout",
    "Tile",
    "TileStore",
    "d8_global",
    "d8_pass1",
    "fill_global",
    "fill_pass1",
    "fill_pass2",
    "flat_perimeter",
    "flats_exchange",
    "flats_global",
    "geotiff_reader",
    "halo_free_chunks",
    "iter_tiles",
    "ls_pass",
    "mfd_exchange",
    "mfd_round",
    "read_window",
    "ring_sources",
    "route_pass",
    "run",
    "terrain_factors_tiled",
]


def terrain_factors_tiled(
    dem,
    *,
    tile: tuple[int, int] = (2048, 2048),
    routing: str = "mfd",
    m_method: str = "china",
    s_method: str = "china",
    max_slope_length_m: float | None = None,
    channel_threshold_m2: float | None = None,
    mfd_weights: str = "cardinal",
    variables: tuple[str, ...] | None = None,
    workers: int = 1,
    workdir: str | os.PathLike | None = None,
):
    """:func:`pipeline.factors.terrain.terrain_factors`, computed tile by tile (in memory).

    Same parameters and the same result (numpy-backed Dataset); the DEM (numpy or dask) is
    read one window at a time, so only the result grows with the DEM. For DEMs whose result
    does not fit in memory, call :func:`run` with a ``sink`` that writes each tile.
    """
    import dask
    import xarray as xr

    from pipeline.factors import terrain as T

    dem, dx, dy = T._check_dem(dem)
    variables = LAYERS if variables is None else tuple(variables)
    for name in variables:
        T._check_choice(name, LAYERS, "variables")
    T._check_choice(m_method, ("china", "mccool"), "m_method")
    T._check_choice(s_method, ("china", "mccool"), "s_method")
    cap, thr = T._check_routing_args(routing, mfd_weights, max_slope_length_m, channel_threshold_m2)
    out = np.empty((len(variables), *dem.shape), dtype=np.float32)
    data = dem.data

    def read(r0, r1, c0, c1):
        with dask.config.set(scheduler="synchronous"):
            return np.asarray(data[r0:r1, c0:c1], dtype=np.float32)

    def sink(t, stack):
        out[:, t.r0 : t.r1, t.c0 : t.c1] = stack

    run(
        read,
        dem.shape,
        dx=dx,
        dy=dy,
        sink=sink,
        tile=tile,
        routing=routing,
        mfd_weights=mfd_weights,
        max_slope_length_m=cap,
        channel_threshold_m2=thr,
        m_method=m_method,
        s_method=s_method,
        layers=variables,
        workers=workers,
        workdir=workdir,
        keep=workdir is not None,
    )
    units = {"slope_deg": "degree", "contributing_area_m2": "m2"}
    ds = xr.Dataset(
        {
            name: xr.DataArray(
                out[k], dims=dem.dims, coords=dem.coords, attrs={"units": units.get(name, "1")}
            )
            for k, name in enumerate(variables)
        }
    )
    return ds.rio.write_crs(dem.rio.crs) if dem.rio.crs is not None else ds
