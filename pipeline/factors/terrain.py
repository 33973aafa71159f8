"""LS factor from a routed DEM: slope, depression filling, D8/MFD routing, L, S.

Formulas
--------
- Slope: Horn (1981, Proc. IEEE 69(1): 14-47) 3×3 gradient on the projected grid; the cell
  size comes from the ``x``/``y`` coordinates, which must be metres.
- L: Desmet & Govers (1996, J. Soil Water Conserv. 51(5): 427-433)::

      L = [(A_in + D²)^(m+1) − A_in^(m+1)] / [D^(m+2) · x^m · 22.13^m]

  with A_in the contributing area at the cell inlet (m², the cell itself excluded), D the
  cell size (m), x = |sin α| + |cos α| for the flow direction α (D8: the D8 direction, so
  x = 1 or √2; MFD: the Horn aspect). On a plane with flow along a grid axis this is exactly
  the RUSLE segment value (d^(m+1) − (d−D)^(m+1)) / (D · 22.13^m), d = slope length to the
  cell outlet.
- m: Chinese slope classes (0.2/0.3/0.4/0.5 from 0.5°, 1.5°, 3°; Fu Suhua et al. 2015,
  CSLE) or McCool et al. (1989) m = β/(1+β), β = (sin θ/0.0896)/(3 sin^0.8 θ + 0.56).
- S: McCool et al. (1987, Trans. ASAE 30(5): 1387-1396) 10.8 sin θ + 0.03 (< 9 %),
  16.8 sin θ − 0.5 (≥ 9 %); "china" uses McCool below 5°, 16.8 sin θ − 0.5 for 5-10° and
  Liu Baoyuan et al. (1994, Trans. ASAE 37(6): 1835-1840) 21.91 sin θ − 0.96 from 10°.
- Slope-length cap λ_max: A_in is capped at λ_max·D·x − D², so the slope length at the cell
  outlet, (A_in + D²)/(D·x), never exceeds λ_max and L stays at the value of the segment
  that ends at λ_max.
- Channels: cells whose full (uncapped) contributing area at the outlet reaches
  ``channel_threshold_m2`` are channels. Sheet and rill erosion do not happen there, so
  their L (and LS) is 0, not NaN: they remain land in the area statistics and fall in the
  lowest (微度) intensity class, as the bulletin treats them; S and the slope are kept.

MFD weights. Desmet & Govers' L is exact when A_in = λ_in·D·x, the slope length times the
cell's width across the flow. Eight-neighbour MFD sends part of the flow diagonally, which
skips a contour row, so on a plane it underestimates A_in by the factor 1 + f_diagonal:
measured here on planes at 15-60° off the grid axes (interior cells, no cap), L is 0.84-0.93
of the analytic value with Freeman (1991, p = 1.1) and 0.87-0.95 with Quinn et al. (1991).
The default, ``mfd_weights="cardinal"``, keeps Quinn's f_i ∝ tan β_i with equal contour
lengths but only over the four cardinal neighbours (the diagonal contour length set to 0;
a cell whose only lower neighbours are diagonal follows its D8 code). Flow then crosses every
row (column) boundary of the grid, and on a plane falling at α from the y axis the share sent
across a row boundary is cos α / (|sin α| + |cos α|) = 1/x; the flux balance across a row
gives A_out = (rows above + 1)·D²·x / cos α, i.e. λ·D·x up to half a cell: L within 1 % of the
analytic value at 15-80° (tests/test_terrain.py), exact along the axes. D8 on the same planes:
0.98 at 15°, 0.63-0.78 at 30°, 0.71 at 45°, 0.59 at 60° (its flow lines follow the grid).

Depression filling, routing and accumulation are numba kernels in
:mod:`pipeline.factors._routing` (see its docstring for why each is hand-written: pyflwdir's
fill took 11 s for 16 M cells and breaks D8 ties by neighbour order; there is no MFD library).
pyflwdir accumulates given D8 grids (:func:`upstream_cells_d8`) and cross-checks the kernels
in the tests.

How tiled results equal single-block results
--------------------------------------------
The work has a global stage and a tiled stage.

1. Global stage (once per call, whole grid, documented as global: a dask DEM is computed
   here, chunk by chunk, into one float32 array). Priority-flood filling and the D8 codes
   need the whole grid, because a depression's spill point may be anywhere. It keeps a
   memory-light representation: the uint8 D8 code grid (1 byte per cell). For MFD it also
   runs the MFD accumulation over the whole grid (float64 cell counts); for D8 it runs the
   full accumulation only if there is no cap or a channel threshold is set. Because these
   arrays are computed on the whole grid, they do not depend on the chunking at all.

2. Tiled stage (dask, per chunk). Slope, aspect, m, S, L and the capped D8 contributing
   area are computed per chunk, by one fused numba kernel (``_routing.terrain_block``):

   - Horn's stencil reads the 8 neighbours, so a halo of 1 cell (``dask.array.overlap``, no
     padding at the array edge) gives every cell the same 3×3 window as in a single block.
   - Capped D8 area. Let the window be the chunk plus a halo of H cells on every side
     (clipped at the array edge, where nothing lies beyond), and let A_w(c) be the inlet
     area of a chunk cell c counted with the window's codes only (paths leaving the window
     are dropped). Then A_w(c) ≤ A(c), the full inlet area. If some upstream cell's path
     to c ever leaves the window, take the last cell of it outside the window: it lies at
     Chebyshev distance > H from the chunk, the next one inside at distance ≤ H, and a D8
     step changes that distance by at most 1, so the rest of the path passes cells at
     distance H, H−1, ..., 1, all upstream of c with paths inside the window:
     A_w(c) ≥ H·D². Otherwise A_w(c) = A(c). With H·D² ≥ the largest cap
     A_cap = λ_max·D·x − D² (x ≤ √2), i.e. H = ceil((√2·λ_max·D − D²) / D²) (43 cells for
     300 m and 10 m cells), in both cases min(A_w(c), A_cap(c)) = min(A(c), A_cap(c)):
     the capped area, and so L and LS, are exactly those of a single block. MFD fractions
     make A(c) − A_w(c) positive but arbitrarily small, so the argument fails for MFD, which
     is why MFD accumulates globally.
   - Everything else is pointwise on the same numbers in the same order, so numpy input
     (one block) and dask input (many chunks) give identical values; the tests check it
     (tests/test_terrain.py, tests/properties/test_terrain_properties.py).

Memory. The global stage holds the DEM as float32 (filled in place) and, for a dask
float32 DEM, a copy as read that the tiled stage uses instead of reading the file again:
8 bytes per cell; during the fill 2 more (uint16 labels of the two row bands, 4 beyond
32 766 columns) and the flood's queues (the flood front only), then the codes (1) and,
while routing, the flat distances (int32, 4, freed at once). MFD adds about 9 bytes per
cell (float64 accumulation, in-degree), uncapped D8 or a channel threshold about 5 (uint32
counts, in-degree). The tiled stage holds, per running chunk, its windows (chunk + 2H for
the codes, chunk + 2 for the DEM) and a float32 block per requested variable, so it is
bounded by chunk size × threads, not by the DEM. Only the global stage grows with the DEM,
linearly.

Time. The fill and the steepest-descent step of the routing run on two bands of rows in two
threads (``_routing.fill_depressions``, ``_tiled_kernels.route_bands``; the results do not
depend on the number of bands), the MFD accumulation is serial, the LS chunks run on the
dask threads. Measured (benchmarks/bench_ls.py, 16 M cells, 300 m cap, 2048² chunks, 2
threads, float32 result held in memory, GDAL cache 128 MB, a fresh process with numba's
on-disk cache, on this 2-core machine while other jobs kept its load average at 7-10):
D8 19.1 s wall, 12.0 s CPU, 755 MiB peak RSS; MFD 21.8 s wall, 16.0 s CPU, 916 MiB (load
average 4; the code before: D8 20.8 s, 11.4 s CPU; MFD 24.9 s, 17.0 s CPU). CPU per stage:
imports ≈ 1.5, read 1.0, fill 4.3, route 0.9, MFD accumulation 4.3, LS chunks 2.6, i.e.
≈ 6.5 s wall for D8 and ≈ 10.7 s for MFD on a free machine (estimated from those times).
Earlier figures (one thread for the fill, the file read twice): D8 10.1 s in a fresh
process when the machine was quiet, 11.7 s D8 and 20.4 s MFD (CPU) loaded; 64 M cells D8
21 s warm, 1.5 GiB. About 0.4 GiB of the peak is fixed (interpreter and libraries, GDAL
cache), the rest ≈ 13 bytes per cell for D8 (9 for the global stage, 4 for the result) and
≈ 22 for MFD, so a 2 GiB budget holds about 120 M cells (D8) with the result in memory.
Beyond that the fill itself is tiled: :mod:`pipeline.factors._tiled` (Barnes 2016 filling,
Barnes 2017 D8 accumulation, MFD in rounds) gives the same fill, codes and LS with memory
bounded by the tile size.

Flats. D8 codes are a function of the filled surface alone: steepest descent where a
strictly lower neighbour exists, outlets on the edge, and on flats a step towards the
nearest drain of the flat (breadth-first distance; ``_tiled_kernels.route``), so that the
tiled path can reproduce them exactly.
"""

