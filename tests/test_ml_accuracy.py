"""Olofsson et al. (2014) error-adjusted areas, confusion counts and the agreement matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.ml.accuracy import (
    agreement_matrix,
    class_areas,
    confusion_counts,
    error_adjusted_areas,
)
from tests.utils import raise_if_dask_computes

CLASSES = ["Deforestation", "Forest gain", "Stable forest", "Stable non-forest"]
# Olofsson et al. (2014) Table 8: mapped pixels at 30 m (0.09 ha each).
MAPPED_HA = np.array([200_000, 150_000, 3_200_000, 6_450_000]) * 0.09


def _olofsson_samples():
    """Reference and map labels exactly as encoded in hagc/mapaccuracy man/olofsson.Rd."""
    r = [1] * 69 + [2] * 56 + [3] * 175 + [4] * 340
    m = (
        [1] * 66 + [3] + [4] * 2  # reference deforestation
        + [2] * 55 + [4]  # reference forest gain
        + [1] * 5 + [2] * 8 + [3] * 153 + [4] * 9  # reference stable forest
        + [1] * 4 + [2] * 12 + [3] * 11 + [4] * 313  # reference stable non-forest
    )  # fmt: skip
    return np.array(m), np.array(r)


@pytest.fixture(scope="module")
def olofsson_counts() -> pd.DataFrame:
    m, r = _olofsson_samples()
    counts = confusion_counts(m, r, classes=[1, 2, 3, 4])
    counts.index = counts.columns = CLASSES
    return counts


def test_mapaccuracy_encoding_gives_the_table_8_matrix(olofsson_counts):
    assert olofsson_counts.to_numpy().tolist() == [
        [66, 0, 5, 4],
        [0, 55, 8, 12],
        [1, 0, 153, 11],
        [2, 1, 9, 313],
    ]
    assert olofsson_counts.sum(axis=1).tolist() == [75, 75, 165, 325]


def test_olofsson_2014_worked_example(olofsson_counts):
    t = error_adjusted_areas(olofsson_counts, MAPPED_HA, classes=CLASSES)
    # Olofsson et al. (2014, Remote Sens. Environ. 148) worked example, ha, rounded as there
    assert t["adjusted_area"].round().tolist() == [21158, 11686, 285770, 581386]
    assert t["adjusted_area_ci_halfwidth"].round().tolist() == [6158, 3756, 15510, 16282]
    assert t["users_accuracy"].round(3).tolist() == [0.880, 0.733, 0.927, 0.963]
    assert t["users_accuracy_ci_halfwidth"].round(3).tolist() == [0.074, 0.101, 0.040, 0.021]
    assert t["producers_accuracy"].round(3).tolist() == [0.749, 0.847, 0.935, 0.962]
    assert t["producers_accuracy_ci_halfwidth"].round(3).tolist() == [0.213, 0.254, 0.034, 0.018]
    assert round(t.attrs["overall_accuracy"], 3) == 0.947
    assert round(t.attrs["overall_accuracy_ci_halfwidth"], 3) == 0.018
    # the published paper rounds to two decimals: PA ±0.21, ±0.25, ±0.03, ±0.02
    assert t["producers_accuracy_ci_halfwidth"].round(2).tolist() == [0.21, 0.25, 0.03, 0.02]
    # the interval is estimate ± 1.96 SE and the estimate preserves the total area
    np.testing.assert_allclose(
        t["adjusted_area_ci_high"] - t["adjusted_area"], 1.96 * t["adjusted_area_se"]
    )
    assert t["adjusted_area"].sum() == pytest.approx(MAPPED_HA.sum(), rel=1e-12)
    assert t.attrs["area_unit"] == "ha" and t.attrs["units"]["adjusted_area"] == "ha"


def test_mapaccuracy_producers_variance_differs_labelled_alternative(olofsson_counts):
    """hagc/mapaccuracy R/olofsson.R: N̂_·j² in the first term and i = j in the sum.

    Not the default: shown only to document the difference flagged for Olofsson et al. (2014).
    """
    alt = error_adjusted_areas(
        olofsson_counts, MAPPED_HA, classes=CLASSES, pa_variance="mapaccuracy"
    )
    paper = error_adjusted_areas(olofsson_counts, MAPPED_HA, classes=CLASSES)
    assert alt["producers_accuracy_ci_halfwidth"].round(3).tolist() == [0.219, 0.273, 0.051, 0.027]
    assert (alt["producers_accuracy_ci_halfwidth"] > paper["producers_accuracy_ci_halfwidth"]).all()
    # and at the paper's two decimals it does not give the published ±0.21/0.25/0.03/0.02
    assert alt["producers_accuracy_ci_halfwidth"].round(2).tolist() != [0.21, 0.25, 0.03, 0.02]
    # everything else is identical
    for col in ("adjusted_area", "adjusted_area_se", "users_accuracy", "producers_accuracy"):
        np.testing.assert_array_equal(alt[col], paper[col])


def test_class_order_does_not_change_the_estimates(olofsson_counts):
    order = [CLASSES[i] for i in (3, 1, 0, 2)]
    areas = dict(zip(CLASSES, MAPPED_HA, strict=True))
    a = error_adjusted_areas(olofsson_counts, areas, classes=CLASSES)
    b = error_adjusted_areas(olofsson_counts, areas, classes=order)
    pd.testing.assert_frame_equal(a.loc[order], b)
    assert a.attrs["overall_accuracy"] == pytest.approx(b.attrs["overall_accuracy"], rel=1e-15)


def test_perfect_map_keeps_mapped_areas_with_zero_error():
    counts = np.diag([10, 20, 30])
    t = error_adjusted_areas(counts, [5.0, 15.0, 80.0], classes=[1, 2, 3])
    np.testing.assert_allclose(t["adjusted_area"], [5.0, 15.0, 80.0])
    np.testing.assert_array_equal(t["adjusted_area_se"], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(t["users_accuracy"], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(t["producers_accuracy"], [1.0, 1.0, 1.0])
    assert t.attrs["overall_accuracy"] == 1.0


def test_two_class_closed_form():
    # W = (0.2, 0.8); row shares (0.5, 0.5) and (0.1, 0.9)
    counts = [[5, 5], [1, 9]]
    t = error_adjusted_areas(counts, [20.0, 80.0], classes=[1, 2])
    p1 = 0.2 * 0.5 + 0.8 * 0.1
    assert t.loc[1, "adjusted_area"] == pytest.approx(100 * p1)
    var = 0.2**2 * 0.5 * 0.5 / 9 + 0.8**2 * 0.1 * 0.9 / 9
    assert t.loc[1, "adjusted_area_se"] == pytest.approx(100 * np.sqrt(var))
    assert t.attrs["overall_accuracy"] == pytest.approx(0.2 * 0.5 + 0.8 * 0.9)


def test_unsampled_mapped_class_is_an_error():
    with pytest.raises(InputDataError, match=r"map class\(es\) \[3\] have mapped area but no"):
        error_adjusted_areas([[5, 0, 0], [0, 5, 0], [0, 0, 0]], [1, 1, 1], classes=[1, 2, 3])


def test_unmapped_unsampled_class_is_allowed():
    t = error_adjusted_areas([[5, 0, 0], [0, 5, 0], [0, 0, 0]], [1, 1, 0], classes=[1, 2, 3])
    assert t.loc[3, "adjusted_area"] == 0.0
    assert np.isnan(t.loc[3, "users_accuracy"])


@pytest.mark.parametrize(
    ("counts", "areas", "message"),
    [
        ([[1, 2], [3, 4]], [1.0, 2.0, 3.0], "3 values for 2 classes"),
        ([[1, 2, 0], [3, 4, 0]], [1.0, 2.0], r"shape \(2, 3\)"),
        ([[1, -2], [3, 4]], [1.0, 2.0], "non-negative"),
        ([[1, 2], [3, 4]], [0.0, 0.0], "not all zero"),
    ],
)
def test_bad_inputs_are_named(counts, areas, message):
    with pytest.raises(InputDataError, match=message):
        error_adjusted_areas(counts, areas, classes=[1, 2])


def test_confusion_counts_rejects_unknown_codes_and_drops_nodata():
    c = confusion_counts([1, 2, np.nan, 255], [1, 1, 2, 3], classes=[1, 2, 3])
    assert c.to_numpy().sum() == 2 and c.loc[2, 1] == 1
    with pytest.raises(InputDataError, match=r"1 reference value\(s\) not in classes"):
        confusion_counts([1, 2], [1, 7], classes=[1, 2, 3])


# --------------------------------------------------------------------------- agreement
@pytest.fixture
def two_maps():
    rng = np.random.default_rng(3)
    a = rng.integers(1, 7, size=(37, 23)).astype("float32")
    b = np.where(rng.random((37, 23)) < 0.7, a, rng.integers(1, 7, size=(37, 23))).astype("float32")
    a[0, :5] = np.nan
    b[3, 3] = 255
    coords = {"y": np.arange(37)[::-1] * 30.0, "x": np.arange(23) * 30.0}
    return (
        xr.DataArray(a, dims=("y", "x"), coords=coords, name="rusle"),
        xr.DataArray(b, dims=("y", "x"), coords=coords, name="ml"),
    )


def test_agreement_matrix_counts_pixel_pairs(two_maps):
    a, b = two_maps
    t = agreement_matrix(a, b, 0.09)
    av, bv = a.values.ravel(), b.values.ravel()
    ok = np.isfinite(av) & (bv != 255)
    expected = np.zeros((6, 6))
    for i, j in zip(av[ok].astype(int), bv[ok].astype(int), strict=True):
        expected[i - 1, j - 1] += 0.09
    np.testing.assert_allclose(t.to_numpy(), expected, rtol=1e-12)
    assert t.attrs["total_ha"] == pytest.approx(ok.sum() * 0.09)
    assert t.attrs["overall_agreement"] == pytest.approx((av[ok] == bv[ok]).mean())
    assert t.index.name == "rusle" and t.columns.name == "ml" and t.attrs["units"] == "ha"


def test_agreement_matrix_dask_equals_numpy_and_builds_lazily(two_maps):
    a, b = two_maps
    expected = agreement_matrix(a, b, 0.09)
    with raise_if_dask_computes(max_computes=1):
        got = agreement_matrix(a.chunk(8), b.chunk(11), 0.09)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_agreement_matrix_per_pixel_areas_and_bad_codes(two_maps):
    a, b = two_maps
    area = xr.full_like(a, 0.09, dtype="float64")
    pd.testing.assert_frame_equal(
        agreement_matrix(a, b, area), agreement_matrix(a, b, 0.09), rtol=1e-12
    )
    bad = a.copy()
    bad[5, 5] = 9
    with pytest.raises(InputDataError, match="neither one of"):
        agreement_matrix(bad, b, 0.09)


def test_class_areas(two_maps):
    a, _ = two_maps
    s = class_areas(a.chunk(10), pixel_area_ha=0.09)
    values = a.values[np.isfinite(a.values)]
    assert s.loc[3] == pytest.approx((values == 3).sum() * 0.09)
    assert s.sum() == pytest.approx(values.size * 0.09)
    assert s.attrs["units"] == "ha"
