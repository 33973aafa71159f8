"""Numba kernels behind :mod:`pipeline.factors.terrain`: fill, D8/MFD routing, accumulation, slope.

Written by hand, and why no library call is used for each kernel:

- **Depression filling + D8 directions** (:func:`fill_and_route_d8`). pyflwdir 0.5.12
  ``dem.fill_depressions`` (Wang & Liu 2006 priority flood) is correct but pushes every cell
  through a heap of tuples: 11 s for 16 million cells here, which alone breaks the 12 s
  budget of the whole LS step. Its D8 is the flood-parent direction, not the steepest one
  (the "due-south plane flows SW" trap in DESIGN.md). The kernel here is the Priority-Flood
  of Barnes, Lehman & Mulla (2014, Computers & Geosciences 62: 117-127) with a plain FIFO
  "pit" queue for raised or level cells, a binary heap of packed 64-bit keys (float32
  elevation bits, cell index), and the slope tracing of Zhou, Sun & Fu (2016, Computers &
  Geosciences 90: 87-96), which closes cells rising from the current one without the heap;
  then a second pass sets every cell with a strictly lower neighbour to its steepest
  descent, slope = drop / distance (cardinal: cell size, diagonal: cell diagonal).
  tests/test_terrain.py checks that the filled surface equals pyflwdir's.
- **Parallel filling** (:func:`fill_depressions`, what :mod:`terrain` runs): the same flood
  on two bands of rows in two threads (:func:`fill_rows`, no D8 pass, a 4-ary heap: on the
  16 M-cell benchmark DEM 5.3 M cells pass through the heap, whose front reaches 1.8 M
  cells, and the shallower heap takes ~20 % off the flood), joined by Barnes's (2016)
  spill graph and a final raise; the filled surface is unique, so it is bit for bit the
  serial one (tests). The D8 codes come from the filled surface alone
  (``_tiled_kernels.route_bands``, its stencil step on two bands too).
  Profile of ``ls_factor`` on the 16 M-cell benchmark DEM, CPU seconds on this 2-core
  machine shared with other jobs (load average 4-9), before → after the parallel steps:
  GeoTIFF read 1.0 (2 dask threads; once, it was read twice), fill 5.1 serial → 4.3 on 2
  threads (3.7 in the two floods, 0.2 spill graph, 0.4 raise; ≈ 2.2 s wall on a free
  machine), route 1.2 → 0.9 on 2 threads, MFD accumulation 5.8 → 4.3 (serial), LS chunks
  2.6 (2 dask threads), imports 1.1-2 s wall, numba cache loading ≈ 0.4 s.
- **D8 accumulation** (:func:`d8_upstream_counts`). pyflwdir's ``FlwdirRaster`` builds
  int32/int64 index and sequence arrays (8-16 bytes per cell) before it accumulates; the
  capped, tiled accumulation needs a stack-free kernel using 5 bytes per cell that runs on
  one dask window at a time. The result is checked against pyflwdir's ``upstream_area`` in
  the tests, and the pysheds reference grid is accumulated with pyflwdir itself.
- **MFD** (:func:`mfd_upstream_cells`): no maintained Python library offers multiple flow
  direction accumulation on arrays (pyflwdir is D8/LDD only; pysheds needs its own Grid and
  float64 copies; InVEST/pygeoprocessing has no Linux wheel). Weights f_i ∝ (tan β_i)^p · L_i
  over the strictly lower neighbours: Freeman (1991, Computers & Geosciences 17(3):
  413-422) p = 1.1, L = 1; Quinn et al. (1991, Hydrological Processes 5: 59-79) p = 1,
  contour lengths L = 0.5 (cardinal) and 0.354 (diagonal); with ``cardinal_only`` the
  diagonal L is 0 (the default of :mod:`terrain`, see there why). Serial (Kahn's order from
  a stack; a parallel version by row bands needs rounds of flow across the cut, and on a
  DEM tilted towards one band the second round walks most of that band again). On the
  16 M-cell benchmark DEM the in-degree pass takes 0.3 s of CPU, the traversal 3.8 s even
  with the weights replaced by a bare lower-neighbour test (the weights add ~1 s): it is
  bound by memory latency (float64 accumulation, stack order). Tried and dropped: scanning
  sources from the other end (same time), alternating row sweeps without a stack (320
  sweeps, 3× slower).
- **Horn slope** (:func:`horn_gradient`): a 3×3 stencil; written here so that missing
  neighbours (grid edge, NaN) are replaced by the linear extrapolation 2·z₀ − z_opposite,
  which makes the slope exact on planes right up to the edge.

Direction codes are the ESRI/pyflwdir D8 codes: E 1, SE 2, S 4, SW 8, W 16, NW 32, N 64,
NE 128 (rows grow southward), 0 = outlet (flow leaves the grid or enters nodata), 247 = nodata.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# neighbour k = 0..7: E, SE, S, SW, W, NW, N, NE
DR = np.array([0, 1, 1, 1, 0, -1, -1, -1], dtype=np.int64)
DC = np.array([1, 1, 0, -1, -1, -1, 0, 1], dtype=np.int64)
CODES = np.array([1, 2, 4, 8, 16, 32, 64, 128], dtype=np.uint8)
OUTLET = np.uint8(0)
NODATA = np.uint8(247)
_UNSET = np.uint8(255)
BAND_MIN_ROWS = 64  # fill_depressions: rows per band at least (a smaller DEM: one band)
_DECODE = np.full(256, -1, dtype=np.int64)
for _k, _code in enumerate(CODES):
    _DECODE[_code] = _k


@njit(nogil=True, cache=True, inline="always")
def _sortable(bits):
    # order-preserving map of IEEE-754 float32 bits to uint32 (NaN never queued)
    if bits & np.uint32(0x80000000):
        return (~bits) & np.uint32(0xFFFFFFFF)
    return bits | np.uint32(0x80000000)


@njit(nogil=True, cache=True)
def _heap_push(heap, size, key):
    if size == heap.size:
        heap = _grow(heap, size)
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if heap[parent] <= key:
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = key
    return heap, size + 1


@njit(nogil=True, cache=True)
def _heap_pop(heap, size):
    top = heap[0]
    size -= 1
    last = heap[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= last:
            break
        heap[i] = heap[child]
        i = child
    if size > 0:
        heap[i] = last
    return top, size


@njit(nogil=True, cache=True)
def _grow(arr, n):
    new = np.empty(arr.size * 2, dtype=arr.dtype)
    new[:n] = arr[:n]
    return new


@njit(nogil=True, cache=True)
def _grow_from(arr, head, tail):
    new = np.empty(arr.size * 2, dtype=arr.dtype)
    new[: tail - head] = arr[head:tail]
    return new


@njit(nogil=True, cache=True, inline="always")
def _push4(heap, size, key):
    """Push onto a 4-ary min-heap of packed keys (shallower than a binary heap: fewer
    cache misses on the large flood fronts of a 16 M-cell DEM)."""
    if size == heap.size:
        heap = _grow(heap, size)
    i = size
    while i > 0:
        parent = (i - 1) >> 2
        if heap[parent] <= key:
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = key
    return heap, size + 1


@njit(nogil=True, cache=True, inline="always")
def _pop4(heap, size):
    top = heap[0]
    size -= 1
    last = heap[size]
    i = 0
    while True:
        child = 4 * i + 1
        if child >= size:
            break
        best = child
        bkey = heap[child]
        for ch in range(child + 1, min(child + 4, size)):
            if heap[ch] < bkey:
                bkey = heap[ch]
                best = ch
        if bkey >= last:
            break
        heap[i] = bkey
        i = best
    if size > 0:
        heap[i] = last
    return top, size


@njit(nogil=True, cache=True)
def fill_rows(z, ra, rb, lab, nan_label, base_top, base_bottom):
    """Priority-Flood of rows [ra, rb) of ``z`` IN PLACE, labelled (Barnes 2016, pass 1).

    ``z`` is the whole C-contiguous float32 DEM (NaN = nodata); only rows [ra, rb) are read
    beyond their neighbours' NaN test and written. Seeds: valid cells on the grid edge or
    8-adjacent to nodata ("ocean", label 1), and, where the block is cut from the rest of the
    grid, the cells of its first row (ra > 0; label ``base_top`` + column) and of its last
    row (rb < nrow; ``base_bottom`` + column). ``lab`` (whole-grid, unsigned or int32) gets
    the label of the seed whose flood reached each cell, ``nan_label`` at nodata. Queues as
    :func:`fill_and_route_d8` (FIFO for raised or level cells, Zhou et al. 2016 slope
    tracing, 4-ary heap); :func:`label_edges` then lists where the floods meet.

    With one block (ra = 0, rb = nrow) every label is 1 and ``z`` is the filled DEM.
    """
    nrow, ncol = z.shape
    zf = z.ravel()
    zbits = zf.view(np.uint32)
    i0 = ra * ncol
    i1 = rb * ncol
    heap = np.empty(max(1024, 4 * (rb - ra + ncol)), dtype=np.uint64)
    hsize = 0
    any_nan = False
    r_lo = max(ra - 1, 0)
    r_hi = min(rb + 1, nrow)
    for i in range(r_lo * ncol, r_hi * ncol):
        if np.isnan(zf[i]):
            any_nan = True
            if i0 <= i < i1:
                lab[i] = nan_label
        elif i0 <= i < i1:
            lab[i] = 0
    for r in range(ra, rb):
        for c in range(ncol):
            i = r * ncol + c
            if lab[i] == nan_label:
                continue
            label = 0
            if r == 0 or c == 0 or r == nrow - 1 or c == ncol - 1:
                label = 1
            elif any_nan:
                for k in range(8):
                    if np.isnan(zf[(r + DR[k]) * ncol + c + DC[k]]):
                        label = 1
                        break
            if label == 0:
                if r == ra and ra > 0:
                    label = base_top + c
                elif r == rb - 1 and rb < nrow:
                    label = base_bottom + c
            if label > 0:
                lab[i] = label
                key = (np.uint64(_sortable(zbits[i])) << np.uint64(32)) | np.uint64(i)
                heap, hsize = _push4(heap, hsize, key)
    pit = np.empty(1024, dtype=np.int64)
    head = 0
    tail = 0
    trace = np.empty(1024, dtype=np.int64)
    mask32 = np.uint64(0xFFFFFFFF)
    while True:
        if head < tail:
            i = pit[head]
            head += 1
        elif hsize > 0:
            key, hsize = _pop4(heap, hsize)
            i = np.int64(key & mask32)
        else:
            break
        zi = zf[i]
        li = lab[i]
        r = i // ncol
        c = i - r * ncol
        th = 0
        tt = 0
        for k in range(8):
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < ra or rr >= rb or cc < 0 or cc >= ncol:
                continue
            j = rr * ncol + cc
            if lab[j] != 0:
                continue
            lab[j] = li
            if zf[j] <= zi:
                zf[j] = zi
                if tail == pit.size:
                    if head > pit.size // 2:
                        pit[: tail - head] = pit[head:tail]
                    else:
                        pit = _grow_from(pit, head, tail)
                    tail -= head
                    head = 0
                pit[tail] = j
                tail += 1
            else:
                if tt == trace.size:
                    trace = _grow(trace, tt)
                trace[tt] = j
                tt += 1
        # Zhou, Sun & Fu (2016) slope tracing, as in fill_and_route_d8
        while th < tt:
            t = trace[th]
            th += 1
            zt = zf[t]
            lt = lab[t]
            rt = t // ncol
            ct = t - rt * ncol
            to_heap = False
            for k in range(8):
                rr = rt + DR[k]
                cc = ct + DC[k]
                if rr < ra or rr >= rb or cc < 0 or cc >= ncol:
                    continue
                j = rr * ncol + cc
                if lab[j] != 0:
                    continue
                if zf[j] >= zt:
                    lab[j] = lt
                    if tt == trace.size:
                        if th > trace.size // 2:
                            trace[: tt - th] = trace[th:tt]
                        else:
                            trace = _grow_from(trace, th, tt)
                        tt -= th
                        th = 0
                    trace[tt] = j
                    tt += 1
                else:
                    to_heap = True
            if to_heap:
                key = (np.uint64(_sortable(zbits[t])) << np.uint64(32)) | np.uint64(t)
                heap, hsize = _push4(heap, hsize, key)


@njit(nogil=True, cache=True)
def label_edges(z, ra, rb, lab, nan_label):
    """After :func:`fill_rows`: every pair of 8-adjacent cells of rows [ra, rb) with
    different labels, as (label a, label b, max of their flood levels), the level at which
    the two floods meet (Barnes 2016's spill graph). Pairs with the same labels are
    reduced to their lowest level while scanning consecutive cells."""
    nrow, ncol = z.shape
    zf = z.ravel()
    ea = np.empty(1024, dtype=np.int64)
    eb = np.empty(1024, dtype=np.int64)
    ew = np.empty(1024, dtype=np.float32)
    ne = 0
    for r in range(ra, rb):
        for c in range(ncol):
            i = r * ncol + c
            li = np.int64(lab[i])
            if li == nan_label:
                continue
            for k in range(4):  # E, SE, S, SW: each pair once
                rr = r + DR[k]
                cc = c + DC[k]
                if rr >= rb or cc < 0 or cc >= ncol:
                    continue
                j = rr * ncol + cc
                lj = np.int64(lab[j])
                if lj == li or lj == nan_label:
                    continue
                a = min(li, lj)
                b = max(li, lj)
                w = max(zf[i], zf[j])
                if ne > 0 and ea[ne - 1] == a and eb[ne - 1] == b:
                    if w < ew[ne - 1]:
                        ew[ne - 1] = w
                    continue
                if ne == ea.size:
                    ea = _grow(ea, ne)
                    eb = _grow(eb, ne)
                    ew = _grow(ew, ne)
                ea[ne] = a
                eb[ne] = b
                ew[ne] = w
                ne += 1
    return ea[:ne].copy(), eb[:ne].copy(), ew[:ne].copy()


@njit(nogil=True, cache=True)
def raise_rows(z, ra, rb, lab, nan_label, level):
    """Barnes (2016) last step, rows [ra, rb): z = max(z, level[label]) IN PLACE."""
    ncol = z.shape[1]
    zf = z.ravel()
    for i in range(ra * ncol, rb * ncol):
        li = lab[i]
        if li != nan_label and level[li] > zf[i]:
            zf[i] = level[li]


@njit(nogil=True, cache=True)
def fill_and_route_d8(z, dx, dy):
    """Fill depressions of ``z`` IN PLACE and return D8 codes (uint8, same shape).

    ``z`` is a C-contiguous float32 array, NaN = nodata. Seeds (outlets) are the valid
    cells on the grid edge or 8-adjacent to nodata. After the priority flood every valid
    cell with a strictly lower neighbour points to the steepest one (drop / distance;
    exact ties go to the first of E, SE, S, SW, W, NW, N, NE); cells without one keep the
    flood-parent direction (flats: towards the spill point, in FIFO order) and seeds
    without one become outlets (code 0). The graph is acyclic: steepest edges strictly
    descend, flood-parent edges stay level and point to a cell dequeued earlier.
    """
    nrow, ncol = z.shape
    n = nrow * ncol
    zf = z.ravel()
    zbits = zf.view(np.uint32)
    d8 = np.full(n, _UNSET, dtype=np.uint8)
    for i in range(n):
        if np.isnan(zf[i]):
            d8[i] = NODATA
    heap = np.empty(max(1024, 4 * (nrow + ncol)), dtype=np.uint64)
    hsize = 0
    any_nan = False
    for i in range(n):
        if d8[i] == NODATA:
            any_nan = True
            break
    # seeds: edge of the valid region
    for r in range(nrow):
        for c in range(ncol):
            i = r * ncol + c
            if d8[i] == NODATA:
                continue
            seed = r == 0 or c == 0 or r == nrow - 1 or c == ncol - 1
            if any_nan and not seed:
                for k in range(8):
                    if d8[(r + DR[k]) * ncol + c + DC[k]] == NODATA:
                        seed = True
                        break
            if seed:
                d8[i] = OUTLET
                key = (np.uint64(_sortable(zbits[i])) << np.uint64(32)) | np.uint64(i)
                heap, hsize = _heap_push(heap, hsize, key)
    pit = np.empty(1024, dtype=np.int64)
    head = 0
    tail = 0
    trace = np.empty(1024, dtype=np.int64)
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
        zi = zf[i]
        r = i // ncol
        c = i - r * ncol
        th = 0
        tt = 0
        for k in range(8):
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < 0 or rr >= nrow or cc < 0 or cc >= ncol:
                continue
            j = rr * ncol + cc
            if d8[j] != _UNSET:
                continue
            d8[j] = CODES[(k + 4) % 8]  # from j back to i
            if zf[j] <= zi:
                zf[j] = zi
                if tail == pit.size:
                    if head > pit.size // 2:
                        pit[: tail - head] = pit[head:tail]
                    else:
                        new = np.empty(pit.size * 2, dtype=np.int64)
                        new[: tail - head] = pit[head:tail]
                        pit = new
                    tail -= head
                    head = 0
                pit[tail] = j
                tail += 1
            else:
                if tt == trace.size:
                    trace = _grow(trace, tt)
                trace[tt] = j
                tt += 1
        # Zhou, Sun & Fu (2016): a cell closed above the current level keeps its own
        # elevation, and so does every unclosed neighbour that is not lower than it: those
        # are closed at once ("traced" up the slope) without the heap. A traced cell with a
        # strictly lower unclosed neighbour must finish in level order, so it goes to the heap.
        while th < tt:
            t = trace[th]
            th += 1
            zt = zf[t]
            rt = t // ncol
            ct = t - rt * ncol
            to_heap = False
            for k in range(8):
                rr = rt + DR[k]
                cc = ct + DC[k]
                if rr < 0 or rr >= nrow or cc < 0 or cc >= ncol:
                    continue
                j = rr * ncol + cc
                if d8[j] != _UNSET:
                    continue
                if zf[j] >= zt:
                    d8[j] = CODES[(k + 4) % 8]
                    if tt == trace.size:
                        if th > trace.size // 2:
                            trace[: tt - th] = trace[th:tt]
                        else:
                            trace = _grow_from(trace, th, tt)
                        tt -= th
                        th = 0
                    trace[tt] = j
                    tt += 1
                else:
                    to_heap = True
            if to_heap:
                key = (np.uint64(_sortable(zbits[t])) << np.uint64(32)) | np.uint64(t)
                heap, hsize = _heap_push(heap, hsize, key)
    # steepest descent where a strictly lower neighbour exists
    dist = np.empty(8)
    diag = np.sqrt(dx * dx + dy * dy)
    for k in range(8):
        dist[k] = diag if (DR[k] != 0 and DC[k] != 0) else (dx if DR[k] == 0 else dy)
    for r in range(nrow):
        for c in range(ncol):
            i = r * ncol + c
            if d8[i] == NODATA:
                continue
            zi = zf[i]
            best = 0.0
            bestk = -1
            for k in range(8):
                rr = r + DR[k]
                cc = c + DC[k]
                if rr < 0 or rr >= nrow or cc < 0 or cc >= ncol:
                    continue
                zj = zf[rr * ncol + cc]
                if zj < zi:  # False for NaN
                    s = (zi - zj) / dist[k]
                    if s > best:
                        best = s
                        bestk = k
            if bestk >= 0:
                d8[i] = CODES[bestk]
    return d8.reshape((nrow, ncol))


@njit(nogil=True, cache=True)
def d8_upstream_counts(d8):
    """Number of cells draining through each cell, itself included (uint32; 0 at nodata).

    Flow leaving the array (outlets, codes pointing outside or into nodata) is dropped,
    so on a window this is the window-local accumulation. Stack-free: each cell is walked
    once, from cells without donors downstream while the next cell's donors are done.
    """
    nrow, ncol = d8.shape
    n = nrow * ncol
    flat = d8.ravel()
    indeg = np.zeros(n, dtype=np.uint8)
    counts = np.zeros(n, dtype=np.uint32)
    for i in range(n):
        k = _DECODE[flat[i]]
        if flat[i] == NODATA:
            continue
        counts[i] = 1
        if k < 0:
            continue
        r = i // ncol
        rr = r + DR[k]
        cc = i - r * ncol + DC[k]
        if rr < 0 or rr >= nrow or cc < 0 or cc >= ncol:
            continue
        j = rr * ncol + cc
        if flat[j] != NODATA:
            indeg[j] += 1
    done = np.uint8(255)
    for i in range(n):
        if indeg[i] != 0 or flat[i] == NODATA:
            continue
        j = i
        while True:
            indeg[j] = done
            k = _DECODE[flat[j]]
            if k < 0:
                break
            r = j // ncol
            rr = r + DR[k]
            cc = j - r * ncol + DC[k]
            if rr < 0 or rr >= nrow or cc < 0 or cc >= ncol:
                break
            t = rr * ncol + cc
            if flat[t] == NODATA:
                break
            counts[t] += counts[j]
            indeg[t] -= 1
            if indeg[t] != 0:
                break
            j = t
    return counts.reshape((nrow, ncol))


@njit(nogil=True, cache=True, inline="always")
def _mfd_weights(zf, d8, i, r, c, nrow, ncol, dist, clen, exponent, w, ks, nk):
    """Fill w[0..8) with flow fractions from cell i; return the number of receivers.

    ``ks[:nk]`` lists the directions whose contour length ``clen`` is > 0, ascending."""
    zi = zf[i]
    total = 0.0
    nrec = 0
    for k in range(8):
        w[k] = 0.0
    for kk in range(nk):  # the directions with a contour length, in order
        k = ks[kk]
        rr = r + DR[k]
        cc = c + DC[k]
        if rr < 0 or rr >= nrow or cc < 0 or cc >= ncol:
            continue
        zj = zf[rr * ncol + cc]
        if zj < zi:
            t = (zi - zj) / dist[k]
            wk = (t if exponent == 1.0 else t**exponent) * clen[k]
            w[k] = wk
            total += wk
            nrec += 1
    if nrec > 0:
        for kk in range(nk):
            w[ks[kk]] /= total
        return nrec
    k = _DECODE[d8[i]]
    if k < 0:
        return 0
    rr = r + DR[k]
    cc = c + DC[k]
    if rr < 0 or rr >= nrow or cc < 0 or cc >= ncol or d8[rr * ncol + cc] == NODATA:
        return 0
    w[k] = 1.0
    return 1


@njit(nogil=True, cache=True)
def mfd_upstream_cells(zfill, d8, dx, dy, exponent, contour_weighting, cardinal_only):
    """MFD accumulation in cell units (float64, itself included; NaN at nodata).

    ``zfill`` is the depression-filled float32 surface and ``d8`` the codes from
    :func:`fill_and_route_d8`: a cell with strictly lower neighbours splits its flow among
    them (Freeman 1991 / Quinn et al. 1991 weights), a cell without any follows its D8
    flood-parent code (flats) or is an outlet. Kahn's topological order with a stack.
    """
    nrow, ncol = zfill.shape
    n = nrow * ncol
    zf = zfill.ravel()
    flat = d8.ravel()
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
    indeg = np.zeros(n, dtype=np.uint8)
    acc = np.empty(n)
    # in-degrees: the receivers of _mfd_weights (its weights are > 0 exactly for the lower
    # neighbours with a contour length, else the D8 target), without the divisions
    ks = np.empty(8, dtype=np.int64)
    nk = 0
    for k in range(8):
        if clen[k] > 0.0:
            ks[nk] = k
            nk += 1
    off = np.empty(8, dtype=np.int64)
    for k in range(8):
        off[k] = DR[k] * ncol + DC[k]
    for r in range(nrow):
        inner_row = 0 < r < nrow - 1
        for c in range(ncol):
            i = r * ncol + c
            code = flat[i]
            if code == NODATA:
                acc[i] = np.nan
                continue
            acc[i] = 1.0
            zi = zf[i]
            nrec = 0
            inner = inner_row and 0 < c < ncol - 1
            for kk in range(nk):
                k = ks[kk]
                if not inner:
                    rr = r + DR[k]
                    cc = c + DC[k]
                    if rr < 0 or rr >= nrow or cc < 0 or cc >= ncol:
                        continue
                j = i + off[k]
                if zf[j] < zi:
                    indeg[j] += 1
                    nrec += 1
            if nrec == 0:
                k = _DECODE[code]
                if k < 0:
                    continue
                rr = r + DR[k]
                cc = c + DC[k]
                if 0 <= rr < nrow and 0 <= cc < ncol and flat[i + off[k]] != NODATA:
                    indeg[i + off[k]] += 1
    stack = np.empty(max(1024, nrow + ncol), dtype=np.int64)
    top = 0
    for i in range(n):
        if flat[i] == NODATA or indeg[i] != 0:
            continue
        stack[0] = i
        top = 1
        while top > 0:
            top -= 1
            j = stack[top]
            indeg[j] = 255  # done: the outer loop must not start from it again
            r = j // ncol
            c = j - r * ncol
            if _mfd_weights(zf, flat, j, r, c, nrow, ncol, dist, clen, exponent, w, ks, nk) == 0:
                continue
            aj = acc[j]
            for k in range(8):
                if w[k] > 0.0:
                    t = j + off[k]
                    acc[t] += w[k] * aj
                    indeg[t] -= 1
                    if indeg[t] == 0:
                        if top == stack.size:
                            new = np.empty(stack.size * 2, dtype=np.int64)
                            new[:top] = stack[:top]
                            stack = new
                        stack[top] = t
                        top += 1
    return acc.reshape((nrow, ncol))


@njit(nogil=True, cache=True)
def _horn_at(z, r, c, dx, dy):
    """Horn (1981) (dz/dx eastward, dz/dy southward) at z[r, c] (not NaN), as float64.

    A missing cardinal neighbour (outside the array or NaN) is replaced by 2·z₀ − z_opposite
    (z₀ when that is missing too), a missing diagonal one by the plane through z₀ and its two
    cardinal neighbours, so planes get their exact gradient up to edges and corners.
    """
    nrow, ncol = z.shape
    z0 = np.float64(z[r, c])
    if 0 < r < nrow - 1 and 0 < c < ncol - 1:
        a0 = np.float64(z[r - 1, c - 1])
        b0 = np.float64(z[r - 1, c])
        c0 = np.float64(z[r - 1, c + 1])
        d0 = np.float64(z[r, c - 1])
        f0 = np.float64(z[r, c + 1])
        g0 = np.float64(z[r + 1, c - 1])
        h0 = np.float64(z[r + 1, c])
        i0 = np.float64(z[r + 1, c + 1])
        if not np.isnan(a0 + b0 + c0 + d0 + f0 + g0 + h0 + i0):  # fast path
            gx = ((c0 + 2.0 * f0 + i0) - (a0 + 2.0 * d0 + g0)) / (8.0 * dx)
            gy = ((g0 + 2.0 * h0 + i0) - (a0 + 2.0 * b0 + c0)) / (8.0 * dy)
            return gx, gy
    v = np.empty((3, 3))
    v[1, 1] = z0
    for a in range(-1, 2):  # cardinal neighbours
        for b in range(-1, 2):
            if (a == 0) == (b == 0):
                continue
            val = np.nan
            if 0 <= r + a < nrow and 0 <= c + b < ncol:
                val = np.float64(z[r + a, c + b])
            if np.isnan(val):
                opp = np.nan
                if 0 <= r - a < nrow and 0 <= c - b < ncol:
                    opp = np.float64(z[r - a, c - b])
                val = z0 if np.isnan(opp) else 2.0 * z0 - opp
            v[a + 1, b + 1] = val
    for a in (-1, 1):  # diagonal neighbours
        for b in (-1, 1):
            val = np.nan
            if 0 <= r + a < nrow and 0 <= c + b < ncol:
                val = np.float64(z[r + a, c + b])
            if np.isnan(val):
                val = v[a + 1, 1] + v[1, b + 1] - z0
            v[a + 1, b + 1] = val
    gx = ((v[0, 2] + 2.0 * v[1, 2] + v[2, 2]) - (v[0, 0] + 2.0 * v[1, 0] + v[2, 0])) / (8.0 * dx)
    gy = ((v[2, 0] + 2.0 * v[2, 1] + v[2, 2]) - (v[0, 0] + 2.0 * v[0, 1] + v[0, 2])) / (8.0 * dy)
    return gx, gy


@njit(nogil=True, cache=True)
def horn_gradient(z, dx, dy):
    """Horn (1981) gradient of a whole array: (gx, gy) float64, NaN at nodata (see _horn_at)."""
    nrow, ncol = z.shape
    gx = np.full((nrow, ncol), np.nan)
    gy = np.full((nrow, ncol), np.nan)
    for r in range(nrow):
        for c in range(ncol):
            if not np.isnan(z[r, c]):
                gx[r, c], gy[r, c] = _horn_at(z, r, c, dx, dy)
    return gx, gy


# method codes for terrain_block
M_CHINA, M_MCCOOL = 0, 1
S_CHINA, S_MCCOOL = 0, 1


@njit(nogil=True, cache=True, inline="always")
def _rise(q, p):
    """(q + 1)^p − q^p without cancellation (q = A_in / D², p = m + 1)."""
    if q > 0.0:
        return q**p * np.expm1(p * np.log1p(1.0 / q))
    return 1.0


@njit(nogil=True, cache=True)
def terrain_block(
    z, r0, c0, cells, codes, channel, dx, dy, cap, m_method, s_method, aspect_x, slots, out
):
    """Slope, inlet area, L, S and LS for one block, fused (no float64 temporaries).

    ``z`` is the elevation window: the block plus a 1-cell halo where a neighbour block
    exists, the block starting at (r0, c0). ``cells`` (block-shaped) counts the cells
    draining through each cell (itself included); ``codes`` are the D8 codes, ``channel``
    a block-shaped boolean mask (or a 0×0 array: none), ``cap`` λ_max in m (≤ 0: none).
    ``aspect_x`` selects x from the Horn aspect (MFD) instead of the D8 code. Of slope_deg,
    A_in (m²), L, S and LS (layers 0-4) layer k goes to ``out[slots[k]]`` (float32, rows,
    cols), or nowhere if ``slots[k]`` < 0. Formulas as in :mod:`pipeline.factors.terrain`,
    whose pointwise functions are checked against this kernel in the tests.

    L = (D / (22.13·x))^m · ((q + 1)^(m+1) − q^(m+1)) with q = A_in / D², which is Desmet &
    Govers' expression divided through by D^(2m+2). For D8 with the Chinese m classes and a
    cap, q is an integer below the cap or the cap itself, so both factors come from small
    tables computed once per block with the same functions.
    """
    nrow, ncol = codes.shape
    cell_area = dx * dy
    d = np.sqrt(cell_area)
    x_diag = (dx + dy) / np.sqrt(dx * dx + dy * dy)
    has_channel = channel.shape[0] > 0
    m_classes = np.array([0.2, 0.3, 0.4, 0.5])
    x_values = np.array([1.0, x_diag])
    tables = (not aspect_x) and m_method == M_CHINA and cap > 0.0
    q_cap = np.empty(2)
    for xi in range(2):
        q_cap[xi] = max(cap * d * x_values[xi] - cell_area, 0.0) / cell_area
    n_int = int(np.ceil(q_cap[1])) + 1 if tables else 0
    coef = np.empty((4, 2))
    rise_int = np.empty((4, n_int))
    rise_cap = np.empty((4, 2))
    if tables:
        for mi in range(4):
            m = m_classes[mi]
            for xi in range(2):
                coef[mi, xi] = (d / (22.13 * x_values[xi])) ** m
                rise_cap[mi, xi] = _rise(q_cap[xi], m + 1.0)
            for q in range(n_int):
                rise_int[mi, q] = _rise(np.float64(q), m + 1.0)
    for r in range(nrow):
        for c in range(ncol):
            code = codes[r, c]
            if code == NODATA or np.isnan(z[r + r0, c + c0]):
                for k in range(5):
                    if slots[k] >= 0:
                        out[slots[k], r, c] = np.nan
                continue
            gx, gy = _horn_at(z, r + r0, c + c0, dx, dy)
            tan = np.sqrt(gx * gx + gy * gy)
            deg = np.degrees(np.arctan(tan))
            sin = tan / np.sqrt(1.0 + tan * tan)
            if m_method == M_CHINA:
                mi = 0 if deg < 0.5 else (1 if deg < 1.5 else (2 if deg < 3.0 else 3))
                m = m_classes[mi]
            else:
                beta = (sin / 0.0896) / (3.0 * sin**0.8 + 0.56)
                m = beta / (1.0 + beta)
                mi = -1
            if s_method == S_CHINA:
                if deg < 5.0:
                    s = 10.8 * sin + 0.03
                elif deg < 10.0:
                    s = 16.8 * sin - 0.5
                else:
                    s = 21.91 * sin - 0.96
            else:
                s = 10.8 * sin + 0.03 if tan < 0.09 else 16.8 * sin - 0.5
            q = np.float64(cells[r, c]) - 1.0
            if tables:
                xi = 1 if (code == 2 or code == 8 or code == 32 or code == 128) else 0
                if q >= q_cap[xi]:
                    q = q_cap[xi]
                    lf = coef[mi, xi] * rise_cap[mi, xi]
                else:
                    lf = coef[mi, xi] * rise_int[mi, int(q)]
            else:
                if aspect_x:
                    x = (abs(gx) + abs(gy)) / tan if tan > 0.0 else 1.0
                else:
                    x = x_diag if (code == 2 or code == 8 or code == 32 or code == 128) else 1.0
                if cap > 0.0:
                    qc = max(cap * d * x - cell_area, 0.0) / cell_area
                    if q > qc:
                        q = qc
                lf = (d / (22.13 * x)) ** m * _rise(q, m + 1.0)
            if has_channel and channel[r, c]:
                lf = 0.0
            if slots[0] >= 0:
                out[slots[0], r, c] = deg
            if slots[1] >= 0:
                out[slots[1], r, c] = q * cell_area
            if slots[2] >= 0:
                out[slots[2], r, c] = lf
            if slots[3] >= 0:
                out[slots[3], r, c] = s
            if slots[4] >= 0:
                out[slots[4], r, c] = lf * s


def fill_depressions(z: np.ndarray, *, blocks: int = 2) -> None:
    """Fill the depressions of the float32 DEM ``z`` IN PLACE (NaN = nodata), on ``blocks``
    bands of rows in parallel threads (the kernels release the GIL).

    Barnes (2016, Computers & Geosciences 88: 1-8, "Parallel Priority-Flood depression
    filling for trillion cell digital elevation models"), "retain" variant with one cut per
    pair of bands: each band is flooded alone (:func:`fill_rows`) with its cut rows as
    labelled seeds; the spill levels between labels, plus the edges across the cuts (the
    higher of the two cells), form a graph whose minimax distance from the ocean is each
    label's level; every cell is then raised to its label's level (:func:`raise_rows`). The
    filled surface is unique (the least depression-free surface above the DEM), so it is the
    same for any number of bands, and equals :func:`fill_and_route_d8`'s (tests).
    """
    from concurrent.futures import ThreadPoolExecutor

    from pipeline.factors._tiled_kernels import minimax

    nrow, ncol = z.shape
    blocks = max(1, min(int(blocks), nrow // BAND_MIN_ROWS))
    bounds = [nrow * b // blocks for b in range(blocks + 1)]
    n_labels = 2 + 2 * ncol * (blocks - 1)
    dtype = np.uint16 if n_labels < np.iinfo(np.uint16).max else np.int32
    nan_label = n_labels  # labels: 1 ocean, 2 + 2·ncol·cut + (0 | ncol) + column
    if blocks == 1:
        fill_rows(z, 0, nrow, np.empty(nrow * ncol, dtype=dtype), nan_label, 0, 0)
        return
    lab = np.empty(nrow * ncol, dtype=dtype)

    def band(b):
        base_top = 2 + 2 * ncol * (b - 1) + ncol
        base_bottom = 2 + 2 * ncol * b
        fill_rows(z, bounds[b], bounds[b + 1], lab, nan_label, base_top, base_bottom)
        return label_edges(z, bounds[b], bounds[b + 1], lab, nan_label)

    with ThreadPoolExecutor(max_workers=blocks) as pool:
        edges = list(pool.map(band, range(blocks)))
    eu = [e[0] for e in edges]
    ev = [e[1] for e in edges]
    ew = [e[2].astype(np.float64) for e in edges]
    cols = np.arange(ncol)
    lab2 = lab.reshape(nrow, ncol)
    for h in bounds[1:-1]:  # the cells facing each other across a cut
        for dc in (-1, 0, 1):
            ca = cols[max(0, -dc) : ncol - max(0, dc)]
            la, lb = lab2[h - 1, ca], lab2[h, ca + dc]
            za, zb = z[h - 1, ca], z[h, ca + dc]
            ok = (la != nan_label) & (lb != nan_label) & (la != lb)
            eu.append(la[ok].astype(np.int64))
            ev.append(lb[ok].astype(np.int64))
            ew.append(np.maximum(za[ok], zb[ok]).astype(np.float64))
    u = np.concatenate(eu) - 1  # node = label − 1: the ocean is node 0
    v = np.concatenate(ev) - 1
    w = np.concatenate(ew)
    both_u = np.concatenate([u, v])
    order = np.argsort(both_u, kind="stable")
    indptr = np.zeros(nan_label + 1, dtype=np.int64)
    np.add.at(indptr, both_u + 1, 1)
    mm = minimax(np.cumsum(indptr), np.concatenate([v, u])[order], np.concatenate([w, w])[order])
    level = np.full(nan_label + 1, -np.inf)
    level[1:] = mm
    with ThreadPoolExecutor(max_workers=blocks) as pool:
        list(
            pool.map(
                lambda b: raise_rows(z, bounds[b], bounds[b + 1], lab, nan_label, level),
                range(blocks),
            )
        )