from __future__ import annotations

import math

import dask.array as da
import numpy as np
import xarray as xr
from pyproj import CRS

from pipeline.errors import ConfigError, GridError, InputDataError
from pipeline.factors import _routing, _tiled_kernels

__all__ = [
    "ESRI_DIRMAP",
    "flow_accumulation",
    "flow_directions_d8",
    "l_factor_desmet_govers",
    "ls_factor",
    "m_exponent",
    "s_factor",
    "slope_degrees",
    "slope_sin",
    "terrain_factors",
    "upstream_cells_d8",
]

#: ESRI D8 codes for (N, NE, E, SE, S, SW, W, NW), as in pysheds' ``dirmap``.
ESRI_DIRMAP = (64, 128, 1, 2, 4, 8, 16, 32)
_ROUTINGS = ("d8", "mfd")
_NO_RING = np.empty((0, 0), dtype=np.int32)
#: threads for the global stage's parallel steps (row bands; results do not depend on it)
_THREADS = 2
#: MFD weight schemes: (exponent p, Quinn contour lengths, cardinal neighbours only)
_MFD_WEIGHTS = {
    "cardinal": (1.0, False, True),
    "quinn": (1.0, True, False),
    "freeman": (1.1, False, False),
}


# ----------------------------------------------------------------------------- checks
def _check_dem(dem, name: str = "dem") -> tuple[xr.DataArray, float, float]:
    """Return the DEM (float, NaN nodata) and its cell size (dx, dy) in metres."""
    if not isinstance(dem, xr.DataArray):
        raise InputDataError(f"{name}: expected an xarray.DataArray with dims (y, x)")
    if dem.dims != ("y", "x"):
        raise InputDataError(f"{name}: expected dims ('y', 'x'), got {dem.dims}")
    if dem.sizes["y"] < 2 or dem.sizes["x"] < 2:
        raise GridError(f"{name}: needs at least 2×2 cells, got shape {dem.shape}")
    crs = dem.rio.crs
    if crs is None:
        raise GridError(
            f"{name}: has no CRS; slope and areas need a projected CRS in metres "
            "(write one with .rio.write_crs)"
        )
    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        raise GridError(
            f"{name}: CRS {crs.name!r} is geographic (degrees), so cell sizes are not metres; "
            "reproject the DEM to a projected CRS in metres (e.g. the analysis grid's Albers)"
        )
    units = {ax.unit_name for ax in crs.axis_info[:2]}
    if not units <= {"metre", "meter", "m"}:
        raise GridError(
            f"{name}: CRS {crs.name!r} has axis units {sorted(units)}; expected metres "
            "(reproject the DEM to a metric CRS)"
        )
    sizes = []
    for dim in ("x", "y"):
        step = np.diff(np.asarray(dem[dim].values, dtype=np.float64))
        if not np.allclose(step, step[0], rtol=1e-6, atol=0) or step[0] == 0:
            raise GridError(f"{name}: {dim} coordinates are not regularly spaced")
        sizes.append(abs(float(step[0])))
    if dem.dtype.kind not in "fiu":
        raise InputDataError(f"{name}: expected numeric elevations, got dtype {dem.dtype}")
    nodata = dem.rio.nodata
    if dem.dtype.kind != "f":
        dem = dem.astype(np.float64)
    if nodata is not None and not np.isnan(nodata):
        dem = dem.where(dem != nodata)
    return dem, sizes[0], sizes[1]


