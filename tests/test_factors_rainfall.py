"""R factor: Zhang Wenbo et al. (2002) daily model and Renard & Freimund (1994).

Expected values are computed here from the published equations with plain
Python ``math``, independently of the implementation.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors import rainfall
from tests.utils import as_backend, assert_same_values, raise_if_dask_computes


def station(values: dict[str, float], start="2001-01-01", end="2001-12-31") -> xr.DataArray:
    """A daily station series, 0 mm except on the given dates."""
    t = pd.date_range(start, end)
    rain = pd.Series(0.0, index=t)
    for day, mm in values.items():
        rain[pd.Timestamp(day)] = mm
    return xr.DataArray(rain.to_numpy().copy(), dims="time", coords={"time": t}, name="rain")


def cube(n_years=2, seed=0) -> xr.DataArray:
    t = pd.date_range("2001-01-01", f"{2000 + n_years}-12-31")
    rng = np.random.default_rng(seed)
    data = rng.gamma(0.5, 12.0, (t.size, 3, 4))
    return xr.DataArray(
        data,
        dims=("time", "y", "x"),
        coords={"time": t, "y": [2.5, 1.5, 0.5], "x": [0.5, 1.5, 2.5, 3.5]},
        name="rain",
    )


# ----------------------------------------------------------------------- half-months
def test_halfmonth_index_splits_after_day_15():
    dates = pd.to_datetime(
        ["2016-01-01", "2016-01-15", "2016-01-16", "2016-02-15", "2016-02-29", "2016-12-31"]
    )
    assert rainfall.halfmonth_index(dates).tolist() == [1, 1, 2, 3, 4, 24]


def test_halfmonth_index_of_a_dataarray_keeps_coords():
    t = pd.date_range("2001-06-14", periods=4)
    da = xr.DataArray(t, dims="time", coords={"time": t})
    out = rainfall.halfmonth_index(da)
    assert out.name == "period"
    assert out.values.tolist() == [11, 11, 12, 12]
    assert (out["time"].values == t.values).all()


# --------------------------------------------------------------- threshold at 12 mm
def test_a_12_mm_day_counts_and_11_99_does_not():
    rain = station({"2001-03-05": 12.0, "2001-03-20": 11.99})
    r = rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=1.0, beta=1.0)
    assert float(r.sel(period=5)) == 12.0  # Mar 1–15
    assert float(r.sel(period=6)) == 0.0  # Mar 16–31: 11.99 mm is not erosive
    assert float(rainfall.annual_erosivity(r)) == 12.0


def test_threshold_is_a_parameter():
    rain = station({"2001-03-05": 10.0})
    r = rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=1.0, beta=1.0, threshold_mm=10.0)
    assert float(r.sel(period=5)) == 10.0


def test_halfmonth_erosivity_matches_hand_computation():
    rain = station({"2001-07-02": 20.0, "2001-07-10": 30.0, "2001-07-20": 5.0, "2001-12-31": 45.5})
    alpha, beta = 0.3, 1.7
    r = rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=alpha, beta=beta)
    assert r.dims == ("period",)
    assert r["period"].values.tolist() == list(range(1, 25))
    assert r.attrs["units"] == "MJ mm ha-1 h-1"
    assert r.name == "r_halfmonth"
    expected_13 = 0.3 * (20.0**1.7 + 30.0**1.7)
    expected_24 = 0.3 * 45.5**1.7
    assert float(r.sel(period=13)) == pytest.approx(expected_13, rel=1e-12)
    assert float(r.sel(period=14)) == 0.0
    assert float(r.sel(period=24)) == pytest.approx(expected_24, rel=1e-12)
    annual = rainfall.annual_erosivity(r)
    assert annual.attrs["units"] == "MJ mm ha-1 h-1 a-1"
    assert float(annual) == pytest.approx(expected_13 + expected_24, rel=1e-12)


def test_coefficients_match_the_published_equations():
    # two years: 2001 has erosive days 20, 30 mm; 2002 has 12, 50 mm (and non-erosive 11.99)
    rain = xr.concat(
        [
            station({"2001-05-01": 20.0, "2001-08-01": 30.0, "2001-08-02": 3.0}),
            station(
                {"2002-05-01": 12.0, "2002-06-01": 50.0, "2002-06-02": 11.99},
                "2002-01-01",
                "2002-12-31",
            ),
        ],
        dim="time",
    )
    p_d12_hand = (20 + 30 + 12 + 50) / 4
    p_y12_hand = (20 + 30 + 12 + 50) / 2
    beta_hand = 0.8363 + 18.144 / p_d12_hand + 24.455 / p_y12_hand
    alpha_hand = 21.586 * beta_hand**-7.1891
    p_d12, p_y12 = rainfall.zhang_wenbo_statistics(rain)
    assert float(p_d12) == pytest.approx(p_d12_hand, rel=1e-12)
    assert float(p_y12) == pytest.approx(p_y12_hand, rel=1e-12)
    alpha, beta = rainfall.zhang_wenbo_coefficients(rain)
    assert float(beta) == pytest.approx(beta_hand, rel=1e-12)
    assert float(alpha) == pytest.approx(alpha_hand, rel=1e-12)
    assert beta.attrs["units"] == "1"

    # several years in → (year, period) out, each year its own sums
    r = rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=alpha, beta=beta)
    assert r.dims == ("year", "period")
    assert r["year"].values.tolist() == [2001, 2002]
    annual = rainfall.annual_erosivity(r)
    a, b = alpha_hand, beta_hand
    assert annual.values.tolist() == pytest.approx(
        [a * (20**b + 30**b), a * (12**b + 50**b)], rel=1e-12
    )
    mean = rainfall.mean_annual_erosivity(r)
    assert float(mean) == pytest.approx(float(annual.mean()), rel=1e-12)


def test_single_year_has_no_year_dim_but_a_year_coord():
    r = rainfall.erosivity_halfmonth_zhang_wenbo(station({"2001-05-01": 20.0}), alpha=1, beta=1)
    assert "year" not in r.dims
    assert int(r["year"]) == 2001


def test_cube_gives_period_y_x_and_keeps_coords():
    rain = cube(n_years=1)
    alpha, beta = rainfall.zhang_wenbo_coefficients(rain)
    assert alpha.dims == ("y", "x")
    r = rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=alpha, beta=beta)
    assert r.dims == ("period", "y", "x")
    np.testing.assert_array_equal(r["x"].values, rain["x"].values)
    # pixel (0, 0) by hand with numpy
    p = rain.isel(y=0, x=0).to_series()
    a, b = float(alpha[0, 0]), float(beta[0, 0])
    daily = np.where(p >= 12.0, a * np.where(p >= 12.0, p, 0.0) ** b, 0.0)
    hand = pd.Series(daily, index=p.index).groupby(rainfall.halfmonth_index(p.index)).sum()
    np.testing.assert_allclose(r.isel(y=0, x=0).values, hand.to_numpy(), rtol=1e-12)


def test_pixel_without_erosive_rain_has_zero_r_not_nan():
    rain = cube(n_years=1)
    rain[:, 0, 0] = 1.0  # never erosive
    alpha, beta = rainfall.zhang_wenbo_coefficients(rain)
    assert np.isnan(float(alpha[0, 0]))  # P_d12 undefined
    r = rainfall.annual_erosivity(
        rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=alpha, beta=beta)
    )
    assert float(r[0, 0]) == 0.0
    assert np.isfinite(r.values).all()


def test_missing_day_makes_its_half_month_nan_not_zero():
    rain = station({"2001-05-01": 20.0, "2001-09-01": 40.0})
    rain.loc["2001-09-03"] = np.nan
    r = rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=1.0, beta=1.0)
    assert np.isnan(float(r.sel(period=17)))
    assert float(r.sel(period=9)) == 20.0
    assert np.isnan(float(rainfall.annual_erosivity(r)))


def test_half_month_not_covered_by_the_input_is_nan():
    rain = station({"2001-01-20": 20.0}, "2001-01-10", "2001-12-31")
    r = rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=1.0, beta=1.0)
    assert np.isnan(float(r.sel(period=1)))  # Jan 1–9 missing
    assert float(r.sel(period=2)) == 20.0


# ----------------------------------------------------------------------------- share
def test_halfmonth_share_sums_to_one_and_handles_zero_and_nan():
    r = xr.DataArray(
        [[1.0, 3.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, np.nan, 1.0, 1.0]],
        dims=("x", "period"),
        coords={"period": [1, 2, 3, 4]},
    ).transpose("period", "x")
    share = rainfall.halfmonth_share(r)
    assert share.dims == ("period", "x")
    assert share.attrs["units"] == "1"
    assert share.isel(x=0).values.tolist() == [0.25, 0.75, 0.0, 0.0]
    assert share.isel(x=1).values.tolist() == [0.25] * 4  # annual R = 0 → plain mean
    assert np.isnan(share.isel(x=2).values).all()


# ------------------------------------------------------------------ Renard & Freimund
@pytest.mark.parametrize(
    "p, expected",
    [
        (0.0, 0.0),
        (500.0, 0.0483 * 500.0**1.610),
        (850.0, 0.0483 * 850.0**1.610),
        (850.0001, 587.8 - 1.219 * 850.0001 + 0.004105 * 850.0001**2),
        (2000.0, 587.8 - 1.219 * 2000.0 + 0.004105 * 2000.0**2),
    ],
)
def test_renard_freimund_hand_values(p, expected):
    r = rainfall.erosivity_renard_freimund(p)
    assert float(r) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert r.attrs["units"] == "MJ mm ha-1 h-1 a-1"


def test_renard_freimund_branches_nearly_meet_at_850():
    low = float(rainfall.erosivity_renard_freimund(850.0))
    high = float(rainfall.erosivity_renard_freimund(850.0 + 1e-9))
    assert math.isclose(low, 2512.0, rel_tol=1e-3)
    assert abs(high - low) / low < 0.003


# ------------------------------------------------------------------------ bad input
def test_negative_rainfall_is_refused_with_the_input_named():
    rain = station({"2001-05-01": -3.0})
    with pytest.raises(InputDataError, match=r"daily_rain_mm: value -3 is out of range.*negative"):
        rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=1.0, beta=1.0)
    with pytest.raises(InputDataError, match=r"daily_rain_mm: value -3"):
        rainfall.zhang_wenbo_coefficients(rain)


def test_negative_rainfall_in_dask_raises_on_compute():
    rain = station({"2001-05-01": -3.0}).chunk({"time": 30})
    with raise_if_dask_computes():
        r = rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=1.0, beta=1.0)
    with pytest.raises(InputDataError, match=r"daily_rain_mm: value -3"):
        r.compute()


def test_negative_annual_precipitation_is_refused():
    with pytest.raises(InputDataError, match=r"annual_precip_mm: value -1 is out of range"):
        rainfall.erosivity_renard_freimund(xr.DataArray([100.0, -1.0], dims="x"))


def test_duplicate_days_and_missing_time_are_refused():
    rain = station({})
    dup = xr.concat([rain.isel(time=[0]), rain], dim="time")
    with pytest.raises(InputDataError, match="more than one value on 2001-01-01"):
        rainfall.erosivity_halfmonth_zhang_wenbo(dup, alpha=1, beta=1)
    with pytest.raises(InputDataError, match="no 'time' dimension"):
        rainfall.zhang_wenbo_coefficients(rain.rename(time="day"))


def test_coefficients_need_whole_years():
    rain = station({"2001-05-01": 20.0}, "2001-01-01", "2001-11-30")
    with pytest.raises(InputDataError, match="year 2001 has 334 of 365 days"):
        rainfall.zhang_wenbo_coefficients(rain)
    alpha, beta = rainfall.zhang_wenbo_coefficients(rain, allow_partial_years=True)
    assert np.isfinite(float(alpha))


# ----------------------------------------------------------------------------- dask
def test_numpy_and_dask_give_identical_r_and_dask_stays_lazy():
    rain = cube(n_years=2)
    lazy = as_backend(rain, "dask", chunks={"time": 90, "y": 2, "x": 2})
    with raise_if_dask_computes():
        alpha_d, beta_d = rainfall.zhang_wenbo_coefficients(lazy)
        r_d = rainfall.erosivity_halfmonth_zhang_wenbo(lazy, alpha=alpha_d, beta=beta_d)
        share_d = rainfall.halfmonth_share(r_d)
        annual_d = rainfall.annual_erosivity(r_d)
    alpha, beta = rainfall.zhang_wenbo_coefficients(rain)
    r = rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=alpha, beta=beta)
    assert_same_values(r, r_d, rtol=1e-12)
    assert_same_values(rainfall.halfmonth_share(r), share_d, rtol=1e-12)
    assert_same_values(rainfall.annual_erosivity(r), annual_d, rtol=1e-12)
