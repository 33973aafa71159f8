"""SL 190-2007 intensity classes: exact thresholds, NaN, backends, laziness, errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pipeline.classify import (
    CLASS_CODES,
    CLASSES,
    EROSION_CODES,
    NODATA,
    TOLERABLE_LOSS_T_HA_YR,
    class_breaks,
    class_en,
    class_key,
    class_zh,
    classify_intensity,
)
from pipeline.errors import ConfigError
from tests.utils import as_backend, assert_same_values, raise_if_dask_computes

EXPECTED_TOLERABLE = {  # SL 190-2007 容许土壤流失量, t/(km²·a) ÷ 100
    "northwest_loess": 10.0,
    "northeast_black_soil": 2.0,
    "north_rocky_mountain": 2.0,
    "south_red_soil": 5.0,
    "southwest_rocky_mountain": 5.0,
}


def _da(values) -> xr.DataArray:
    arr = np.atleast_2d(np.asarray(values, dtype="float64"))
    return xr.DataArray(
        arr,
        dims=("y", "x"),
        coords={"y": np.arange(arr.shape[0]) + 0.5, "x": np.arange(arr.shape[1]) + 0.5},
        name="soil_loss",
        attrs={"units": "t ha-1 yr-1"},
    )


def test_class_codes_and_names_in_one_place():
    assert CLASS_CODES == (1, 2, 3, 4, 5, 6)
    assert EROSION_CODES == (2, 3, 4, 5, 6)
    assert [CLASSES[c][1] for c in CLASS_CODES] == [
        "微度",
        "轻度",
        "中度",
        "强烈",
        "极强烈",
        "剧烈",
    ]
    assert class_zh(2) == "轻度" and class_en(6) == "Severe" and class_key(5) == "very_intense"
    assert NODATA == 255


@pytest.mark.parametrize("bad", [0, 7, 2.5, "2", None])
def test_unknown_class_code_is_rejected(bad):
    with pytest.raises(ConfigError, match="unknown SL 190-2007 class code"):
        class_zh(bad)


@pytest.mark.parametrize("region,tolerable", sorted(EXPECTED_TOLERABLE.items()))
def test_each_region_uses_its_tolerable_loss(region, tolerable):
    assert TOLERABLE_LOSS_T_HA_YR[region] == tolerable
    assert class_breaks(region) == (tolerable, 25.0, 50.0, 80.0, 150.0)


@pytest.mark.parametrize("region", sorted(EXPECTED_TOLERABLE))
def test_exact_thresholds_lower_inclusive_upper_exclusive(region):
    breaks = class_breaks(region)
    below = [np.nextafter(b, -np.inf) for b in breaks]
    values = [0.0, *below, *breaks, 1e6]
    out = classify_intensity(_da(values), region=region).values.ravel()
    # 0 -> 微度; just below break k -> class k; exactly at break k -> class k + 1; huge -> 剧烈
    expected = [1, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 6]
    np.testing.assert_array_equal(out, expected)


def test_south_red_soil_class_examples():
    out = classify_intensity(_da([4.99, 5.0, 24.99, 25.0, 49.99, 50.0, 79.99, 80.0, 149.9, 150.0]))
    np.testing.assert_array_equal(out.values.ravel(), [1, 2, 2, 3, 3, 4, 4, 5, 5, 6])


def test_nan_stays_nan_and_attrs():
    da = _da([[np.nan, 3.0], [30.0, np.nan]])
    out = classify_intensity(da)
    assert np.isnan(out.values[0, 0]) and np.isnan(out.values[1, 1])
    assert out.values[0, 1] == 1 and out.values[1, 0] == 3
    assert out.dtype == np.float32
    assert out.attrs["units"] == "1"
    assert out.attrs["class_breaks_t_ha_yr"] == [5.0, 25.0, 50.0, 80.0, 150.0]
    assert out.attrs["convention"] == "lower <= A < upper"
    assert out.attrs["type_region"] == "south_red_soil"
    xr.testing.assert_equal(out["x"], da["x"])


def test_numpy_equals_dask_and_dask_is_lazy():
    rng = np.random.default_rng(2841)
    values = rng.gamma(0.6, 30.0, size=(13, 11))
    values[rng.random(values.shape) < 0.1] = np.nan
    da = _da(values)
    ref = classify_intensity(as_backend(da, "numpy"), region="northwest_loess")
    with raise_if_dask_computes():
        lazy = classify_intensity(as_backend(da, "dask", chunks=4), region="northwest_loess")
    assert lazy.chunks == as_backend(da, "dask", chunks=4).chunks
    assert_same_values(ref, lazy)


def test_custom_breaks():
    out = classify_intensity(_da([0.5, 1.0, 10.0]), breaks=[1, 2, 3, 4, 5])
    np.testing.assert_array_equal(out.values.ravel(), [1, 2, 6])
    assert out.attrs["type_region"] == "custom"


@pytest.mark.parametrize(
    "breaks,message",
    [
        ([5, 25, 50, 80], "expected 5 class breaks"),
        ([5, 25, 25, 80, 150], "strictly ascending"),
        ([0, 25, 50, 80, 150], "positive"),
        ([5, 25, np.nan, 80, 150], "strictly ascending"),
        (["a", 25, 50, 80, 150], "must be numbers"),
    ],
)
def test_bad_breaks_are_rejected(breaks, message):
    with pytest.raises(ConfigError, match=message):
        classify_intensity(_da([1.0]), breaks=breaks)


def test_unknown_region_and_bad_tolerable_loss():
    with pytest.raises(ConfigError, match="unknown type region 'mars'"):
        class_breaks("mars")
    with pytest.raises(ConfigError, match="strictly ascending"):
        class_breaks(tolerable_loss=30.0)