def _check_choice(value, allowed, key):
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not one of {list(allowed)}")


def _check_positive_or_none(value, key):
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: expected a positive number or None, got {value!r}") from exc
    if not value > 0 or not math.isfinite(value):
        raise ConfigError(f"{key}: expected a positive number or None, got {value!r}")
    return value


def _where(cond, a, b):
    if any(isinstance(v, xr.DataArray) for v in (cond, a, b)):
        return xr.where(cond, a, b, keep_attrs=False)
    return np.where(cond, a, b)


def _finish(da_, name, units, **attrs):
    if isinstance(da_, xr.DataArray):
        da_ = da_.rename(name)
        da_.attrs = {"units": units, **attrs}
    return da_


# ------------------------------------------------------------------- pointwise formulas
def s_factor(slope_deg, *, method: str = "china"):
    """Slope-steepness factor S (dimensionless) from the slope in degrees.

    Parameters
    ----------
    slope_deg : xarray.DataArray or array-like
        Slope angle θ in degrees (NaN = nodata).
    method : {"china", "mccool"}
        ``"mccool"`` (McCool et al. 1987, Trans. ASAE 30(5): 1387-1396):
        10.8 sin θ + 0.03 where tan θ < 9 %, else 16.8 sin θ − 0.50.
        ``"china"`` (CSLE; Liu Baoyuan et al. 1994, Trans. ASAE 37(6): 1835-1840 for steep
        slopes): 10.8 sin θ + 0.03 for θ < 5°, 16.8 sin θ − 0.50 for 5° ≤ θ < 10°,
        21.91 sin θ − 0.96 for θ ≥ 10° (it jumps from 2.42 to 2.85 at 10°, as published).

    Returns
    -------
    Same type as ``slope_deg``, units "1".

    Examples
    --------
    >>> round(float(s_factor(np.float64(10.0), method="china")), 4)
    2.8446
    """
    _check_choice(method, ("china", "mccool"), "s_method")
    sin = np.sin(np.deg2rad(slope_deg))
    if method == "mccool":
        out = _where(np.tan(np.deg2rad(slope_deg)) < 0.09, 10.8 * sin + 0.03, 16.8 * sin - 0.5)
    else:
        out = _where(
            slope_deg < 5.0,
            10.8 * sin + 0.03,
            _where(slope_deg < 10.0, 16.8 * sin - 0.5, 21.91 * sin - 0.96),
        )
    out = _where(np.isnan(slope_deg), np.nan, out)
    return _finish(out, "s_factor", "1", method=method)


