"""RUSLE soil loss A = R·K·LS·C·P (t·ha⁻¹·a⁻¹) and the bulletin's modulus (t·km⁻²·a⁻¹).

Nodata (NaN) in any factor gives NaN loss: a missing factor is never read as zero
loss, which would move pixels into 微度 and shrink the reported erosion area.
Factor rasters that still carry a numeric nodata value (not NaN) are masked here.
The CSLE form (B·E·T in place of C·P) is :func:`pipeline.factors.csle.soil_loss_csle`.

Why written by hand: a product of factors, but with the grid, range and nodata
checks that a bare ``r * k * ls * c * p`` lacks.
"""

from __future__ import annotations

import xarray as xr

from pipeline.factors._common import (
    as_dataarray,
    check_range,
    check_same_grid_if_spatial,
    finish,
    nodata_of,
)

__all__ = ["soil_loss_rusle", "to_t_km2_yr"]

SOIL_LOSS_UNITS = "t ha-1 a-1"
MODULUS_UNITS = "t km-2 a-1"


def _factor(value, name: str, hi: float | None) -> xr.DataArray:
    da = as_dataarray(value, name=name)
    if da.dtype.kind != "f":
        da = da.astype("float64")
    nd = nodata_of(da) if isinstance(value, xr.DataArray) and da.ndim else None
    if nd is not None:
        da = da.where(da != nd)
    return check_range(da, name=name, lo=0.0, hi=hi)


def soil_loss_rusle(*, r, k, ls, c, p) -> xr.DataArray:
    """Mean annual soil loss by RUSLE, A = R · K · LS · C · P, in t·ha⁻¹·a⁻¹.

    Parameters
    ----------
    r : float or xarray.DataArray
        Rainfall erosivity R, MJ·mm·ha⁻¹·h⁻¹·a⁻¹ (≥ 0). A station's 0-d R broadcasts.
    k : float or xarray.DataArray
        Soil erodibility K in SI units, t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹ (≥ 0).
    ls : float or xarray.DataArray
        Topographic factor LS (dimensionless, ≥ 0).
    c, p : float or xarray.DataArray
        Cover-management and support-practice factors (dimensionless, 0–1).

    Returns
    -------
    xarray.DataArray
        ``soil_loss_t_ha_yr`` in t·ha⁻¹·a⁻¹, NaN wherever any factor is NaN or its
        raster's nodata value. Coordinates come from the inputs (xarray alignment).

    Raises
    ------
    GridError
        If spatial inputs (those with ``y`` and ``x`` dims) are not on the same grid.
    InputDataError
        If a factor is negative, or C or P exceeds 1.

    References
    ----------
    Renard, K.G., Foster, G.R., Weesies, G.A., McCool, D.K., Yoder, D.C. (1997).
    Predicting soil erosion by water: a guide to conservation planning with the
    Revised Universal Soil Loss Equation (RUSLE). USDA Agriculture Handbook 703.

    Examples
    --------
    >>> import xarray as xr
    >>> ls = xr.DataArray([[1.0, float("nan")]], dims=("y", "x"))
    >>> soil_loss_rusle(r=5000.0, k=0.004, ls=ls, c=0.1, p=1.0).values.tolist()
    [[2.0, nan]]
    """
    check_same_grid_if_spatial(r=r, k=k, ls=ls, c=c, p=p)
    a = (
        _factor(r, "r", None)
        * _factor(k, "k", None)
        * _factor(ls, "ls", None)
        * _factor(c, "c", 1.0)
        * _factor(p, "p", 1.0)
    )
    return finish(a, name="soil_loss_t_ha_yr", units=SOIL_LOSS_UNITS, attrs={"model": "RUSLE"})


def to_t_km2_yr(soil_loss_t_ha_yr) -> xr.DataArray:
    """Soil loss in t·ha⁻¹·a⁻¹ → the erosion modulus (侵蚀模数) in t·km⁻²·a⁻¹ (× 100).

    Examples
    --------
    >>> float(to_t_km2_yr(25.0))
    2500.0
    """
    a = as_dataarray(soil_loss_t_ha_yr, name="soil_loss_t_ha_yr")
    return finish(a * 100.0, name="soil_loss_t_km2_yr", units=MODULUS_UNITS)
