"""K, the soil-erodibility factor (土壤可蚀性), in t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹ (SI).

Models
------
- EPIC (Williams; Sharpley & Williams 1990) from sand, silt, clay and organic
  carbon (:func:`k_epic`); the SI unit is 0.1317 × the US customary unit
  (:func:`k_us_to_si`, :func:`k_si_to_us`).
- A soil-class lookup table (:func:`k_from_table`); a user raster needs no function.
- Organic matter → organic carbon with a stated factor
  (:func:`organic_carbon_from_organic_matter`, van Bemmelen 1.724).

Left out on purpose
-------------------
The China correction K = (−0.01383 + 0.51575·K_EPIC) attributed to Zhang Keli et
al. is not implemented: it was found only in one anonymous script and it is
unresolved whether K_EPIC enters in US or SI units (not confirmed in a primary source).
Apply it yourself, after checking the paper, on the output of :func:`k_epic`.

Why written by hand: the EPIC equation is four closed-form terms; the public
implementations seen carry errors (organic matter for carbon; clay in the carbon
term; −5.41 for −5.51; 0.256 for 0.0256), so it is written here against the
published form and tested against hand-computed values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from pipeline.factors._common import as_dataarray, check_range, finish, lookup_table

__all__ = [
    "K_SI_PER_US",
    "K_SI_UNITS",
    "K_US_UNITS",
    "EpicCoefficients",
    "fine_earth_texture",
    "k_epic",
    "k_from_table",
    "k_si_to_us",
    "k_us_to_si",
    "organic_carbon_from_organic_matter",
]

K_SI_PER_US = 0.1317
K_SI_UNITS = "t ha h ha-1 MJ-1 mm-1"
K_US_UNITS = "short ton ac h (100 ac ft tonf in)-1"


@dataclass(frozen=True)
class EpicCoefficients:
    """Constants of the EPIC K equation (Sharpley & Williams 1990), published values.

    K = (a + b·exp[−c·SAN·(1 − SIL/100)]) · (SIL/(CLA + SIL))^d
        · (1 − e·C/(C + exp(f − g·C))) · (1 − h·SN1/(SN1 + exp(i + j·SN1)))
    """

    a: float = 0.2
    b: float = 0.3
    c: float = 0.0256
    d: float = 0.3
    e: float = 0.25
    f: float = 3.72
    g: float = 2.95
    h: float = 0.7
    i: float = -5.51
    j: float = 22.9


def k_us_to_si(k_us, *, factor: float = K_SI_PER_US) -> xr.DataArray:
    """K in US customary units → SI (t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹): K_SI = 0.1317 · K_US.

    References: Renard et al. (1997), USDA Agriculture Handbook 703, Appendix A.

    Examples
    --------
    >>> round(float(k_us_to_si(0.3)), 5)
    0.03951
    """
    k = as_dataarray(k_us, name="k_us")
    return finish(k * factor, name="k_factor", units=K_SI_UNITS, attrs={"converted_from": "US"})


def k_si_to_us(k_si, *, factor: float = K_SI_PER_US) -> xr.DataArray:
    """K in SI → US customary units: K_US = K_SI / 0.1317 (≈ 7.593 · K_SI).

    Examples
    --------
    >>> round(float(k_si_to_us(0.03951)), 4)
    0.3
    """
    k = as_dataarray(k_si, name="k_si")
    return finish(k / factor, name="k_factor_us", units=K_US_UNITS, attrs={"converted_from": "SI"})


def organic_carbon_from_organic_matter(om_pct, *, factor: float = 1.724) -> xr.DataArray:
    """Organic carbon (%) = organic matter (%) / ``factor`` (van Bemmelen factor 1.724).

    Parameters
    ----------
    om_pct : float or xarray.DataArray
        Soil organic matter, % by weight (≥ 0).
    factor : float
        OM/OC ratio; 1.724 assumes organic matter is 58 % carbon (van Bemmelen).
        Some codes use 1.72.

    Returns
    -------
    xarray.DataArray
        ``organic_carbon_pct`` in %.

    Examples
    --------
    >>> round(float(organic_carbon_from_organic_matter(1.724)), 6)
    1.0
    """
    om = check_range(
        as_dataarray(om_pct, name="om_pct"), name="om_pct", lo=0.0, hi=100.0, hint="percent"
    )
    return finish(om / factor, name="organic_carbon_pct", units="%", attrs={"om_to_oc": factor})


def fine_earth_texture(
    *, sand_pct, silt_pct, clay_pct
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Rescale sand, silt and clay so that they sum to 100 % of the fine earth.

    Use this when a table gives the three fractions as % of the whole soil with
    rock fragments (> 2 mm) as the remainder (e.g. SWAT/SEIMS soil tables); the
    EPIC equation expects % of the fine earth (< 2 mm).

    Examples
    --------
    >>> [round(float(v), 3) for v in fine_earth_texture(sand_pct=40, silt_pct=20, clay_pct=20)]
    [50.0, 25.0, 25.0]
    """
    sand = check_range(as_dataarray(sand_pct, name="sand_pct"), name="sand_pct", lo=0.0, hi=100.0)
    silt = check_range(as_dataarray(silt_pct, name="silt_pct"), name="silt_pct", lo=0.0, hi=100.0)
    clay = check_range(as_dataarray(clay_pct, name="clay_pct"), name="clay_pct", lo=0.0, hi=100.0)
    total = sand + silt + clay
    total = check_range(total, name="sand_pct + silt_pct + clay_pct", lo=0.0, lo_open=True)
    scale = 100.0 / total
    return (
        finish(sand * scale, name="sand_pct", units="%"),
        finish(silt * scale, name="silt_pct", units="%"),
        finish(clay * scale, name="clay_pct", units="%"),
    )


