"""R over a fixed reference period, for monitoring that compares years (动态监测).

Dynamic monitoring keeps R at a multi-year value so that year-to-year change is the land's
(the first national census used the 1981-2010 mean of daily erosive rain and each station's
half-month shares of annual R: 殷水清, 章文波, 谢云 et al. 2013, 中国水土保持 2013(10): 45-51).
Here α/β of Zhang Wenbo et al. (2002, 地理科学 22(6): 705-711), the mean annual R and the
half-month shares of R all come from a fixed reference period, so adding later years to the
record changes no earlier year's result. ``mode="year"`` gives the assessment year's own R,
still with the reference period's α/β.

Composed from :mod:`pipeline.factors.rainfall`; nothing here is written from scratch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors.rainfall import (
    annual_erosivity,
    erosivity_halfmonth_zhang_wenbo,
    halfmonth_share,
    zhang_wenbo_coefficients,
)

MODES = ("reference_mean", "year")

__all__ = ["MODES", "complete_years", "reference_erosivity"]


def complete_years(time) -> list[int]:
    """Calendar years with every day present in ``time`` (365 or 366 days).

    Examples
    --------
    >>> complete_years(pd.date_range("2000-03-01", "2002-12-31"))
    [2001, 2002]
    """
    t = pd.DatetimeIndex(np.asarray(time))
    counts = pd.Series(1, index=t).groupby(t.year).sum()
    return [
        int(y)
        for y, n in counts.items()
        if n == (366 if pd.Timestamp(y, 1, 1).is_leap_year else 365)
    ]


def reference_erosivity(
    daily_rain_mm: xr.DataArray,
    *,
    year: int,
    mode: str = "reference_mean",
    reference_period: tuple[int, int] | None = None,
    threshold_mm: float = 12.0,
) -> dict:
    """R for ``year`` with α/β, mean R and half-month shares from a reference period.

    Parameters
    ----------
    daily_rain_mm : xarray.DataArray
        Daily rain, mm, dims ``(time, …)``, the whole record.
    year : int
        Assessment year (must be in the record when ``mode="year"``).
    mode : {"reference_mean", "year"}
        ``reference_mean``: R = mean annual R of the reference period (the same for every
        assessment year); ``year``: R of ``year``'s own rain with the period's α/β.
    reference_period : (first, last) years, optional
        Inclusive; every year must be complete in the record. None = all complete years
        (``period_defaulted`` is then True: extending the record changes the result).
    threshold_mm : float
        Erosive-day threshold, mm.

    Returns
    -------
    dict
        ``r_factor`` (MJ·mm·ha⁻¹·h⁻¹·a⁻¹), ``r_halfmonth`` (period dim, MJ·mm·ha⁻¹·h⁻¹),
        ``r_share`` (half-month shares of the reference period's mean R), ``alpha``,
        ``beta``, ``period`` (first, last), ``period_defaulted``, ``mode``.

    Raises
    ------
    InputDataError
        Unknown mode, a period year missing or incomplete, ``year`` not in the record, or
        R = 0 everywhere (no erosive day under the chosen threshold).

    Examples
    --------
    >>> t = pd.date_range("2001-01-01", "2002-12-31")
    >>> rain = xr.DataArray(np.where((t.day == 1) & (t.year == 2001), 20.0,
    ...                     np.where(t.day == 1, 40.0, 0.0)), dims="time", coords={"time": t})
    >>> a = reference_erosivity(rain, year=2001)
    >>> b = reference_erosivity(rain, year=2002)
    >>> float(a["r_factor"]) == float(b["r_factor"]), a["period"]
    (True, (2001, 2002))
    """
    if mode not in MODES:
        raise InputDataError(f"rainfall.mode must be one of {MODES}, got {mode!r}")
    complete = complete_years(daily_rain_mm["time"].values)
    if not complete:
        raise InputDataError("the daily rainfall record has no complete calendar year")
    defaulted = reference_period is None
    if defaulted:
        first, last = complete[0], complete[-1]
    else:
        first, last = (int(v) for v in reference_period)
        if first > last:
            raise InputDataError(f"rainfall.reference_period {[first, last]} is not ascending")
        missing = [y for y in range(first, last + 1) if y not in complete]
        if missing:
            raise InputDataError(
                f"rainfall.reference_period {[first, last]}: year(s) {missing} are missing or "
                f"incomplete in the rainfall record (complete years {complete[0]}–"
                f"{complete[-1]})"
            )
    years = daily_rain_mm["time"].dt.year
    ref = daily_rain_mm.sel(time=(years >= first) & (years <= last))
    alpha, beta = zhang_wenbo_coefficients(ref, threshold_mm=threshold_mm)
    half_ref = erosivity_halfmonth_zhang_wenbo(
        ref, alpha=alpha, beta=beta, threshold_mm=threshold_mm
    )
    mean_half = half_ref.mean("year", skipna=False) if "year" in half_ref.dims else half_ref
    mean_half = mean_half.drop_vars("year", errors="ignore")
    if mode == "reference_mean":
        r_half = mean_half
    else:
        if int(year) not in complete:
            raise InputDataError(
                f"rainfall.mode 'year': no complete daily rainfall for {year} in the record"
            )
        rain_year = daily_rain_mm.sel(time=years == int(year))
        r_half = erosivity_halfmonth_zhang_wenbo(
            rain_year, alpha=alpha, beta=beta, threshold_mm=threshold_mm
        ).drop_vars("year", errors="ignore")
    r = annual_erosivity(r_half)
    if not bool((r > 0).any()):
        raise InputDataError(
            f"R is 0 everywhere for {year} (mode {mode}, period {first}–{last}): the record "
            f"has no day with rain ≥ rainfall.threshold_mm = {threshold_mm} mm"
        )
    r.attrs.update({"mode": mode, "reference_period": f"{first}-{last}"})
    return {
        "r_factor": r,
        "r_halfmonth": r_half,
        "r_share": halfmonth_share(mean_half),
        "alpha": alpha,
        "beta": beta,
        "period": (first, last),
        "period_defaulted": defaulted,
        "mode": mode,
    }
