"""Terrain on the DEM's own grid, then the result resampled onto the analysis grid.

Why. A DEM is a grid of (often integer) elevations; resampling it onto another grid before
routing interpolates new elevations between the posts, which moves flats, pits and divides
and so changes flow paths and contributing areas. On InVEST's Gura sample (SRTM resampled
to 15 m, uint16, UTM 37S; 30 m AOI-local Albers grid) LS routed after bilinear resampling of
the DEM has Spearman 0.988 (MFD) / 0.934 (D8) with LS routed on the DEM's own grid and then
averaged, and its mean is 0.8 % (MFD) / 6.5 % (D8) higher; compared per 15 m DEM cell the
rank correlations are 0.957 / 0.811 (measured for issue 12; tests/test_terrain_native.py
checks the native path at ≥ 0.99). So, when the
DEM is projected in metres, filling, routing, slope, L and S are computed on the DEM's own
cells (:func:`pipeline.factors.terrain.terrain_factors`), and only the results are resampled
(:func:`terrain_factors_on_grid`).

Resampling method: area average (GDAL ``average``, weighted by the overlap of each source
cell with the target cell; NaN source cells ignored). LS is a flow-based quantity: it is
large along narrow flow lines and 0 in channels, with no meaning between two cells, so a
point interpolation (bilinear, cubic) at the target cell centre samples one flow line and
misses the next (aliasing when the analysis cell is coarser than the DEM's). Soil loss is
linear in LS (A = R·K·LS·C·P), and R, K, C, P are constant within an analysis cell, so the
cell's soil loss is R·K·C·P times the *area mean* of LS over the cell: the average keeps the
area-weighted mean of LS (and so of A) over the district, up to the edge cells. When the
analysis cell is finer than the DEM's, the average gives each target cell the value of the
DEM cell it lies in (overlap-weighted at the DEM cell edges): it invents no gradient across
a divide or a channel. Slope, L and S are averaged the same way, for the same reasons and
so that the four layers agree. (LS averaged is not L averaged times S averaged; the RUSLE
product uses the LS layer.)

Margin. The DEM is clipped to the analysis grid's footprint plus a margin
(:func:`routing_margin_m`) so that the capped D8 contributing area of every cell under the
footprint is that of the whole DEM: with the cap λ_max, the capped inlet area is reached
within H = ceil((√2·λ_max·D − D²)/D²) cells upstream (proof in the module docstring of
:mod:`pipeline.factors.terrain`), i.e. within √2·λ_max metres, plus one cell for Horn's
stencil. MFD spreads flow, so there the margin bounds the difference rather than removing
it; depressions straddling the clip edge may drain out of the clip instead of filling.

Everything here is library code: the routing is :mod:`pipeline.factors.terrain`, the
resampling is GDAL's warper through :func:`rasterio.warp.reproject`.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from pipeline.errors import ConfigError, GridError
from pipeline.grid import AnalysisGrid

__all__ = [
    "RESAMPLING",
    "TERRAIN_LAYERS",
    "resample_to_grid",
    "routing_margin_m",
    "terrain_factors_on_grid",
]

#: Resampling of terrain results from the DEM's grid to the analysis grid (module docstring).
RESAMPLING = "average"
#: The layers the terrain stage writes.
TERRAIN_LAYERS = ("slope_deg", "l_factor", "s_factor", "ls_factor")
#: A dask DEM up to this many cells has its native layers computed once for all of them
#: (4 float32 layers: 1.6 GB at the limit), as the ``terrain`` stage does; larger ones are
#: computed layer by layer (the tiled stage runs once per layer).
PERSIST_MAX_CELLS = 100_000_000
#: Margin when the slope length is uncapped: the contributing area is then truncated at the
#: clip edge anyway (as at the analysis grid's edge), 2 km keeps slopes up to ~1.4 km whole.
UNCAPPED_MARGIN_M = 2000.0


def routing_margin_m(*, max_slope_length_m: float | None, cell_m: float) -> float:
    """Margin (m) around the analysis grid's footprint to clip the DEM with.

    √2·λ_max (the farthest a capped D8 contributing area reaches upstream, module
    docstring) plus two DEM cells (Horn's 3×3 stencil and the partly covered cells at
    the footprint's edge); 2 km when uncapped.

    >>> round(routing_margin_m(max_slope_length_m=300.0, cell_m=15.0), 1)
    454.3
    """
    if not cell_m > 0:
        raise GridError(f"cell size must be positive, got {cell_m!r}")
    if max_slope_length_m is None:
        return UNCAPPED_MARGIN_M + 2 * cell_m
    return math.sqrt(2.0) * float(max_slope_length_m) + 2 * float(cell_m)


def _same_grid(da: xr.DataArray, grid: AnalysisGrid) -> bool:
    return grid.matches(da)


def resample_to_grid(
    da: xr.DataArray, *, grid: AnalysisGrid, resampling: str = RESAMPLING
) -> xr.DataArray:
    """Resample a float layer (NaN = nodata) onto ``grid`` with GDAL's warper.

    Parameters
    ----------
    da : xarray.DataArray
        (y, x) with a CRS and transform (rioxarray); numpy or dask (computed here).
    grid : AnalysisGrid
        Target grid.
    resampling : {"average", "bilinear", "nearest"}
        GDAL resampling; default area average (module docstring for why).

    Returns
    -------
    xarray.DataArray
        float32 on ``grid``, NaN where no valid source cell overlaps; ``attrs`` kept.
        Unchanged values when ``da`` is already on ``grid``.
    """
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    methods = {"average": Resampling.average, "bilinear": Resampling.bilinear,
               "nearest": Resampling.nearest}  # fmt: skip
    if resampling not in methods:
        raise ConfigError(f"resampling: {resampling!r} is not one of {sorted(methods)}")
    if da.rio.crs is None:
        raise GridError(f"{da.name!r}: has no CRS; cannot resample it onto the analysis grid")
    src = np.asarray(da.values, dtype=np.float32)
    if _same_grid(da, grid):
        out = src
    else:
        out = np.full(grid.shape, np.nan, dtype=np.float32)
        reproject(
            source=src,
            destination=out,
            src_transform=da.rio.transform(),
            src_crs=da.rio.crs,
            src_nodata=np.nan,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            dst_nodata=np.nan,
            resampling=methods[resampling],
        )
    return grid.dataarray(
        out, name=str(da.name), units=str(da.attrs.get("units", "1")), attrs=dict(da.attrs)
    )


def terrain_factors_on_grid(
    dem: xr.DataArray,
    *,
    grid: AnalysisGrid,
    resampling: str = RESAMPLING,
    variables: tuple[str, ...] = TERRAIN_LAYERS,
    **terrain_kwargs,
) -> xr.Dataset:
    """Slope, L, S and LS routed on the DEM's own grid, then resampled onto ``grid``.

    Filling, routing, slope (Horn 1981), L (Desmet & Govers 1996, J. Soil Water Conserv.
    51(5): 427-433), m and S (McCool et al. 1987/1989; Liu et al. 1994, Trans. ASAE 37(6):
    1835-1840) are those of :func:`pipeline.factors.terrain.terrain_factors`, computed on
    ``dem``'s cells; only the results are resampled (area average by default; module
    docstring).

    Parameters
    ----------
    dem : xarray.DataArray
        Elevation in m, dims (y, x), on its own projected grid in metres (e.g. UTM), NaN =
        nodata; numpy or dask. It should cover ``grid`` plus :func:`routing_margin_m`.
    grid : AnalysisGrid
        The analysis grid the results are written on.
    resampling : str
        See :func:`resample_to_grid`.
    variables : tuple of str
        Layers to return, from ``slope_deg``, ``l_factor``, ``s_factor``, ``ls_factor``.
    **terrain_kwargs
        ``routing``, ``m_method``, ``s_method``, ``max_slope_length_m``,
        ``channel_threshold_m2``, ``mfd_weights`` of ``terrain_factors``.

    Returns
    -------
    xarray.Dataset
        The variables on ``grid``, float32 (numpy-backed: one native layer and one
        analysis-grid layer are held at a time), units "degree" / "1", NaN at nodata.

    Examples
    --------
    >>> ds = terrain_factors_on_grid(dem_utm, grid=grid, max_slope_length_m=300.0)  # doctest: +SKIP
    >>> ds.ls_factor.attrs["units"]  # doctest: +SKIP
    '1'
    """
    from pipeline.factors import terrain as tf

    native = tf.terrain_factors(dem, variables=tuple(variables), **terrain_kwargs)
    if dem.size <= PERSIST_MAX_CELLS:  # one pass of the tiled stage for all the layers
        native = native.persist()
    crs, transform = dem.rio.crs, dem.rio.transform()
    out = {}
    for var in variables:
        layer = native[var].rio.write_crs(crs).rio.write_transform(transform)
        out[var] = resample_to_grid(layer, grid=grid, resampling=resampling)
        out[var].attrs["terrain_grid"] = "native" if not _same_grid(layer, grid) else "analysis"
    return xr.Dataset(out)