def k_epic(
    *,
    sand_pct,
    silt_pct,
    clay_pct,
    organic_carbon_pct,
    units: str = "si",
    texture_tolerance_pct: float = 2.0,
    si_factor: float = K_SI_PER_US,
    coefficients: EpicCoefficients = EpicCoefficients(),  # noqa: B008  (frozen, immutable)
) -> xr.DataArray:
    """Soil erodibility K by the EPIC equation (Williams; Sharpley & Williams 1990).

    K_US = {0.2 + 0.3·exp[−0.0256·SAN·(1 − SIL/100)]} · [SIL/(CLA + SIL)]^0.3
           · [1 − 0.25·C/(C + exp(3.72 − 2.95·C))]
           · [1 − 0.7·SN1/(SN1 + exp(−5.51 + 22.9·SN1))],  SN1 = 1 − SAN/100,

    and K_SI = 0.1317 · K_US.

    Parameters
    ----------
    sand_pct, silt_pct, clay_pct : float or xarray.DataArray
        Sand (0.05–2 mm), silt (0.002–0.05 mm) and clay (< 0.002 mm), % of the fine
        earth. They must sum to 100 ± ``texture_tolerance_pct``, else
        :class:`InputDataError` (see :func:`fine_earth_texture` for tables that
        count rock fragments).
    organic_carbon_pct : float or xarray.DataArray
        Organic **carbon** in % (not organic matter: convert with
        :func:`organic_carbon_from_organic_matter`).
    units : {"si", "us"}
        Output units: SI t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹ (default) or US customary.
    texture_tolerance_pct : float
        Allowed deviation of sand + silt + clay from 100 %.
    si_factor : float
        K_SI / K_US (0.1317).
    coefficients : EpicCoefficients
        The equation's constants (published values by default).

    Returns
    -------
    xarray.DataArray
        ``k_factor`` in the requested units. Where silt + clay = 0 (pure sand) the
        silt term is taken as 0, so K = 0.

    References
    ----------
    Sharpley, A.N., Williams, J.R. (eds.) (1990). EPIC — Erosion/Productivity Impact
    Calculator: 1. Model documentation. USDA Technical Bulletin 1768.
    Williams, J.R. (1995). The EPIC model. In: Singh, V.P. (ed.), Computer Models of
    Watershed Hydrology, pp. 909-1000.

    Examples
    --------
    >>> k = k_epic(sand_pct=40, silt_pct=40, clay_pct=20, organic_carbon_pct=1.0)
    >>> round(float(k), 5), k.attrs["units"]
    (0.0389, 't ha h ha-1 MJ-1 mm-1')
    """
    if units not in ("si", "us"):
        from pipeline.errors import InputDataError

        raise InputDataError(f"k_epic: units must be 'si' or 'us', got {units!r}")
    sand = check_range(as_dataarray(sand_pct, name="sand_pct"), name="sand_pct", lo=0.0, hi=100.0)
    silt = check_range(as_dataarray(silt_pct, name="silt_pct"), name="silt_pct", lo=0.0, hi=100.0)
    clay = check_range(as_dataarray(clay_pct, name="clay_pct"), name="clay_pct", lo=0.0, hi=100.0)
    carbon = check_range(
        as_dataarray(organic_carbon_pct, name="organic_carbon_pct"),
        name="organic_carbon_pct",
        lo=0.0,
        hi=100.0,
        hint="percent organic carbon",
    )
    total = check_range(
        sand + silt + clay,
        name="sand_pct + silt_pct + clay_pct",
        lo=100.0 - texture_tolerance_pct,
        hi=100.0 + texture_tolerance_pct,
        hint="texture fractions must sum to about 100 % of the fine earth",
    )
    co = coefficients
    sn1 = 1.0 - sand / 100.0
    f_csand = co.a + co.b * np.exp(-co.c * sand * (1.0 - silt / 100.0))
    silt_clay = silt + clay
    ratio = xr.where(silt_clay > 0, silt / silt_clay.where(silt_clay > 0), 0.0)
    ratio = ratio.where(silt_clay.notnull())
    f_cl_si = ratio**co.d
    f_orgc = 1.0 - co.e * carbon / (carbon + np.exp(co.f - co.g * carbon))
    f_hisand = 1.0 - co.h * sn1 / (sn1 + np.exp(co.i + co.j * sn1))
    # NaN where any texture value is NaN; using the checked `total` also puts its
    # (lazy) sum-to-100 check into the result's dask graph
    k_us = (f_csand * f_cl_si * f_orgc * f_hisand).where(total.notnull())
    if units == "si":
        return finish(k_us * si_factor, name="k_factor", units=K_SI_UNITS, attrs={"model": "EPIC"})
    return finish(k_us, name="k_factor", units=K_US_UNITS, attrs={"model": "EPIC"})


