"""Stehman (2014) estimators for strata that are not the map classes, and the design dispatch."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import InputDataError
from pipeline.ml.design import (
    design_based_estimates,
    stehman_estimates,
    stratum_sizes_from_inclusion,
)

# Stehman (2014) Int. J. Remote Sens. 35: 4923-4939, numerical example: four strata (1-4) of
# 40,000 / 30,000 / 20,000 / 10,000 pixels, ten sample units each, classes A-D. The labels are
# as encoded in the mapaccuracy documentation (hagc/mapaccuracy man/stehman2014.Rd).
STRATA = ["1"] * 10 + ["2"] * 10 + ["3"] * 10 + ["4"] * 10
MAP = list("AAAAAAABBBABBBBBBBBBBBCCCCCCBBDDDDDDDDDD")
REF = list("AAAAACBABCABBBBBAABBCCCCCDDBBADDDDDDDCCB")
N_H = {"1": 40_000, "2": 30_000, "3": 20_000, "4": 10_000}


@pytest.fixture(scope="module")
def example():
    return stehman_estimates(STRATA, MAP, REF, stratum_sizes=N_H, classes=list("ABCD"))


def test_stehman_2014_point_estimates(example):
    # Paper p. 4932: p̂_A = 0.35, p̂_C = 0.20, OA = 0.63; p. 4934: UA_B = 0.574, PA_B = 0.794;
    # p. 4935: p̂_23 = 0.08. Hand check of p̂_A: stratum means of "ref = A" are 6/10, 3/10,
    # 1/10, 0/10 → (40000·0.6 + 30000·0.3 + 20000·0.1) / 100000 = 35000 / 100000 = 0.35.
    t = example
    assert t["adjusted_proportion"].round(2).tolist() == [0.35, 0.34, 0.20, 0.11]
    assert round(t.attrs["overall_accuracy"], 2) == 0.63
    assert round(t.loc["B", "users_accuracy"], 3) == 0.574
    assert round(t.loc["B", "producers_accuracy"], 3) == 0.794
    assert round(t.attrs["error_matrix"].loc["B", "C"], 2) == 0.08
    # all four UA / PA (independent implementation: EnMAP-Box stratified accuracy test)
    np.testing.assert_allclose(t["users_accuracy"], [0.7419355, 0.5744681, 0.5, 0.7], atol=1e-6)
    np.testing.assert_allclose(
        t["producers_accuracy"], [0.6571429, 0.7941176, 0.3, 0.6363636], atol=1e-6
    )
    # the error matrix sums to 1 and its margins are the area and map proportions
    m = t.attrs["error_matrix"].to_numpy()
    assert m.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(m.sum(axis=0), t["adjusted_proportion"])
    np.testing.assert_allclose(m.sum(axis=1), t["mapped_proportion"])


def test_stehman_2014_standard_errors(example):
    # Paper p. 4935-4936: SE(p̂_A) = 0.082, SE(p̂_C) = 0.064, SE(OA) = 0.085, SE(UA_B) = 0.125,
    # SE(PA_B) = 0.117 (values to 3 decimals; the finite-population correction is included).
    t = example
    assert t["adjusted_proportion_se"].round(3).tolist() == [0.082, 0.076, 0.064, 0.031]
    assert round(t.attrs["overall_accuracy_se"], 3) == 0.085
    np.testing.assert_allclose(
        t["users_accuracy_se"], [0.1645627, 0.1248023, 0.2151657, 0.1527525], rtol=1e-3
    )
    np.testing.assert_allclose(
        t["producers_accuracy_se"], [0.1477318, 0.1165671, 0.1504438, 0.1623242], rtol=1e-3
    )
    # areas are proportions × N × unit area
    t2 = stehman_estimates(
        STRATA, MAP, REF, stratum_sizes=N_H, classes=list("ABCD"), unit_area=0.09, area_unit="ha"
    )
    assert t2.loc["A", "adjusted_area"] == pytest.approx(0.35 * 100_000 * 0.09)
    assert t2.loc["A", "adjusted_area_ci_halfwidth"] == pytest.approx(
        1.96 * t.loc["A", "adjusted_proportion_se"] * 9000
    )


def test_strata_equal_to_map_classes_reduce_to_olofsson():
    """With map-class strata, Stehman's p̂_·j equals Olofsson's (the same estimator)."""
    rng = np.random.default_rng(3)
    m = np.repeat([1, 2, 3], [30, 30, 40])
    r = np.where(rng.random(m.size) < 0.8, m, rng.integers(1, 4, m.size))
    sizes = {1: 5000, 2: 20000, 3: 75000}
    st = stehman_estimates(m, m, r, stratum_sizes=sizes, classes=[1, 2, 3])
    ol = design_based_estimates(
        map_classes=m, reference_classes=r, classes=[1, 2, 3], mapped_area_by_class=sizes
    )
    assert ol.attrs["estimator"] == "olofsson2014"
    np.testing.assert_allclose(st["adjusted_proportion"], ol["adjusted_proportion"])
    np.testing.assert_allclose(st["users_accuracy"], ol["users_accuracy"])
    np.testing.assert_allclose(st["producers_accuracy"], ol["producers_accuracy"])
    assert st.attrs["overall_accuracy"] == pytest.approx(ol.attrs["overall_accuracy"])


def test_inclusion_probabilities_give_stratum_sizes_and_dispatch():
    pi = [10 / 40_000] * 10 + [10 / 30_000] * 10 + [10 / 20_000] * 10 + [10 / 10_000] * 10
    sizes = stratum_sizes_from_inclusion(STRATA, pi)
    assert sizes.round().to_dict() == {k: float(v) for k, v in N_H.items()}
    t = design_based_estimates(
        map_classes=MAP,
        reference_classes=REF,
        classes=list("ABCD"),
        mapped_area_by_class={},
        strata=STRATA,
        inclusion_probability=pi,
    )
    assert t.attrs["estimator"] == "stehman2014"
    assert round(t.attrs["overall_accuracy"], 2) == 0.63


def test_bad_designs_are_named():
    with pytest.raises(InputDataError, match="varies within"):
        stratum_sizes_from_inclusion(["a", "a"], [0.1, 0.2])
    with pytest.raises(InputDataError, match=r"\(0, 1\]"):
        stratum_sizes_from_inclusion(["a"], [0.0])
    with pytest.raises(InputDataError, match="no N_h"):
        stehman_estimates(["x"], ["A"], ["A"], stratum_sizes={}, classes=["A"])
    with pytest.raises(InputDataError, match="inclusion probability"):
        design_based_estimates(
            map_classes=[1, 2],
            reference_classes=[1, 2],
            classes=[1, 2],
            mapped_area_by_class={1: 1, 2: 1},
            strata=["f", "g"],
        )


def test_monte_carlo_ci_coverage_land_cover_stratified_sample():
    """95 % CIs cover the true population values 93-97 % of the time (seeded, a few seconds).

    Population: 60,000 pixels in four land-cover strata of unequal size; map and reference
    erosion classes (1-3) depend on the land cover, with 20 % map error. Each replicate draws
    a stratified random sample with disproportionate allocation (100 units per stratum, rare classes oversampled:
    inclusion probabilities differ by a factor of ~18, as in the demo survey), and checks
    whether the 95 % CI of the class-2 area proportion, the overall accuracy and the user's
    accuracy of class 3 covers the population value.
    """
    rng = np.random.default_rng(20240601)
    sizes = np.array([36_000, 15_000, 6_000, 3_000])
    lc = np.repeat(np.arange(4), sizes)
    probs = np.array([[0.7, 0.25, 0.05], [0.4, 0.4, 0.2], [0.2, 0.4, 0.4], [0.1, 0.3, 0.6]])
    ref = (rng.random(lc.size)[:, None] > probs.cumsum(axis=1)[lc]).sum(axis=1) + 1
    wrong = rng.random(lc.size) < 0.2
    mapc = np.where(wrong, rng.integers(1, 4, lc.size), ref)
    true_p2 = float((ref == 2).mean())
    true_oa = float((mapc == ref).mean())
    true_ua3 = float(((mapc == 3) & (ref == 3)).sum() / (mapc == 3).sum())
    alloc = np.array([100, 100, 100, 100])
    idx_by_h = [np.flatnonzero(lc == h) for h in range(4)]
    n_rep = 2000
    hits = np.zeros(3)
    for _ in range(n_rep):
        take = np.concatenate([rng.choice(idx_by_h[h], alloc[h], replace=False) for h in range(4)])
        t = stehman_estimates(
            lc[take],
            mapc[take],
            ref[take],
            stratum_sizes=dict(enumerate(sizes.tolist())),
            classes=[1, 2, 3],
        )
        p2, se2 = t.loc[2, "adjusted_proportion"], t.loc[2, "adjusted_proportion_se"]
        oa, se_oa = t.attrs["overall_accuracy"], t.attrs["overall_accuracy_se"]
        ua, se_ua = t.loc[3, "users_accuracy"], t.loc[3, "users_accuracy_se"]
        hits += [
            abs(p2 - true_p2) <= 1.96 * se2,
            abs(oa - true_oa) <= 1.96 * se_oa,
            abs(ua - true_ua3) <= 1.96 * se_ua,
        ]
    coverage = hits / n_rep
    assert ((coverage >= 0.93) & (coverage <= 0.97)).all(), coverage
