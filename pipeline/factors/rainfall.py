"""R, the rainfall-erosivity factor (降雨侵蚀力), in MJ·mm·ha⁻¹·h⁻¹·a⁻¹.

Models
------
- Zhang Wenbo, Xie Yun & Liu Baoyuan (2002), 地理科学 22(6): 705-711: half-month
  erosivity from daily rainfall of erosive days (≥ 12 mm), with α and β estimated
  from the record's rainfall statistics (the model fitted on 71 Chinese stations).
  Functions :func:`zhang_wenbo_coefficients`, :func:`erosivity_halfmonth_zhang_wenbo`,
  :func:`annual_erosivity`, :func:`halfmonth_share`.
- Renard & Freimund (1994), J. Hydrol. 157: 287-306: annual R from annual
  precipitation (:func:`erosivity_renard_freimund`), a coarse fallback.
- A user-supplied R raster needs no function: open it with ``pipeline.io.open_raster``.

Left out on purpose
-------------------
The monthly "Wischmeier & Smith / Arnoldus" formula R = Σ 1.735·10^(1.5·lg(Pᵢ²/P) − c)
is not implemented: published sources disagree on c (0.08188 vs 0.8188, a factor of
≈ 5.4) and on whether the result is SI or US units (not confirmed in a primary source).
The 10 mm / seasonal-α daily model (§3.2) is attributed only from buggy code [P].

Why written by hand: no maintained Python library implements the Chinese daily
erosivity model; the half-month sums use xarray ``groupby`` (flox), which stays
lazy on dask.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors._common import as_dataarray, check_range, finish

__all__ = [
    "annual_erosivity",
    "erosivity_halfmonth_zhang_wenbo",
    "erosivity_renard_freimund",
    "halfmonth_index",
    "halfmonth_share",
    "mean_annual_erosivity",
    "zhang_wenbo_coefficients",
    "zhang_wenbo_statistics",
]

R_HALFMONTH_UNITS = "MJ mm ha-1 h-1"
R_ANNUAL_UNITS = "MJ mm ha-1 h-1 a-1"
PERIODS = np.arange(1, 25)


# --------------------------------------------------------------------------- time helpers
def halfmonth_index(time):
    """Half-month number 1..24 of each date (day ≤ 15 → first half of the month).

    Parameters
    ----------
    time : xarray.DataArray, pandas.DatetimeIndex or array of datetime64
        Dates.

    Returns
    -------
    xarray.DataArray or numpy.ndarray
        Integers 1..24 (Jan 1–15 → 1, Jan 16–31 → 2, …, Dec 16–31 → 24); a
        DataArray named ``"period"`` with the coords of ``time`` if ``time`` is one.

    Notes
    -----
    The split at day 15 is the usual convention for the Zhang Wenbo et al. (2002)
    half-month model.

    Examples
    --------
    >>> import pandas as pd
    >>> halfmonth_index(pd.to_datetime(["2015-01-15", "2015-01-16", "2015-12-31"])).tolist()
    [1, 2, 24]
    """
    if isinstance(time, xr.DataArray):
        idx = _halfmonth_numpy(time.values)
        out = time.copy(data=idx).rename("period")
        out.attrs = {"units": "1", "long_name": "half-month of the year (1..24)"}
        return out
    return _halfmonth_numpy(time)


def _halfmonth_numpy(values) -> np.ndarray:
    t = pd.DatetimeIndex(np.asarray(values).ravel())
    idx = (t.month.to_numpy() - 1) * 2 + (t.day.to_numpy() > 15) + 1
    return idx.astype(np.int64).reshape(np.shape(values))


def _checked_daily(daily_rain_mm, *, name: str = "daily_rain_mm") -> xr.DataArray:
    if not isinstance(daily_rain_mm, xr.DataArray):
        raise InputDataError(f"{name}: expected an xarray.DataArray with a 'time' dimension")
    if "time" not in daily_rain_mm.dims:
        raise InputDataError(f"{name}: no 'time' dimension (dims are {daily_rain_mm.dims})")
    if "time" not in daily_rain_mm.coords or daily_rain_mm["time"].dtype.kind != "M":
        raise InputDataError(f"{name}: the 'time' coordinate must hold datetime64 dates")
    days = pd.DatetimeIndex(daily_rain_mm["time"].values).normalize()
    if days.has_duplicates:
        dup = days[days.duplicated()][0]
        raise InputDataError(
            f"{name}: more than one value on {dup.date()}; expected one rainfall total per day"
        )
    rain = daily_rain_mm.astype(np.float64) if daily_rain_mm.dtype.kind != "f" else daily_rain_mm
    return check_range(
        rain, name=name, lo=0.0, hint="rainfall cannot be negative; mark gaps as NaN"
    )


def _erosive(rain: xr.DataArray, threshold_mm: float) -> xr.DataArray:
    """Rain on erosive days, 0 on other days, NaN where rain is NaN."""
    return rain.where((rain >= threshold_mm) | rain.isnull(), 0.0)


def _years(rain: xr.DataArray) -> np.ndarray:
    return pd.DatetimeIndex(rain["time"].values).year.to_numpy()


def _check_whole_years(rain: xr.DataArray, *, name: str) -> None:
    t = pd.DatetimeIndex(rain["time"].values)
    for year in np.unique(t.year):
        n = int((t.year == year).sum())
        expected = 366 if pd.Timestamp(year=int(year), month=1, day=1).is_leap_year else 365
        if n != expected:
            raise InputDataError(
                f"{name}: year {year} has {n} of {expected} days; P_y12 is a mean annual total "
                "and needs whole years (pad missing days with NaN, or pass "
                "allow_partial_years=True)"
            )


# ------------------------------------------------------------------- Zhang Wenbo (2002)
def zhang_wenbo_statistics(
    daily_rain_mm: xr.DataArray,
    *,
    threshold_mm: float = 12.0,
    allow_partial_years: bool = False,
) -> tuple[xr.DataArray, xr.DataArray]:
    """P_d12 and P_y12: the rainfall statistics behind Zhang Wenbo's α and β.

    Parameters
    ----------
    daily_rain_mm : xarray.DataArray
        Daily rainfall in mm, dims ``(time, y, x)`` or ``(time,)`` (a station).
        NaN marks a missing day and makes the pixel's statistics NaN.
    threshold_mm : float
        Erosive-day threshold in mm; a day counts when rain ≥ threshold.
    allow_partial_years : bool
        By default every calendar year in the record must be complete.

    Returns
    -------
    (p_d12, p_y12) : tuple of xarray.DataArray
        ``p_d12``: mean rainfall of erosive days (mm); ``p_y12``: mean annual total
        of erosive-day rainfall (mm·a⁻¹) over the calendar years of the record.
        Both NaN where the record has no erosive day.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2001-01-01", "2002-12-31")
    >>> rain = xr.DataArray(np.where(t.day == 1, 20.0, 0.0), dims="time", coords={"time": t})
    >>> [float(v) for v in zhang_wenbo_statistics(rain)]
    [20.0, 240.0]
    """
    rain = _checked_daily(daily_rain_mm)
    if not allow_partial_years:
        _check_whole_years(rain, name="daily_rain_mm")
    n_years = np.unique(_years(rain)).size
    erosive = _erosive(rain, threshold_mm)
    total = erosive.sum("time", skipna=False)
    n_days = (rain >= threshold_mm).sum("time")
    p_d12 = (total / n_days.where(n_days > 0)).where(n_days > 0)
    p_y12 = (total / n_years).where(n_days > 0)
    attrs = {"threshold_mm": threshold_mm, "n_years": n_years}
    return (
        finish(p_d12, name="p_d12", units="mm", attrs=attrs),
        finish(p_y12, name="p_y12", units="mm a-1", attrs=attrs),
    )


def zhang_wenbo_coefficients(
    daily_rain_mm: xr.DataArray,
    *,
    threshold_mm: float = 12.0,
    beta_intercept: float = 0.8363,
    beta_pd12: float = 18.144,
    beta_py12: float = 24.455,
    alpha_coefficient: float = 21.586,
    alpha_exponent: float = -7.1891,
    allow_partial_years: bool = False,
) -> tuple[xr.DataArray, xr.DataArray]:
    """α and β of the Zhang Wenbo et al. (2002) daily model from the rainfall record.

    β = 0.8363 + 18.144 / P_d12 + 24.455 / P_y12 and α = 21.586 · β^(−7.1891), where
    P_d12 is the mean rainfall of erosive days and P_y12 the mean annual erosive
    rainfall, both over **all** years of the input (a multi-year record, in mm).

    Parameters
    ----------
    daily_rain_mm : xarray.DataArray
        Daily rainfall in mm, dims ``(time, y, x)`` or ``(time,)``. Negative values
        raise :class:`InputDataError`; NaN days make that pixel's α, β NaN.
    threshold_mm : float
        Erosive-day threshold (mm); days with rain ≥ threshold count.
    beta_intercept, beta_pd12, beta_py12, alpha_coefficient, alpha_exponent : float
        The published coefficients.
    allow_partial_years : bool
        By default every calendar year of the record must be complete.

    Returns
    -------
    (alpha, beta) : tuple of xarray.DataArray
        Dims of the input without ``time``; NaN where the record has no erosive
        day (the erosivity is then 0 regardless, see
        :func:`erosivity_halfmonth_zhang_wenbo`).

    References
    ----------
    Zhang Wenbo, Xie Yun, Liu Baoyuan (2002). Rainfall erosivity estimation using
    daily rainfall amounts. 地理科学 (Scientia Geographica Sinica) 22(6): 705-711.
    Equations as transcribed in 孙从建 et al., ChinaXiv 202011.00116V1 §2.2.1.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2001-01-01", "2001-12-31")
    >>> rain = xr.DataArray(np.where(t.day == 1, 20.0, 0.0), dims="time", coords={"time": t})
    >>> alpha, beta = zhang_wenbo_coefficients(rain)
    >>> round(float(beta), 4), round(float(alpha), 4)
    (1.8454, 0.2638)
    """
    p_d12, p_y12 = zhang_wenbo_statistics(
        daily_rain_mm, threshold_mm=threshold_mm, allow_partial_years=allow_partial_years
    )
    beta = beta_intercept + beta_pd12 / p_d12 + beta_py12 / p_y12
    alpha = alpha_coefficient * beta**alpha_exponent
    attrs = {"model": "Zhang Wenbo et al. (2002)", "threshold_mm": threshold_mm}
    return (
        finish(alpha, name="zhang_wenbo_alpha", units="MJ mm ha-1 h-1 mm-beta", attrs=attrs),
        finish(beta, name="zhang_wenbo_beta", units="1", attrs=attrs),
    )


def _halfmonth_sum(values: xr.DataArray, times: pd.DatetimeIndex) -> xr.DataArray:
    """Sum over ``time`` per half-month (NaN propagates); missing or partial half-months → NaN."""
    period = xr.DataArray(_halfmonth_numpy(times), dims="time", name="period")
    summed = values.assign_coords(period=period).groupby("period").sum(skipna=False)
    # a half-month with fewer days than the calendar has is incomplete: NaN, not a small sum
    counts = pd.Series(1, index=period.values).groupby(level=0).sum()
    year = int(times.year[0])
    complete = []
    for p in PERIODS:
        month = (p + 1) // 2
        days_in_month = pd.Timestamp(year=year, month=month, day=1).days_in_month
        expected = 15 if p % 2 == 1 else days_in_month - 15
        complete.append(int(counts.get(p, 0)) == expected)
    summed = summed.reindex(period=PERIODS)
    mask = xr.DataArray(np.asarray(complete), dims="period", coords={"period": PERIODS})
    return summed.where(mask)


def erosivity_halfmonth_zhang_wenbo(
    daily_rain_mm: xr.DataArray,
    *,
    alpha,
    beta,
    threshold_mm: float = 12.0,
) -> xr.DataArray:
    """Half-month rainfall erosivity Rᵢ = α · Σⱼ Pⱼ^β over erosive days (Zhang Wenbo 2002).

    Parameters
    ----------
    daily_rain_mm : xarray.DataArray
        Daily rainfall in mm, dims ``(time, y, x)`` or ``(time,)``; may be dask-backed
        (chunked along time). Days with rain < ``threshold_mm`` contribute 0; NaN days
        make that half-month NaN (nodata is never turned into zero erosivity).
    alpha, beta : float or xarray.DataArray
        Model parameters, e.g. from :func:`zhang_wenbo_coefficients` on a multi-year
        record (α in MJ·mm·ha⁻¹·h⁻¹·mm^−β, β dimensionless).
    threshold_mm : float
        Erosive-day threshold in mm (a 12.0 mm day counts, 11.99 does not).

    Returns
    -------
    xarray.DataArray
        ``r_halfmonth`` in MJ·mm·ha⁻¹·h⁻¹ per half-month, dims ``(period, y, x)``
        (or ``(period,)``) with ``period`` = 1..24 for one calendar year of input.
        If the input spans several calendar years, the result has a leading
        ``year`` dim: ``(year, period, …)``. A half-month not fully covered by the
        input is NaN. Where α/β are NaN because the record has no erosive day, R is 0.

    References
    ----------
    Zhang Wenbo, Xie Yun, Liu Baoyuan (2002), 地理科学 22(6): 705-711.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2001-01-01", "2001-12-31")
    >>> rain = xr.DataArray(np.where(t == "2001-07-20", 30.0, 0.0), dims="time",
    ...                     coords={"time": t})
    >>> r = erosivity_halfmonth_zhang_wenbo(rain, alpha=0.3, beta=1.7)
    >>> round(float(r.sel(period=14)), 3), float(annual_erosivity(r)) == float(r.sel(period=14))
    (97.326, True)
    """
    rain = _checked_daily(daily_rain_mm)
    alpha = as_dataarray(alpha, name="alpha")
    beta = as_dataarray(beta, name="beta")
    erosive = _erosive(rain, threshold_mm)
    # 0 stays 0 whatever α, β are (also NaN α, β of a pixel without erosive days)
    powered = xr.where(erosive > 0, erosive**beta, erosive)
    daily_r = xr.where(powered > 0, alpha * powered, powered)
    times = pd.DatetimeIndex(rain["time"].values)
    years = np.unique(times.year)
    parts = []
    for year in years:
        sel = np.flatnonzero(times.year == year)
        parts.append(_halfmonth_sum(daily_r.isel(time=sel), times[sel]))
    if len(parts) == 1:
        out = parts[0].assign_coords(year=int(years[0]))
    else:
        out = xr.concat(parts, dim=xr.DataArray(years.astype(int), dims="year", name="year"))
    out = out.drop_vars("time", errors="ignore")
    lead = [d for d in ("year", "period") if d in out.dims]
    out = out.transpose(*lead, ...)
    return finish(
        out,
        name="r_halfmonth",
        units=R_HALFMONTH_UNITS,
        attrs={"model": "Zhang Wenbo et al. (2002) daily model", "threshold_mm": threshold_mm},
    )


def annual_erosivity(r_halfmonth: xr.DataArray) -> xr.DataArray:
    """Annual R = Σ of the half-month erosivities (NaN in any half-month → NaN).

    Parameters
    ----------
    r_halfmonth : xarray.DataArray
        Erosivity per period in MJ·mm·ha⁻¹·h⁻¹, with a ``period`` dim (24 half-months,
        or another partition of the year such as 16-day steps).

    Returns
    -------
    xarray.DataArray
        ``r_factor`` in MJ·mm·ha⁻¹·h⁻¹·a⁻¹, the input's dims without ``period``
        (a ``year`` dim is kept).

    Examples
    --------
    >>> import xarray as xr
    >>> float(annual_erosivity(xr.DataArray([1.0, 2.0, 3.0], dims="period")))
    6.0
    """
    _require_period(r_halfmonth, "r_halfmonth")
    out = r_halfmonth.sum("period", skipna=False)
    return finish(out, name="r_factor", units=R_ANNUAL_UNITS, attrs=dict(r_halfmonth.attrs))


def mean_annual_erosivity(r_halfmonth: xr.DataArray) -> xr.DataArray:
    """Mean over the ``year`` dim of :func:`annual_erosivity` (R of one year if no ``year``).

    Examples
    --------
    >>> import xarray as xr
    >>> r = xr.DataArray([[1.0, 2.0], [3.0, 4.0]], dims=("year", "period"))
    >>> float(mean_annual_erosivity(r))
    5.0
    """
    annual = annual_erosivity(r_halfmonth)
    if "year" in annual.dims:
        annual = annual.mean("year", skipna=False)
    return finish(annual, name="r_factor", units=R_ANNUAL_UNITS, attrs=dict(r_halfmonth.attrs))


def halfmonth_share(r_halfmonth: xr.DataArray) -> xr.DataArray:
    """Each period's share of annual erosivity, Rᵢ / Σⱼ Rⱼ (dimensionless, sums to 1).

    Used as weights for the annual C or B (:func:`pipeline.factors.cover.r_weighted_mean`),
    as in 常梦迪 et al. (ChinaXiv 202108.00091V1) after Liu Baoyuan's CSLE.

    Where annual R is 0 (no erosive rain) every period gets 1/n (so a weighted mean
    becomes the plain mean; the soil loss there is 0 anyway because R = 0). Where
    any period is NaN, all shares are NaN.

    Parameters
    ----------
    r_halfmonth : xarray.DataArray
        Erosivity per period (MJ·mm·ha⁻¹·h⁻¹) with a ``period`` dim.

    Returns
    -------
    xarray.DataArray
        ``r_share``, same dims as the input, units ``"1"``.

    Examples
    --------
    >>> import xarray as xr
    >>> halfmonth_share(xr.DataArray([1.0, 3.0], dims="period")).values.tolist()
    [0.25, 0.75]
    >>> halfmonth_share(xr.DataArray([0.0, 0.0], dims="period")).values.tolist()
    [0.5, 0.5]
    """
    _require_period(r_halfmonth, "r_halfmonth")
    annual = r_halfmonth.sum("period", skipna=False)
    n = r_halfmonth.sizes["period"]
    share = xr.where(annual > 0, r_halfmonth / annual.where(annual > 0), 1.0 / n)
    share = share.where(annual.notnull())
    share = share.transpose(*r_halfmonth.dims)
    return finish(share, name="r_share", units="1", attrs={"weights_of": "annual R"})


def _require_period(da, name: str) -> None:
    if not isinstance(da, xr.DataArray) or "period" not in da.dims:
        raise InputDataError(f"{name}: expected a DataArray with a 'period' dimension")


# ------------------------------------------------------------------ Renard & Freimund
def erosivity_renard_freimund(
    annual_precip_mm,
    *,
    breakpoint_mm: float = 850.0,
    low_coefficient: float = 0.0483,
    low_exponent: float = 1.610,
    high_c0: float = 587.8,
    high_c1: float = -1.219,
    high_c2: float = 0.004105,
) -> xr.DataArray:
    """Annual R from annual precipitation (Renard & Freimund 1994).

    R = 0.0483·P^1.610 for P ≤ 850 mm; R = 587.8 − 1.219·P + 0.004105·P² above.
    The two branches nearly meet at 850 mm (2512 vs 2518).

    Parameters
    ----------
    annual_precip_mm : float or xarray.DataArray
        Annual precipitation P in mm·a⁻¹ (≥ 0; NaN = nodata).
    breakpoint_mm, low_coefficient, low_exponent, high_c0, high_c1, high_c2 : float
        Published coefficients.

    Returns
    -------
    xarray.DataArray
        ``r_factor`` in MJ·mm·ha⁻¹·h⁻¹·a⁻¹.

    Notes
    -----
    Fitted on US data; a coarse fallback for China, where the daily model is
    preferred. The coefficients are provisional (several
    independent implementations agree; the paper itself was not seen).

    References
    ----------
    Renard, K.G., Freimund, J.R. (1994). Using monthly precipitation data to
    estimate the R-factor in the revised USLE. Journal of Hydrology 157: 287-306.

    Examples
    --------
    >>> round(float(erosivity_renard_freimund(1000.0)), 1)
    3473.8
    """
    p = as_dataarray(annual_precip_mm, name="annual_precip_mm")
    p = check_range(p, name="annual_precip_mm", lo=0.0, hint="precipitation cannot be negative")
    low = low_coefficient * p**low_exponent
    high = high_c0 + high_c1 * p + high_c2 * p**2
    out = xr.where(p <= breakpoint_mm, low, high).where(p.notnull())
    return finish(
        out, name="r_factor", units=R_ANNUAL_UNITS, attrs={"model": "Renard & Freimund (1994)"}
    )


def erosivity_for_year(
    daily_rain_mm: xr.DataArray,
    *,
    year: int,
    method: str = "zhang_wenbo",
    threshold_mm: float = 12.0,
) -> tuple[xr.DataArray, xr.DataArray]:
    """Annual R of ``year`` and its half-month values, by the configured method.

    The recipe the workflow's ``factor_r`` rule runs (``rainfall.method``):

    - ``zhang_wenbo``: α and β fitted on the whole daily record (Zhang Wenbo et al.
      2002, 地理科学 22(6)), half-month R of ``year`` from its erosive days
      (≥ ``threshold_mm``), annual R their sum;
    - ``renard_freimund``: annual R from the year's rainfall total (Renard & Freimund
      1994, J. Hydrol. 157); with no intra-annual model, the half-month values are
      the half-month rainfall totals (mm), used only as weights.

    Parameters
    ----------
    daily_rain_mm : xarray.DataArray
        Daily rainfall (mm d⁻¹), dims (time, y, x), the whole record.
    year : int
        Assessment year (must be in the record).

    Returns
    -------
    (r_annual, r_halfmonth)
        R in MJ·mm·ha⁻¹·h⁻¹·a⁻¹ on the rainfall grid; half-month values with dim ``period``.
    """
    rain_year = daily_rain_mm.sel(time=daily_rain_mm["time"].dt.year == int(year))
    if method == "zhang_wenbo":
        alpha, beta = zhang_wenbo_coefficients(daily_rain_mm, threshold_mm=threshold_mm)
        r_half = erosivity_halfmonth_zhang_wenbo(
            rain_year, alpha=alpha, beta=beta, threshold_mm=threshold_mm
        )
        return annual_erosivity(r_half), r_half
    if method == "renard_freimund":
        r_annual = erosivity_renard_freimund(rain_year.sum("time"))
        period = xr.DataArray(halfmonth_index(rain_year["time"]), dims="time")
        r_half = rain_year.groupby(period.rename("period")).sum("time")
        return r_annual, r_half
    from pipeline.errors import ConfigError

    raise ConfigError(
        f"config key 'rainfall.method': unknown method {method!r}; "
        "expected zhang_wenbo or renard_freimund"
    )


def district_halfmonth_share(r_halfmonth: xr.DataArray) -> xr.DataArray:
    """The district's share of annual R per half-month (sums to 1; dimensionless).

    Half-month R summed over space, divided by its total; 1/24 each when there is no
    erosive rain at all. These are the weights of the annual C (or B).
    """
    total = r_halfmonth.sum([d for d in r_halfmonth.dims if d != "period"])
    if float(total.sum()) > 0:
        return total / float(total.sum())
    return total * 0 + 1 / 24
