"""Numba kernels behind :mod:`pipeline.factors._tiled` (tile passes) and the flat resolution.

Every kernel works on one *window*: a tile plus a ring of one cell on every side (NaN where
the ring lies outside the DEM or on nodata, so "outside" and "nodata" are the same thing, as
in :mod:`pipeline.factors._routing`). Tile cells are (r, c), 0 ≤ r < nr, 0 ≤ c < nc, at window
position (r + r0, c + c0); the single-process path calls the same kernels with the whole DEM
as the tile and no ring (r0 = c0 = 0).

Perimeter and ring order. The perimeter of an nr × nc block (nr, nc ≥ 2) is listed in
row-major order: the first row, then the first and last cell of each middle row, then the
last row (:func:`ring_index`). A tile's perimeter and its window's ring use that order.

Written by hand: no library offers a labelled priority flood, tile-border summaries or the
flat resolution below. The priority queue is the packed 64-bit heap of ``_routing``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pipeline.factors._routing import (
    _DECODE,
    CODES,
    DC,
    DR,
    NODATA,
    OUTLET,
    _grow,
    _heap_pop,
    _heap_push,
    _sortable,
)

INF = np.int32(2**31 - 1)
UNSET = np.uint8(255)
# cell classes of :func:`classify`
C_NODATA, C_DRAIN, C_FLAT = np.uint8(0), np.uint8(1), np.uint8(2)
# neighbour preference on flats: cardinal first (E, S, W, N), then diagonal
_FLAT_ORDER = np.array([0, 2, 4, 6, 1, 3, 5, 7], dtype=np.int64)


@njit(nogil=True, cache=True, inline="always")
def ring_index(r, c, nr, nc):
    """Index of (r, c) on the perimeter of an nr × nc block (row-major), −1 if inside."""
    if r == 0:
        return c
    if r == nr - 1:
        return nc + 2 * (nr - 2) + c
    if c == 0:
        return nc + 2 * (r - 1)
    if c == nc - 1:
        return nc + 2 * (r - 1) + 1
    return -1


@njit(nogil=True, cache=True, inline="always")
def _key(z, i):
    bits = np.float32(z).view(np.uint32)
    return (np.uint64(_sortable(bits)) << np.uint64(32)) | np.uint64(i)


@njit(nogil=True, cache=True)
def _make_room(q, head, tail):
    """A FIFO q[head:tail] that is full: shift it down if half is free, else double it."""
    if head > q.size // 2:
        q[: tail - head] = q[head:tail]
        return q, 0, tail - head
    new = np.empty(q.size * 2, dtype=q.dtype)
    new[: tail - head] = q[head:tail]
    return new, 0, tail - head


@njit(nogil=True, cache=True, inline="always")
def _missing(w, rr, cc):
    if rr < 0 or cc < 0 or rr >= w.shape[0] or cc >= w.shape[1]:
        return True
    return np.isnan(w[rr, cc])


@njit(nogil=True, cache=True)
def _is_seed(w, rw, cw):
    for k in range(8):
        if _missing(w, rw + DR[k], cw + DC[k]):
            return True
    return False


# ------------------------------------------------------------------ fill, pass 1
@njit(nogil=True, cache=True)
def fill_labels(zw):
    """Barnes (2016) pass 1 on one tile: labelled priority flood from the tile's perimeter.

    ``zw`` is the float32 window (tile + 1-cell ring). Seeds: every perimeter cell of the
    tile gets its own label 2 + (perimeter index); cells next to a missing cell (DEM edge,
    nodata) are "ocean" (label 1), perimeter or not. Returns (perimeter labels (0 where the
    cell is nodata), edge label a, edge label b, edge weight): for every pair of adjacent
    tile cells whose labels differ, max of their flood levels — the spill elevation between
    the two labels' regions.
    """
    nr = zw.shape[0] - 2
    nc = zw.shape[1] - 2
    n = nr * nc
    nper = 2 * nc + 2 * (nr - 2)
    lab = np.zeros(n, dtype=np.int32)
    lev = np.empty(n, dtype=np.float32)
    plab = np.zeros(nper, dtype=np.int32)
    heap = np.empty(max(1024, 2 * nper), dtype=np.uint64)
    hsize = 0
    for r in range(nr):
        for c in range(nc):
            i = r * nc + c
            z = zw[r + 1, c + 1]
            if np.isnan(z):
                lab[i] = -1
                continue
            p = ring_index(r, c, nr, nc)
            label = 0
            if _is_seed(zw, r + 1, c + 1):
                label = 1
            elif p >= 0:
                label = 2 + p
            if p >= 0:
                plab[p] = label
            if label > 0:
                lab[i] = label
                lev[i] = z
                heap, hsize = _heap_push(heap, hsize, _key(z, i))
    ea = np.empty(1024, dtype=np.int32)
    eb = np.empty(1024, dtype=np.int32)
    ew = np.empty(1024, dtype=np.float32)
    ne = 0
    trace = np.empty(1024, dtype=np.int64)
    tt = 0
    pit = np.empty(1024, dtype=np.int64)
    head = 0
    tail = 0
    mask32 = np.uint64(0xFFFFFFFF)
    while True:
        if head < tail:
            i = pit[head]
            head += 1
        elif hsize > 0:
            key, hsize = _heap_pop(heap, hsize)
            i = np.int64(key & mask32)
        else:
            break
        li = lab[i]
        vi = lev[i]
        r = i // nc
        c = i - r * nc
        tt = 0
        for k in range(8):
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < 0 or rr >= nr or cc < 0 or cc >= nc:
                continue
            j = rr * nc + cc
            lj = lab[j]
            if lj < 0:
                continue
            if lj == 0:
                lab[j] = li
                zj = zw[rr + 1, cc + 1]
                if zj <= vi:
                    lev[j] = vi
                    if tail == pit.size:
                        pit, head, tail = _make_room(pit, head, tail)
                    pit[tail] = j
                    tail += 1
                else:
                    lev[j] = zj
                    if tt == trace.size:
                        trace = _grow(trace, tt)
                    trace[tt] = j
                    tt += 1
            elif lj != li:
                if ne == ea.size:
                    ea = _grow(ea, ne)
                    eb = _grow(eb, ne)
                    ew = _grow(ew, ne)
                ea[ne] = min(li, lj)
                eb[ne] = max(li, lj)
                ew[ne] = max(vi, lev[j])
                ne += 1
        # Zhou, Sun & Fu (2016) slope tracing: a cell closed above the flood level keeps its
        # elevation, and so does every unlabelled neighbour not lower than it; a traced cell
        # with a lower unlabelled neighbour finishes through the heap
        th = 0
        while th < tt:
            t = trace[th]
            th += 1
            lt = lab[t]
            zt = lev[t]
            rt = t // nc
            ct = t - rt * nc
            to_heap = False
            for k in range(8):
                rr = rt + DR[k]
                cc = ct + DC[k]
                if rr < 0 or rr >= nr or cc < 0 or cc >= nc:
                    continue
                j = rr * nc + cc
                lj = lab[j]
                if lj < 0:
                    continue
                if lj == 0:
                    zj = zw[rr + 1, cc + 1]
                    if zj >= zt:
                        lab[j] = lt
                        lev[j] = zj
                        if tt == trace.size:
                            if th > trace.size // 2:
                                trace[: tt - th] = trace[th:tt]
                                tt -= th
                                th = 0
                            else:
                                trace = _grow(trace, tt)
                        trace[tt] = j
                        tt += 1
                    else:
                        to_heap = True
                elif lj != lt:
                    if ne == ea.size:
                        ea = _grow(ea, ne)
                        eb = _grow(eb, ne)
                        ew = _grow(ew, ne)
                    ea[ne] = min(lt, lj)
                    eb[ne] = max(lt, lj)
                    ew[ne] = max(zt, lev[j])
                    ne += 1
            if to_heap:
                heap, hsize = _heap_push(heap, hsize, _key(zt, t))
        tt = 0
    return plab, ea[:ne].copy(), eb[:ne].copy(), ew[:ne].copy()


# ------------------------------------------------------------------ fill, pass 2
@njit(nogil=True, cache=True)
def fill_from_perimeter(zw, perim_level):
    """Barnes (2016) pass 2: priority flood of one tile from its perimeter's global levels.

    ``zw`` is the window (tile + ring), ``perim_level`` the filled elevation of every
    perimeter cell (NaN at nodata) from the global pass. Cells next to a missing cell are
    seeds at their own elevation. Returns the tile's filled float32 surface.
    """
    nr = zw.shape[0] - 2
    nc = zw.shape[1] - 2
    n = nr * nc
    out = np.empty((nr, nc), dtype=np.float32)
    of = out.ravel()
    done = np.zeros(n, dtype=np.uint8)
    heap = np.empty(max(1024, 4 * (nr + nc)), dtype=np.uint64)
    hsize = 0
    for r in range(nr):
        for c in range(nc):
            i = r * nc + c
            z = zw[r + 1, c + 1]
            of[i] = z
            if np.isnan(z):
                done[i] = 1
                continue
            p = ring_index(r, c, nr, nc)
            if p >= 0:
                of[i] = perim_level[p]
            elif not _is_seed(zw, r + 1, c + 1):
                continue
            done[i] = 1
            heap, hsize = _heap_push(heap, hsize, _key(of[i], i))
    pit = np.empty(1024, dtype=np.int64)
    trace = np.empty(1024, dtype=np.int64)
    tt = 0
    head = 0
    tail = 0
    mask32 = np.uint64(0xFFFFFFFF)
    while True:
        if head < tail:
            i = pit[head]
            head += 1
        elif hsize > 0:
            key, hsize = _heap_pop(heap, hsize)
            i = np.int64(key & mask32)
        else:
            break
        vi = of[i]
        r = i // nc
        c = i - r * nc
        tt = 0
        for k in range(8):
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < 0 or rr >= nr or cc < 0 or cc >= nc:
                continue
            j = rr * nc + cc
            if done[j]:
                continue
            done[j] = 1
            if of[j] <= vi:
                of[j] = vi
                if tail == pit.size:
                    pit, head, tail = _make_room(pit, head, tail)
                pit[tail] = j
                tail += 1
            else:
                if tt == trace.size:
                    trace = _grow(trace, tt)
                trace[tt] = j
                tt += 1
        th = 0  # slope tracing (Zhou, Sun & Fu 2016), as in fill_labels
        while th < tt:
            t = trace[th]
            th += 1
            zt = of[t]
            rt = t // nc
            ct = t - rt * nc
            to_heap = False
            for k in range(8):
                rr = rt + DR[k]
                cc = ct + DC[k]
                if rr < 0 or rr >= nr or cc < 0 or cc >= nc:
                    continue
                j = rr * nc + cc
                if done[j]:
                    continue
                if of[j] >= zt:
                    done[j] = 1
                    if tt == trace.size:
                        if th > trace.size // 2:
                            trace[: tt - th] = trace[th:tt]
                            tt -= th
                            th = 0
                        else:
                            trace = _grow(trace, tt)
                    trace[tt] = j
                    tt += 1
                else:
                    to_heap = True
            if to_heap:
                heap, hsize = _heap_push(heap, hsize, _key(zt, t))
        tt = 0
    return out


# ------------------------------------------------------------ classes and routing
@njit(nogil=True, cache=True)
def classify(fw, r0, c0, nr, nc):
    """Class of every tile cell of the filled window ``fw``: nodata, drain or flat.

    A drain has a strictly lower neighbour or is a seed (next to a missing cell); a flat
    cell has neither (its D8 code comes from :func:`route`'s flat resolution).
    """
    cls = np.empty((nr, nc), dtype=np.uint8)
    for r in range(nr):
        for c in range(nc):
            rw = r + r0
            cw = c + c0
            z = fw[rw, cw]
            if np.isnan(z):
                cls[r, c] = C_NODATA
                continue
            cls[r, c] = C_FLAT
            for k in range(8):
                rr = rw + DR[k]
                cc = cw + DC[k]
                if _missing(fw, rr, cc) or fw[rr, cc] < z:
                    cls[r, c] = C_DRAIN
                    break
    return cls


@njit(nogil=True, cache=True)
def route(fw, r0, c0, nr, nc, dx, dy, ring_d):
    """D8 codes of a tile of the filled window ``fw`` (uint8 ESRI codes, 0 outlet, 247 nodata).

    - A cell with a strictly lower neighbour points to the steepest one, slope = drop /
      distance (ties: first of E, SE, S, SW, W, NW, N, NE), as ``_routing.fill_and_route_d8``.
    - A seed (next to the DEM edge or nodata) without one is an outlet (0).
    - A flat cell (neither) points to a neighbour of the same filled elevation one step
      nearer to the flat's drains, distance = 8-connected breadth-first steps through cells
      of that elevation from its drains (cells of the same elevation with a lower neighbour,
      or seeds) — Garbrecht & Martz (1997, J. Hydrology 193: 204-213) "towards lower"
      gradient; ties: E, S, W, N, then SE, SW, NW, NE. This is a function of the filled
      surface alone, so tiles give the codes of a single block when ``ring_d`` holds the
      global distance of the ring's cells (int32 window-shaped, −1 = none; 0×0 = no ring).

    Returns (codes, distance): int32 steps for flat cells, 0 for drains.
    """
    codes = np.full((nr, nc), UNSET, dtype=np.uint8)
    dist = np.full((nr, nc), INF, dtype=np.int32)
    nflat = steepest_rows(fw, r0, c0, 0, nr, dx, dy, codes, dist)
    return resolve_flats(fw, r0, c0, ring_d, codes, dist, nflat)


@njit(nogil=True, cache=True)
def steepest_rows(fw, r0, c0, ra, rb, dx, dy, codes, dist):
    """:func:`route`'s first step on tile rows [ra, rb): steepest descent and outlets
    (``codes``, ``dist`` = 0 there; both tile-shaped, UNSET / INF elsewhere). Returns the
    number of flat cells left. Rows are independent: bands may run in parallel threads."""
    nc = codes.shape[1]
    step = np.empty(8)
    diag = np.sqrt(dx * dx + dy * dy)
    for k in range(8):
        step[k] = diag if (DR[k] != 0 and DC[k] != 0) else (dx if DR[k] == 0 else dy)
    nflat = 0
    for r in range(ra, rb):
        for c in range(nc):
            rw = r + r0
            cw = c + c0
            z = fw[rw, cw]
            if np.isnan(z):
                codes[r, c] = NODATA
                continue
            best = 0.0
            bestk = -1
            seed = False
            for k in range(8):
                rr = rw + DR[k]
                cc = cw + DC[k]
                if _missing(fw, rr, cc):
                    seed = True
                    continue
                zj = fw[rr, cc]
                if zj < z:
                    s = (z - zj) / step[k]
                    if s > best:
                        best = s
                        bestk = k
            if bestk >= 0:
                codes[r, c] = CODES[bestk]
                dist[r, c] = 0
            elif seed:
                codes[r, c] = OUTLET
                dist[r, c] = 0
            else:
                nflat += 1
    return nflat


@njit(nogil=True, cache=True)
def resolve_flats(fw, r0, c0, ring_d, codes, dist, nflat):
    """:func:`route`'s second step: codes of the ``nflat`` flat cells (breadth-first)."""
    nr, nc = codes.shape
    if nflat == 0:
        return codes, dist
    has_ring = ring_d.shape[0] > 0
    # breadth-first search from the drains next to a flat cell and from the ring's cells
    queue = np.empty(1024, dtype=np.int64)
    qt = 0
    for r in range(nr):
        for c in range(nc):
            if dist[r, c] != 0:
                continue
            z = fw[r + r0, c + c0]
            for k in range(8):
                rr = r + DR[k]
                cc = c + DC[k]
                if 0 <= rr < nr and 0 <= cc < nc and codes[rr, cc] == UNSET:
                    if fw[rr + r0, cc + c0] == z:
                        if qt == queue.size:
                            queue = _grow(queue, qt)
                        queue[qt] = r * nc + c
                        qt += 1
                        break
    sd = np.empty(0, dtype=np.int64)
    spos = np.empty(0, dtype=np.int64)
    if has_ring:
        wr, wc = fw.shape
        cand_d = np.empty(2 * (wr + wc), dtype=np.int64)
        cand_p = np.empty(2 * (wr + wc), dtype=np.int64)
        ns = 0
        for rw in range(wr):
            for cw in range(wc):
                inside = r0 <= rw < r0 + nr and c0 <= cw < c0 + nc
                if inside or ring_d[rw, cw] < 0:
                    continue
                if ns == cand_d.size:
                    cand_d = _grow(cand_d, ns)
                    cand_p = _grow(cand_p, ns)
                cand_d[ns] = ring_d[rw, cw]
                cand_p[ns] = rw * wc + cw
                ns += 1
        order = np.argsort(cand_d[:ns], kind="mergesort")
        sd = cand_d[:ns][order]
        spos = cand_p[:ns][order]
    qh = 0
    si = 0
    wc_ = fw.shape[1]
    while True:
        if qh < qt and (si >= sd.size or dist[queue[qh] // nc, queue[qh] % nc] <= sd[si]):
            i = queue[qh]
            qh += 1
            r = i // nc
            c = i - r * nc
            d = dist[r, c]
        elif si < sd.size:
            rw = spos[si] // wc_
            r = rw - r0
            c = spos[si] - rw * wc_ - c0
            d = sd[si]
            si += 1
        else:
            break
        z = fw[r + r0, c + c0]
        for k in range(8):
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < 0 or rr >= nr or cc < 0 or cc >= nc:
                continue
            if codes[rr, cc] != UNSET or dist[rr, cc] != INF or fw[rr + r0, cc + c0] != z:
                continue
            dist[rr, cc] = d + 1
            if qt == queue.size:
                queue, qh, qt = _make_room(queue, qh, qt)
            queue[qt] = rr * nc + cc
            qt += 1
    # flat cells point to a same-level neighbour one step nearer
    for r in range(nr):
        for c in range(nc):
            if codes[r, c] != UNSET:
                continue
            d = dist[r, c]
            codes[r, c] = OUTLET  # unreachable: cannot happen on a filled surface
            if d == INF:
                continue
            z = fw[r + r0, c + c0]
            for kk in range(8):
                k = _FLAT_ORDER[kk]
                rr = r + DR[k]
                cc = c + DC[k]
                if 0 <= rr < nr and 0 <= cc < nc:
                    dn = dist[rr, cc]
                elif has_ring:
                    dn = ring_d[rr + r0, cc + c0]
                else:
                    continue
                if dn == d - 1 and fw[rr + r0, cc + c0] == z:
                    codes[r, c] = CODES[k]
                    break
    return codes, dist


@njit(nogil=True, cache=True)
def flat_components(fw, cls):
    """Flat cells connected (8-neighbours, same filled elevation) to the tile's perimeter.

    ``fw`` is the filled window (tile + ring), ``cls`` the tile's classes. Returns the tile
    positions (r·nc + c) of those flat cells, of the drains next to them, and of every
    drain on the perimeter, with a flag 1 = drain, 2 = flat.
    """
    nr, nc = cls.shape
    seen = np.zeros((nr, nc), dtype=np.uint8)
    out = np.empty(1024, dtype=np.int64)
    kind = np.empty(1024, dtype=np.uint8)
    n = 0
    stack = np.empty(1024, dtype=np.int64)
    for r in range(nr):
        for c in range(nc):
            if ring_index(r, c, nr, nc) < 0 or seen[r, c] or cls[r, c] == C_NODATA:
                continue
            seen[r, c] = 1
            if n == out.size:
                out = _grow(out, n)
                kind = _grow(kind, n)
            out[n] = r * nc + c
            kind[n] = cls[r, c]
            n += 1
            if cls[r, c] != C_FLAT:
                continue
            top = 1
            stack[0] = r * nc + c
            while top > 0:
                top -= 1
                i = stack[top]
                rr0 = i // nc
                cc0 = i - rr0 * nc
                z = fw[rr0 + 1, cc0 + 1]
                for k in range(8):
                    rr = rr0 + DR[k]
                    cc = cc0 + DC[k]
                    if rr < 0 or rr >= nr or cc < 0 or cc >= nc or seen[rr, cc]:
                        continue
                    if cls[rr, cc] == C_NODATA or fw[rr + 1, cc + 1] != z:
                        continue
                    seen[rr, cc] = 1
                    if n == out.size:
                        out = _grow(out, n)
                        kind = _grow(kind, n)
                    out[n] = rr * nc + cc
                    kind[n] = cls[rr, cc]
                    n += 1
                    if cls[rr, cc] == C_FLAT:
                        if top == stack.size:
                            stack = _grow(stack, top)
                        stack[top] = rr * nc + cc
                        top += 1
    return out[:n].copy(), kind[:n].copy()


@njit(nogil=True, cache=True)
def bfs_graph(g, z, kind, ncol_global):
    """Breadth-first distance on the union of the tiles' flat summaries (global pass).

    ``g`` sorted global cell indices, ``z`` their filled elevations, ``kind`` 1 = drain,
    2 = flat. Drains are at 0; a flat cell is one step more than its nearest same-level
    neighbour in the set. Returns int32 distances (INF where unreachable).
    """
    n = g.size
    dist = np.full(n, INF, dtype=np.int32)
    queue = np.empty(max(n, 1), dtype=np.int64)
    qt = 0
    for i in range(n):
        if kind[i] == C_DRAIN:
            dist[i] = 0
            queue[qt] = i
            qt += 1
    qh = 0
    while qh < qt:
        i = queue[qh]
        qh += 1
        r = g[i] // ncol_global
        c = g[i] - r * ncol_global
        for k in range(8):
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < 0 or cc < 0 or cc >= ncol_global:
                continue
            t = rr * ncol_global + cc
            j = np.searchsorted(g, t)
            if j >= n or g[j] != t or kind[j] != C_FLAT or dist[j] != INF or z[j] != z[i]:
                continue
            dist[j] = dist[i] + 1
            queue[qt] = j
            qt += 1
    return dist


@njit(nogil=True, cache=True)
def minimax(indptr, nbr, wt):
    """Minimax distance of every node from node 0 (priority flood on a graph, CSR)."""
    n = indptr.size - 1
    level = np.full(n, np.inf)
    done = np.zeros(n, dtype=np.uint8)
    level[0] = -np.inf
    hk = np.empty(max(16, n), dtype=np.float64)
    hv = np.empty(max(16, n), dtype=np.int64)
    hs = 0
    hk[0] = -np.inf
    hv[0] = 0
    hs = 1
    while hs > 0:
        # pop
        key = hk[0]
        u = hv[0]
        hs -= 1
        lk = hk[hs]
        lv = hv[hs]
        i = 0
        while True:
            ch = 2 * i + 1
            if ch >= hs:
                break
            if ch + 1 < hs and hk[ch + 1] < hk[ch]:
                ch += 1
            if hk[ch] >= lk:
                break
            hk[i] = hk[ch]
            hv[i] = hv[ch]
            i = ch
        if hs > 0:
            hk[i] = lk
            hv[i] = lv
        if done[u] or key > level[u]:
            continue
        done[u] = 1
        for e in range(indptr[u], indptr[u + 1]):
            v = nbr[e]
            cand = max(key, wt[e])
            if cand < level[v]:
                level[v] = cand
                if hs == hk.size:
                    nk = np.empty(hk.size * 2, dtype=np.float64)
                    nv = np.empty(hk.size * 2, dtype=np.int64)
                    nk[:hs] = hk[:hs]
                    nv[:hs] = hv[:hs]
                    hk = nk
                    hv = nv
                i = hs
                hs += 1
                while i > 0:
                    p = (i - 1) >> 1
                    if hk[p] <= cand:
                        break
                    hk[i] = hk[p]
                    hv[i] = hv[p]
                    i = p
                hk[i] = cand
                hv[i] = v
    return level


# --------------------------------------------------------------- accumulation, D8
@njit(nogil=True, cache=True)
def d8_accumulate(codes, inject):
    """Cells draining through each tile cell, itself included, plus injected inflow.

    ``inject`` (float64, one per perimeter cell) is flow entering the tile from outside at
    that cell (in cells). Flow leaving the tile is dropped. float64, 0 at nodata.
    """
    nr, nc = codes.shape
    n = nr * nc
    flat = codes.ravel()
    indeg = np.zeros(n, dtype=np.uint8)
    acc = np.zeros(n, dtype=np.float64)
    for i in range(n):
        if flat[i] == NODATA:
            continue
        r = i // nc
        c = i - r * nc
        acc[i] = 1.0
        p = ring_index(r, c, nr, nc)
        if p >= 0 and inject.size > 0:
            acc[i] += inject[p]
        k = _DECODE[flat[i]]
        if k < 0:
            continue
        rr = r + DR[k]
        cc = c + DC[k]
        if 0 <= rr < nr and 0 <= cc < nc:
            indeg[rr * nc + cc] += 1
    for i in range(n):
        if indeg[i] != 0 or flat[i] == NODATA:
            continue
        j = i
        while True:
            indeg[j] = 255
            k = _DECODE[flat[j]]
            if k < 0:
                break
            r = j // nc
            rr = r + DR[k]
            cc = j - r * nc + DC[k]
            if rr < 0 or rr >= nr or cc < 0 or cc >= nc:
                break
            t = rr * nc + cc
            acc[t] += acc[j]
            indeg[t] -= 1
            if indeg[t] != 0:
                break
            j = t
    return acc.reshape((nr, nc))


@njit(nogil=True, cache=True)
def d8_links(codes, r0g, c0g, ncol_global):
    """Barnes (2017) perimeter links of one tile, for each perimeter cell p in ring order.

    Returns (kind, target): kind 0 = flow ends in the tile (outlet), 1 = reaches the
    perimeter cell ``target`` (global index) of the same tile first, 2 = leaves the tile
    directly into ``target`` (global index, a perimeter cell of a neighbour tile).
    """
    nr, nc = codes.shape
    nper = 2 * nc + 2 * (nr - 2)
    kind = np.zeros(nper, dtype=np.int8)
    target = np.full(nper, -1, dtype=np.int64)
    memo = np.full(nr * nc, -2, dtype=np.int64)  # -2 unknown, -1 none, else local index
    path = np.empty(1024, dtype=np.int64)
    for r in range(nr):
        for c in range(nc):
            p = ring_index(r, c, nr, nc)
            if p < 0:
                continue
            k = _DECODE[codes[r, c]]
            if k < 0:
                continue
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < 0 or rr >= nr or cc < 0 or cc >= nc:
                kind[p] = 2
                target[p] = (r0g + rr) * ncol_global + c0g + cc
                continue
            # walk to the first perimeter cell downstream (memoised on the way back)
            npath = 0
            j = rr * nc + cc
            res = -1
            while True:
                if memo[j] != -2:
                    res = memo[j]
                    break
                rj = j // nc
                cj = j - rj * nc
                if ring_index(rj, cj, nr, nc) >= 0:
                    res = j
                    break
                if npath == path.size:
                    path = _grow(path, npath)
                path[npath] = j
                npath += 1
                kj = _DECODE[codes[rj, cj]]
                if kj < 0:
                    res = -1
                    break
                j = (rj + DR[kj]) * nc + cj + DC[kj]
            for q in range(npath):
                memo[path[q]] = res
            if res >= 0:
                kind[p] = 1
                rres = res // nc
                target[p] = (r0g + rres) * ncol_global + c0g + res - rres * nc
    return kind, target


@njit(nogil=True, cache=True)
def d8_global(g, local, kind, target):
    """Barnes (2017) global pass over all perimeter cells (``g`` sorted global indices).

    ``local`` is each cell's tile-local accumulation, ``kind``/``target`` its link. Returns
    the inflow entering each perimeter cell from other tiles (cells).
    """
    n = g.size
    nxt = np.full(n, -1, dtype=np.int64)
    indeg = np.zeros(n, dtype=np.int32)
    for i in range(n):
        if kind[i] > 0:
            j = np.searchsorted(g, target[i])
            nxt[i] = j
            indeg[j] += 1
    extra = np.zeros(n)
    inflow = np.zeros(n)
    stack = np.empty(max(n, 1), dtype=np.int64)
    top = 0
    for i in range(n):
        if indeg[i] == 0:
            stack[top] = i
            top += 1
    while top > 0:
        top -= 1
        i = stack[top]
        j = nxt[i]
        if j < 0:
            continue
        if kind[i] == 1:
            extra[j] += extra[i]
        else:
            v = local[i] + extra[i]
            extra[j] += v
            inflow[j] += v
        indeg[j] -= 1
        if indeg[j] == 0:
            stack[top] = j
            top += 1
    return inflow


# -------------------------------------------------------------- accumulation, MFD
@njit(nogil=True, cache=True)
def mfd_tile(fw, codes, inject, dx, dy, exponent, contour_weighting, cardinal_only):
    """MFD accumulation of one tile (cells, itself included) with injected inflow.

    ``fw`` is the filled window (tile + ring), ``codes`` the tile's D8 codes, ``inject``
    (one per perimeter cell, or empty) inflow from other tiles. Weights as
    ``_routing.mfd_upstream_cells`` (same arithmetic, same order). Returns (acc, outflow):
    outflow[q] is the flow sent into ring cell q (ring order of the window).
    """
    nr, nc = codes.shape
    n = nr * nc
    wr = nr + 2
    wc = nc + 2
    dist = np.empty(8)
    clen = np.ones(8)
    diag = np.sqrt(dx * dx + dy * dy)
    for k in range(8):
        isdiag = DR[k] != 0 and DC[k] != 0
        dist[k] = diag if isdiag else (dx if DR[k] == 0 else dy)
        if contour_weighting:
            clen[k] = 0.354 if isdiag else 0.5
        if cardinal_only and isdiag:
            clen[k] = 0.0
    w = np.empty(8)
    flat = codes.ravel()
    indeg = np.zeros(n, dtype=np.uint8)
    acc = np.full(n, np.nan)
    outflow = np.zeros(2 * wc + 2 * (wr - 2))
    for i in range(n):
        if flat[i] == NODATA:
            continue
        r = i // nc
        c = i - r * nc
        acc[i] = 1.0
        p = ring_index(r, c, nr, nc)
        if p >= 0 and inject.size > 0:
            acc[i] += inject[p]
        if _weights(fw, flat, r, c, nc, dist, clen, exponent, w) == 0:
            continue
        for k in range(8):
            if w[k] > 0.0:
                rr = r + DR[k]
                cc = c + DC[k]
                if 0 <= rr < nr and 0 <= cc < nc:
                    indeg[rr * nc + cc] += 1
    stack = np.empty(max(1024, nr + nc), dtype=np.int64)
    for i in range(n):
        if flat[i] == NODATA or indeg[i] != 0:
            continue
        stack[0] = i
        top = 1
        while top > 0:
            top -= 1
            j = stack[top]
            indeg[j] = 255
            r = j // nc
            c = j - r * nc
            if _weights(fw, flat, r, c, nc, dist, clen, exponent, w) == 0:
                continue
            aj = acc[j]
            for k in range(8):
                if w[k] > 0.0:
                    rr = r + DR[k]
                    cc = c + DC[k]
                    if rr < 0 or rr >= nr or cc < 0 or cc >= nc:
                        outflow[ring_index(rr + 1, cc + 1, wr, wc)] += w[k] * aj
                        continue
                    t = rr * nc + cc
                    acc[t] += w[k] * aj
                    indeg[t] -= 1
                    if indeg[t] == 0:
                        if top == stack.size:
                            stack = _grow(stack, top)
                        stack[top] = t
                        top += 1
    return acc.reshape((nr, nc)), outflow


@njit(nogil=True, cache=True, inline="always")
def _weights(fw, flat, r, c, nc, dist, clen, exponent, w):
    """Flow fractions from tile cell (r, c) as ``_routing._mfd_weights`` (window coords +1)."""
    zi = fw[r + 1, c + 1]
    total = 0.0
    nrec = 0
    for k in range(8):
        w[k] = 0.0
        zj = fw[r + 1 + DR[k], c + 1 + DC[k]]
        if zj < zi and clen[k] > 0.0:
            t = (zi - zj) / dist[k]
            wk = (t if exponent == 1.0 else t**exponent) * clen[k]
            w[k] = wk
            total += wk
            nrec += 1
    if nrec > 0:
        for k in range(8):
            w[k] /= total
        return nrec
    k = _DECODE[flat[r * nc + c]]
    if k < 0:
        return 0
    if np.isnan(fw[r + 1 + DR[k], c + 1 + DC[k]]):
        return 0
    w[k] = 1.0
    return 1


@njit(nogil=True, cache=True)
def mfd_tile_delta(fw, codes, acc, delta, dx, dy, exponent, contour_weighting, cardinal_only):
    """Add to ``acc`` (IN PLACE) the MFD accumulation of extra inflow ``delta`` (one value per
    perimeter cell): accumulation is linear in the inflow, so a round after the first only
    walks the cells downstream of the perimeter cells whose inflow changed. Returns the
    extra outflow into the ring (ring order of the window)."""
    nr, nc = codes.shape
    n = nr * nc
    wr = nr + 2
    wc = nc + 2
    dist = np.empty(8)
    clen = np.ones(8)
    diag = np.sqrt(dx * dx + dy * dy)
    for k in range(8):
        isdiag = DR[k] != 0 and DC[k] != 0
        dist[k] = diag if isdiag else (dx if DR[k] == 0 else dy)
        if contour_weighting:
            clen[k] = 0.354 if isdiag else 0.5
        if cardinal_only and isdiag:
            clen[k] = 0.0
    w = np.empty(8)
    flat = codes.ravel()
    af = acc.ravel()
    outflow = np.zeros(2 * wc + 2 * (wr - 2))
    mark = np.zeros(n, dtype=np.uint8)
    indeg = np.zeros(n, dtype=np.uint8)
    extra = np.zeros(n)
    stack = np.empty(1024, dtype=np.int64)
    top = 0
    # the cells downstream of the changed perimeter cells, and their in-degree within them
    for r in range(nr):
        for c in range(nc):
            p = ring_index(r, c, nr, nc)
            if p < 0 or delta[p] == 0.0 or flat[r * nc + c] == NODATA:
                continue
            i = r * nc + c
            extra[i] += delta[p]
            if mark[i]:
                continue
            mark[i] = 1
            if top == stack.size:
                stack = _grow(stack, top)
            stack[top] = i
            top += 1
    while top > 0:
        top -= 1
        j = stack[top]
        r = j // nc
        c = j - r * nc
        if _weights(fw, flat, r, c, nc, dist, clen, exponent, w) == 0:
            continue
        for k in range(8):
            if w[k] > 0.0:
                rr = r + DR[k]
                cc = c + DC[k]
                if rr < 0 or rr >= nr or cc < 0 or cc >= nc:
                    continue
                t = rr * nc + cc
                indeg[t] += 1
                if not mark[t]:
                    mark[t] = 1
                    if top == stack.size:
                        stack = _grow(stack, top)
                    stack[top] = t
                    top += 1
    # Kahn's order over the marked cells, from those without marked donors
    top = 0
    for i in range(n):
        if mark[i] and indeg[i] == 0:
            if top == stack.size:
                stack = _grow(stack, top)
            stack[top] = i
            top += 1
    while top > 0:
        top -= 1
        j = stack[top]
        ej = extra[j]
        af[j] += ej
        r = j // nc
        c = j - r * nc
        if _weights(fw, flat, r, c, nc, dist, clen, exponent, w) == 0:
            continue
        for k in range(8):
            if w[k] > 0.0:
                rr = r + DR[k]
                cc = c + DC[k]
                if rr < 0 or rr >= nr or cc < 0 or cc >= nc:
                    outflow[ring_index(rr + 1, cc + 1, wr, wc)] += w[k] * ej
                    continue
                t = rr * nc + cc
                extra[t] += w[k] * ej
                indeg[t] -= 1
                if indeg[t] == 0:
                    if top == stack.size:
                        stack = _grow(stack, top)
                    stack[top] = t
                    top += 1
    return outflow


def route_bands(z: np.ndarray, dx: float, dy: float, *, blocks: int = 2):
    """:func:`route` of a whole DEM (no ring), its steepest-descent step on ``blocks`` bands
    of rows in parallel threads; the same codes and distances as ``route``."""
    from concurrent.futures import ThreadPoolExecutor

    nr, nc = z.shape
    codes = np.full((nr, nc), UNSET, dtype=np.uint8)
    dist = np.full((nr, nc), INF, dtype=np.int32)
    blocks = max(1, min(int(blocks), nr // 16))
    bounds = [nr * b // blocks for b in range(blocks + 1)]
    with ThreadPoolExecutor(max_workers=blocks) as pool:
        nflat = sum(
            pool.map(
                lambda b: steepest_rows(z, 0, 0, bounds[b], bounds[b + 1], dx, dy, codes, dist),
                range(blocks),
            )
        )
    return resolve_flats(z, 0, 0, np.empty((0, 0), dtype=np.int32), codes, dist, nflat)