def k_from_table(
    soil_code: xr.DataArray,
    table: Mapping[int, float],
    *,
    nodata: float | None = None,
    table_name: str = "K table",
    value_range: tuple[float, float] = (0.0, 1.0),
    input_name: str = "soil_code",
) -> xr.DataArray:
    """K per pixel from a soil-class → K table (SI units expected).

    Parameters
    ----------
    soil_code : xarray.DataArray
        Integer soil-class codes; NaN and ``nodata`` (default: the raster's own
        nodata) give NaN.
    table : dict of int to float
        Soil code → K in t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹. A code in the raster but not in the
        table raises :class:`InputDataError` naming the code(s).
    table_name : str
        Name used in error messages (e.g. the config key).
    input_name : str
        Name of the class raster in error messages (e.g. its file and config key).
    value_range : (float, float)
        Allowed K values; SI K is typically 0.001–0.1 (a US-unit table would be
        ~7.6 × larger, convert it with :func:`k_us_to_si` first).

    Returns
    -------
    xarray.DataArray
        ``k_factor`` (float, NaN at nodata), units t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹.

    Examples
    --------
    >>> import xarray as xr
    >>> soil = xr.DataArray([[201, 202]], dims=("y", "x"))
    >>> k_from_table(soil, {201: 0.03, 202: 0.04}).values.tolist()
    [[0.03, 0.04]]
    """
    out = lookup_table(
        soil_code,
        table,
        input_name=input_name,
        table_name=table_name,
        nodata=nodata,
        value_range=value_range,
    )
    return finish(out, name="k_factor", units=K_SI_UNITS)
