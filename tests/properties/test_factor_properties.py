"""Hypothesis property tests of the factor library (see README.md in this folder)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pipeline.factors import cover, csle, rainfall, soil, soil_loss
from tests.utils import as_backend, assert_same_values, raise_if_dask_computes

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# dask graphs are slow to build and run on tiny arrays: a handful of examples suffices
DASK = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])

fractions = st.floats(0.0, 1.0, allow_nan=False)
ndvis = st.floats(-1.0, 1.0, allow_nan=False)
YEAR = pd.date_range("2003-01-01", "2003-12-31")


def grid(values) -> xr.DataArray:
    arr = np.asarray(values, dtype=float)
    return xr.DataArray(
        arr,
        dims=("y", "x"),
        coords={"y": np.arange(arr.shape[0])[::-1] + 0.5, "x": np.arange(arr.shape[1]) + 0.5},
    )


def grids(lo, hi, shape=(3, 4)):
    return arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False)).map(grid)


# ------------------------------------------------------------------------------ C
@SETTINGS
@given(st.lists(fractions, min_size=2, max_size=30))
def test_cai_c_is_in_0_1_and_non_increasing_in_cover(values):
    f = np.sort(np.asarray(values))
    c = cover.c_cai2000(xr.DataArray(f, dims="x")).values
    assert np.all((c >= 0) & (c <= 1))
    assert np.all(np.diff(c) <= 0)


@SETTINGS
@given(st.lists(ndvis, min_size=2, max_size=30))
def test_van_der_knijff_c_is_in_0_1_and_non_increasing_in_ndvi(values):
    nd = np.sort(np.asarray(values))
    c = cover.c_van_der_knijff(xr.DataArray(nd, dims="x")).values
    assert np.all((c >= 0) & (c <= 1))
    assert np.all(np.diff(c) <= 0)


@SETTINGS
@given(
    st.lists(ndvis, min_size=1, max_size=20),
    st.floats(-0.5, 0.4),
    st.floats(0.05, 1.0),
)
def test_fvc_is_a_fraction_and_c_of_fvc_stays_in_0_1(values, soil_nd, span):
    veg_nd = min(1.0, soil_nd + span)
    nd = xr.DataArray(np.asarray(values), dims="x")
    fvc = cover.fvc_pixel_dichotomy(nd, ndvi_soil=soil_nd, ndvi_veg=veg_nd).values
    assert np.all((fvc >= 0) & (fvc <= 1))
    c = csle.b_from_cover(xr.DataArray(fvc, dims="x")).values
    assert np.all((c >= 0) & (c <= 1))


# ------------------------------------------------------------------------------ R
daily_rain = arrays(
    np.float64,
    YEAR.size,
    elements=st.sampled_from([0.0, 0.0, 0.0, 3.0, 11.99, 12.0, 25.0, 60.0, 150.0]),
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    daily_rain,
    arrays(np.float64, YEAR.size, elements=st.sampled_from([0.0, 0.0, 0.0, 0.01, 5.0, 40.0])),
    st.floats(0.05, 5.0),
    st.floats(1.0, 2.5),
)
def test_r_is_monotone_in_rainfall(base, extra, alpha, beta):
    def r(values):
        da = xr.DataArray(values, dims="time", coords={"time": YEAR})
        return rainfall.erosivity_halfmonth_zhang_wenbo(da, alpha=alpha, beta=beta)

    r0, r1 = r(base), r(base + extra)
    assert np.all(r1.values >= r0.values)
    assert float(rainfall.annual_erosivity(r1)) >= float(rainfall.annual_erosivity(r0))
    share = rainfall.halfmonth_share(r1)
    assert abs(float(share.sum()) - 1.0) < 1e-9


# ------------------------------------------------------------------------------ A
@SETTINGS
@given(
    st.floats(0, 20000),
    st.floats(0, 0.1),
    st.floats(0, 50),
    fractions,
    fractions,
    st.sampled_from(["r", "k", "ls", "c", "p"]),
    st.floats(0, 1),
)
def test_soil_loss_is_monotone_in_each_factor(r, k, ls, c, p, which, step):
    factors = dict(r=r, k=k, ls=ls, c=c, p=p)
    a0 = float(soil_loss.soil_loss_rusle(**factors))
    bigger = dict(factors)
    bigger[which] = (
        min(1.0, factors[which] + step) if which in ("c", "p") else factors[which] * (1 + step)
    )
    a1 = float(soil_loss.soil_loss_rusle(**bigger))
    assert a1 >= a0 >= 0
    nan_factors = dict(factors)
    nan_factors[which] = np.nan
    assert np.isnan(float(soil_loss.soil_loss_rusle(**nan_factors)))


# ---------------------------------------------------------------- numpy == dask, lazy
@DASK
@given(grids(-1.0, 1.0), st.sampled_from([2, (2, 3)]))
def test_cover_functions_numpy_equals_dask_and_stay_lazy(ndvi, chunks):
    lazy = as_backend(ndvi, "dask", chunks=chunks)
    with raise_if_dask_computes():
        fvc_d = cover.fvc_pixel_dichotomy(lazy, ndvi_soil=-0.2, ndvi_veg=0.8)
        c_d = cover.c_cai2000(fvc_d)
        knijff_d = cover.c_van_der_knijff(lazy)
    fvc = cover.fvc_pixel_dichotomy(ndvi, ndvi_soil=-0.2, ndvi_veg=0.8)
    assert_same_values(fvc, fvc_d)
    assert_same_values(cover.c_cai2000(fvc), c_d)
    assert_same_values(cover.c_van_der_knijff(ndvi), knijff_d)


@DASK
@given(
    arrays(np.int64, (3, 4), elements=st.sampled_from([1, 3, 6, 7, 255])).map(grid),
    grids(0.0, 1.0),
    st.sampled_from([2, (3, 2)]),
)
def test_tables_and_csle_numpy_equals_dask_and_stay_lazy(lc, b, chunks):
    table = {1: 0.01, 3: 0.05, 6: 0.3, 7: 0.1}
    lc = lc.rio.write_nodata(255)
    lc_d, b_d = as_backend(lc, "dask", chunks=chunks), as_backend(b, "dask", chunks=chunks)
    with raise_if_dask_computes():
        c_d = cover.c_from_table(lc_d, table)
        t_d = csle.t_from_table(lc_d, {6: 0.5, 7: 0.3})
        a_d = csle.soil_loss_csle(r=6000.0, k=0.004, ls=2.0, b=b_d, e=1.0, t=t_d, landcover=lc_d)
    assert_same_values(cover.c_from_table(lc, table), c_d)
    t = csle.t_from_table(lc, {6: 0.5, 7: 0.3})
    assert_same_values(t, t_d)
    a = csle.soil_loss_csle(r=6000.0, k=0.004, ls=2.0, b=b, e=1.0, t=t, landcover=lc)
    assert_same_values(a, a_d)


@DASK
@given(grids(0.0, 60.0), grids(0.0, 1.0), grids(0.0, 4.0), st.sampled_from([2, (2, 3)]))
def test_k_and_soil_loss_numpy_equals_dask_and_stay_lazy(silt, clay_share, oc, chunks):
    clay = (100.0 - silt) * clay_share * 0.5
    sand = 100.0 - silt - clay
    inputs = dict(sand_pct=sand, silt_pct=silt, clay_pct=clay, organic_carbon_pct=oc)
    lazy = {k: as_backend(v, "dask", chunks=chunks) for k, v in inputs.items()}
    with raise_if_dask_computes():
        k_d = soil.k_epic(**lazy)
        a_d = soil_loss.soil_loss_rusle(
            r=7000.0, k=k_d, ls=lazy["organic_carbon_pct"], c=0.2, p=1.0
        )
    k = soil.k_epic(**inputs)
    assert_same_values(k, k_d)
    assert_same_values(
        soil_loss.soil_loss_rusle(r=7000.0, k=k, ls=inputs["organic_carbon_pct"], c=0.2, p=1.0), a_d
    )
    assert np.all((k.values >= 0) & (k.values < 0.1))


@DASK
@given(
    arrays(np.float64, (YEAR.size, 2, 2), elements=st.sampled_from([0.0, 5.0, 12.0, 30.0, 80.0]))
)
def test_rainfall_numpy_equals_dask_and_stays_lazy(values):
    rain = xr.DataArray(
        values, dims=("time", "y", "x"), coords={"time": YEAR, "y": [1.5, 0.5], "x": [0.5, 1.5]}
    )
    lazy = rain.chunk({"time": 183, "y": 1, "x": 2})
    with raise_if_dask_computes():
        alpha_d, beta_d = rainfall.zhang_wenbo_coefficients(lazy)
        r_d = rainfall.erosivity_halfmonth_zhang_wenbo(lazy, alpha=alpha_d, beta=beta_d)
        share_d = rainfall.halfmonth_share(r_d)
    alpha, beta = rainfall.zhang_wenbo_coefficients(rain)
    r = rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=alpha, beta=beta)
    assert_same_values(r, r_d, rtol=1e-12)
    assert_same_values(rainfall.halfmonth_share(r), share_d, rtol=1e-12)
