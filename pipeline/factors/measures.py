"""CSLE E and T from measure codes with "no listed value = 1", and a check on defaulted factors.

CSLE's E (engineering measures: 梯田, 水平阶, 鱼鳞坑 …) and T (tillage measures) come from
the measures present on the ground, mapped as polygons, with values from the 2018
《区域水土流失动态监测技术规定（试行）》 赋值表 (水利部水土保持监测中心). Where no measure is
listed, E = 1 and T = 1 (no reduction; 常梦迪 et al., ChinaXiv 202108.00091V1, set E = 1
for a whole study area). No E or T value is shipped: the published values were not seen,
so the user supplies them (a demo table is marked illustrative).

Because a defaulted factor of 1 can make a class look far worse than it is (cropland with
T = 1 carries no cover term at all in CSLE), :func:`mostly_severe_classes` finds the
land-cover classes whose pixels fall mostly in the top intensity class, to warn about.

Why written by hand: a dictionary lookup with a default and a per-class share; the
vectorised join itself is :func:`pipeline.factors._common.lookup_table`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors._common import finish, lookup_table, nodata_of

__all__ = ["factor_from_codes", "mostly_severe_classes"]


def factor_from_codes(
    codes: xr.DataArray,
    table: Mapping[int, float],
    *,
    default: float = 1.0,
    apply_to: Iterable[int] | None = None,
    nodata: float | None = None,
    name: str = "e_factor",
    table_name: str = "E table",
) -> xr.DataArray:
    """A 0–1 factor per pixel from integer codes: listed codes take the table's value,
    every other valid code takes ``default`` (an empty table gives ``default`` everywhere).

    Parameters
    ----------
    codes : xarray.DataArray
        Integer codes (land-cover or measure codes); NaN and ``nodata`` give NaN.
    table : mapping of int to float
        Code → value in [0, 1]; may be empty or partial.
    default : float
        Value of unlisted codes (1 = no measure, no reduction).
    apply_to : iterable of int, optional
        Only these codes may take a table value (e.g. T on cropland codes only); the
        others take ``default`` even when listed.

    Returns
    -------
    xarray.DataArray
        Dimensionless factor named ``name``; ``attrs["defaulted_codes"]`` is not set
        here (the caller knows which codes are present).

    Examples
    --------
    >>> import xarray as xr
    >>> lc = xr.DataArray([[1, 5, 6]], dims=("y", "x"))
    >>> factor_from_codes(lc, {}).values.tolist()
    [[1.0, 1.0, 1.0]]
    >>> factor_from_codes(lc, {5: 0.2}).values.tolist()
    [[1.0, 0.2, 1.0]]
    """
    if not 0.0 <= float(default) <= 1.0:
        raise InputDataError(f"{table_name}: default must be in [0, 1], got {default}")
    if not isinstance(codes, xr.DataArray):
        raise InputDataError(f"{table_name}: expected an xarray.DataArray of codes")
    table = {int(k): float(v) for k, v in (table or {}).items()}
    if apply_to is not None:
        allowed = {int(c) for c in apply_to}
        table = {k: v for k, v in table.items() if k in allowed}
    if not table:
        nd = nodata_of(codes, nodata)
        valid = codes.notnull() if nd is None else codes.notnull() & (codes != nd)
        out = xr.full_like(codes, float(default), dtype="float64").where(valid)
    else:
        out = lookup_table(
            codes,
            table,
            input_name="codes",
            table_name=table_name,
            nodata=nodata,
            only_codes=list(table),
            other_value=float(default),
        )
    return finish(out, name=name, units="1", attrs={"source": table_name})


def mostly_severe_classes(
    intensity: xr.DataArray,
    landcover: xr.DataArray,
    *,
    codes: Iterable[int],
    severe_class: int = 6,
    threshold: float = 0.5,
) -> dict[int, float]:
    """Land-cover classes (among ``codes``) whose classified pixels are mostly ``severe_class``.

    Parameters
    ----------
    intensity : xarray.DataArray
        SL 190-2007 class 1–6 per pixel (other values = unclassified).
    landcover : xarray.DataArray
        Land-cover codes on the same grid.
    codes : iterable of int
        Classes to check (e.g. those whose T or E was 1 by default).
    severe_class : int
        The class counted (6 = 剧烈).
    threshold : float
        Share (0–1) of a class's classified pixels above which it is reported.

    Returns
    -------
    dict
        ``{code: share}`` for the classes above ``threshold``.

    Examples
    --------
    >>> import xarray as xr
    >>> i = xr.DataArray([[6, 6, 2, 6]], dims=("y", "x"))
    >>> lc = xr.DataArray([[6, 6, 6, 1]], dims=("y", "x"))
    >>> mostly_severe_classes(i, lc, codes=[6, 1])
    {1: 1.0, 6: 0.6667}
    """
    cls = np.asarray(intensity.values)
    lc = np.asarray(landcover.values)
    classified = (cls >= 1) & (cls <= 6)
    out = {}
    for code in sorted({int(c) for c in codes}):
        in_class = classified & (lc == code)
        n = int(in_class.sum())
        if n == 0:
            continue
        share = float((in_class & (cls == severe_class)).sum()) / n
        if share > threshold:
            out[code] = round(share, 4)
    return out
