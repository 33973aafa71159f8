"""Terrain pieces of the synthetic demo district (see ``pipeline.sources.demo``).

Written by hand because no library generates a *hydrologically coherent*
synthetic landscape: spectral (1/f^β) noise is standard but has no drainage
network, and landscape-evolution models (fastscape, landlab) are heavy
dependencies for a demo. Here a basin-shaped surface plus fractal noise is
carved by a few implicit stream-power steps (Whipple & Tucker 1999,
E = K·A^m·S^n with m = 0.5, n = 1; implicit scheme of Braun & Willett 2013)
between depression fillings by pyflwdir (Wang & Liu 2006 priority flood), and the
elevations are then rebuilt on the resulting network as a steady-state landscape
(Flint's law S = ks·A^-θ), which gives ridges, valleys and one outlet that D8 flow
routing follows. Depression filling, D8 directions, upstream areas and sub-basins
come from pyflwdir; the three small numba kernels here (implicit step, upstream
integration, value at the first downstream drain for HAND) are O(n) passes over
pyflwdir's downstream-to-upstream cell order (pyflwdir's own ``hand`` took 9 s on
2000² cells).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pyflwdir
import scipy.fft
from affine import Affine
from scipy import ndimage


def fractal_noise(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    beta: float = 3.0,
    max_wavelength_px: float | None = None,
    min_wavelength_px: float = 0.0,
) -> np.ndarray:
    """Spatially correlated Gaussian noise with a power spectrum ∝ (k² + k0²)^(-β/2).

    Zero mean, unit standard deviation, float64. ``max_wavelength_px`` flattens the
    spectrum below wavenumber 1/max_wavelength (sets the correlation length);
    ``min_wavelength_px`` removes detail shorter than that (Gaussian taper).
    """
    white = rng.standard_normal(shape)
    spec = scipy.fft.rfft2(white)
    ky = scipy.fft.fftfreq(shape[0])[:, None]
    kx = scipy.fft.rfftfreq(shape[1])[None, :]
    k2 = ky**2 + kx**2
    k0 = 1.0 / (max_wavelength_px if max_wavelength_px else max(shape))
    amp = (k2 + k0**2) ** (-beta / 4.0)
    if min_wavelength_px > 0:
        amp = amp * np.exp(-k2 * min_wavelength_px**2)
    amp[0, 0] = 0.0
    out = scipy.fft.irfft2(spec * amp, s=shape)
    std = out.std()
    return (out - out.mean()) / (std if std > 0 else 1.0)


def _linear_index(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper input pixel and the weight of the upper one, per output pixel
    (linear interpolation between pixel centres, edges clamped)."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0, n_in - 1.0)
    lo = np.floor(pos).astype(int)
    return lo, np.minimum(lo + 1, n_in - 1), pos - lo


def resize(data: np.ndarray, shape: tuple[int, int], *, order: int = 1) -> np.ndarray:
    """Resample a 2-D array to ``shape``, pixel-area aligned.

    ``order=1``: bilinear between pixel centres, separably: each output row is a
    weighted sum of two input rows, then each output column of two columns (much faster
    than ``scipy.ndimage.zoom`` for large upsampling factors). Only element-wise
    multiplications and additions in float64, no BLAS: the same bytes on every CPU
    (matrix products go through OpenBLAS kernels chosen by CPU, which round differently).
    Other orders: ``scipy.ndimage.zoom`` spline with ``grid_mode``.
    """
    if data.shape == tuple(shape):
        return data.copy()
    if order == 1:
        dtype = np.float32 if data.dtype == np.float32 else np.float64
        lo_y, hi_y, fy = _linear_index(data.shape[0], shape[0])
        lo_x, hi_x, fx = _linear_index(data.shape[1], shape[1])
        src = np.asarray(data, np.float64)
        rows = src[lo_y] * (1.0 - fy)[:, None] + src[hi_y] * fy[:, None]
        return (rows[:, lo_x] * (1.0 - fx) + rows[:, hi_x] * fx).astype(dtype)
    zoom = (shape[0] / data.shape[0], shape[1] / data.shape[1])
    return ndimage.zoom(data, zoom, order=order, mode="nearest", grid_mode=True)


def block_mean(data: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Mean of ``data`` over the blocks of a coarser ``shape`` (edge blocks may be partial)."""
    fy = -(-data.shape[0] // shape[0])
    fx = -(-data.shape[1] // shape[1])
    pad = np.full((shape[0] * fy, shape[1] * fx), np.nan)
    pad[: data.shape[0], : data.shape[1]] = data
    blocks = pad[: shape[0] * fy, : shape[1] * fx].reshape(shape[0], fy, shape[1], fx)
    return np.nanmean(blocks, axis=(1, 3))


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _fill_single_outlet(z: np.ndarray, outlet: int, transform: Affine):
    """Fill depressions so every cell drains to ``outlet``; returns (filled, flwdir)."""
    filled, d8 = pyflwdir.dem.fill_depressions(
        z, outlets="idxs_pit", idxs_pit=np.array([outlet], dtype=np.intp)
    )
    flw = pyflwdir.from_array(d8, ftype="d8", transform=transform, check_ftype=False)
    return filled, flw


@numba.njit(cache=True)
def _implicit_stream_power(z, seq, ds, factor):  # pragma: no cover - numba
    """One implicit stream-power step with n = 1: z_i ← (z_i + F_i·z_ds) / (1 + F_i).

    ``seq`` orders cells from downstream to upstream, so each receiver is already
    updated; the scheme is unconditionally stable (Braun & Willett 2013,
    Geomorphology 180-181: 170-179).
    """
    for i in seq:
        j = ds[i]
        if j != i:
            z[i] = (z[i] + factor[i] * z[j]) / (1.0 + factor[i])
    return z


@numba.njit(cache=True)
def _integrate_upstream(z, seq, ds, increment):  # pragma: no cover - numba
    """z_i = z_ds + increment_i, cells visited from downstream to upstream."""
    for i in seq:
        j = ds[i]
        if j != i:
            z[i] = z[j] + increment[i]
    return z


@numba.njit(cache=True)
def _value_at_drain(value, drain, seq, ds):  # pragma: no cover - numba
    """For each cell, ``value`` at the first drain cell on its D8 path (itself if a drain).

    Cells whose path meets no drain get the value at their pit.
    """
    out = value.copy()
    for i in seq:
        j = ds[i]
        if not drain[i] and j != i:
            out[i] = out[j]
    return out


def height_above_drain(flw: pyflwdir.FlwdirRaster, drain: np.ndarray, z: np.ndarray):
    """HAND (Nobre et al. 2016): z minus the elevation of the first downstream drain, m.

    Same definition as ``pyflwdir.FlwdirRaster.hand`` but O(n) in one pass
    (that one took 9 s on 2000² cells).
    """
    zd = _value_at_drain(z.ravel().astype(np.float64), drain.ravel(), flw.idxs_seq, flw.idxs_ds)
    return z - zd.reshape(z.shape)


def _downstream_distance(flw: pyflwdir.FlwdirRaster, shape, res: float) -> np.ndarray:
    """Horizontal distance from each cell to its downstream cell, m (res for pits)."""
    idx = np.arange(shape[0] * shape[1])
    ds = flw.idxs_ds
    dr = np.abs(idx // shape[1] - ds // shape[1])
    dc = np.abs(idx % shape[1] - ds % shape[1])
    dist = np.where((dr + dc) == 2, res * np.sqrt(2.0), res).astype(np.float64)
    return dist.reshape(shape)


def basin_dem(
    shape: tuple[int, int],
    res: float,
    rng: np.random.Generator,
    *,
    outlet_elevation_m: float,
    rim_height_m: float,
    tilt_m: float,
    noise_relief_m: float,
    noise_beta: float,
    noise_wavelength_px: float,
    carve_iterations: int,
    carve_coefficient: float,
    smooth_px: float,
    median_slope_deg: float,
    floor_scale_m: float,
    valley_area_km2: float,
) -> tuple[np.ndarray, int]:
    """Coarse basin DEM (m) draining to one outlet on the grid edge.

    Returns the DEM and the linear index of the outlet cell. Steps: basin shape
    (rim rising towards the grid edge, opened along the main-valley axis to the
    outlet, tilted towards it) + fractal noise → implicit stream-power carving
    between single-outlet depression fillings (this sets the dendritic network's
    planform) → elevations rebuilt on that network as a steady-state landscape,
    S = ks·A^(-1/2) capped at 45°, ks scaled to ``median_slope_deg`` on hillslope
    cells, lightly smoothed and re-filled → flat valley floors by compressing the
    height above the nearest drain (HAND, Nobre et al. 2016) near zero.
    """
    h, w = shape
    transform = Affine(res, 0.0, 0.0, 0.0, -res, h * res)
    v, u = np.meshgrid(np.linspace(1, -1, h), np.linspace(-1, 1, w), indexing="ij")
    # outlet on one of the four edges, away from the corners
    side = int(rng.integers(4))
    pos = float(rng.uniform(-0.4, 0.4))
    if side == 0:  # south
        ou, ov, orow, ocol = pos, -1.0, h - 1, int(round((pos + 1) / 2 * (w - 1)))
    elif side == 1:  # west
        ou, ov, orow, ocol = -1.0, pos, int(round((1 - pos) / 2 * (h - 1))), 0
    elif side == 2:  # north
        ou, ov, orow, ocol = pos, 1.0, 0, int(round((pos + 1) / 2 * (w - 1)))
    else:  # east
        ou, ov, orow, ocol = 1.0, pos, int(round((1 - pos) / 2 * (h - 1))), w - 1
    outlet = orow * w + ocol
    squircle = (np.abs(u) ** 4 + np.abs(v) ** 4) ** 0.25
    rim = smoothstep((squircle - 0.45) / 0.55)
    d_out = np.hypot(u - ou, v - ov)
    # distance to the main-valley axis (segment from the outlet to the centre)
    t = np.clip(((u - ou) * -ou + (v - ov) * -ov) / (ou**2 + ov**2), 0.0, 1.0)
    d_axis = np.hypot(u - ou * (1 - t), v - ov * (1 - t))
    gap = 1.0 - np.exp(-((d_axis / 0.25) ** 2))
    z = outlet_elevation_m + tilt_m * d_out / 2.8 + rim_height_m * rim * gap
    z = z + noise_relief_m * fractal_noise(
        shape, rng, beta=noise_beta, max_wavelength_px=noise_wavelength_px
    )
    z_outlet = float(z.min()) - 1.0
    z[orow, ocol] = z_outlet

    # stream-power carving, implicit in time (Braun & Willett 2013), on the filled surface
    for _ in range(carve_iterations):
        z, flw = _fill_single_outlet(z, outlet, transform)
        dist = _downstream_distance(flw, shape, res)
        area_m2 = flw.upstream_area("m2")
        factor = (carve_coefficient * np.sqrt(area_m2) / dist).ravel()
        z = _implicit_stream_power(z.ravel().copy(), flw.idxs_seq, flw.idxs_ds, factor)
        z = z.reshape(shape)
        z[orow, ocol] = z_outlet
        # a little hillslope diffusion keeps divides rounded (not in channels,
        # where it would refill the incision)
        hill = area_m2 < 20 * res * res
        z = z + 0.2 * hill * (ndimage.uniform_filter(z, 3, mode="nearest") - z)
    z, flw = _fill_single_outlet(z, outlet, transform)

    # Re-build the elevations on that drainage network as a steady-state landscape:
    # integrate the channel slope S = ks·A^(-1/2) (Flint's law) upstream from the
    # outlet, capped at a hillslope threshold; ks varies smoothly (lithology) and
    # is scaled to the target median hillslope gradient. Every cell has a lower
    # receiver, so everything drains to the one outlet.
    area_m2 = flw.upstream_area("m2")
    dist = _downstream_distance(flw, shape, res)
    ks_var = np.exp(0.3 * fractal_noise(shape, rng, beta=3.0, max_wavelength_px=h / 3))
    s_max = np.tan(np.radians(45.0))
    hill = area_m2 <= 4 * res * res
    target = np.tan(np.radians(median_slope_deg))
    ks = 20.0
    for _ in range(5):
        slope = np.minimum(ks * ks_var / np.sqrt(area_m2), s_max)
        increment = (slope * dist).ravel()
        z = _integrate_upstream(np.zeros(h * w), flw.idxs_seq, flw.idxs_ds, increment)
        z = ndimage.gaussian_filter(z.reshape(shape), smooth_px, mode="nearest")
        gy, gx = np.gradient(z, res)
        ks *= target / max(float(np.median(np.hypot(gx, gy)[hill])), 1e-9)
    z, flw = _fill_single_outlet(z - z.ravel()[outlet] + outlet_elevation_m, outlet, transform)
    area_m2 = flw.upstream_area("m2")
    # flat valley floors: compress the height above the nearest drain (HAND,
    # Nobre et al. 2016) near zero, more beside larger rivers; monotone, so flow
    # paths are kept.
    drain = area_m2 >= valley_area_km2 * 1e6
    if drain.any():
        hand = np.maximum(height_above_drain(flw, drain, z), 0.0)
        drain_area = _value_at_drain(
            area_m2.ravel() / 1e6, drain.ravel(), flw.idxs_seq, flw.idxs_ds
        ).reshape(shape)
        drain_area = np.maximum(drain_area, valley_area_km2)
        rel = np.clip(np.log10(drain_area / valley_area_km2) / 2.0, 0.0, 1.5)
        h0 = floor_scale_m * (0.3 + rel)
        z = z - 0.9 * h0 * (1.0 - np.exp(-hand / h0))
    return z, outlet


@dataclass(frozen=True)
class Terrain:
    """Terrain derivatives of a fine DEM shared by the land-cover, watershed and survey steps."""

    elevation_m: np.ndarray
    slope_deg: np.ndarray
    upstream_km2: np.ndarray
    hand_m: np.ndarray
    stream: np.ndarray
    dist_stream_m: np.ndarray
    near_stream_km2: np.ndarray
    flwdir: pyflwdir.FlwdirRaster
    outlet_index: int
    basin: np.ndarray  # True where flow reaches the main outlet
    res: float


def analyse_terrain(elevation_m: np.ndarray, transform: Affine, *, stream_km2: float) -> Terrain:
    """Slope, D8 flow (pyflwdir, edge outlets), upstream area, HAND and stream distances."""
    z = np.asarray(elevation_m, dtype=np.float64)
    res = abs(transform.a)
    # C order: the upsampled DEM comes out Fortran-ordered, and numba compiles (and caches)
    # one machine-code version per memory layout; the warm-up compiles the C-order one
    flw = pyflwdir.from_dem(
        np.ascontiguousarray(z, dtype=np.float32), transform=transform, outlets="edge"
    )
    area_km2 = flw.upstream_area("km2")
    pits = flw.idxs_pit
    outlet = int(pits[np.argmax(area_km2.ravel()[pits])])
    basin = flw.basins(idxs=np.array([outlet])) > 0
    stream = area_km2 >= stream_km2
    hand = height_above_drain(flw, stream, z)
    dist, (iy, ix) = ndimage.distance_transform_edt(~stream, return_indices=True)
    gy, gx = np.gradient(z, res)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    return Terrain(
        elevation_m=z,
        slope_deg=slope,
        upstream_km2=area_km2,
        hand_m=np.maximum(hand, 0.0),
        stream=stream,
        dist_stream_m=dist * res,
        near_stream_km2=area_km2[iy, ix],
        flwdir=flw,
        outlet_index=outlet,
        basin=basin,
        res=res,
    )
