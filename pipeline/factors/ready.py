"""Ready-made R and K: plausibility of a provincial map, constants, K from a soil table.

Many monitoring centres hold the provincial R map (MJ·mm·ha⁻¹·h⁻¹·a⁻¹) and K map
(t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹). This module checks such a field where it enters the run and
builds constant fields; reading and regridding the files is the sources layer's job.

Plausible ranges (the defaults of ``rainfall.r_plausible_range`` and
``soil.k_plausible_range``):

- R: 50–20,000 MJ·mm·ha⁻¹·h⁻¹·a⁻¹, the span of published mean annual R over mainland
  China compiled in 孙从建 et al., ChinaXiv:202011.00116V1, Table 2. A map in US
  customary units (hundreds of ft·tonf·in·acre⁻¹·h⁻¹·a⁻¹) is 17.02 × too small
  (Foster, G.R., McCool, D.K., Renard, K.G., Moldenhauer, W.C., 1981, Conversion of the
  universal soil loss equation to SI metric units, J. Soil Water Conserv. 36(6):
  355-359); for a district whose true R is below ~850 the default range cannot tell, so
  a centre sets the range of its own province (e.g. Chongqing 2,600–7,000, same table).
  When the run also has a rain record, the stage compares the two.
- K: 0.001–0.1 t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹, a Shuibao bound around the SI K of Chinese soils
  (e.g. 0.025–0.033 in the lateritic red soils of the Yinna mountains, eastern
  Guangdong: Int. J. Environ. Res. Public Health 2022, 19(23): 15703). A map in US units
  is 7.59 × too large (K_SI = 0.1317·K_US, Foster et al. 1981) and ends above 0.1.

The check uses the field's minimum (≥ 0), median (inside the range) and maximum (≤ the
upper end): one odd pixel of a map does not stop a run, a map in the wrong unit does.
Written by hand: a few reductions, nothing a library does.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors._common import finish

__all__ = [
    "K_PLAUSIBLE_SI",
    "K_SI_UNITS",
    "R_PLAUSIBLE_SI",
    "R_SI_PER_US",
    "R_UNITS",
    "check_plausible",
    "constant_field",
]

R_UNITS = "MJ mm ha-1 h-1 a-1"
K_SI_UNITS = "t ha h ha-1 MJ-1 mm-1"
#: 孙从建 et al., ChinaXiv:202011.00116V1, Table 2 (mainland China)
R_PLAUSIBLE_SI = (50.0, 20000.0)
#: Shuibao bound; US-unit K (× 7.59) ends above it (Foster et al. 1981)
K_PLAUSIBLE_SI = (0.001, 0.1)
#: 1 US unit of R = 17.02 SI units (Foster et al. 1981)
R_SI_PER_US = 17.02

_HINTS = {
    ("R", "low"): (
        "values in US customary units (hundreds of ft·tonf·in·acre⁻¹·h⁻¹·a⁻¹) are 17.02 × "
        "too small: {scale} 17.02; if the values are right, widen {range_key}"
    ),
    ("R", "high"): (
        "R is in MJ·mm·ha⁻¹·h⁻¹·a⁻¹ (values in J or per km² are 1000 × or 100 × too large: "
        "{scale} 0.001 or 0.01); if the values are right, widen {range_key}"
    ),
    ("K", "low"): (
        "K is in t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹ (integers stored × 1000 or × 10000: {scale} 0.001 "
        "or 0.0001); if the values are right, widen {range_key}"
    ),
    ("K", "high"): (
        "values in US customary units (t·acre·h·(100·acre·ft·tonf·in)⁻¹) are 7.59 × too "
        "large: {scale} 0.1317; integers stored × 1000: {scale} 0.001"
    ),
}


def check_plausible(
    field: xr.DataArray,
    *,
    factor: str,
    plausible_range: tuple[float, float],
    source: str,
    key: str,
    range_key: str | None = None,
    scale_key: str | None = None,
    hint: str | None = None,
) -> dict:
    """Check a ready R or K field against a plausible range; return its statistics.

    Parameters
    ----------
    field : xarray.DataArray
        The field on the analysis grid (NaN outside the AOI). Computed here.
    factor : {"R", "K"}
        Which factor (chooses the hint in the error).
    plausible_range : (lo, hi)
        The median must lie in [lo, hi] and the maximum must not exceed hi.
    source : str
        File name (or "constant") named in the error.
    key : str
        Config key named in the error (e.g. ``rainfall.r_raster``).
    range_key : str, optional
        Config key of the range (default ``rainfall.r_plausible_range`` for R,
        ``soil.k_plausible_range`` for K).
    scale_key : str, optional
        Config key of the multiplier the user can set (e.g. ``rainfall.r_raster.scale``);
        None (a constant): the message asks to multiply the value.
    hint : str, optional
        Replaces the unit hint of the message (e.g. for R computed from gauges).

    Returns
    -------
    dict
        ``min``, ``median``, ``max`` of the finite values.

    Raises
    ------
    InputDataError
        No finite value, a negative value, the median outside the range or the maximum
        above it; the message names the file, the key, the value and what to do.

    Examples
    --------
    >>> r = xr.DataArray(np.full((2, 2), 300.0), dims=("y", "x"))
    >>> check_plausible(r, factor="R", plausible_range=(50, 20000), source="r.tif",
    ...                 key="rainfall.r_raster")["median"]
    300.0
    """
    if factor not in ("R", "K"):
        raise InputDataError(f"check_plausible: factor must be 'R' or 'K', got {factor!r}")
    range_key = range_key or (
        "rainfall.r_plausible_range" if factor == "R" else "soil.k_plausible_range"
    )
    scale = f"set {scale_key}:" if scale_key else "multiply the value by"
    lo, hi = (float(v) for v in plausible_range)
    if lo > hi:
        raise InputDataError(f"{range_key}: {[lo, hi]} is not ascending")
    values = np.asarray(field.values, dtype="float64").ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise InputDataError(f"{source} ({key}): no valid {factor} value over the AOI")
    stats = {
        "min": float(values.min()),
        "median": float(np.median(values)),
        "max": float(values.max()),
    }
    if stats["min"] < 0:
        raise InputDataError(
            f"{source} ({key}): negative {factor} values (min {stats['min']:g}); "
            f"{factor} is ≥ 0 — check the file's nodata value ({key}.nodata)"
        )
    units = R_UNITS if factor == "R" else K_SI_UNITS
    for what, value, side in (
        ("median", stats["median"], "low" if stats["median"] < lo else None),
        ("median", stats["median"], "high" if stats["median"] > hi else None),
        ("maximum", stats["max"], "high" if stats["max"] > hi else None),
    ):
        if side:
            raise InputDataError(
                f"{source} ({key}): {factor} {what} {value:g} is outside the plausible range "
                f"{lo:g}–{hi:g} {units}: "
                + (hint or _HINTS[(factor, side)].format(range_key=range_key, scale=scale))
            )
    return stats


def constant_field(
    template: xr.DataArray,
    *,
    value: float,
    name: str,
    units: str,
    attrs: Mapping | None = None,
) -> xr.DataArray:
    """A field equal to ``value`` wherever ``template`` is finite, NaN elsewhere.

    Lazy when ``template`` is dask-backed (same chunks).

    Examples
    --------
    >>> t = xr.DataArray([[1.0, np.nan]], dims=("y", "x"))
    >>> constant_field(t, value=0.03, name="K", units=K_SI_UNITS).values.tolist()
    [[0.03, nan]]
    """
    value = float(value)
    if not np.isfinite(value):
        raise InputDataError(f"{name}: constant value {value!r} is not a finite number")
    out = xr.full_like(template, value, dtype="float64").where(np.isfinite(template))
    return finish(out, name=name, units=units, attrs=attrs)