def m_exponent(slope_deg, *, method: str = "china"):
    """Slope-length exponent m (dimensionless) from the slope in degrees.

    Parameters
    ----------
    slope_deg : xarray.DataArray or array-like
        Slope angle θ in degrees (NaN = nodata).
    method : {"china", "mccool"}
        ``"china"`` (CSLE, Fu Suhua et al. 2015, 中国水土保持科学 13(5): 105-110):
        0.2 for θ < 0.5°, 0.3 for θ < 1.5°, 0.4 for θ < 3°, 0.5 otherwise.
        ``"mccool"`` (McCool et al. 1989, Trans. ASAE 32(5): 1571-1576): m = β/(1+β) with
        β = (sin θ / 0.0896) / (3 sin^0.8 θ + 0.56).

    Examples
    --------
    >>> float(m_exponent(np.float64(2.0)))
    0.4
    """
    _check_choice(method, ("china", "mccool"), "m_method")
    if method == "mccool":
        sin = np.sin(np.deg2rad(slope_deg))
        beta = (sin / 0.0896) / (3.0 * sin**0.8 + 0.56)
        out = beta / (1.0 + beta)
    else:
        out = _where(
            slope_deg < 0.5,
            0.2,
            _where(slope_deg < 1.5, 0.3, _where(slope_deg < 3.0, 0.4, 0.5)),
        )
    out = _where(np.isnan(slope_deg), np.nan, out)
    return _finish(out, "m_exponent", "1", method=method)


def l_factor_desmet_govers(
    contributing_area_m2, *, cell_size_m: float, m, x=1.0, l_max: float | None = None
):
    """Slope-length factor L of Desmet & Govers (1996) from the inlet contributing area.

    L = [(A + D²)^(m+1) − A^(m+1)] / [D^(m+2) · x^m · 22.13^m]
    (Desmet & Govers 1996, J. Soil Water Conserv. 51(5): 427-433), evaluated as
    A^(m+1)·expm1((m+1)·log1p(D²/A)) to avoid cancellation when A ≫ D².

    Parameters
    ----------
    contributing_area_m2 : xarray.DataArray or array-like
        A, the contributing area at the cell inlet in m² (the cell itself excluded), ≥ 0.
    cell_size_m : float
        D, the cell size in m.
    m : xarray.DataArray, array-like or float
        Slope-length exponent (see :func:`m_exponent`).
    x : xarray.DataArray, array-like or float
        |sin α| + |cos α| of the flow direction α (1 for flow along a grid axis).
    l_max : float, optional
        Upper limit on L (InVEST's ``l_max``); none by default.

    Returns
    -------
    L, units "1".

    Examples
    --------
    One 30 m cell below one other (A_in = 900 m²): the segment from 30 to 60 m,
    (60^1.5 − 30^1.5) / (30 · 22.13^0.5):

    >>> round(float(l_factor_desmet_govers(np.float64(900.0), cell_size_m=30.0, m=0.5)), 4)
    2.1289
    """
    d = float(cell_size_m)
    if not d > 0:
        raise ConfigError(f"cell_size_m: expected a positive cell size, got {cell_size_m!r}")
    a = contributing_area_m2
    if isinstance(a, xr.DataArray):
        a = a.astype(np.float64)
    else:
        a = np.asarray(a, dtype=np.float64)
    p = m + 1.0
    safe = _where(a > 0, a, 1.0)
    rise = _where(
        a > 0,
        safe**p * np.expm1(p * np.log1p(d * d / safe)),
        (d * d) ** p,
    )
    out = rise / (d ** (m + 2.0) * x**m * 22.13**m)
    out = _where(np.isnan(a), np.nan, out)
    if l_max is not None:
        out = _where(out > l_max, l_max, out)
    return _finish(out, "l_factor", "1")


# --------------------------------------------------------------------- block functions
def _gradient_block(z, dx, dy):
    gx, gy = _routing.horn_gradient(np.ascontiguousarray(z), dx, dy)
    return gx + 1j * gy


def _counts_block(codes):
    return _routing.d8_upstream_counts(np.ascontiguousarray(codes))


