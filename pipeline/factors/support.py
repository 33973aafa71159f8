"""P, the support-practice factor of RUSLE (in CSLE it is replaced by E·T, see csle.py).

P comes from a land-cover → P table, optionally overridden (or multiplied) where a
conservation-measures layer (terraces, contour tillage, …) marks a measure.

Left out on purpose: Wener's slope formula P = 0.2 + 0.03·slope% is unconfirmed
(named in papers, coefficients never seen in a primary source). Published P tables are study-specific (e.g. cropland 0.15 or 0.4), so no
table is shipped as a default: the config must give one.

Why written by hand: a lookup join that refuses unknown codes (see ``_common``).
"""

from __future__ import annotations

from collections.abc import Mapping

import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors._common import (
    check_same_grid_if_spatial,
    finish,
    lookup_table,
    validate_table,
)

__all__ = ["p_from_table"]


def p_from_table(
    landcover: xr.DataArray,
    table: Mapping[int, float],
    *,
    measures: xr.DataArray | None = None,
    measures_table: Mapping[int, float] | None = None,
    combine: str = "replace",
    no_measure_code: int = 0,
    nodata: float | None = None,
    measures_nodata: float | None = None,
    table_name: str = "P table",
    measures_table_name: str = "P measures table",
) -> xr.DataArray:
    """P per pixel from land cover, with optional conservation measures.

    Parameters
    ----------
    landcover : xarray.DataArray
        Integer land-cover codes; NaN and ``nodata`` give NaN.
    table : dict of int to float
        Land-cover code → P in [0, 1]. A code in the raster but not in the table
        raises :class:`InputDataError` naming the code(s).
    measures : xarray.DataArray, optional
        Integer measure codes on the same grid (e.g. 1 = level terrace);
        ``no_measure_code`` and nodata mean "no measure".
    measures_table : dict of int to float, optional
        Measure code → P in [0, 1]; required with ``measures``.
    combine : {"replace", "multiply"}
        Where a measure is present, its P replaces the land-cover P ("replace",
        default: the usual Chinese table practice) or multiplies it ("multiply":
        RUSLE's product of support-practice sub-factors, Renard et al. 1997).

    Returns
    -------
    xarray.DataArray
        ``p_factor`` (dimensionless, units ``"1"``), NaN where land cover is nodata.

    References
    ----------
    Renard, K.G. et al. (1997). Predicting soil erosion by water: a guide to
    conservation planning with RUSLE. USDA Agriculture Handbook 703, ch. 6.

    Examples
    --------
    >>> import xarray as xr
    >>> lc = xr.DataArray([[1, 6, 6]], dims=("y", "x"))
    >>> terr = xr.DataArray([[0, 0, 1]], dims=("y", "x"))
    >>> p_from_table(lc, {1: 1.0, 6: 0.4}, measures=terr, measures_table={1: 0.1}).values.tolist()
    [[1.0, 0.4, 0.1]]
    """
    if combine not in ("replace", "multiply"):
        raise InputDataError(f"combine must be 'replace' or 'multiply', got {combine!r}")
    p = lookup_table(landcover, table, input_name="landcover", table_name=table_name, nodata=nodata)
    if measures is not None:
        if measures_table is None:
            raise InputDataError("measures given without measures_table (measure code → P)")
        check_same_grid_if_spatial(landcover=landcover, measures=measures)
        validate_table(measures_table, table_name=measures_table_name, value_range=(0.0, 1.0))
        if int(no_measure_code) in {int(k) for k in measures_table}:
            raise InputDataError(
                f"{measures_table_name}: has an entry for code {no_measure_code}, which means "
                "'no measure' (the land-cover P applies there); remove it"
            )
        # "no measure" joins to the marker -1; any other code must be in the table
        pm = lookup_table(
            measures,
            measures_table,
            input_name="measures",
            table_name=measures_table_name,
            nodata=measures_nodata,
            value_range=None,
            extra={int(no_measure_code): -1.0},
        )
        pm = pm.where(pm >= 0)
        has_measure = pm.notnull()
        if combine == "replace":
            p = xr.where(has_measure & p.notnull(), pm, p)
        else:
            p = xr.where(has_measure, p * pm, p)
    return finish(p, name="p_factor", units="1", attrs={"source": table_name})
