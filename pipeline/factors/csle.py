"""CSLE factors B, E, T and the CSLE soil loss A = R·K·L·S·B·E·T (Liu Baoyuan et al.).

The Chinese Soil Loss Equation replaces RUSLE's C·P by B·E·T: B (biological
measures, 生物措施因子) from vegetation cover on non-cropland, E (engineering
measures, 工程措施因子) from a measures layer and table (1 where there is none),
and T (tillage measures, 耕作措施因子) from a table on cropland. For cropland the
product uses T and not B; for non-cropland it uses B and not T (after 常梦迪 et al., ChinaXiv 202108.00091V1, citing 刘宝元、谢云、张科利
《土壤侵蚀预报模型》, 2001).

Left out on purpose (no confirmed primary values):
E values for terraces, fish-scale pits etc. and T values by rotation zone from the
2018 《区域水土流失动态监测技术规定（试行）》; the one confirmed value, T = 0.281 for
cropland of the 北疆灌溉一熟填闲区, is region-specific and is not a default either.
The census's land-use-specific B formulas are not found. The config must supply
the E and T tables.

Why written by hand: the cropland/non-cropland switch is specific to CSLE and no
library implements it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors import cover
from pipeline.factors._common import (
    as_dataarray,
    check_range,
    check_same_grid_if_spatial,
    finish,
    lookup_table,
    nodata_of,
)
from pipeline.landcover import CROPLAND_CODES

__all__ = ["b_from_cover", "e_from_table", "soil_loss_csle", "t_from_table"]


def b_from_cover(fvc_fraction, **kwargs) -> xr.DataArray:
    """B (biological-measures factor) from vegetation cover: Cai et al. (2000) as for C.

    A documented wrapper of :func:`pipeline.factors.cover.c_cai2000` (same keyword
    coefficients), named ``b_factor``. This is the relation 常梦迪 et al. (ChinaXiv
    202108.00091V1) used for B from FVC of each 16-day step; the annual B is then
    :func:`pipeline.factors.cover.r_weighted_mean` of the per-period values.

    Parameters
    ----------
    fvc_fraction : float or xarray.DataArray
        Vegetation cover as a fraction 0–1.
    **kwargs
        ``a``, ``b``, ``cutoff_pct`` of :func:`~pipeline.factors.cover.c_cai2000`.

    Returns
    -------
    xarray.DataArray
        ``b_factor`` (dimensionless, 0–1).

    Examples
    --------
    >>> round(float(b_from_cover(0.3)), 4)
    0.1433
    """
    b = cover.c_cai2000(fvc_fraction, **kwargs)
    return finish(b, name="b_factor", units="1", attrs={"model": "Cai et al. (2000), as B"})


def e_from_table(
    measures: xr.DataArray,
    table: Mapping[int, float],
    *,
    default: float = 1.0,
    no_measure_code: int = 0,
    nodata: float | None = None,
    table_name: str = "E table",
) -> xr.DataArray:
    """E (engineering-measures factor) from a measures raster and a code → E table.

    Parameters
    ----------
    measures : xarray.DataArray
        Integer engineering-measure codes. ``no_measure_code`` (0) and nodata mean
        "no measure" and get ``default`` (E = 1: no reduction).
    table : dict of int to float
        Measure code → E in [0, 1] (from the 2018 技术规定 赋值表 for your region;
        none shipped, see the module docstring). Other codes in the raster raise
        :class:`InputDataError` naming them.
    default : float
        E where there is no measure.

    Returns
    -------
    xarray.DataArray
        ``e_factor`` (dimensionless).

    Examples
    --------
    >>> import xarray as xr
    >>> m = xr.DataArray([[0, 3]], dims=("y", "x"))
    >>> e_from_table(m, {3: 0.2}).values.tolist()
    [[1.0, 0.2]]
    """
    if not 0.0 <= default <= 1.0:
        raise InputDataError(f"e_from_table: default must be in [0, 1], got {default}")
    if not isinstance(measures, xr.DataArray):
        raise InputDataError("measures: expected an xarray.DataArray of measure codes")
    nd = nodata_of(measures, nodata)
    no_measure = measures.isnull()
    if nd is not None:
        no_measure = no_measure | (measures == nd)
    # nodata in the measures layer means "no measure", not "no data"
    cleaned = measures.where(~no_measure, no_measure_code)
    e = lookup_table(
        cleaned,
        table,
        input_name="measures",
        table_name=table_name,
        extra={int(no_measure_code): float(default)},
    )
    return finish(e, name="e_factor", units="1", attrs={"source": table_name})


def t_from_table(
    landcover: xr.DataArray,
    table: Mapping[int, float],
    *,
    cropland_codes: Iterable[int] = CROPLAND_CODES,
    nodata: float | None = None,
    table_name: str = "T table",
) -> xr.DataArray:
    """T (tillage factor) from land cover: the table's value on cropland, 1 elsewhere.

    Parameters
    ----------
    landcover : xarray.DataArray
        Integer land-cover codes; NaN and ``nodata`` give NaN.
    table : dict of int to float
        Cropland code → T in [0, 1] (by rotation zone, 2018 技术规定; none shipped).
        Every cropland code present in the raster must be in the table.
    cropland_codes : iterable of int
        Codes that are cropland (default: ``pipeline.landcover.CROPLAND_CODES``,
        5 terraced, 6 sloping, 7 paddy).

    Returns
    -------
    xarray.DataArray
        ``t_factor`` (dimensionless): table value on cropland, 1 on other land.

    Examples
    --------
    >>> import xarray as xr
    >>> lc = xr.DataArray([[1, 6]], dims=("y", "x"))
    >>> t_from_table(lc, {6: 0.5}).values.tolist()
    [[1.0, 0.5]]
    """
    codes = list(cropland_codes)
    if not codes:
        raise InputDataError("cropland_codes is empty")
    t = lookup_table(
        landcover,
        table,
        input_name="landcover",
        table_name=table_name,
        nodata=nodata,
        only_codes=codes,
        other_value=1.0,
    )
    return finish(t, name="t_factor", units="1", attrs={"source": table_name})


def soil_loss_csle(
    *,
    r,
    k,
    l=None,  # noqa: E741  (the equation's symbol)
    s=None,
    ls=None,
    b,
    e,
    t,
    landcover: xr.DataArray,
    cropland_codes: Iterable[int] = CROPLAND_CODES,
    nodata: float | None = None,
) -> xr.DataArray:
    """Soil loss by CSLE, A = R·K·L·S·B·E·T, with B on non-cropland and T on cropland.

    Parameters
    ----------
    r : float or xarray.DataArray
        Rainfall erosivity, MJ·mm·ha⁻¹·h⁻¹·a⁻¹.
    k : xarray.DataArray or float
        Soil erodibility, t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹.
    l, s : xarray.DataArray, optional
        Slope-length and slope-steepness factors (dimensionless); or give their
        product as ``ls`` instead.
    b, e, t : xarray.DataArray or float
        Biological, engineering and tillage factors (dimensionless, 0–1). B is used
        on non-cropland only (1 on cropland), T on cropland only (1 elsewhere).
    landcover : xarray.DataArray
        Land-cover codes; NaN/nodata give NaN loss.
    cropland_codes : iterable of int
        Codes that are cropland (default ``pipeline.landcover.CROPLAND_CODES``).

    Returns
    -------
    xarray.DataArray
        ``soil_loss_t_ha_yr`` in t·ha⁻¹·a⁻¹; NaN wherever any factor is NaN
        (nodata is never turned into zero loss).

    Raises
    ------
    GridError
        If the spatial inputs are not on the same grid.

    References
    ----------
    刘宝元、谢云、张科利 (2001)《土壤侵蚀预报模型》, 科学出版社, as used by 常梦迪 et
    al., ChinaXiv 202108.00091V1 §1.3.1 (the cropland/non-cropland rule). The
    original ISCO paper, Liu, Zhang & Xie (2002), An empirical soil loss equation,
    Proc. 12th ISCO, Beijing, was not seen.

    Examples
    --------
    >>> import xarray as xr
    >>> lc = xr.DataArray([[1, 6]], dims=("y", "x"))
    >>> a = soil_loss_csle(r=5000.0, k=0.004, ls=2.0, b=0.1, e=1.0, t=0.5, landcover=lc)
    >>> a.values.tolist()
    [[4.0, 20.0]]
    """
    if ls is None:
        if l is None or s is None:
            raise InputDataError("soil_loss_csle: give both l and s, or their product ls")
        ls_da = as_dataarray(l, name="l") * as_dataarray(s, name="s")
        grid_inputs = {"l": l, "s": s}
    else:
        if l is not None or s is not None:
            raise InputDataError("soil_loss_csle: give l and s, or ls, not both")
        ls_da = as_dataarray(ls, name="ls")
        grid_inputs = {"ls": ls}
    check_same_grid_if_spatial(landcover=landcover, r=r, k=k, **grid_inputs, b=b, e=e, t=t)
    if not isinstance(landcover, xr.DataArray):
        raise InputDataError("landcover: expected an xarray.DataArray of land-cover codes")
    factors = {}
    for name, value, hi in (
        ("r", r, None),
        ("k", k, None),
        ("ls", ls_da, None),
        ("b", b, 1.0),
        ("e", e, 1.0),
        ("t", t, 1.0),
    ):
        factors[name] = check_range(as_dataarray(value, name=name), name=name, lo=0.0, hi=hi)
    lc = landcover.astype(np.float64)
    nd = nodata_of(landcover, nodata)
    if nd is not None:
        lc = lc.where(lc != nd)
    is_crop = lc.isin(list(cropland_codes))
    cover_term = xr.where(is_crop, factors["t"], factors["b"]).where(lc.notnull())
    a = factors["r"] * factors["k"] * factors["ls"] * factors["e"] * cover_term
    return finish(
        a,
        name="soil_loss_t_ha_yr",
        units="t ha-1 a-1",
        attrs={"model": "CSLE (Liu et al. 2002)"},
    )
