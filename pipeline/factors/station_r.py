"""R from several rain gauges: R per station, interpolated onto the analysis grid.

Per station
-----------
Each gauge's daily record gets the same R method as a single record:
``zhang_wenbo`` through :func:`pipeline.factors.rainfall_reference.reference_erosivity`
(α/β, the mean annual R and the half-month shares from the reference period, for each
station on its own record, so ``rainfall.mode`` and ``rainfall.reference_period`` apply
per station), ``renard_freimund`` from the station's annual rain (Renard & Freimund
1994, J. Hydrol. 157: 287-306).

Interpolation
-------------
:class:`scipy.interpolate.RBFInterpolator` with the thin-plate-spline kernel and a
degree-1 polynomial (Duchon 1977; Wahba 1990, Spline Models for Observational Data,
SIAM), no smoothing: an exact interpolator (each gauge pixel gets its gauge's R), smooth,
deterministic, and it reproduces a linear trend exactly. It is chosen over kriging
(PyKrige, GSTools) because a district has a handful of gauges — far too few to fit a
variogram (kriging guidance asks for some 50–100 points), and a kriging fit with
5–10 points is driven by the arbitrary variogram choice — and because scipy is already
a dependency. Special cases, all deterministic:

- one gauge: R is uniform (the gauge's value everywhere);
- gauges on one line (two gauges, or collinear ones): the spline is fitted along the
  line through them (1-D thin-plate with a linear term: piecewise-cubic, exactly linear
  for two gauges) and is constant across it;
- outside the gauges' range of values the spline may over- or undershoot (linear
  extrapolation far from the gauges can even turn negative), so the result is clipped
  to [min, max] of the station R: the map never invents erosivity beyond what was
  measured. This is Shuibao's rule, stated in the R raster's tags.

Evaluation is block by block (lazy on a dask-backed template).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors._common import finish, is_dask

__all__ = ["interpolate_stations", "station_erosivity"]

R_UNITS = "MJ mm ha-1 h-1 a-1"


def station_erosivity(
    daily_rain_mm: xr.DataArray,
    *,
    year: int,
    method: str = "zhang_wenbo",
    mode: str = "reference_mean",
    reference_period: tuple[int, int] | None = None,
    threshold_mm: float = 12.0,
) -> dict:
    """R per station (dims ``(time, station)`` in, ``station`` out).

    Returns a dict like :func:`~pipeline.factors.rainfall_reference.reference_erosivity`
    (``r_factor``, ``r_halfmonth``, ``r_share``, ``period``, ``period_defaulted``) with a
    ``station`` dim; for ``renard_freimund`` the shares follow half-month rain totals
    and ``period`` is None.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.date_range("2001-01-01", "2002-12-31")
    >>> wet = np.where(t.day == 1, 30.0, 0.0)
    >>> rain = xr.DataArray(np.stack([wet, 2 * wet], axis=1), dims=("time", "station"),
    ...                     coords={"time": t, "station": ["a", "b"]})
    >>> r = station_erosivity(rain, year=2001)["r_factor"]
    >>> r.dims, bool(r.sel(station="b") > r.sel(station="a"))
    (('station',), True)
    """
    from pipeline.factors import rainfall as rf

    if "station" not in daily_rain_mm.dims:
        raise InputDataError("station rainfall: expected a 'station' dim")
    if method == "zhang_wenbo":
        from pipeline.factors.rainfall_reference import reference_erosivity

        return reference_erosivity(
            daily_rain_mm,
            year=int(year),
            mode=mode,
            reference_period=reference_period,
            threshold_mm=threshold_mm,
        )
    if method != "renard_freimund":
        raise InputDataError(f"rainfall.method {method!r}: no per-station R for this method")
    rain_year = daily_rain_mm.sel(time=daily_rain_mm["time"].dt.year == int(year))
    if rain_year.sizes["time"] == 0:
        raise InputDataError(f"station rainfall: no daily rain for {year}")
    r = rf.erosivity_renard_freimund(rain_year.sum("time"))
    period = xr.DataArray(rf.halfmonth_index(rain_year["time"]), dims="time")
    r_half = rain_year.groupby(period.rename("period")).sum("time")
    return {
        "r_factor": r,
        "r_halfmonth": r_half,
        "r_share": rf.halfmonth_share(r_half),
        "period": None,
        "period_defaulted": False,
    }


def _line_basis(points: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Centre and, if the points lie on one line, its unit direction (else None)."""
    centre = points.mean(axis=0)
    _, s, vt = np.linalg.svd(points - centre, full_matrices=False)
    spread = s[0] if s.size else 0.0
    if s.size < 2 or s[1] <= 1e-9 * max(spread, 1.0):
        return centre, vt[0]
    return centre, None


