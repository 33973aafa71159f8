"""Sediment delivery: index of connectivity, SDR, sediment export, gauge catchments.

Formulas
--------
- Index of connectivity, Borselli, Cassi & Torri (2008, Prolegomena to sediment and flow
  connectivity in the landscape: a GIS and field numerical assessment, Catena 75(3):
  268-277)::

      IC = log10(D_up / D_dn),   D_up = W̄ · S̄ · √A,   D_dn = Σ_i d_i / (W_i · S_i)

  A is the upslope contributing area of the cell (m², the cell included), W̄ and S̄ the
  mean weighting factor and mean slope gradient (m/m) over that area, and the sum runs
  over the cells i of the D8 steepest-descent path from the cell to the first stream cell
  (or to where the flow leaves the grid), d_i being the length of the path across cell i
  (cell size, or the cell diagonal for a diagonal step). D_up is in m, D_dn in m, IC is
  dimensionless.
- Sediment delivery ratio, Vigiak, Borselli, Newham, McInnes & Roberts (2012, Comparison
  of conceptual landscape metrics to define hillslope-scale sediment delivery ratio,
  Geomorphology 138(1): 74-88)::

      SDR = SDR_max / (1 + exp((IC0 − IC) / k))

  with the defaults of InVEST SDR (Sharp et al., InVEST User's Guide, Natural Capital
  Project, "SDR: Sediment Delivery Ratio", section "Data needs"): SDR_max = 0.8,
  IC0 = 0.5, k = 2.
- Sediment export of a pixel (t/a) = A [t·ha⁻¹·a⁻¹] × pixel area [ha] × SDR; the export of
  a catchment is the sum over its pixels (as InVEST's ``sed_export``).

Weighting factor W = C (the RUSLE cover-management factor), as InVEST SDR does. With CSLE
(Liu Baoyuan et al. 2002) W = B, the biological-measures factor: B is CSLE's vegetation
counterpart of C (from the same cover methods and tables), while E and T, like RUSLE's P,
describe measures and stay out of W as P does in InVEST. On cropland CSLE uses T instead of B
in the soil loss, but B there still describes the cover, which is what W stands for. Borselli
et al. (2008) derive W from land cover as well, Cavalli et al. (2013) use a roughness
index instead. Thresholds as the InVEST user guide (after Cavalli et al. 2013,
Geomorphology 188: 31-41): S clipped to [0.005, 1] m/m and W floored at 0.001, so that
D_dn stays finite on flats and under dense cover.

Where Shuibao differs from InVEST SDR (read this before comparing numbers)
-------------------------------------------------------------------------
- Routing: InVEST uses multiple flow directions for both D_up and D_dn. Here both use the
  project's D8 steepest-descent grid (:func:`pipeline.factors.terrain.flow_directions_d8`,
  priority-flood filled): D_dn along the D8 path exactly as Borselli et al. (2008) define
  it, D_up over the D8 upslope area (pyflwdir ``accuflux``). MFD spreads A over more cells,
  so InVEST's D_up is smoother; on an axis-aligned plane both are the same.
- Sinks: streams are cells whose D8 upstream count reaches ``stream_threshold_cells``
  (InVEST: "threshold flow accumulation", 1000 in its sample data). As in InVEST the
  path stops at the first stream cell and stream cells get no SDR (NaN) and no export
  (0): sheet and rill delivery is undefined in the channel. Unlike InVEST, a cell whose
  path leaves the grid (or enters nodata) without reaching a stream is not dropped: its
  path ends at the grid edge, the last cell's own term included (d = cell size), so a
  watershed clipped at its outlet still gets an SDR everywhere.
- Slope: the Horn (1981) gradient of the unfilled DEM (the one the LS factor uses),
  S = tan θ; InVEST uses its own slope of the filled DEM.
- No sediment trapping/deposition layer (InVEST's T_i, F_i) and no drainage layer.

Why written by hand: no maintained Python library implements the Borselli index on
arrays (InVEST/pygeoprocessing has no Linux wheel and is not installable here); the
accumulations are pyflwdir's (``accuflux`` upstream for the D_up sums, ``accuflux``
downstream on a grid whose stream cells are made pits for D_dn), and the catchments are
pyflwdir ``basins``. Global operation: dask input is computed (like the routing).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from pipeline.errors import ConfigError, InputDataError
from pipeline.factors import _routing, terrain

__all__ = [
    "SDR_DEFAULTS",
    "catchment_mask",
    "catchment_totals",
    "connectivity_index",
    "sediment_delivery_ratio",
    "sediment_export",
    "snap_to_accumulation",
]

#: InVEST SDR defaults (InVEST User's Guide, SDR "Data needs"): SDR_max, IC0, k.
SDR_DEFAULTS = {"sdr_max": 0.8, "ic0": 0.5, "k": 2.0}
#: InVEST's slope and weight thresholds (user guide, after Cavalli et al. 2013).
S_MIN, S_MAX, W_MIN = 0.005, 1.0, 0.001


def _values(da: xr.DataArray, name: str) -> np.ndarray:
    if not isinstance(da, xr.DataArray) or da.dims != ("y", "x"):
        raise InputDataError(f"{name}: expected an xarray.DataArray with dims ('y', 'x')")
    return np.asarray(da.values, dtype=np.float64)


def _flwdir(codes: np.ndarray):
    import pyflwdir  # ~1 s import: only the functions that route need it

    return pyflwdir.from_array(codes, ftype="d8", check_ftype=False)


def _step_lengths(codes: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Length (m) of the D8 step out of each cell; the cell size at outlets (code 0)."""
    d = np.full(codes.shape, math.sqrt(dx * dy))
    diag = math.hypot(dx, dy)
    for code in (2, 8, 32, 128):
        d[codes == code] = diag
    for code in (1, 16):
        d[codes == code] = dx
    for code in (4, 64):
        d[codes == code] = dy
    d[codes == _routing.NODATA] = np.nan
    return d