def _as_dask(dem: xr.DataArray) -> da.Array:
    data = dem.data
    if isinstance(data, da.Array):
        return data
    return da.from_array(np.asarray(data), chunks=dem.shape)


def _gradient(dem, dx, dy) -> da.Array:
    z = _as_dask(dem)
    return z.map_overlap(
        _gradient_block, depth=1, boundary="none", dtype=np.complex128, dx=dx, dy=dy
    )


def _wrap(data, dem, name, units, **attrs) -> xr.DataArray:
    out = xr.DataArray(data, dims=dem.dims, coords=dem.coords, name=name)
    out.attrs = {"units": units, **attrs}
    return out


def _maybe_compute(out, dem):
    if isinstance(dem.data, da.Array):
        return out
    return out.compute()


# ------------------------------------------------------------------------------ slope
def slope_degrees(dem: xr.DataArray) -> xr.DataArray:
    """Slope angle in degrees, Horn (1981) on the projected grid.

    Parameters
    ----------
    dem : xarray.DataArray
        Elevation in m, dims (y, x), a projected CRS in metres (rioxarray), NaN = nodata;
        numpy or dask (lazy, 1-cell halo).

    Returns
    -------
    xarray.DataArray
        θ in degrees (float32), NaN at nodata. A neighbour outside the grid or NaN is
        replaced by the linear extrapolation 2·z₀ − z_opposite, so planes are exact up to
        the edge. Horn, B.K.P. (1981) Hill shading and the reflectance map, Proc. IEEE 69(1).

    Examples
    --------
    >>> slope_degrees(dem)  # doctest: +SKIP
    """
    dem, dx, dy = _check_dem(dem)
    g = _gradient(dem, dx, dy)
    out = da.degrees(da.arctan(abs(g))).astype(np.float32)
    return _maybe_compute(_wrap(out, dem, "slope_deg", "degree"), dem)


def slope_sin(dem: xr.DataArray) -> xr.DataArray:
    """sin θ of the Horn (1981) slope (dimensionless); see :func:`slope_degrees`.

    Examples
    --------
    >>> slope_sin(dem)  # doctest: +SKIP
    """
    dem, dx, dy = _check_dem(dem)
    g = abs(_gradient(dem, dx, dy))
    out = (g / da.sqrt(1.0 + g * g)).astype(np.float32)
    return _maybe_compute(_wrap(out, dem, "slope_sin", "1"), dem)


# ------------------------------------------------------------------------ global stage
def _dem_float32(dem: xr.DataArray) -> np.ndarray:
    """The DEM as one C-contiguous float32 array (dask: computed chunk by chunk into it)."""
    if isinstance(dem.data, da.Array):
        out = np.empty(dem.shape, dtype=np.float32)
        da.store(dem.data.astype(np.float32), out, lock=False)
        return out
    return np.array(dem.values, dtype=np.float32, order="C", copy=True)  # filled in place


def _route_global(dem, dx, dy, *, routing, full_accumulation, mfd_weights="cardinal", keep=None):
    """Global stage: D8 codes, plus full accumulation in cells when asked (or MFD).

    ``keep``, a list, receives a copy of a dask float32 DEM as read, so that the tiled
    stage does not read (and decompress) the file a second time (4 bytes per cell).
    """
    z = _dem_float32(dem)
    if keep is not None and isinstance(dem.data, da.Array) and dem.dtype == np.float32:
        keep.append(z.copy())
    _routing.fill_depressions(z, blocks=_THREADS)  # fills z in place
    # codes from the filled surface alone (flats by distance to their drains), as the
    # tiled path computes them: pipeline/factors/_tiled.py
    codes = _tiled_kernels.route_bands(z, dx, dy, blocks=_THREADS)[0]  # not the distances
    cells = None
    if routing == "mfd":
        exponent, contour, cardinal = _MFD_WEIGHTS[mfd_weights]
        cells = _routing.mfd_upstream_cells(z, codes, dx, dy, exponent, contour, cardinal)
    del z
    if routing == "d8" and full_accumulation:
        cells = _routing.d8_upstream_counts(codes)
    return codes, cells


def _chunked(arr: np.ndarray, dem: xr.DataArray) -> da.Array:
    chunks = dem.data.chunks if isinstance(dem.data, da.Array) else dem.shape
    return da.from_array(arr, chunks=chunks)


def _halo_cells(max_slope_length_m: float, dx: float, dy: float) -> int:
    cell_area = dx * dy
    a_cap_max = max_slope_length_m * math.sqrt(cell_area) * math.sqrt(2.0) - cell_area
    return max(1, math.ceil(a_cap_max / cell_area))


