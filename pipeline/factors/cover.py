"""C, the cover-management factor (and CSLE's B), from NDVI, cover or land-cover tables.

Models
------
- Fractional vegetation cover (FVC) by the pixel dichotomy model (像元二分模型),
  FVC = (NDVI − NDVI_soil)/(NDVI_veg − NDVI_soil), end-members from NDVI percentiles
  (李苗苗 et al. 2004, 5 %/95 %) or per land-cover class (:func:`ndvi_endmembers`,
  :func:`fvc_pixel_dichotomy`).
- Cai Chongfa et al. (2000): C = 0.6508 − 0.3436·lg f (f cover in %), 1 at f = 0,
  0 at f ≥ 78.3 % (:func:`c_cai2000`).
- van der Knijff et al. (2000): C = exp(−α·NDVI/(β − NDVI)) (:func:`c_van_der_knijff`).
- Land-cover lookup (:func:`c_from_table`).
- The annual value as the R-weighted mean of per-period values (:func:`r_weighted_mean`).

Left out on purpose: the land-use-specific B formulas of the national census
(forest from canopy closure etc.) were not found in any published source we could
check; the squared-FVC variant of some codes is a different model.

Why written by hand: these are short closed-form relations, but the published
code around them often passes FVC as a fraction to Cai's percent formula (C > 0.65
everywhere vegetated) or forgets to clip; here the unit is explicit, inputs out of
range raise, and the outputs are clipped and tested at the boundaries.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from pipeline.errors import ConfigError, InputDataError
from pipeline.factors._common import as_dataarray, check_range, finish, lookup_table, nodata_of

__all__ = [
    "c_cai2000",
    "c_from_table",
    "c_van_der_knijff",
    "cover_from_ndvi_periods",
    "endmember_sample",
    "endmember_maps",
    "fvc_pixel_dichotomy",
    "ndvi_endmembers",
    "pooled_ndvi_endmembers",
    "r_weighted_mean",
]


def _checked_ndvi(ndvi, name: str = "ndvi") -> xr.DataArray:
    nd = as_dataarray(ndvi, name=name)
    return check_range(nd, name=name, lo=-1.0, hi=1.0, hint="NDVI is in [-1, 1]; was it scaled?")


# ------------------------------------------------------------------------- end-members
def ndvi_endmembers(
    ndvi: xr.DataArray,
    *,
    percentiles: tuple[float, float] = (5.0, 95.0),
    landcover: xr.DataArray | None = None,
    landcover_nodata: float | None = None,
    min_pixels: int = 30,
    spatial_dims: tuple[str, str] = ("y", "x"),
) -> tuple[xr.DataArray, xr.DataArray]:
    """NDVI_soil and NDVI_veg as low/high percentiles of the NDVI distribution.

    **Global reduction**: the percentiles are taken over all pixels of the scene
    (``spatial_dims``), so a dask input is computed here, one scene at a time
    (each index of any leading dim such as ``period`` gets its own end-members).

    Parameters
    ----------
    ndvi : xarray.DataArray
        NDVI in [−1, 1], dims ``(..., y, x)``; NaN pixels are ignored.
    percentiles : (float, float)
        Percentiles (0–100) for bare soil and full vegetation: 5/95 after 李苗苗 et
        al. (2004, 资源科学 26(4)); 0.5/99.5 is also used (not confirmed in a primary source).
    landcover : xarray.DataArray, optional
        Integer classes on the same (y, x) grid. If given, end-members are computed
        per class (the pixels of that class only), the approach of 常梦迪 et al.
        (ChinaXiv 202108.00091V1), and returned as maps.
    landcover_nodata : float, optional
        Nodata code of ``landcover`` (default: the raster's own).
    min_pixels : int
        A class with fewer valid NDVI pixels than this, or whose two percentiles
        coincide, gets the whole scene's end-members instead (so that
        :func:`fvc_pixel_dichotomy` never divides by zero on a tiny class).
    spatial_dims : (str, str)
        The dims reduced over.

    Returns
    -------
    (ndvi_soil, ndvi_veg) : tuple of xarray.DataArray
        Without ``landcover``: the leading dims only (0-d for a single scene).
        With ``landcover``: maps with the input's dims (NaN at land-cover nodata);
        ``attrs["by_class"]`` holds ``{code: value}`` (single scene only).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ndvi = xr.DataArray(np.linspace(0, 1, 101).reshape(1, 101), dims=("y", "x"))
    >>> [round(float(v), 3) for v in ndvi_endmembers(ndvi)]
    [0.05, 0.95]
    """
    lo_q, hi_q = (float(p) for p in percentiles)
    if not (0.0 <= lo_q < hi_q <= 100.0):
        raise InputDataError(f"percentiles must satisfy 0 ≤ low < high ≤ 100, got {percentiles}")
    nd = _checked_ndvi(ndvi)
    for d in spatial_dims:
        if d not in nd.dims:
            raise InputDataError(f"ndvi: no {d!r} dimension (dims are {nd.dims})")
    nd = nd.transpose(..., *spatial_dims)
    lead_dims = nd.dims[:-2]
    lead_shape = nd.shape[:-2]
    attrs = {"percentiles": [lo_q, hi_q]}
    if landcover is None:
        soil = np.full(lead_shape, np.nan)
        veg = np.full(lead_shape, np.nan)
        for idx in np.ndindex(*lead_shape):
            values = np.asarray(nd[idx].values, dtype=np.float64)  # computes one scene
            values = values[np.isfinite(values)]
            if values.size:
                soil[idx], veg[idx] = np.percentile(values, [lo_q, hi_q])
        coords = {d: nd[d] for d in lead_dims if d in nd.coords}
        soil_da = xr.DataArray(soil, dims=lead_dims, coords=coords)
        veg_da = xr.DataArray(veg, dims=lead_dims, coords=coords)
        return (
            finish(soil_da, name="ndvi_soil", units="1", attrs=attrs),
            finish(veg_da, name="ndvi_veg", units="1", attrs=attrs),
        )

    if not isinstance(landcover, xr.DataArray) or tuple(landcover.dims) != tuple(spatial_dims):
        raise InputDataError(f"landcover: expected a DataArray with dims {spatial_dims}")
    if landcover.shape != nd.shape[-2:]:
        raise InputDataError(
            f"landcover has shape {landcover.shape} but ndvi has {nd.shape[-2:]}: same grid needed"
        )
    lc = np.asarray(landcover.values, dtype=np.float64)
    lc_nodata = nodata_of(landcover, landcover_nodata)
    valid_lc = np.isfinite(lc) & ((lc != lc_nodata) if lc_nodata is not None else True)
    codes = np.unique(lc[valid_lc]).astype(np.int64)
    soil = np.full(nd.shape, np.nan)
    veg = np.full(nd.shape, np.nan)
    by_class: dict[int, tuple[float, float]] = {}
    for idx in np.ndindex(*lead_shape):
        values = np.asarray(nd[idx].values, dtype=np.float64)  # computes one scene
        finite_all = values[np.isfinite(values)]
        scene = np.percentile(finite_all, [lo_q, hi_q]) if finite_all.size else (np.nan, np.nan)
        for code in codes:
            in_class = valid_lc & (lc == code)
            v = values[in_class]
            v = v[np.isfinite(v)]
            s, g = np.percentile(v, [lo_q, hi_q]) if v.size >= max(min_pixels, 1) else scene
            if not g > s:
                s, g = scene
            soil[idx][in_class] = s
            veg[idx][in_class] = g
            by_class[int(code)] = (float(s), float(g))
    attrs_soil, attrs_veg = dict(attrs), dict(attrs)
    if not lead_shape:  # a single scene: keep the per-class table for the report
        attrs_soil["by_class"] = {k: v[0] for k, v in by_class.items()}
        attrs_veg["by_class"] = {k: v[1] for k, v in by_class.items()}
    return (
        finish(nd.copy(data=soil), name="ndvi_soil", units="1", attrs=attrs_soil),
        finish(nd.copy(data=veg), name="ndvi_veg", units="1", attrs=attrs_veg),
    )


# ------------------------------------------------------------------------------- FVC
def fvc_pixel_dichotomy(ndvi, *, ndvi_soil, ndvi_veg) -> xr.DataArray:
    """Fractional vegetation cover by the pixel dichotomy model, clipped to [0, 1].

    FVC = (NDVI − NDVI_soil) / (NDVI_veg − NDVI_soil).

    Parameters
    ----------
    ndvi : xarray.DataArray
        NDVI in [−1, 1] (values outside raise :class:`InputDataError`); NaN = nodata.
    ndvi_soil, ndvi_veg : float or xarray.DataArray
        End-members (bare soil, full cover), e.g. from :func:`ndvi_endmembers`;
        ``ndvi_veg`` must exceed ``ndvi_soil`` wherever both are finite.

    Returns
    -------
    xarray.DataArray
        ``fvc`` as a **fraction** 0–1 (units ``"1"``).

    References
    ----------
    Gutman, G., Ignatov, A. (1998). The derivation of the green vegetation fraction
    from NOAA/AVHRR data. Int. J. Remote Sens. 19(8): 1533-1543.
    李苗苗, 吴炳方 et al. (2004). 密云水库上游植被覆盖度的遥感估算. 资源科学 26(4): 153-159.

    Examples
    --------
    >>> import xarray as xr
    >>> nd = xr.DataArray([0.05, 0.45, 0.9], dims="x")
    >>> fvc_pixel_dichotomy(nd, ndvi_soil=0.05, ndvi_veg=0.85).values.round(6).tolist()
    [0.0, 0.5, 1.0]
    """
    nd = _checked_ndvi(ndvi)
    soil = _checked_ndvi(ndvi_soil, "ndvi_soil")
    veg = _checked_ndvi(ndvi_veg, "ndvi_veg")
    span = check_range(
        veg - soil,
        name="ndvi_veg - ndvi_soil",
        lo=0.0,
        lo_open=True,
        hint="the vegetation end-member must exceed the soil end-member",
    )
    fvc = ((nd - soil) / span).clip(0.0, 1.0)
    return finish(fvc, name="fvc", units="1", attrs={"model": "pixel dichotomy"})


# --------------------------------------------------------------------------------- C
def c_cai2000(
    fvc_fraction,
    *,
    a: float = 0.6508,
    b: float = 0.3436,
    cutoff_pct: float = 78.3,
) -> xr.DataArray:
    """C (or CSLE B) from vegetation cover by Cai Chongfa et al. (2000), clipped to [0, 1].

    With f = 100 · ``fvc_fraction`` (percent): C = 1 at f = 0;
    C = 0.6508 − 0.3436·lg f for 0 < f < 78.3 %; C = 0 at f ≥ 78.3 %.
    The log branch exceeds 1 below f ≈ 0.096 %, hence the clip.

    Parameters
    ----------
    fvc_fraction : float or xarray.DataArray
        Vegetation cover as a **fraction 0–1** (converted to percent here). Values
        above 1 raise :class:`InputDataError` (a percent passed by mistake).
    a, b : float
        Published coefficients.
    cutoff_pct : float
        Cover (%) at and above which C = 0.

    Returns
    -------
    xarray.DataArray
        ``c_factor`` (dimensionless, units ``"1"``), monotone non-increasing in cover.

    References
    ----------
    蔡崇法, 丁树文, 史志华 et al. (2000). 应用USLE模型与地理信息系统IDRISI预测小流域
    土壤侵蚀量的研究. 水土保持学报 14(2): 19-24.

    Examples
    --------
    >>> [round(float(c_cai2000(f)), 4) for f in (0.0, 0.5, 0.783)]
    [1.0, 0.067, 0.0]
    """
    f = check_range(
        as_dataarray(fvc_fraction, name="fvc_fraction"),
        name="fvc_fraction",
        lo=0.0,
        hi=1.0,
        hint="vegetation cover as a fraction 0-1, not percent",
    )
    f_pct = f * 100.0
    positive = f_pct.where(f_pct > 0)
    log_branch = a - b * np.log10(positive)
    c = xr.where(f_pct >= cutoff_pct, 0.0, xr.where(f_pct > 0, log_branch, 1.0))
    c = c.clip(0.0, 1.0).where(f.notnull())
    return finish(c, name="c_factor", units="1", attrs={"model": "Cai et al. (2000)"})


def c_van_der_knijff(ndvi, *, alpha: float = 2.0, beta: float = 1.0) -> xr.DataArray:
    """C from NDVI by van der Knijff et al. (2000): C = exp(−α·NDVI/(β − NDVI)), in [0, 1].

    Parameters
    ----------
    ndvi : float or xarray.DataArray
        NDVI in [−1, 1] (outside raises :class:`InputDataError`); NaN = nodata.
    alpha, beta : float
        Shape parameters; α = 2, β = 1 as published.

    Returns
    -------
    xarray.DataArray
        ``c_factor``, clipped to [0, 1]: NDVI ≤ 0 (water, bare) gives C = 1 and
        NDVI ≥ β gives C = 0.

    References
    ----------
    van der Knijff, J.M., Jones, R.J.A., Montanarella, L. (2000). Soil erosion risk
    assessment in Europe. EUR 19044 EN, European Soil Bureau, JRC Ispra.

    Examples
    --------
    >>> round(float(c_van_der_knijff(0.5)), 4)
    0.1353
    """
    nd = _checked_ndvi(ndvi)
    below = nd.where(nd < beta)
    c = np.exp(-alpha * below / (beta - below))
    c = xr.where(nd >= beta, 0.0, c).clip(0.0, 1.0).where(nd.notnull())
    return finish(c, name="c_factor", units="1", attrs={"model": "van der Knijff et al. (2000)"})


def c_from_table(
    landcover: xr.DataArray,
    table: Mapping[int, float],
    *,
    nodata: float | None = None,
    table_name: str = "C table",
) -> xr.DataArray:
    """C per pixel from a land-cover → C table (values must be in [0, 1]).

    Parameters
    ----------
    landcover : xarray.DataArray
        Integer land-cover codes; NaN and ``nodata`` (default: the raster's own)
        give NaN.
    table : dict of int to float
        Code → C. A code in the raster but not in the table raises
        :class:`InputDataError` naming the code(s) and ``table_name``.

    Returns
    -------
    xarray.DataArray
        ``c_factor`` (units ``"1"``).

    Examples
    --------
    >>> import xarray as xr
    >>> lc = xr.DataArray([[1, 6]], dims=("y", "x"))
    >>> c_from_table(lc, {1: 0.006, 6: 0.2}).values.tolist()
    [[0.006, 0.2]]
    """
    out = lookup_table(
        landcover, table, input_name="landcover", table_name=table_name, nodata=nodata
    )
    return finish(out, name="c_factor", units="1", attrs={"source": table_name})


def r_weighted_mean(
    values_by_period: xr.DataArray,
    *,
    weights: xr.DataArray,
    skipna: bool = False,
) -> xr.DataArray:
    """Annual C (or B) as the erosivity-weighted mean Σᵢ Cᵢ·wᵢ over ``period``.

    Parameters
    ----------
    values_by_period : xarray.DataArray
        Per-period C or B (dimensionless), dims ``(period, y, x)``.
    weights : xarray.DataArray
        Each period's share of annual R (:func:`pipeline.factors.rainfall.halfmonth_share`),
        dims ``(period,)`` for a station or ``(period, y, x)``; the ``period``
        coordinates must equal those of ``values_by_period``.
    skipna : bool
        False (default): a NaN value in any period gives NaN. True: periods with NaN
        are left out and the remaining weights renormalised (cloud gaps).

    Returns
    -------
    xarray.DataArray
        The weighted mean, without ``period``; ``attrs["units"]`` from the input
        (default ``"1"``).

    References
    ----------
    常梦迪 et al., ChinaXiv 202108.00091V1 (年内加权平均生物措施因子), after Liu Baoyuan
    et al. (2001), 土壤侵蚀预报模型.

    Examples
    --------
    >>> import xarray as xr
    >>> c = xr.DataArray([0.2, 0.4], dims="period", coords={"period": [1, 2]})
    >>> w = xr.DataArray([0.25, 0.75], dims="period", coords={"period": [1, 2]})
    >>> round(float(r_weighted_mean(c, weights=w)), 6)
    0.35
    """
    for name, da in (("values_by_period", values_by_period), ("weights", weights)):
        if not isinstance(da, xr.DataArray) or "period" not in da.dims:
            raise InputDataError(f"{name}: expected a DataArray with a 'period' dimension")
    p_val = values_by_period["period"].values if "period" in values_by_period.coords else None
    p_w = weights["period"].values if "period" in weights.coords else None
    if values_by_period.sizes["period"] != weights.sizes["period"] or (
        p_val is not None and p_w is not None and not np.array_equal(p_val, p_w)
    ):
        raise InputDataError(
            "values_by_period and weights have different periods "
            f"({_period_text(values_by_period)} vs {_period_text(weights)}); "
            "use the same half-month (or 16-day) partition for C/B and for R"
        )
    w = check_range(weights, name="weights", lo=0.0, hi=1.0 + 1e-9)
    v = values_by_period
    if skipna:
        available = v.notnull()
        num = (v.fillna(0.0) * w).sum("period")
        den = w.where(available, 0.0).sum("period")
        out = (num / den.where(den > 0)).where(available.any("period"))
    else:
        out = (v * w).sum("period", skipna=False)
    units = values_by_period.attrs.get("units", "1")
    return finish(
        out, name=values_by_period.name or "c_factor", units=units, attrs={"weighted_by": "R share"}
    )


def _period_text(da: xr.DataArray) -> str:
    if "period" in da.coords:
        vals = da["period"].values
        return f"{vals.size} periods {vals[:1].tolist()}…{vals[-1:].tolist()}"
    return f"{da.sizes['period']} periods"


ENDMEMBER_SAMPLE_PIXELS = 2_000_000


def endmember_sample(ndvi: xr.DataArray, *, max_pixels: int = ENDMEMBER_SAMPLE_PIXELS):
    """A systematic (strided) sample of ≤ ``max_pixels`` pixels per period, in memory.

    The NDVI percentiles of the pixel dichotomy are global statistics; reading the
    whole cube once and taking a regular grid sample keeps memory bounded for any
    grid size. With ≥ 10⁶ pixels per period the 5/95 % percentiles of the sample
    differ from those of the full scene by far less than 0.01 NDVI; below
    ``max_pixels`` the sample is the whole scene (exact).
    """
    n = ndvi.sizes["y"] * ndvi.sizes["x"]
    stride = max(1, int(np.ceil(np.sqrt(n / max_pixels))))
    return ndvi.isel(y=slice(None, None, stride), x=slice(None, None, stride)).compute()


def cover_from_ndvi_periods(
    *,
    ndvi: xr.DataArray | None,
    landcover: xr.DataArray,
    r_shares: xr.DataArray,
    method: str = "cai2000",
    endmember_percentiles: tuple[float, float] = (5.0, 95.0),
    table: Mapping[int, float] | None = None,
    nodata_code: int = 255,
    name: str = "C",
    endmembers: Mapping | None = None,
) -> xr.DataArray:
    """Annual C (or CSLE B, dimensionless) from half-month NDVI, weighted by R shares.

    The recipe the workflow's ``factor_cover`` rule runs:

    - ``method="cai2000"``: FVC by the pixel dichotomy with the assessment's pooled
      end-members ``endmembers`` (:func:`pooled_ndvi_endmembers`, the workflow's choice) or,
      when None, this scene's end-members at ``endmember_percentiles`` (李苗苗 et al. 2004), then
      Cai et al. (2000, 水土保持学报) per period (:func:`c_cai2000`);
    - ``method="van_der_knijff"``: van der Knijff et al. (2000, EUR 19044 EN) per period;
    - the annual value is the mean weighted by each period's share of annual R
      (:func:`r_weighted_mean`; Wischmeier & Smith 1978, USDA AH 537);
    - ``table`` (land-cover code → C) overrides the NDVI value for its classes;
      ``method="table"`` uses the table only (no NDVI).

    Pixels with no land cover (NaN or ``nodata_code``) are NaN.
    ``ndvi`` has dims (period, y, x); ``r_shares`` has dim ``period``.
    """
    table = dict(table or {})
    if method == "table":
        out = c_from_table(landcover, table)
    else:
        if method == "cai2000":
            lo, hi = endmember_percentiles
            if endmembers is not None:
                ndvi_soil, ndvi_veg = endmember_maps(landcover, endmembers=endmembers)
            else:
                ndvi_soil, ndvi_veg = ndvi_endmembers(
                    endmember_sample(ndvi), percentiles=(float(lo), float(hi))
                )
            fvc = fvc_pixel_dichotomy(ndvi, ndvi_soil=ndvi_soil, ndvi_veg=ndvi_veg)
            per_period = c_cai2000(fvc)
        elif method == "van_der_knijff":
            per_period = c_van_der_knijff(ndvi)
        else:
            raise ConfigError(
                f"config key 'cover.method': unknown method {method!r}; expected cai2000, "
                "van_der_knijff or table"
            )
        out = r_weighted_mean(per_period, weights=r_shares)
        for code, value in table.items():
            out = out.where(landcover != code, value)
    out = out.where(np.isfinite(landcover) & (landcover != nodata_code))
    out.name = name
    out.attrs["units"] = "1"
    return out


# ------------------------------------------------- end-members fixed across an assessment
def pooled_ndvi_endmembers(
    scenes,
    *,
    inside=None,
    landcover=None,
    landcover_nodata: float | None = None,
    percentiles: tuple[float, float] = (5.0, 95.0),
    min_pixels: int = 30,
) -> dict:
    """NDVI_soil / NDVI_veg pooled over every period and year of an assessment, inside the AOI.

    Re-estimating the end-members per scene makes FVC relative to that scene, so a
    uniform greening of the whole district cancels and C cannot improve. Pooling all
    half-month scenes of all years of a run gives one pair for the whole assessment
    (or one pair per land-cover class), so FVC is comparable across periods and years.

    **Global reduction**: every scene is loaded here; pass strided samples (the same
    stride for NDVI, ``inside`` and ``landcover``) to bound memory.

    Parameters
    ----------
    scenes : sequence of xarray.DataArray
        NDVI in [−1, 1], dims ``(..., y, x)`` (e.g. one ``(period, y, x)`` cube per
        year); NaN is ignored.
    inside : sequence of bool xarray.DataArray (y, x), optional
        Per scene, True inside the AOI; pixels outside are left out. None = all pixels.
    landcover : sequence of xarray.DataArray (y, x), optional
        Per scene, integer classes: then end-members are also computed per class
        (pixels of that class over all periods and years), the per-class choice of
        常梦迪 et al. (ChinaXiv 202108.00091V1).
    landcover_nodata : float, optional
        Nodata code of ``landcover`` (default: each raster's own).
    percentiles : (float, float)
        Percentiles (0–100) for bare soil and full vegetation: 5/95 after 李苗苗 et al.
        (2004, 资源科学 26(4): 153-159).
    min_pixels : int
        A class with fewer pooled values, or whose two percentiles coincide, takes the
        pooled (all-class) end-members.

    Returns
    -------
    dict
        ``ndvi_soil``, ``ndvi_veg`` (NDVI, dimensionless), ``n_values`` (pooled
        pixel-periods), ``percentiles``, ``n_scenes`` and ``by_class``
        (``{code: {"ndvi_soil", "ndvi_veg", "n_values"}}``, empty without land cover).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = xr.DataArray(np.arange(50).reshape(1, 1, 50) / 100, dims=("period", "y", "x"))
    >>> b = a + 0.5  # a second year, greener: pooled with the first (0.00 … 0.99)
    >>> em = pooled_ndvi_endmembers([a, b])
    >>> round(em["ndvi_soil"], 4), round(em["ndvi_veg"], 4)
    (0.0495, 0.9405)
    """
    lo_q, hi_q = (float(p) for p in percentiles)
    if not (0.0 <= lo_q < hi_q <= 100.0):
        raise InputDataError(f"percentiles must satisfy 0 ≤ low < high ≤ 100, got {percentiles}")
    scenes = list(scenes)
    if not scenes:
        raise InputDataError("pooled_ndvi_endmembers: no NDVI scene given")
    for name, seq in (("inside", inside), ("landcover", landcover)):
        if seq is not None and len(list(seq)) != len(scenes):
            raise InputDataError(f"{name}: one map per NDVI scene needed ({len(scenes)})")
    pooled, pooled_lc = [], []
    for i, scene in enumerate(scenes):
        nd = _checked_ndvi(scene).transpose(..., "y", "x")
        values = np.asarray(nd.values, dtype=np.float64).reshape(-1, *nd.shape[-2:])
        keep = np.isfinite(values)
        if inside is not None:
            mask = np.asarray(inside[i].values, dtype=bool)
            if mask.shape != values.shape[-2:]:
                raise InputDataError(
                    f"inside[{i}] has shape {mask.shape}, NDVI {values.shape[-2:]}: same grid needed"
                )
            keep &= mask[None]
        if landcover is not None:
            lc = np.asarray(landcover[i].values, dtype=np.float64)
            if lc.shape != values.shape[-2:]:
                raise InputDataError(
                    f"landcover[{i}] has shape {lc.shape}, NDVI {values.shape[-2:]}: same grid"
                )
            lc_nodata = nodata_of(landcover[i], landcover_nodata)
            lc_valid = np.isfinite(lc) & ((lc != lc_nodata) if lc_nodata is not None else True)
            keep &= lc_valid[None]
            pooled_lc.append(np.broadcast_to(lc[None], values.shape)[keep])
        pooled.append(values[keep])
    allv = np.concatenate(pooled)
    if allv.size < 2:
        raise InputDataError(
            f"pooled NDVI end-members: only {allv.size} valid NDVI value(s) inside the AOI; "
            "check the NDVI inputs and the AOI"
        )
    soil, veg = (float(v) for v in np.percentile(allv, [lo_q, hi_q]))
    if not veg > soil:
        raise InputDataError(
            f"pooled NDVI end-members coincide ({soil:.3f}): NDVI is constant inside the AOI"
        )
    by_class: dict[int, dict] = {}
    if landcover is not None:
        codes_all = np.concatenate(pooled_lc)
        for code in np.unique(codes_all).astype(np.int64):
            v = allv[codes_all == code]
            s, g = np.percentile(v, [lo_q, hi_q]) if v.size >= max(min_pixels, 1) else (soil, veg)
            if not g > s:
                s, g = soil, veg
            by_class[int(code)] = {
                "ndvi_soil": float(s),
                "ndvi_veg": float(g),
                "n_values": int(v.size),
            }
    return {
        "ndvi_soil": soil,
        "ndvi_veg": veg,
        "n_values": int(allv.size),
        "n_scenes": len(scenes),
        "percentiles": [lo_q, hi_q],
        "by_class": by_class,
    }


def endmember_maps(
    landcover: xr.DataArray, *, endmembers: Mapping
) -> tuple[xr.DataArray, xr.DataArray]:
    """NDVI_soil and NDVI_veg per pixel from :func:`pooled_ndvi_endmembers`' result.

    Pixels of a class listed in ``endmembers["by_class"]`` take that class's pair;
    every other pixel (or all, when ``by_class`` is empty) takes the pooled pair.

    Returns
    -------
    (ndvi_soil, ndvi_veg) : tuple of xarray.DataArray
        Maps on ``landcover``'s grid (dimensionless), or 0-d when there is no per-class
        table.

    Examples
    --------
    >>> import xarray as xr
    >>> lc = xr.DataArray([[1, 2]], dims=("y", "x"))
    >>> em = {"ndvi_soil": 0.1, "ndvi_veg": 0.8,
    ...       "by_class": {1: {"ndvi_soil": 0.2, "ndvi_veg": 0.9}}}
    >>> [m.values.tolist() for m in endmember_maps(lc, endmembers=em)]
    [[[0.2, 0.1]], [[0.9, 0.8]]]
    """
    soil0, veg0 = float(endmembers["ndvi_soil"]), float(endmembers["ndvi_veg"])
    by_class = {int(k): v for k, v in (endmembers.get("by_class") or {}).items()}
    attrs = {"pooled": "all periods and years, inside the AOI"}
    if not by_class:
        return (
            finish(xr.DataArray(soil0), name="ndvi_soil", units="1", attrs=attrs),
            finish(xr.DataArray(veg0), name="ndvi_veg", units="1", attrs=attrs),
        )
    soil = xr.full_like(landcover, soil0, dtype="float64")
    veg = xr.full_like(landcover, veg0, dtype="float64")
    for code, pair in by_class.items():
        soil = soil.where(landcover != code, float(pair["ndvi_soil"]))
        veg = veg.where(landcover != code, float(pair["ndvi_veg"]))
    return (
        finish(soil, name="ndvi_soil", units="1", attrs=attrs),
        finish(veg, name="ndvi_veg", units="1", attrs=attrs),
    )