def connectivity_index(
    dem: xr.DataArray,
    *,
    weight: xr.DataArray,
    stream_threshold_cells: int = 1000,
    s_min: float = S_MIN,
    s_max: float = S_MAX,
    w_min: float = W_MIN,
    weight_name: str = "C",
) -> xr.Dataset:
    """Borselli et al. (2008) index of connectivity on the D8 grid.

    Parameters
    ----------
    dem : xarray.DataArray
        Elevation in m, dims (y, x), projected CRS in metres, NaN = nodata.
    weight : xarray.DataArray
        Weighting factor W (dimensionless; Shuibao uses the C factor, as InVEST), same grid.
        NaN where the DEM is valid is an error.
    stream_threshold_cells : int
        D8 upstream cells (the cell included) from which a cell is a stream (a sink).
    s_min, s_max, w_min : float
        Thresholds on S (m/m) and W (InVEST user guide, after Cavalli et al. 2013).
    weight_name : str
        What W is ("C" for RUSLE, "B" for CSLE), recorded in ``ic.attrs["weight"]``.

    Returns
    -------
    xarray.Dataset
        ``d_up`` (m), ``d_dn`` (m), ``ic`` (1), ``upslope_area_m2`` (m²), ``stream``
        (bool), ``flow_direction_d8`` (ESRI codes); float64, NaN at nodata; ``d_dn``,
        ``ic`` are NaN on stream cells (no overland path).

    Examples
    --------
    >>> ds = connectivity_index(dem, weight=c_factor)  # doctest: +SKIP
    """
    if int(stream_threshold_cells) < 1:
        raise ConfigError(
            f"sediment.stream_threshold_cells: expected an integer ≥ 1, got {stream_threshold_cells!r}"
        )
    dem = dem.compute() if hasattr(dem.data, "dask") else dem
    _, dx, dy = terrain._check_dem(dem)
    codes = np.asarray(terrain.flow_directions_d8(dem).values, dtype=np.uint8)
    valid = codes != _routing.NODATA
    w = _values(weight.compute() if hasattr(weight.data, "dask") else weight, "weight")
    if w.shape != codes.shape:
        raise InputDataError(f"weight: shape {w.shape} differs from the DEM's {codes.shape}")
    if np.isnan(w[valid]).any():
        raise InputDataError(
            "weight: NaN where the DEM is valid; fill the C factor on every land cell "
            "(or mask the DEM to the same area)"
        )
    tan = np.tan(np.radians(_values(terrain.slope_degrees(dem), "slope")))
    s = np.clip(tan, s_min, s_max)
    w = np.maximum(w, w_min)
    s[~valid] = 0.0
    w[~valid] = 0.0

    flw = _flwdir(codes)
    cells = flw.upstream_area(unit="cell").astype(np.float64)
    cells[~valid] = np.nan
    w_sum = flw.accuflux(w)
    s_sum = flw.accuflux(s)
    area = cells * dx * dy
    d_up = (w_sum / cells) * (s_sum / cells) * np.sqrt(area)

    stream = valid & (cells >= int(stream_threshold_cells))
    term = np.where(valid & ~stream, _step_lengths(codes, dx, dy) / (w * s), 0.0)
    # D_dn: sum of the terms along the D8 path down to the first stream cell. Making the
    # stream cells pits ends every path there; their own term is 0 (they are the sink).
    cut = codes.copy()
    cut[stream] = 0
    d_dn = _flwdir(cut).accuflux(term, direction="down")
    d_dn = np.where(valid & ~stream, d_dn, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ic = np.log10(d_up / d_dn)
    d_up[~valid] = np.nan

    def wrap(arr, name, units, **attrs):
        out = xr.DataArray(arr, dims=dem.dims, coords=dem.coords, name=name)
        out.attrs = {"units": units, **attrs}
        return out

    src = "Borselli et al. 2008, Catena 75: 268-277"
    ds = xr.Dataset(
        {
            "d_up": wrap(d_up, "d_up", "m", method=src, routing="d8"),
            "d_dn": wrap(d_dn, "d_dn", "m", method=src, routing="d8"),
            "ic": wrap(ic, "ic", "1", method=src, weight=str(weight_name)),
            "upslope_area_m2": wrap(area, "upslope_area_m2", "m2", at="outlet"),
            "stream": wrap(stream, "stream", "1", threshold_cells=str(stream_threshold_cells)),
            "flow_direction_d8": wrap(codes, "flow_direction_d8", "1"),
        }
    )
    if dem.rio.crs is not None:
        ds = ds.rio.write_crs(dem.rio.crs)
    return ds


def sediment_delivery_ratio(
    ic: xr.DataArray,
    *,
    sdr_max: float = SDR_DEFAULTS["sdr_max"],
    ic0: float = SDR_DEFAULTS["ic0"],
    k: float = SDR_DEFAULTS["k"],
) -> xr.DataArray:
    """SDR = SDR_max / (1 + exp((IC0 − IC)/k)), Vigiak et al. (2012, Geomorphology 138: 74-88).

    Defaults SDR_max = 0.8, IC0 = 0.5, k = 2 are InVEST SDR's (User's Guide, "Data needs").

    Parameters
    ----------
    ic : xarray.DataArray
        Index of connectivity (dimensionless); NaN stays NaN.
    sdr_max : float in (0, 1]
    ic0 : float
    k : float > 0

    Returns
    -------
    xarray.DataArray
        SDR (dimensionless, 0 < SDR < SDR_max), ``attrs["units"] = "1"``.

    Examples
    --------
    >>> float(sediment_delivery_ratio(xr.DataArray(0.5)))
    0.4
    """
    if not 0 < float(sdr_max) <= 1:
        raise ConfigError(f"sediment.sdr_max: expected 0 < SDR_max ≤ 1, got {sdr_max!r}")
    if not float(k) > 0:
        raise ConfigError(f"sediment.k: expected k > 0, got {k!r}")
    out = sdr_max / (1.0 + np.exp((ic0 - ic) / k))
    out = out.rename("sdr")
    out.attrs = {
        "units": "1",
        "method": "Vigiak et al. 2012, Geomorphology 138: 74-88",
        "sdr_max": str(sdr_max),
        "ic0": str(ic0),
        "k": str(k),
    }
    return out


def sediment_export(soil_loss: xr.DataArray, sdr: xr.DataArray) -> xr.DataArray:
    """Sediment export per pixel, t/a = A [t·ha⁻¹·a⁻¹] × pixel area [ha] × SDR.

    The pixel area is dx·dy/10⁴ ha from the grid coordinates (metres; the analysis grid is
    equal-area). Where SDR is NaN on a valid A (stream cells) the export is 0.

    Examples
    --------
    >>> sediment_export(soil_loss, sdr).sum()  # doctest: +SKIP
    """
    _, dx, dy = terrain._check_dem(soil_loss, name="soil_loss")
    pixel_ha = dx * dy / 1e4
    out = (soil_loss * pixel_ha * sdr.fillna(0.0)).where(soil_loss.notnull())
    out = out.rename("sediment_export_t_yr")
    out.attrs = {"units": "t a-1", "per": "pixel", "pixel_area_ha": f"{pixel_ha:g}"}
    return out


def snap_to_accumulation(
    upstream_cells: xr.DataArray, *, x: float, y: float, radius_m: float
) -> dict:
    """Snap a gauge to the cell of largest D8 accumulation within ``radius_m`` of (x, y).

    Parameters
    ----------
    upstream_cells : xarray.DataArray
        D8 upstream cell counts (or area), dims (y, x), NaN at nodata.
    x, y : float
        Gauge position in the grid's CRS (m).
    radius_m : float
        Search radius (m, ≥ 0), measured between cell centres.

    Returns
    -------
    dict
        ``row``, ``col``, ``x``, ``y`` (cell centre), ``accumulation`` (value of the input there), ``distance_m``.

    Examples
    --------
    >>> snap_to_accumulation(acc, x=440409.5, y=2841541.2, radius_m=90.0)  # doctest: +SKIP
    """
    xs = np.asarray(upstream_cells["x"].values, dtype=float)
    ys = np.asarray(upstream_cells["y"].values, dtype=float)
    xx, yy = np.meshgrid(xs, ys)
    dist = np.hypot(xx - x, yy - y)
    acc = np.asarray(upstream_cells.values, dtype=float)
    cand = (dist <= float(radius_m)) & np.isfinite(acc)
    if not cand.any():
        raise InputDataError(
            f"gauge at ({x:.1f}, {y:.1f}): no valid cell within {radius_m} m; check the gauge "
            "coordinates and CRS, or raise sediment.snap_radius_m"
        )
    score = np.where(cand, acc, -np.inf)
    # largest accumulation; among equals the nearest
    best = np.flatnonzero(score == score.max())
    i = best[np.argmin(dist.ravel()[best])]
    r, c = np.unravel_index(i, acc.shape)
    return {
        "row": int(r),
        "col": int(c),
        "x": float(xs[c]),
        "y": float(ys[r]),
        "accumulation": float(acc[r, c]),
        "distance_m": float(dist[r, c]),
    }


def catchment_mask(flow_direction_d8: xr.DataArray, *, row: int, col: int) -> xr.DataArray:
    """Boolean mask of the D8 catchment draining through cell (row, col) (pyflwdir basins)."""
    codes = np.asarray(flow_direction_d8.values, dtype=np.uint8)
    idx = np.ravel_multi_index((row, col), codes.shape)
    basins = _flwdir(codes).basins(idxs=np.array([idx]))
    out = xr.DataArray(basins > 0, dims=flow_direction_d8.dims, coords=flow_direction_d8.coords)
    out.name = "catchment"
    out.attrs = {"units": "1"}
    return out


def catchment_totals(*, soil_loss: xr.DataArray, export: xr.DataArray, mask: xr.DataArray) -> dict:
    """Gross erosion and export of a catchment.

    Returns ``area_ha`` (valid soil-loss pixels in the mask), ``gross_t`` = Σ A·pixel area
    (t/a), ``export_t`` = Σ export (t/a), and the yields ``gross_t_ha``, ``export_t_ha``
    (t·ha⁻¹·a⁻¹), ``sdr_catchment`` = export / gross.
    """
    _, dx, dy = terrain._check_dem(soil_loss, name="soil_loss")
    pixel_ha = dx * dy / 1e4
    m = np.asarray(mask.values, dtype=bool)
    a = np.asarray(soil_loss.values, dtype=float)[m]
    e = np.asarray(export.values, dtype=float)[m]
    ok = np.isfinite(a)
    area = float(ok.sum() * pixel_ha)
    gross = float(np.sum(a[ok]) * pixel_ha)
    exp_t = float(np.nansum(e[ok]))
    return {
        "area_ha": area,
        "gross_t": gross,
        "export_t": exp_t,
        "gross_t_ha": gross / area if area else float("nan"),
        "export_t_ha": exp_t / area if area else float("nan"),
        "sdr_catchment": exp_t / gross if gross else float("nan"),
    }
