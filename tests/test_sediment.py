"""Sediment delivery (Borselli IC, Vigiak SDR, export) and the gauge rating curve.

Every expected value below is computed by hand in the test from the published formulas,
never by the code under test.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipeline.factors import gauges, sediment


def plane(n_rows: int, n_cols: int, *, d: float, slope: float) -> xr.DataArray:
    """A plane falling southward (rows grow southward) with gradient ``slope`` (m/m)."""
    y = 1000.0 - d * (np.arange(n_rows) + 0.5)
    x = 500.0 + d * (np.arange(n_cols) + 0.5)
    z = 100.0 - slope * d * np.arange(n_rows)[:, None] + 0.0 * x[None, :]
    da = xr.DataArray(z, dims=("y", "x"), coords={"y": y, "x": x})
    return da.rio.write_crs("EPSG:32650")


def like(dem: xr.DataArray, values) -> xr.DataArray:
    arr = np.broadcast_to(np.asarray(values, dtype=float), dem.shape).copy()
    return xr.DataArray(arr, dims=dem.dims, coords=dem.coords).rio.write_crs(dem.rio.crs)


# ------------------------------------------------------------------------- IC, by hand
def test_ic_sdr_and_export_on_a_hand_computed_grid():
    """4 × 2 plane, D = 10 m, S = 0.1, W (= C) by row 0.5, 0.1, 0.2, 0.4, no stream.

    Each column drains south; the bottom row leaves the grid (its own term counts, d = D).
    Row r (0 = top): A = (r+1)·100 m², W̄ = mean(W[0..r]), S̄ = 0.1, so
    D_up = W̄ · 0.1 · √((r+1)·100) = W̄ · √(r+1);
    D_dn = Σ_{j=r..3} 10 / (W_j · 0.1) = 100 · Σ_{j=r..3} 1/W_j, with 1/W = 2, 10, 5, 2.5:
      r=0: D_up = 0.5,          D_dn = 100·19.5 = 1950
      r=1: D_up = 0.3·√2,       D_dn = 100·17.5 = 1750
      r=2: D_up = (0.8/3)·√3,   D_dn = 100·7.5  = 750
      r=3: D_up = 0.3·2 = 0.6,  D_dn = 100·2.5  = 250
    IC = log10(D_up/D_dn); SDR = 0.8/(1 + exp((0.5 − IC)/2)); e.g. r=3: IC = log10(0.0024)
    = −2.619789, SDR = 0.8/(1 + e^1.5598945) = 0.8/5.758319 = 0.138929.
    Export with A = 10 t/(ha·a) on 0.01-ha pixels: 10 · 0.01 · SDR t/a.
    """
    dem = plane(4, 2, d=10.0, slope=0.1)
    w = like(dem, np.array([0.5, 0.1, 0.2, 0.4])[:, None])
    ds = sediment.connectivity_index(dem, weight=w, stream_threshold_cells=100)
    d_up = [0.5, 0.3 * math.sqrt(2), (0.8 / 3) * math.sqrt(3), 0.6]
    d_dn = [1950.0, 1750.0, 750.0, 250.0]
    for r in range(4):
        for c in range(2):
            assert float(ds.d_up[r, c]) == pytest.approx(d_up[r], rel=1e-6)  # slope is float32
            assert float(ds.d_dn[r, c]) == pytest.approx(d_dn[r], rel=1e-6)  # slope is float32
            assert float(ds.ic[r, c]) == pytest.approx(
                math.log10(d_up[r] / d_dn[r]), rel=1e-6
            )  # slope is float32
    assert not bool(ds.stream.any())
    assert ds.ic.attrs["units"] == "1" and ds.d_dn.attrs["units"] == "m"

    sdr = sediment.sediment_delivery_ratio(ds.ic)
    assert float(sdr[3, 0]) == pytest.approx(0.138929, abs=5e-7)
    assert float(sdr[3, 0]) == pytest.approx(
        0.8 / (1 + math.exp((0.5 - math.log10(0.0024)) / 2)), rel=1e-7
    )
    soil_loss = like(dem, 10.0)
    export = sediment.sediment_export(soil_loss, sdr)
    assert export.attrs["units"] == "t a-1"
    np.testing.assert_allclose(export.values, 10.0 * 0.01 * sdr.values, rtol=1e-12)
    totals = sediment.catchment_totals(
        soil_loss=soil_loss, export=export, mask=like(dem, 1.0).astype(bool)
    )
    assert totals["area_ha"] == pytest.approx(0.08)
    assert totals["gross_t"] == pytest.approx(10.0 * 0.08)
    assert totals["export_t"] == pytest.approx(float(export.sum()))
    assert totals["sdr_catchment"] == pytest.approx(float(sdr.mean()), rel=1e-12)


def test_sdr_curve_defaults_are_invest_and_monotone():
    ic = xr.DataArray(np.array([-10.0, 0.5, 10.0]))
    sdr = sediment.sediment_delivery_ratio(ic)
    # IC = IC0 gives SDR_max/2; far above IC0 it tends to SDR_max, far below to 0
    assert float(sdr[1]) == pytest.approx(0.4)
    assert float(sdr[0]) == pytest.approx(0.8 / (1 + math.exp(10.5 / 2)))
    assert 0.8 * 0.99 < float(sdr[2]) < 0.8
    assert sediment.SDR_DEFAULTS == {"sdr_max": 0.8, "ic0": 0.5, "k": 2.0}


# ----------------------------------------------------------------- IC on a plane, closed
@pytest.mark.parametrize("threshold", [1000, 12])
def test_ic_on_a_uniform_plane_matches_its_closed_form(threshold):
    """Closed form on a plane with D8 flow along an axis (rows k = 1..n from the divide).

    Every column is an independent flow line of width D. At row k the upslope area is
    A = k·D² (the cell included), and S and W are constant, so W̄ = W and S̄ = S:
        D_up = W · S · √(k·D²) = W·S·D·√k.
    Without a stream the D8 path runs from row k to the last row n, each step d = D:
        D_dn = (n − k + 1) · D / (W·S),
    hence IC = log10(W²·S²·√k / (n − k + 1)), independent of D.
    With a stream threshold T ≤ n, rows k ≥ T are streams (upstream count k ≥ T): the
    path of a row k < T stops before row T, D_dn = (T − k)·D/(W·S) and
    IC = log10(W²·S²·√k / (T − k)); stream rows have no IC (NaN).
    """
    n, d, s, w = 20, 30.0, 0.2, 0.05
    dem = plane(n, 3, d=d, slope=s)
    ds = sediment.connectivity_index(dem, weight=like(dem, w), stream_threshold_cells=threshold)
    for k in range(1, n + 1):
        row = ds.ic.values[k - 1]
        if k >= threshold:
            assert np.isnan(row).all()
            assert bool(ds.stream.values[k - 1].all())
            continue
        steps = (n - k + 1) if threshold > n else (threshold - k)
        expected = math.log10(w * w * s * s * math.sqrt(k) / steps)
        np.testing.assert_allclose(row, expected, rtol=1e-6)  # slope is float32
        np.testing.assert_allclose(
            ds.d_up.values[k - 1], w * s * d * math.sqrt(k), rtol=1e-6
        )  # slope is float32


def test_thresholds_keep_flats_and_bare_cover_finite():
    dem = plane(5, 3, d=10.0, slope=0.0)  # flat: S is floored at 0.005
    ds = sediment.connectivity_index(dem, weight=like(dem, 0.0), stream_threshold_cells=1000)
    assert np.isfinite(ds.ic.values).all()
    # W floored at 0.001 and S at 0.005 everywhere: D_up = 0.001 · 0.005 · √A
    np.testing.assert_allclose(
        ds.d_up.values / np.sqrt(ds.upslope_area_m2.values), 0.001 * 0.005, rtol=1e-9
    )


# -------------------------------------------------------------------------- snapping
def test_gauge_snaps_to_the_largest_accumulation_within_the_radius():
    y = np.array([35.0, 25.0, 15.0, 5.0])
    x = np.array([5.0, 15.0, 25.0, 35.0])
    acc = xr.DataArray(
        np.array([[1, 1, 1, 1], [2, 3, 1, 1], [3, 9, 2, 50], [1, 12, 1, 1]], dtype=float),
        dims=("y", "x"),
        coords={"y": y, "x": x},
    )
    # gauge between cells: within 15 m the cells (2,1)=9, (3,1)=12, (2,2)=2, ...; 50 is too far
    snap = sediment.snap_to_accumulation(acc, x=17.0, y=12.0, radius_m=15.0)
    assert (snap["row"], snap["col"], snap["accumulation"]) == (3, 1, 12.0)
    assert snap["distance_m"] == pytest.approx(math.hypot(17 - 15, 12 - 5))
    far = sediment.snap_to_accumulation(acc, x=17.0, y=12.0, radius_m=25.0)
    assert (far["row"], far["col"]) == (2, 3)
    with pytest.raises(Exception, match="no valid cell within"):
        sediment.snap_to_accumulation(acc, x=500.0, y=500.0, radius_m=10.0)


def test_catchment_of_one_column_of_a_plane():
    dem = plane(6, 3, d=10.0, slope=0.1)
    ds = sediment.connectivity_index(dem, weight=like(dem, 0.1), stream_threshold_cells=1000)
    mask = sediment.catchment_mask(ds.flow_direction_d8, row=5, col=1)
    expected = np.zeros((6, 3), bool)
    expected[:, 1] = True
    np.testing.assert_array_equal(mask.values, expected)


# ----------------------------------------------------------------------- rating curve
def test_rating_curve_and_loads_reproduce_a_hand_computed_example():
    """ln SSC = ln 2 + 0.5 ln Q ± 0.1 at Q = 1 and Q = 9 (one sample above, one below).

    The residuals ±0.1 cancel at each Q, so OLS gives a = 2, b = 0.5 exactly and Duan's
    smearing factor is CF = (e^0.1 + e^−0.1)/2 = cosh 0.1 = 1.0050041680558035.
    Daily record Q = 1, 4, 9 m³/s: SSC_hat = 2·CF·√Q = 2CF·(1, 2, 3) g/L, loads
    86.4·Q·SSC_hat = 172.8·CF·(1, 8, 27) t/d, sum 172.8·36·CF = 6220.8·CF = 6251.93...
    Directly measured loads on the sampled days: 86.4·Q·SSC summed over the four samples
    = 86.4·(1·2e^0.1 + 1·2e^−0.1 + 9·6e^0.1 + 9·6e^−0.1) = 86.4·2·56·cosh 0.1 t.
    """
    cf = math.cosh(0.1)
    q = np.array([1.0, 1.0, 9.0, 9.0])
    ssc = np.array([2 * math.exp(0.1), 2 * math.exp(-0.1), 6 * math.exp(0.1), 6 * math.exp(-0.1)])
    curve = gauges.fit_rating_curve(q, ssc)
    assert curve["a"] == pytest.approx(2.0, rel=1e-12)
    assert curve["b"] == pytest.approx(0.5, rel=1e-12)
    assert curve["smearing"] == pytest.approx(1.0050041680558035, rel=1e-12)
    assert curve["n"] == 4 and curve["n_zero_ssc"] == 0
    record = np.array([1.0, 4.0, 9.0])
    loads = gauges.daily_load_t(record, gauges.predict_ssc(record, curve))
    np.testing.assert_allclose(loads, 172.8 * cf * np.array([1.0, 8.0, 27.0]), rtol=1e-12)
    assert loads.sum() == pytest.approx(6220.8 * cf, rel=1e-12)
    assert gauges.daily_load_t(q, ssc).sum() == pytest.approx(86.4 * 2 * 56 * cf, rel=1e-12)
    # the unit arithmetic: 1 m³/s at 1 g/L = 1 kg/s = 86 400 kg/d = 86.4 t/d
    assert float(gauges.daily_load_t(1.0, 1.0)) == pytest.approx(86.4)


def synthetic_gauge(days_per_year: dict[int, int], samples_per_year: dict[int, int]):
    rng = np.random.default_rng(3)
    q_parts, s_parts = [], []
    for year, n in days_per_year.items():
        dates = pd.date_range(f"{year}-01-01", periods=n, freq="D")
        q = pd.Series(np.exp(rng.normal(0.0, 1.0, n)), index=dates)
        q_parts.append(q)
        idx = rng.choice(n, samples_per_year[year], replace=False)
        sq = q.iloc[np.sort(idx)]
        s_parts.append(0.3 * sq**1.4 * np.exp(rng.normal(0.0, 0.3, sq.size)))
    return pd.concat(q_parts), pd.concat(s_parts)


def test_annual_loads_usable_years_and_lower_bounds():
    q, ssc = synthetic_gauge({2020: 366, 2021: 200}, {2020: 24, 2021: 20})
    table, curve = gauges.annual_loads(q, ssc, n_boot=300, seed=1)
    y20 = table.set_index("year").loc[2020]
    y21 = table.set_index("year").loc[2021]
    assert bool(y20.usable) and y20.kind == "annual"
    # the annual estimate is the curve applied to every day (366 of 366: no scaling)
    by_hand = (
        86.4 * q[q.index.year == 2020] * gauges.predict_ssc(q[q.index.year == 2020], curve)
    ).sum()
    assert y20.load_t == pytest.approx(by_hand, rel=1e-12)
    assert y20.load_low_t < y20.load_t < y20.load_high_t
    assert not bool(y21.usable) and y21.kind == "lower_bound"
    assert "200 days of Q < 300" in y21.reason
    assert y21.load_t == y21.load_low_t == pytest.approx(y21.sampled_load_t)
    assert np.isnan(y21.load_high_t)
    # reproducible
    again, _ = gauges.annual_loads(q, ssc, n_boot=300, seed=1)
    pd.testing.assert_frame_equal(table, again)


# ------------------------------------------------------------- comparison, plausibility
def test_comparison_flags_observed_yield_above_gross_erosion(caplog):
    modelled = pd.DataFrame(
        {
            "gauge_id": ["g1", "g1", "g1"],
            "year": [2012, 2015, 2016],
            "area_ha": [100.0, 100.0, 100.0],
            "gross_t": [300.0, 2000.0, 500.0],
            "export_t": [60.0, 400.0, 100.0],
            "export_low_t": [40.0, 300.0, 80.0],
            "export_high_t": [80.0, 500.0, 120.0],
        }
    )
    observed = pd.DataFrame(
        {
            "gauge_id": ["g1", "g1"],
            "year": [2012, 2015],
            "kind": ["lower_bound", "annual"],
            "load_t": [450.0, 420.0],
            "load_low_t": [450.0, 350.0],
            "load_high_t": [np.nan, 520.0],
        }
    )
    with caplog.at_level(logging.WARNING, logger="shuibao.sediment"):
        out = gauges.compare_with_model(modelled, observed)
    out = out.set_index("year")
    assert bool(out.loc[2012, "observed_exceeds_gross"])  # 450 ≥ … > 300
    assert not bool(out.loc[2015, "observed_exceeds_gross"])
    assert out.loc[2012, "agreement"] == "model_below_lower_bound"
    assert out.loc[2015, "agreement"] == "overlap"
    assert out.loc[2016, "agreement"] == "no_observation"
    assert out.loc[2012, "gross_t_ha"] == pytest.approx(3.0)
    assert "gullies" in out.loc[2012, "warning"] and "stream banks" in out.loc[2012, "warning"]
    assert "construction" in out.loc[2012, "warning"]
    assert "PLAUSIBILITY" in caplog.text and "4.50 t/(ha·a)" in caplog.text
