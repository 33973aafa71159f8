"""Stages of ready R (constant / map) and R from several gauges, on tiny hand-made inputs
(tests/stage_fixtures.py), checked against the Zhang Wenbo et al. (2002) hand computation
of tests/test_stages_factors.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputDataError
from pipeline.stages import ready_factors as rf
from tests import stage_fixtures as fx


def _rain_record(years, days):
    idx = pd.date_range(f"{years[0]}-01-01", f"{years[-1]}-12-31", freq="D")
    return pd.Series([days.get((t.month, t.day), 0.0) for t in idx], index=idx)


def _zhang_wenbo_two_days(p1, p2):
    """R of a record with p1 mm on 1 Jan and p2 mm on 1 Jul in each of two years (both
    erosive, ≥ 12 mm): P_d12 = (p1 + p2)/2, P_y12 = p1 + p2,
    β = 0.8363 + 18.144/P_d12 + 24.455/P_y12, α = 21.586·β^−7.1891, R = α(p1^β + p2^β)."""
    beta = 0.8363 + 18.144 / ((p1 + p2) / 2) + 24.455 / (p1 + p2)
    alpha = 21.586 * beta**-7.1891
    return alpha * (p1**beta + p2**beta), p1**beta / (p1**beta + p2**beta)


def _outs(tmp_path):
    return {
        "out_r": tmp_path / "R.tif",
        "out_shares": tmp_path / "s.csv",
        "out_halfmonth": tmp_path / "h.nc",
    }


@pytest.fixture
def record(tmp_path):
    rain = _rain_record([2019, 2020], {(1, 1): 20.0, (7, 1): 40.0, (7, 2): 5.0})
    rain_path = fx.write_daily_rain(
        tmp_path / "rain_daily.nc", rain, lon=np.arange(116.2, 116.61, 0.05),
        lat=np.arange(25.9, 25.49, -0.05),
    )  # fmt: skip
    dem = fx.write_raster(tmp_path / "dem.tif", np.full((6, 8), 100.0, "float32"))
    return rain_path, dem


def test_constant_r_with_shares_from_the_record(tmp_path, record):
    rain_path, dem = record
    r_rec, share1 = _zhang_wenbo_two_days(20.0, 40.0)  # ≈ 305
    rf.make_r_ready(
        rain_path=rain_path, dem_path=dem, year=2020, **_outs(tmp_path),
        rainfall={"method": "constant", "r_constant": 400.0},
    )  # fmt: skip
    r, meta = fx.read(tmp_path / "R.tif")
    np.testing.assert_array_equal(r, np.float32(400.0))
    assert meta["tags"]["r_mode"] == "constant"
    shares = pd.read_csv(tmp_path / "s.csv", encoding="utf-8-sig")
    assert shares["r_share"].iloc[0] == pytest.approx(share1, rel=1e-6)
    assert 200 < r_rec < 400  # the constant is within the ×5 cross-check


def test_ready_r_in_us_units_is_caught_by_the_rain_record(tmp_path, record):
    rain_path, dem = record
    r_rec, _ = _zhang_wenbo_two_days(20.0, 40.0)
    # a map in US units: R_SI / 17.02 ≈ 18; the default range (≥ 50) already refuses it …
    us = fx.write_raster(tmp_path / "r_us.tif", np.full((6, 8), r_rec / 17.02, "float32"))
    cfg = {"method": "raster", "r_raster": {"path": str(us)}}
    with pytest.raises(InputDataError, match=r"r_us.tif \(rainfall.r_raster\).*scale: 17.02"):
        rf.make_r_ready(
            rain_path=rain_path, dem_path=dem, year=2020, **_outs(tmp_path), rainfall=cfg
        )
    # … and with a range that lets it through, the record's R (ratio 1/17.02) does
    with pytest.raises(InputDataError, match=r"r_us.tif.*0.0588 × the R of the rain record"):
        rf.make_r_ready(
            rain_path=rain_path, dem_path=dem, year=2020, **_outs(tmp_path),
            rainfall={**cfg, "r_plausible_range": [1.0, 20000.0]},
        )  # fmt: skip
    # scale 17.02 converts it: R on the grid = the record's R (float32)
    rf.make_r_ready(
        rain_path=rain_path, dem_path=dem, year=2020, **_outs(tmp_path),
        rainfall={"method": "raster", "r_raster": {"path": str(us), "scale": 17.02}},
    )  # fmt: skip
    np.testing.assert_allclose(fx.read(tmp_path / "R.tif")[0], r_rec, rtol=1e-6)


def test_two_gauges_r_by_hand_at_the_gauges_and_mean_half_way(tmp_path):
    dem = fx.write_raster(tmp_path / "dem.tif", np.full((6, 8), 100.0, "float32"))
    # pixel centres of row 2, columns 1 and 5 (x0 = −500, y0 = 500, 10 m pixels)
    (tmp_path / "st.csv").write_text("id,x,y\nA,-485,475\nB,-445,475\n")
    a = _rain_record([2019, 2020], {(1, 1): 20.0, (7, 1): 40.0, (7, 2): 5.0})
    b = _rain_record([2019, 2020], {(1, 1): 40.0, (7, 1): 80.0, (7, 2): 10.0})
    pd.DataFrame({"date": a.index.strftime("%Y-%m-%d"), "A": a.values, "B": b.values}).to_csv(
        tmp_path / "rain.csv", index=False
    )
    rainfall = {
        "method": "zhang_wenbo",
        "reference_period": [2019, 2020],
        "r_plausible_range": [50.0, 20000.0],
        "stations": {"path": str(tmp_path / "st.csv"), "x_col": "x", "y_col": "y",
                     "crs": fx.ALBERS, "rain_csv": str(tmp_path / "rain.csv")},
    }  # fmt: skip
    rf.make_r_stations(dem_path=dem, year=2020, **_outs(tmp_path), rainfall=rainfall)
    r, meta = fx.read(tmp_path / "R.tif")
    r_a, share_a = _zhang_wenbo_two_days(20.0, 40.0)
    r_b, share_b = _zhang_wenbo_two_days(40.0, 80.0)
    assert r[2, 1] == pytest.approx(r_a, rel=1e-6)
    assert r[2, 5] == pytest.approx(r_b, rel=1e-6)
    assert r[2, 3] == pytest.approx((r_a + r_b) / 2, rel=1e-6)
    assert r.min() >= np.float32(r_a) and r.max() <= np.float32(r_b)  # clipped to the gauges
    assert "gauge line" in meta["tags"]["r_interpolator"]
    shares = pd.read_csv(tmp_path / "s.csv", encoding="utf-8-sig")
    assert shares["r_share"].iloc[0] == pytest.approx((share_a + share_b) / 2, rel=1e-6)
