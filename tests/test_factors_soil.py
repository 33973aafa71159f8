"""K factor: EPIC equation, unit conversion, organic matter, lookup table.

Expected values are computed here from the published EPIC equation with plain
``math`` (Sharpley & Williams 1990), independently of the implementation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors import soil
from tests.utils import as_backend, assert_same_values, raise_if_dask_computes


def k_epic_us_by_hand(san, sil, cla, c):
    sn1 = 1 - san / 100
    return (
        (0.2 + 0.3 * math.exp(-0.0256 * san * (1 - sil / 100)))
        * (sil / (cla + sil)) ** 0.3
        * (1 - 0.25 * c / (c + math.exp(3.72 - 2.95 * c)))
        * (1 - 0.7 * sn1 / (sn1 + math.exp(-5.51 + 22.9 * sn1)))
    )


@pytest.mark.parametrize(
    "san, sil, cla, c",
    [
        (40, 40, 20, 1.0),
        (10, 70, 20, 2.5),
        (85, 10, 5, 0.3),
        (20, 20, 60, 0.0),
        (33.3, 33.3, 33.4, 4),
    ],
)
def test_k_epic_matches_the_published_equation_in_us_and_si(san, sil, cla, c):
    k_us = soil.k_epic(sand_pct=san, silt_pct=sil, clay_pct=cla, organic_carbon_pct=c, units="us")
    k_si = soil.k_epic(sand_pct=san, silt_pct=sil, clay_pct=cla, organic_carbon_pct=c)
    hand = k_epic_us_by_hand(san, sil, cla, c)
    assert float(k_us) == pytest.approx(hand, rel=1e-12)
    assert float(k_si) == pytest.approx(0.1317 * hand, rel=1e-12)
    assert k_si.attrs["units"] == "t ha h ha-1 MJ-1 mm-1"
    assert k_us.attrs["units"] != k_si.attrs["units"]


def test_k_epic_worked_example():
    # 40/40/20, OC 1 %: 0.362285 · 0.885467 · 0.920880 · 0.999888 = 0.29538 US → 0.038901 SI
    k = soil.k_epic(sand_pct=40, silt_pct=40, clay_pct=20, organic_carbon_pct=1.0, units="us")
    assert float(k) == pytest.approx(0.29538, abs=5e-6)
    assert float(soil.k_us_to_si(k)) == pytest.approx(0.03890, abs=2e-6)


def test_unit_conversion_si_us():
    assert float(soil.k_us_to_si(1.0)) == pytest.approx(0.1317)
    assert float(soil.k_si_to_us(0.1317)) == pytest.approx(1.0)
    assert float(soil.k_si_to_us(1.0)) == pytest.approx(
        7.593, abs=1e-3
    )  # 1/0.1317 (Foster et al. 1981)
    k = xr.DataArray([0.01, 0.05], dims="x")
    assert_same_values(soil.k_us_to_si(soil.k_si_to_us(k)), k, rtol=1e-12)


def test_pure_sand_gives_zero_k():
    k = soil.k_epic(sand_pct=100, silt_pct=0, clay_pct=0, organic_carbon_pct=0.5)
    assert float(k) == 0.0


def test_organic_matter_to_carbon():
    assert float(soil.organic_carbon_from_organic_matter(3.448)) == pytest.approx(2.0)
    assert float(soil.organic_carbon_from_organic_matter(1.72, factor=1.72)) == pytest.approx(1.0)
    with pytest.raises(InputDataError, match="om_pct: value -0.5 is out of range"):
        soil.organic_carbon_from_organic_matter(-0.5)


def test_fine_earth_texture_rescales_to_100():
    sand, silt, clay = soil.fine_earth_texture(sand_pct=52.25, silt_pct=13.8, clay_pct=15.66)
    total = 52.25 + 13.8 + 15.66
    assert float(sand) == pytest.approx(52.25 / total * 100)
    assert float(sand + silt + clay) == pytest.approx(100.0)


# ------------------------------------------------------------------------ bad input
def test_texture_not_summing_to_100_is_refused():
    with pytest.raises(
        InputDataError, match=r"sand_pct \+ silt_pct \+ clay_pct: value 90 is out of range"
    ):
        soil.k_epic(sand_pct=40, silt_pct=30, clay_pct=20, organic_carbon_pct=1.0)
    # within the tolerance is fine, and the tolerance is a parameter
    soil.k_epic(sand_pct=40, silt_pct=40, clay_pct=21.5, organic_carbon_pct=1.0)
    with pytest.raises(InputDataError, match="value 101.5"):
        soil.k_epic(
            sand_pct=40, silt_pct=40, clay_pct=21.5, organic_carbon_pct=1.0, texture_tolerance_pct=1
        )


def test_texture_check_is_lazy_on_dask_and_raises_on_compute():
    sand = xr.DataArray(np.array([[40.0, 40.0], [40.0, 10.0]]), dims=("y", "x")).chunk(1)
    with raise_if_dask_computes():
        k = soil.k_epic(sand_pct=sand, silt_pct=40.0, clay_pct=20.0, organic_carbon_pct=1.0)
    with pytest.raises(InputDataError, match="value 70 is out of range"):
        k.compute()


def test_fraction_out_of_range_and_bad_units_are_refused():
    with pytest.raises(InputDataError, match="sand_pct: value -10 is out of range; expected ≥ 0"):
        soil.k_epic(sand_pct=-10, silt_pct=-10, clay_pct=120, organic_carbon_pct=1)
    with pytest.raises(InputDataError, match="units must be 'si' or 'us'"):
        soil.k_epic(sand_pct=40, silt_pct=40, clay_pct=20, organic_carbon_pct=1, units="SI")


# --------------------------------------------------------------------------- table
def test_k_from_table_joins_and_keeps_nodata():
    codes = xr.DataArray(np.array([[201, 202], [255, 201]], dtype=np.uint8), dims=("y", "x"))
    k = soil.k_from_table(codes, {201: 0.03, 202: 0.045}, nodata=255)
    np.testing.assert_array_equal(k.values, [[0.03, 0.045], [np.nan, 0.03]])
    assert k.attrs["units"] == "t ha h ha-1 MJ-1 mm-1"
    assert k.name == "k_factor"


def test_k_from_table_missing_code_names_code_and_table():
    codes = xr.DataArray(np.array([[201, 203], [204, 201]]), dims=("y", "x"))
    with pytest.raises(
        InputDataError, match=r"soil_code: code\(s\) \[203, 204\] not found in soil K \(config\)"
    ):
        soil.k_from_table(codes, {201: 0.03}, table_name="soil K (config)")


def test_k_from_table_refuses_out_of_range_values():
    codes = xr.DataArray(np.array([[1]]), dims=("y", "x"))
    with pytest.raises(InputDataError, match=r"K table: code 1 has value -0.1"):
        soil.k_from_table(codes, {1: -0.1})


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_k_epic_on_rasters_numpy_and_dask(backend):
    rng = np.random.default_rng(1)
    clay = rng.uniform(5, 40, (4, 5))
    silt = rng.uniform(5, 40, (4, 5))
    sand = 100 - clay - silt
    oc = rng.uniform(0, 4, (4, 5))
    arrays = {
        name: as_backend(xr.DataArray(v, dims=("y", "x")), backend, chunks=2)
        for name, v in dict(sand=sand, silt=silt, clay=clay, oc=oc).items()
    }
    with raise_if_dask_computes():
        k = soil.k_epic(
            sand_pct=arrays["sand"],
            silt_pct=arrays["silt"],
            clay_pct=arrays["clay"],
            organic_carbon_pct=arrays["oc"],
        )
    hand = np.vectorize(k_epic_us_by_hand)(sand, silt, clay, oc) * 0.1317
    np.testing.assert_allclose(k.values, hand, rtol=1e-12)