def _capped_counts(codes_d: da.Array, halo: int) -> da.Array:
    """Window-local D8 counts with a halo of ``halo`` cells (exact under the cap; docstring)."""
    chunks = codes_d.chunks
    # an axis no longer than the halo is taken whole (every window spans it anyway)
    whole = {ax: -1 for ax, size in enumerate(codes_d.shape) if halo >= size}
    depth = {ax: 0 if ax in whole else halo for ax in range(2)}
    return (
        codes_d.rechunk(whole or codes_d.chunks)
        .map_overlap(_counts_block, depth=depth, boundary="none", dtype=np.uint32)
        .rechunk(chunks)
    )


LAYERS = ("slope_deg", "contributing_area_m2", "l_factor", "s_factor", "ls_factor")


def _stack_block(z, cells, codes, *channel, layers, block_info=None, **kw):
    (i, j) = block_info[0]["chunk-location"]
    out = np.empty((len(layers), *codes.shape), dtype=np.float32)
    slots = np.full(5, -1, dtype=np.int64)
    for k, layer in enumerate(layers):
        slots[LAYERS.index(layer)] = k
    mask = channel[0] if channel else np.zeros((0, 0), dtype=bool)
    _routing.terrain_block(
        np.ascontiguousarray(z),
        1 if i > 0 else 0,
        1 if j > 0 else 0,
        cells,  # not copied: a float64 chunk of the MFD grid is 8 bytes per cell
        np.ascontiguousarray(codes),
        np.ascontiguousarray(mask),
        slots=slots,
        out=out,
        **kw,
    )
    return out


def _factor_stack(
    dem,
    dx,
    dy,
    codes,
    cells,
    channel,
    *,
    routing,
    cap,
    m_method,
    s_method,
    layers=LAYERS,
    raw=None,
):
    """(len(layers), y, x) float32 dask array of the named layers (see LAYERS).

    ``raw``: the DEM as one float32 array, if the global stage kept it (same values as the
    dask DEM's chunks, without a second read).
    """
    z = _as_dask(dem) if raw is None else _chunked(raw, dem)
    codes_d = _chunked(codes, dem)
    if routing == "d8" and cells is None:  # capped, tiled with an exact halo
        cells_d = _capped_counts(codes_d, _halo_cells(cap, dx, dy))
    else:
        cells_d = _chunked(cells, dem)
    z_halo = da.overlap.overlap(z, depth={0: 1, 1: 1}, boundary="none")
    extra = [] if channel is None else [_chunked(channel, dem)]
    return da.map_blocks(
        _stack_block,
        z_halo,
        cells_d,
        codes_d,
        *extra,
        new_axis=0,
        chunks=((len(layers),), *codes_d.chunks),
        dtype=np.float32,
        meta=np.empty((0, 0, 0), dtype=np.float32),
        dx=float(dx),
        dy=float(dy),
        cap=-1.0 if cap is None else float(cap),
        m_method=_routing.M_CHINA if m_method == "china" else _routing.M_MCCOOL,
        s_method=_routing.S_CHINA if s_method == "china" else _routing.S_MCCOOL,
        aspect_x=routing == "mfd",
        layers=tuple(layers),
    )


def _check_routing_args(routing, mfd_weights, max_slope_length_m, channel_threshold_m2):
    _check_choice(routing, _ROUTINGS, "routing")
    _check_choice(mfd_weights, tuple(_MFD_WEIGHTS), "mfd_weights")
    cap = _check_positive_or_none(max_slope_length_m, "max_slope_length_m")
    thr = _check_positive_or_none(channel_threshold_m2, "channel_threshold_m2")
    return cap, thr


# --------------------------------------------------------------------------- routing
def flow_directions_d8(dem: xr.DataArray) -> xr.DataArray:
    """D8 flow directions after priority-flood depression filling (global).

    Steepest descent by slope (drop / distance, so an axis-aligned plane flows along the
    axis, not diagonally); flat cells step towards the flat's nearest drain; cells on the grid
    edge or next to nodata without a lower neighbour are outlets. Filling: Barnes, Lehman &
    Mulla (2014) Priority-Flood, Computers & Geosciences 62: 117-127.

    Parameters
    ----------
    dem : xarray.DataArray
        Elevation in m, dims (y, x), projected CRS in metres, NaN = nodata. A dask input is
        computed here (global operation).

    Returns
    -------
    xarray.DataArray
        uint8 ESRI codes: E 1, SE 2, S 4, SW 8, W 16, NW 32, N 64, NE 128 (north-up),
        0 = outlet, 247 = nodata; units "1". Same backend as the input.

    Examples
    --------
    >>> flow_directions_d8(dem)  # doctest: +SKIP
    """
    dem, dx, dy = _check_dem(dem)
    codes, _ = _route_global(dem, dx, dy, routing="d8", full_accumulation=False)
    data = _chunked(codes, dem) if isinstance(dem.data, da.Array) else codes
    out = _wrap(data, dem, "flow_direction_d8", "1", encoding="ESRI D8; 0 outlet; 247 nodata")
    return out.rio.write_nodata(247, encoded=False)