def interpolate_stations(
    x,
    y,
    values,
    *,
    template: xr.DataArray,
    name: str = "R",
    units: str = R_UNITS,
) -> xr.DataArray:
    """Thin-plate RBF of station ``values`` at (``x``, ``y``) onto ``template``'s grid.

    Parameters
    ----------
    x, y : array-like
        Station coordinates in the template's CRS (its ``x``/``y`` coords), one per station.
    values : array-like
        Station values (e.g. R, MJ·mm·ha⁻¹·h⁻¹·a⁻¹), finite.
    template : xarray.DataArray
        2-D (y, x) grid; the result is NaN where the template is not finite and has its
        chunks.

    Returns
    -------
    xarray.DataArray
        Interpolated field clipped to [min, max] of ``values``; ``attrs`` record the
        interpolator and the number of stations.

    Examples
    --------
    >>> t = xr.DataArray(np.zeros((1, 5)), dims=("y", "x"),
    ...                  coords={"y": [0.5], "x": [0.5, 1.5, 2.5, 3.5, 4.5]})
    >>> interpolate_stations([0.5, 4.5], [0.5, 0.5], [100.0, 300.0],
    ...                      template=t).values.round(6).tolist()
    [[100.0, 150.0, 200.0, 250.0, 300.0]]
    """
    from scipy.interpolate import RBFInterpolator

    xs = np.asarray(x, dtype="float64").ravel()
    ys = np.asarray(y, dtype="float64").ravel()
    vals = np.asarray(values, dtype="float64").ravel()
    if not (xs.size == ys.size == vals.size) or xs.size == 0:
        raise InputDataError(
            f"station interpolation: need as many x, y and values (got {xs.size}, {ys.size}, "
            f"{vals.size}), at least one station"
        )
    if not np.isfinite(np.concatenate([xs, ys, vals])).all():
        raise InputDataError("station interpolation: station coordinates and values must be finite")
    points = np.column_stack([xs, ys])
    if np.unique(points, axis=0).shape[0] != points.shape[0]:
        raise InputDataError(
            "station interpolation: two stations share the same coordinates; merge them"
        )
    lo, hi = float(vals.min()), float(vals.max())
    centre, direction = _line_basis(points) if xs.size > 1 else (points[0], None)
    if xs.size == 1 or hi == lo:
        kind = "uniform"

        def predict(p):
            return np.full(p.shape[0], vals[0] if xs.size == 1 else lo)

    elif direction is not None:
        kind = "thin-plate RBF along the gauge line"
        rbf = RBFInterpolator(
            ((points - centre) @ direction)[:, None], vals, kernel="thin_plate_spline", degree=1
        )

        def predict(p):
            return rbf(((p - centre) @ direction)[:, None])

    else:
        kind = "thin-plate RBF (degree 1)"
        rbf = RBFInterpolator(points - centre, vals, kernel="thin_plate_spline", degree=1)

        def predict(p):
            return rbf(p - centre)

    def block(xb: np.ndarray, yb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        p = np.column_stack([xb.ravel(), yb.ravel()])
        out = np.clip(predict(p), lo, hi).reshape(xb.shape)
        return np.where(np.isfinite(mask), out, np.nan)

    yy, xx = xr.broadcast(template["y"].astype("float64"), template["x"].astype("float64"))
    xx = xx.transpose(*template.dims)
    yy = yy.transpose(*template.dims)
    if is_dask(template):
        xx = xx.chunk(dict(zip(template.dims, template.chunks, strict=True)))
        yy = yy.chunk(dict(zip(template.dims, template.chunks, strict=True)))
    out = xr.apply_ufunc(
        block,
        xx.drop_vars(["x", "y"], errors="ignore"),
        yy.drop_vars(["x", "y"], errors="ignore"),
        template.drop_vars(["x", "y"], errors="ignore"),
        dask="parallelized",
        output_dtypes=["float64"],
    )
    out = out.assign_coords(x=template["x"], y=template["y"])
    return finish(
        out,
        name=name,
        units=units,
        attrs={"interpolator": kind, "n_stations": int(xs.size), "clipped_to": f"{lo:g}-{hi:g}"},
    )
