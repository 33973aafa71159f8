"""R over a fixed reference period: extending the record changes no earlier year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors.rainfall import annual_erosivity, erosivity_halfmonth_zhang_wenbo
from pipeline.factors.rainfall_reference import complete_years, reference_erosivity


def _rain(first: int, last: int, seed: int = 1) -> xr.DataArray:
    t = pd.date_range(f"{first}-01-01", f"{last}-12-31")
    rng = np.random.default_rng(seed)
    values = np.where(rng.random(t.size) < 0.25, rng.gamma(0.8, 18.0, t.size), 0.0)
    return xr.DataArray(values, dims="time", coords={"time": t})


def test_extending_the_record_leaves_an_earlier_year_identical():
    short = _rain(2011, 2020)
    longer = xr.concat([short, _rain(2021, 2023, seed=9)], dim="time")
    for mode in ("reference_mean", "year"):
        a = reference_erosivity(short, year=2018, mode=mode, reference_period=(2011, 2020))
        b = reference_erosivity(longer, year=2018, mode=mode, reference_period=(2011, 2020))
        assert float(a["r_factor"]) == float(b["r_factor"])
        np.testing.assert_array_equal(a["r_share"].values, b["r_share"].values)
    # without a period the result moves with the record (hence the warning in the stage)
    c = reference_erosivity(short, year=2018)
    d = reference_erosivity(longer, year=2018)
    assert c["period_defaulted"] and c["period"] == (2011, 2020) and d["period"] == (2011, 2023)
    assert float(c["r_factor"]) != float(d["r_factor"])


def test_reference_mean_is_the_mean_of_the_yearly_r_and_equal_across_years():
    rain = _rain(2011, 2020)
    ref = reference_erosivity(rain, year=2015, reference_period=(2011, 2020))
    # hand route: yearly R with the same α/β, then their mean
    yearly = [
        float(
            annual_erosivity(
                erosivity_halfmonth_zhang_wenbo(
                    rain.sel(time=rain["time"].dt.year == y), alpha=ref["alpha"], beta=ref["beta"]
                )
            )
        )
        for y in range(2011, 2021)
    ]
    assert float(ref["r_factor"]) == pytest.approx(np.mean(yearly), rel=1e-12)
    other = reference_erosivity(rain, year=2019, reference_period=(2011, 2020))
    assert float(other["r_factor"]) == float(ref["r_factor"])
    own = reference_erosivity(rain, year=2019, mode="year", reference_period=(2011, 2020))
    assert float(own["r_factor"]) == pytest.approx(yearly[8], rel=1e-12)
    assert float(ref["r_share"].sum()) == pytest.approx(1.0)


def test_zero_r_and_bad_periods_stop():
    t = pd.date_range("2011-01-01", "2012-12-31")
    dry = xr.DataArray(np.full(t.size, 5.0), dims="time", coords={"time": t})
    with pytest.raises(InputDataError, match="R is 0 everywhere"):
        reference_erosivity(dry, year=2012)
    with pytest.raises(InputDataError, match="missing or incomplete"):
        reference_erosivity(_rain(2011, 2015), year=2012, reference_period=(2009, 2015))
    with pytest.raises(InputDataError, match="rainfall.mode"):
        reference_erosivity(_rain(2011, 2012), year=2012, mode="annual")
    assert complete_years(pd.date_range("2000-01-02", "2001-12-31")) == [2001]