def flow_accumulation(
    dem: xr.DataArray,
    *,
    routing: str = "mfd",
    at: str = "inlet",
    max_slope_length_m: float | None = None,
    mfd_weights: str = "cardinal",
) -> xr.DataArray:
    """Contributing area in m² at the cell inlet (default) or outlet, D8 or MFD.

    Parameters
    ----------
    dem : xarray.DataArray
        Elevation in m, dims (y, x), projected CRS in metres, NaN = nodata; the filling and
        routing are global (a dask DEM is computed once).
    routing : {"d8", "mfd"}
        D8 steepest descent, or MFD with the weights named by ``mfd_weights``.
    mfd_weights : {"cardinal", "quinn", "freeman"}
        MFD fractions (see the module docstring): "cardinal" (default) f ∝ tan β over the
        lower of the 4 cardinal neighbours; "quinn" (Quinn et al. 1991) f ∝ tan β · L over
        8 neighbours, L = 0.5/0.354; "freeman" (Freeman 1991) f ∝ tan^1.1 β over 8.
    at : {"inlet", "outlet"}
        "inlet": area draining into the cell, the cell excluded (what Desmet & Govers' A_in
        is); "outlet": the cell's own area added.
    max_slope_length_m : float, optional
        Cap the inlet area at λ_max·D·x − D² (see the module docstring); None = uncapped.

    Returns
    -------
    xarray.DataArray
        m², float32, NaN at nodata.

    Examples
    --------
    >>> flow_accumulation(dem, routing="mfd", at="outlet")  # doctest: +SKIP
    """
    dem, dx, dy = _check_dem(dem)
    cap, _ = _check_routing_args(routing, mfd_weights, max_slope_length_m, None)
    _check_choice(at, ("inlet", "outlet"), "at")
    codes, cells = _route_global(
        dem,
        dx,
        dy,
        routing=routing,
        full_accumulation=cap is None,
        mfd_weights=mfd_weights,
    )
    a_in = _factor_stack(
        dem,
        dx,
        dy,
        codes,
        cells,
        None,
        routing=routing,
        cap=cap,
        m_method="china",
        s_method="china",
        layers=("contributing_area_m2",),
    )[0]
    if at == "outlet":
        a_in = a_in + np.float32(dx * dy)
    out = _wrap(
        a_in,
        dem,
        "contributing_area_m2",
        "m2",
        routing=routing,
        at=at,
        max_slope_length_m=str(cap),
    )
    return _maybe_compute(out, dem)


def upstream_cells_d8(
    directions: xr.DataArray, *, dirmap: tuple[int, ...] = ESRI_DIRMAP, nodata: int | None = None
) -> xr.DataArray:
    """D8 accumulation (number of cells, itself included) from a given direction grid.

    Uses pyflwdir (``FlwdirRaster.upstream_area(unit="cell")``); works in any CRS, since it
    counts cells. Global: a dask input is computed.

    Parameters
    ----------
    directions : xarray.DataArray
        Integer D8 codes, dims (y, x), rows north to south.
    dirmap : tuple of 8 ints
        Codes for (N, NE, E, SE, S, SW, W, NW); default ESRI (64, 128, 1, 2, 4, 8, 16, 32).
    nodata : int, optional
        Nodata code; any value that is neither in ``dirmap`` nor 0 (pit) is nodata anyway.

    Returns
    -------
    xarray.DataArray
        Cell counts (float64, NaN at nodata), units "1".

    Examples
    --------
    >>> upstream_cells_d8(esri_directions).max()  # doctest: +SKIP
    """
    if not isinstance(directions, xr.DataArray) or directions.ndim != 2:
        raise InputDataError("directions: expected a 2-D xarray.DataArray of D8 codes")
    if len(dirmap) != 8 or len(set(dirmap)) != 8:
        raise ConfigError(f"dirmap: expected 8 distinct codes for N..NW, got {dirmap!r}")
    raw = np.asarray(directions.values)
    if raw.dtype.kind == "f":
        raw = np.where(np.isnan(raw), -1, raw)
    raw = raw.astype(np.int64)
    codes = np.full(raw.shape, _routing.NODATA, dtype=np.uint8)
    for ours, theirs in zip(ESRI_DIRMAP, dirmap, strict=True):
        codes[raw == theirs] = ours
    codes[raw == 0] = 0
    if nodata is not None:
        codes[raw == nodata] = _routing.NODATA
    import pyflwdir  # imported here: it costs ~1 s and only this function needs it

    flw = pyflwdir.from_array(codes, ftype="d8", check_ftype=False)
    cells = flw.upstream_area(unit="cell").astype(np.float64)
    cells[codes == _routing.NODATA] = np.nan
    return _wrap(cells, directions, "upstream_cells", "1")


