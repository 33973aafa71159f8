"""Design-based accuracy and area estimates when the sampling strata are not the map classes.

A field survey stratified by land cover (or any other layer), with unequal inclusion
probabilities, cannot be fed to the Olofsson et al. (2014) estimator, which takes the *map
classes* as strata. Stehman (2014) gives the estimators for that case; they are implemented
here. Olofsson is kept (:func:`pipeline.ml.accuracy.error_adjusted_areas`) for samples whose
strata are the map classes, and :func:`design_based_estimates` chooses between the two.

Written by hand: no maintained Python library implements Stehman (2014); the reference
implementation is the R package mapaccuracy (``stehman2014()``, hagc/mapaccuracy). The
estimators are stratified means and combined ratio estimators (Cochran 1977, §5.2, §6.11),
a few lines of array algebra per stratum, written out below with the equations cited.

Reference
---------
Stehman, S. V. (2014). Estimating area and map accuracy for stratified random sampling when
the strata are different from the map classes. International Journal of Remote Sensing
35(13): 4923-4939. doi:10.1080/01431161.2014.930207.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from pipeline.errors import InputDataError

__all__ = [
    "design_based_estimates",
    "stehman_estimates",
    "stratum_sizes_from_inclusion",
]

REFERENCE = (
    "Stehman, S. V. (2014) Int. J. Remote Sens. 35(13): 4923-4939, doi:10.1080/01431161.2014.930207"
)


def stratum_sizes_from_inclusion(
    strata: Sequence, inclusion_probability: Sequence[float]
) -> pd.Series:
    """Population size N_h of each stratum from the units' inclusion probabilities.

    Under stratified random sampling every unit of stratum h has π_u = n_h / N_h, so
    N_h = n_h / π_h (equivalently Σ_{u∈h} 1/π_u, the Horvitz-Thompson estimate of the
    stratum size, which is exact for this design).

    Parameters
    ----------
    strata : sequence
        Stratum label of each sample unit.
    inclusion_probability : sequence of float
        π_u of each unit, in (0, 1], constant within a stratum.

    Returns
    -------
    pandas.Series
        N_h (population units, e.g. pixels) by stratum label, ``attrs["units"] = "1"``.

    Raises
    ------
    InputDataError
        If lengths differ, a probability is outside (0, 1], or π varies within a stratum
        (then the design is not stratified random sampling).

    Examples
    --------
    >>> stratum_sizes_from_inclusion(["a", "a", "b"], [0.5, 0.5, 0.01]).tolist()
    [4.0, 100.0]
    """
    s = pd.Series(np.asarray(strata))
    p = pd.Series(np.asarray(inclusion_probability, dtype="float64"))
    if s.size != p.size:
        raise InputDataError(f"{s.size} stratum labels but {p.size} inclusion probabilities")
    bad = ~np.isfinite(p) | (p <= 0) | (p > 1)
    if bad.any():
        raise InputDataError(
            f"inclusion probabilities must be in (0, 1]; {int(bad.sum())} are not, e.g. "
            f"{p[bad].head(3).tolist()}"
        )
    spread = p.groupby(s).agg(lambda v: float(v.max() - v.min()))
    varying = spread[spread > 1e-9 * p.groupby(s).max()]
    if len(varying):
        raise InputDataError(
            f"inclusion probability varies within stratum/strata {list(varying.index)}: "
            "stratified random sampling gives every unit of a stratum the same π = n_h/N_h"
        )
    out = (1.0 / p).groupby(s).sum()
    out.attrs["units"] = "1"
    return out


def _stratum_moments(y: np.ndarray, h_index: np.ndarray, n_strata: int):
    """Per-stratum means (H, q) and covariance matrices (H, q, q) with ddof=1 of the columns of y."""
    q = y.shape[1]
    n_h = np.bincount(h_index, minlength=n_strata).astype("float64")
    sums = np.zeros((n_strata, q))
    np.add.at(sums, h_index, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / n_h[:, None]
    dev = y - means[h_index]
    cov = np.zeros((n_strata, q, q))
    np.add.at(cov, h_index, dev[:, :, None] * dev[:, None, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = cov / (n_h - 1.0)[:, None, None]
    return n_h, means, cov


def stehman_estimates(
    strata: Sequence,
    map_classes: Sequence,
    reference_classes: Sequence,
    *,
    stratum_sizes: Mapping | pd.Series,
    classes: Sequence,
    unit_area: float = 1.0,
    area_unit: str = "1",
    z: float = 1.96,
) -> pd.DataFrame:
    """Stehman (2014) estimates of class areas and map accuracy, strata ≠ map classes.

    With strata h of N_h population units (N = Σ_h N_h), n_h sample units each, and an
    indicator y_u per sample unit, the stratified estimator of a population mean is

    - Ŷ = Σ_h N_h ȳ_h / N,  V̂(Ŷ) = N⁻² Σ_h N_h² (1 − n_h/N_h) s²_yh / n_h
      (Stehman 2014), with y_u = 1 if reference = k for the area proportion
      of class k, map = reference for the overall accuracy, and map = i and reference = j for
      the error-matrix cell p_ij;

    and user's and producer's accuracies are combined ratio estimators

    - R̂ = Σ_h N_h ȳ_h / Σ_h N_h x̄_h,
      V̂(R̂) = X̂⁻² Σ_h N_h² (1 − n_h/N_h)(s²_yh + R̂² s²_xh − 2 R̂ s_xyh) / n_h, X̂ = Σ_h N_h x̄_h
      (Stehman 2014), with y_u = 1 if map = reference = i and x_u = 1 if map = i
      (user's accuracy of i) or reference = j (producer's accuracy of j).

    Parameters
    ----------
    strata, map_classes, reference_classes : sequence
        Stratum, map class and reference class of each sample unit (same length).
    stratum_sizes : mapping or Series
        N_h for every stratum in ``strata`` (pixels, or an area: then set ``unit_area=1``).
    classes : sequence
        Class labels: the order of the output rows and of the error matrix.
    unit_area : float
        Area of one population unit (e.g. ha per pixel); areas = proportion × N × unit_area.
    area_unit : str
        Unit of the area columns.
    z : float
        Normal quantile for the confidence intervals (1.96 → 95 %).

    Returns
    -------
    pandas.DataFrame
        Indexed by class: ``n_map_samples``, ``mapped_proportion`` (estimated from the
        sample), ``adjusted_proportion``, ``adjusted_proportion_se``, ``adjusted_area``,
        ``adjusted_area_se``, ``adjusted_area_ci_low``/``_high``/``_halfwidth``,
        ``users_accuracy`` (+ ``_se``, ``_ci_halfwidth``), ``producers_accuracy``
        (+ ``_se``, ``_ci_halfwidth``). ``attrs``: ``overall_accuracy``,
        ``overall_accuracy_se``, ``overall_accuracy_ci_halfwidth``, ``error_matrix``
        (estimated cell proportions p̂_ij, rows map, columns reference), ``total_area``,
        ``z``, ``area_unit``, ``estimator`` ("stehman2014") and ``reference``.

    Raises
    ------
    InputDataError
        Lengths differ, a stratum has no size or a size smaller than its sample, a class
        label is not in ``classes``.

    Examples
    --------
    Stehman (2014) numerical example: four strata of 40,000/30,000/20,000/10,000 pixels,
    ten sample units each.

    >>> s = ["1"] * 10 + ["2"] * 10 + ["3"] * 10 + ["4"] * 10
    >>> m = list("AAAAAAABBB" "ABBBBBBBBB" "BBCCCCCCBB" "DDDDDDDDDD")
    >>> r = list("AAAAACBABC" "ABBBBBAABB" "CCCCCDDBBA" "DDDDDDDCCB")
    >>> N_h = {"1": 40000, "2": 30000, "3": 20000, "4": 10000}
    >>> t = stehman_estimates(s, m, r, stratum_sizes=N_h, classes=list("ABCD"))
    >>> t["adjusted_proportion"].round(2).tolist(), round(t.attrs["overall_accuracy"], 2)
    ([0.35, 0.34, 0.2, 0.11], 0.63)
    """
    s = np.asarray(strata)
    m = np.asarray(map_classes)
    r = np.asarray(reference_classes)
    if not (s.size == m.size == r.size):
        raise InputDataError(
            f"stehman_estimates: {s.size} strata, {m.size} map and {r.size} reference labels"
        )
    classes = list(classes)
    for what, values in (("map", m), ("reference", r)):
        bad = ~pd.Series(values).isin(classes).to_numpy()
        if bad.any():
            raise InputDataError(
                f"stehman_estimates: {int(bad.sum())} {what} label(s) not in classes "
                f"{classes}, e.g. {sorted(set(values[bad].tolist()))[:5]}"
            )
    labels = sorted(pd.unique(s).tolist(), key=str)
    sizes = dict(stratum_sizes)
    missing = [h for h in labels if h not in sizes]
    if missing:
        raise InputDataError(f"stratum_sizes has no N_h for stratum/strata {missing}")
    unsampled = [h for h in sizes if h not in labels and float(sizes[h]) > 0]
    if unsampled:
        warnings.warn(
            f"stratum/strata {unsampled} have no sample unit: their area is left out of the "
            "estimates (the population is the sampled strata only)",
            RuntimeWarning,
            stacklevel=2,
        )
    h_index = np.array([labels.index(v) for v in s.tolist()], dtype="int64")
    big_n_h = np.array([float(sizes[h]) for h in labels])
    n_h = np.bincount(h_index, minlength=len(labels)).astype("float64")
    if (big_n_h < n_h).any() or not np.isfinite(big_n_h).all():
        bad = [labels[i] for i in np.flatnonzero(~(big_n_h >= n_h))]
        raise InputDataError(f"stratum/strata {bad}: N_h is smaller than the sample n_h")
    if (n_h < 2).any():
        warnings.warn(
            f"stratum/strata {[labels[i] for i in np.flatnonzero(n_h < 2)]} have a single "
            "sample unit: their variance terms are undefined and the standard errors NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    big_n = big_n_h.sum()
    k = len(classes)
    mi = np.array([classes.index(v) for v in m.tolist()])
    ri = np.array([classes.index(v) for v in r.tolist()])
    onehot_m = np.eye(k)[mi]  # (n, k): map = i
    onehot_r = np.eye(k)[ri]  # reference = j
    cell = (onehot_m[:, :, None] * onehot_r[:, None, :]).reshape(-1, k * k)  # map i & ref j
    agree = (mi == ri).astype("float64")[:, None]
    diag = onehot_m * onehot_r  # map = ref = i

    # One moment computation for all indicator columns: [ref=j | map=i | cell ij | agree | diag]
    y = np.hstack([onehot_r, onehot_m, cell, agree, diag])
    _, means, cov = _stratum_moments(y, h_index, len(labels))
    fpc = (1.0 - n_h / big_n_h) / n_h  # (1 − n_h/N_h)/n_h
    w2 = big_n_h**2 * fpc  # N_h² (1 − n_h/N_h)/n_h
    totals = (big_n_h[:, None] * means).sum(axis=0)  # Σ_h N_h ȳ_h
    var_cols = np.einsum("h,hq->q", w2, np.diagonal(cov, axis1=1, axis2=2))

    sl_ref, sl_map = slice(0, k), slice(k, 2 * k)
    sl_cell = slice(2 * k, 2 * k + k * k)
    i_agree, sl_diag = 2 * k + k * k, slice(2 * k + k * k + 1, 3 * k + k * k + 1)

    p_ref = totals[sl_ref] / big_n
    p_ref_se = np.sqrt(var_cols[sl_ref]) / big_n
    p_map = totals[sl_map] / big_n
    matrix = (totals[sl_cell] / big_n).reshape(k, k)
    oa = totals[i_agree] / big_n
    oa_se = float(np.sqrt(var_cols[i_agree]) / big_n)

    def ratio(y_col: np.ndarray, x_col: np.ndarray):
        """Combined ratio estimator Σ N_h ȳ_h / Σ N_h x̄_h, and its standard error."""
        idx_y = np.arange(y.shape[1])[y_col]
        idx_x = np.arange(y.shape[1])[x_col]
        big_y, big_x = totals[idx_y], totals[idx_x]
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio_ = np.where(big_x > 0, big_y / big_x, np.nan)
            s_yy = cov[:, idx_y, idx_y]
            s_xx = cov[:, idx_x, idx_x]
            s_xy = cov[:, idx_y, idx_x]
            inner = s_yy + ratio_**2 * s_xx - 2.0 * ratio_ * s_xy  # (H, k)
            var = np.einsum("h,hk->k", w2, inner) / big_x**2
        return ratio_, np.sqrt(var)

    ua, ua_se = ratio(sl_diag, sl_map)
    pa, pa_se = ratio(sl_diag, sl_ref)

    total_area = big_n * float(unit_area)
    out = pd.DataFrame(
        {
            "n_map_samples": onehot_m.sum(axis=0).astype("int64"),
            "mapped_proportion": p_map,
            "adjusted_proportion": p_ref,
            "adjusted_proportion_se": p_ref_se,
            "adjusted_area": p_ref * total_area,
            "adjusted_area_se": p_ref_se * total_area,
            "adjusted_area_ci_low": (p_ref - z * p_ref_se) * total_area,
            "adjusted_area_ci_high": (p_ref + z * p_ref_se) * total_area,
            "adjusted_area_ci_halfwidth": z * p_ref_se * total_area,
            "users_accuracy": ua,
            "users_accuracy_se": ua_se,
            "users_accuracy_ci_halfwidth": z * ua_se,
            "producers_accuracy": pa,
            "producers_accuracy_se": pa_se,
            "producers_accuracy_ci_halfwidth": z * pa_se,
        },
        index=pd.Index(classes, name="class"),
    )
    out.attrs.update(
        {
            "overall_accuracy": float(oa),
            "overall_accuracy_se": oa_se,
            "overall_accuracy_ci_halfwidth": z * oa_se,
            "error_matrix": pd.DataFrame(
                matrix,
                index=pd.Index(classes, name="map_class"),
                columns=pd.Index(classes, name="reference_class"),
            ),
            "total_area": total_area,
            "z": z,
            "area_unit": area_unit,
            "estimator": "stehman2014",
            "reference": REFERENCE,
        }
    )
    return out


def design_based_estimates(
    *,
    map_classes: Sequence,
    reference_classes: Sequence,
    classes: Sequence,
    mapped_area_by_class: Mapping | pd.Series,
    strata: Sequence | None = None,
    inclusion_probability: Sequence[float] | None = None,
    stratum_sizes: Mapping | pd.Series | None = None,
    unit_area: float = 1.0,
    area_unit: str = "ha",
    z: float = 1.96,
) -> pd.DataFrame:
    """Area and accuracy estimates that follow the survey's sampling design.

    - Survey carries ``strata`` and ``inclusion_probability`` (or ``stratum_sizes``, e.g.
      computed from the whole survey when only a subsample is evaluated) and the strata are
      not the map classes → :func:`stehman_estimates` with N_h from
      :func:`stratum_sizes_from_inclusion` (``unit_area`` converts the population units to
      ``area_unit``).
    - No strata given, or strata equal to the map classes → Olofsson et al. (2014)
      (:func:`pipeline.ml.accuracy.error_adjusted_areas`) with the mapped areas as weights.

    Returns
    -------
    pandas.DataFrame
        As the chosen estimator, with ``attrs["estimator"]`` = ``"stehman2014"`` or
        ``"olofsson2014"``.

    Examples
    --------
    >>> t = design_based_estimates(map_classes=[1, 1, 2, 2], reference_classes=[1, 2, 2, 2],
    ...     classes=[1, 2], mapped_area_by_class={1: 50.0, 2: 50.0})
    >>> t.attrs["estimator"], round(float(t.loc[2, "adjusted_area"]), 1)
    ('olofsson2014', 75.0)
    """
    from pipeline.ml.accuracy import confusion_counts, error_adjusted_areas

    m = np.asarray(map_classes)
    if strata is not None:
        s = np.asarray(strata)
        same = s.size == m.size and bool((s.astype(str) == m.astype(str)).all())
        if not same:
            if stratum_sizes is not None:
                return stehman_estimates(
                    s,
                    m,
                    reference_classes,
                    stratum_sizes=stratum_sizes,
                    classes=classes,
                    unit_area=unit_area,
                    area_unit=area_unit,
                    z=z,
                )
            if inclusion_probability is None:
                raise InputDataError(
                    "the survey has strata that are not the map classes but no inclusion "
                    "probability: add a column with π = n_h/N_h for every unit"
                )
            sizes = stratum_sizes_from_inclusion(s, inclusion_probability)
            return stehman_estimates(
                s,
                m,
                reference_classes,
                stratum_sizes=sizes,
                classes=classes,
                unit_area=unit_area,
                area_unit=area_unit,
                z=z,
            )
    counts = confusion_counts(m, reference_classes, classes=classes)
    out = error_adjusted_areas(counts, mapped_area_by_class, classes=classes, z=z)
    out.attrs["estimator"] = "olofsson2014"
    return out


def holdout_units(strata, valid, *, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the units held out for the map's accuracy (stratified, seeded).

    Within each stratum, ``round(fraction × n_valid_h)`` valid units are drawn at random (at
    least 2 when the stratum has 3 or more valid units, so its variance is defined, and at
    least one left for training). A subsample drawn at random within strata is itself a stratified
    random sample, so the design-based estimators apply to it with the survey's N_h.
    """
    if not 0.0 < fraction < 1.0:
        raise InputDataError(f"ml.holdout_fraction must be in (0, 1), got {fraction!r}")
    strata = np.asarray(strata)
    valid = np.asarray(valid, dtype=bool)
    rng = np.random.default_rng(seed)
    out = np.zeros(strata.size, dtype=bool)
    for h in sorted(set(strata[valid].tolist()), key=str):
        idx = np.flatnonzero(valid & (strata == h))
        k = int(round(fraction * idx.size))
        if idx.size >= 3:  # ≥ 2 held out (a defined variance), ≥ 1 left to train on
            k = min(max(k, 2), idx.size - 1)
        if k > 0:
            out[rng.choice(idx, size=k, replace=False)] = True
    return out