# ------------------------------------------------------------------------ the factors
def terrain_factors(
    dem: xr.DataArray,
    *,
    routing: str = "mfd",
    m_method: str = "china",
    s_method: str = "china",
    max_slope_length_m: float | None = 300.0,
    channel_threshold_m2: float | None = None,
    mfd_weights: str = "cardinal",
    variables: tuple[str, ...] | None = None,
) -> xr.Dataset:
    """Slope, contributing area, L, S and LS (CSLE/RUSLE) from a DEM.

    L after Desmet & Govers (1996, J. Soil Water Conserv. 51(5): 427-433) with the inlet
    contributing area in m², m and S as in :func:`m_exponent` and :func:`s_factor`, on a
    depression-filled, routed DEM. See the module docstring for the cap, channels and why
    tiled (dask) results equal single-block results.

    Parameters
    ----------
    dem : xarray.DataArray
        Elevation in m, dims (y, x), projected CRS in metres, NaN = nodata; numpy or dask.
        Global stage: a dask DEM is computed once (chunk by chunk into a float32 array) for
        the filling and routing; the returned variables are lazy dask arrays on the DEM's
        chunks. A numpy DEM gives numpy results.
    routing : {"mfd", "d8"}
        Flow routing (see :func:`flow_accumulation`); default MFD ("cardinal" weights): D8
        underestimates L by 15-30 % (median) on slopes oblique to the grid (module docstring).
    m_method, s_method : {"china", "mccool"}
        m and S variants.
    max_slope_length_m : float or None
        Slope-length cap λ_max in m (default 300); None = uncapped (global accumulation).
    channel_threshold_m2 : float, optional
        Cells whose full contributing area at the outlet reaches this many m² are channels:
        L = LS = 0 there (no sheet erosion; they stay land in area statistics).
    mfd_weights : {"cardinal", "quinn", "freeman"}
        MFD fractions, see :func:`flow_accumulation` and the module docstring.
    variables : tuple of str, optional
        Only these of the five variables (each chunk then holds only them: less memory).

    Returns
    -------
    xarray.Dataset
        ``slope_deg`` (degree), ``contributing_area_m2`` (m², inlet, capped), ``l_factor``,
        ``s_factor``, ``ls_factor`` (all "1"); float32, NaN at nodata; CRS kept.

    Examples
    --------
    >>> ds = terrain_factors(dem, routing="mfd", max_slope_length_m=300.0)  # doctest: +SKIP
    >>> ds.ls_factor.attrs["units"]  # doctest: +SKIP
    '1'
    """
    dem, dx, dy = _check_dem(dem)
    cap, threshold = _check_routing_args(
        routing, mfd_weights, max_slope_length_m, channel_threshold_m2
    )
    _check_choice(m_method, ("china", "mccool"), "m_method")
    _check_choice(s_method, ("china", "mccool"), "s_method")
    variables = LAYERS if variables is None else tuple(variables)
    for name in variables:
        _check_choice(name, LAYERS, "variables")
    codes, cells = _route_global(
        dem,
        dx,
        dy,
        routing=routing,
        full_accumulation=cap is None or threshold is not None,
        mfd_weights=mfd_weights,
        keep=(kept := []),
    )
    channel = None
    if threshold is not None:
        channel = cells * (dx * dy) >= threshold
        if routing == "d8" and cap is not None:
            cells = None  # capped D8 area comes from the tiled kernel
    stack = _factor_stack(
        dem,
        dx,
        dy,
        codes,
        cells,
        channel,
        routing=routing,
        cap=cap,
        m_method=m_method,
        s_method=s_method,
        layers=variables,
        raw=kept[0] if kept else None,
    )
    common = {"routing": routing, "max_slope_length_m": str(cap)}
    described = {
        "slope_deg": ("degree", {"method": "Horn 1981"}),
        "contributing_area_m2": ("m2", {"at": "inlet", **common}),
        "l_factor": (
            "1",
            {
                "method": "Desmet & Govers 1996",
                "m_method": m_method,
                "channel_threshold_m2": str(threshold),
                "channel_treatment": "L = 0 (no sheet erosion)",
                **common,
            },
        ),
        "s_factor": ("1", {"method": s_method}),
        "ls_factor": ("1", {"m_method": m_method, "s_method": s_method, **common}),
    }
    out = xr.Dataset()
    for k, name in enumerate(variables):
        units, attrs = described[name]
        out[name] = _wrap(stack[k], dem, name, units, **attrs)
    if dem.rio.crs is not None:
        out = out.rio.write_crs(dem.rio.crs)
    return _maybe_compute(out, dem)


def ls_factor(dem: xr.DataArray, **kwargs) -> xr.DataArray:
    """LS factor (dimensionless) from a DEM; keyword arguments as :func:`terrain_factors`.

    Examples
    --------
    >>> ls = ls_factor(dem, routing="d8", max_slope_length_m=300.0)  # doctest: +SKIP
    """
    return terrain_factors(dem, variables=("ls_factor",), **kwargs)["ls_factor"]
