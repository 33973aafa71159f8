"""Spatial cross-validation of the erosion-intensity classifier, with random CV beside it.

Why: survey units close to each other are alike (spatial autocorrelation), so random folds put
near-duplicates of each test sample into training and overstate accuracy (Roberts et al. 2017,
Ecography 40: 913-929; Ploton et al. 2020, Nature Communications 11: 4540). Spatial CV
assigns whole square blocks of samples to one fold; blocks at least as large as the range of
autocorrelation keep test samples apart from training samples.

How the block size is chosen (written by hand, kept simple on purpose):

1. empirical semivariogram γ(h) = ½·mean[(v_i − v_j)²] over sample pairs in equal-width
   distance bins up to half the largest pair distance (Matheron 1963; the half-distance
   cut-off is the usual rule, Journel & Huijbregts 1978), of the target (the ordinal class
   code) unless another variable is given;
2. sill = sample variance of that variable (the plateau of γ for a stationary field);
3. range = the lag at which γ first reaches 95 % of the sill (the "practical range"),
   linearly interpolated between bins; if γ never reaches it, the largest lag is used;
4. block size = that range (never smaller); if that leaves fewer non-empty blocks than
   folds, the block size is reduced until there are enough, and the rule says so.

No maintained Python library bundles this for scikit-learn (scikit-gstat/pykrige fit
variograms but do not fold; the R packages blockCV/CAST do both); the folding itself is
scikit-learn's StratifiedGroupKFold on block ids.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    precision_recall_fscore_support,
)
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from pipeline.errors import InputDataError
from pipeline.ml.train import _as_frame, _as_labels, train_classifier

LABELS = (1, 2, 3, 4, 5, 6)

__all__ = [
    "LABELS",
    "block_ids",
    "choose_block_size",
    "empirical_variogram",
    "spatial_cv",
    "variogram_range",
]


def empirical_variogram(
    coords_xy: np.ndarray,
    values: np.ndarray,
    *,
    n_lags: int = 15,
    max_lag: float | None = None,
    max_points: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Empirical semivariogram γ(h) = ½·mean[(v_i − v_j)²] in distance bins (Matheron 1963).

    Parameters
    ----------
    coords_xy : (n, 2) array, metres
        Sample coordinates in a projected CRS.
    values : (n,) array
        The variable (e.g. the class code, or a key feature).
    n_lags : int
        Number of equal-width bins.
    max_lag : float, optional, metres
        Largest distance considered (default half the largest pair distance).
    max_points : int
        Above this many samples, a random subset (``seed``) is used: pairs grow as n².
    seed : int
        Seed of that subset.

    Returns
    -------
    pandas.DataFrame
        Columns ``lag_m`` (mean pair distance in the bin, m), ``gamma`` (units of values²),
        ``n_pairs``; bins without pairs are dropped.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    >>> empirical_variogram(xy, np.array([0.0, 1.0, 2.0]), n_lags=2, max_lag=2.0)["gamma"].tolist()
    [0.5, 2.0]
    """
    xy = np.asarray(coords_xy, dtype="float64")
    v = np.asarray(values, dtype="float64")
    if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] != v.shape[0]:
        raise InputDataError(
            f"coords_xy must be (n, 2) and values (n,), got {xy.shape} and {v.shape}"
        )
    if xy.shape[0] < 3:
        raise InputDataError("a variogram needs at least 3 samples")
    if xy.shape[0] > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(xy.shape[0], max_points, replace=False))
        xy, v = xy[keep], v[keep]
    dist = pdist(xy)
    half_sq = 0.5 * pdist(v[:, None], metric="sqeuclidean")
    if max_lag is None:
        max_lag = 0.5 * float(dist.max())
    edges = np.linspace(0.0, max_lag, n_lags + 1)
    in_range = (dist > 0) & (dist <= max_lag)
    b = np.clip(np.digitize(dist[in_range], edges, right=True) - 1, 0, n_lags - 1)
    n_pairs = np.bincount(b, minlength=n_lags)
    sum_g = np.bincount(b, weights=half_sq[in_range], minlength=n_lags)
    sum_d = np.bincount(b, weights=dist[in_range], minlength=n_lags)
    ok = n_pairs > 0
    return pd.DataFrame(
        {
            "lag_m": sum_d[ok] / n_pairs[ok],
            "gamma": sum_g[ok] / n_pairs[ok],
            "n_pairs": n_pairs[ok],
        }
    )


def variogram_range(
    variogram: pd.DataFrame, *, sill: float, fraction: float = 0.95, min_pairs: int = 30
) -> tuple[float, bool]:
    """Practical range: the lag (m) where γ first reaches ``fraction`` × ``sill``.

    Linear interpolation between the two bins around the crossing; bins with fewer than
    ``min_pairs`` pairs are ignored. Returns ``(range_m, reached)``; if γ never reaches the
    threshold, the largest lag and ``False``.

    Examples
    --------
    >>> v = pd.DataFrame({"lag_m": [10.0, 20.0, 30.0], "gamma": [0.2, 0.6, 1.0],
    ...                   "n_pairs": [50, 50, 50]})
    >>> variogram_range(v, sill=1.0)
    (28.75, True)
    """
    v = variogram[variogram["n_pairs"] >= min_pairs]
    if v.empty:
        v = variogram
    lags = v["lag_m"].to_numpy()
    gamma = v["gamma"].to_numpy()
    target = fraction * sill
    hit = np.flatnonzero(gamma >= target)
    if hit.size == 0:
        return float(lags[-1]), False
    i = int(hit[0])
    if i == 0:
        return float(lags[0]), True
    g0, g1, h0, h1 = gamma[i - 1], gamma[i], lags[i - 1], lags[i]
    return float(h0 + (target - g0) * (h1 - h0) / (g1 - g0)), True


def block_ids(coords_xy: np.ndarray, block_size_m: float) -> np.ndarray:
    """Id of the square block (side ``block_size_m``, anchored at the sample minimum) of each
    sample.

    Examples
    --------
    >>> block_ids(np.array([[0.0, 0.0], [5.0, 0.0], [15.0, 0.0]]), 10.0).tolist()
    [0, 0, 1]
    """
    xy = np.asarray(coords_xy, dtype="float64")
    if not np.isfinite(block_size_m) or block_size_m <= 0:
        raise InputDataError(f"block_size_m must be positive, got {block_size_m}")
    ij = np.floor((xy - xy.min(axis=0)) / block_size_m).astype("int64")
    n_rows = int(ij[:, 1].max()) + 1
    return ij[:, 0] * n_rows + ij[:, 1]


def choose_block_size(
    coords_xy: np.ndarray,
    values: np.ndarray,
    *,
    n_splits: int = 5,
    seed: int = 0,
    variable: str = "target class code",
) -> dict:
    """Block size from the variogram range (see the module docstring for the rule).

    Returns a JSON-ready dict: ``block_size_m``, ``block_size_rule`` (one sentence),
    ``n_blocks`` and ``variogram`` (lags, γ, pairs, sill, range, whether the sill was
    reached, the variable).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> info = choose_block_size(rng.uniform(0, 1000, (200, 2)), rng.normal(size=200))
    >>> info["block_size_m"] > 0
    True
    """
    xy = np.asarray(coords_xy, dtype="float64")
    v = np.asarray(values, dtype="float64")
    vario = empirical_variogram(xy, v, seed=seed)
    sill = float(np.var(v, ddof=1))
    if sill <= 0:
        raise InputDataError(f"the {variable} has no variance: no variogram range")
    rng_m, reached = variogram_range(vario, sill=sill)
    size = rng_m
    rule = (
        f"block side = variogram practical range of the {variable} "
        f"({rng_m:.0f} m, 95 % of sill {sill:.3g})"
        if reached
        else f"block side = largest variogram lag ({rng_m:.0f} m): the {variable} never reached "
        f"95 % of its sill {sill:.3g}"
    )
    n_blocks = np.unique(block_ids(xy, size)).size
    while n_blocks < n_splits and size > 0:
        size *= 0.8
        n_blocks = np.unique(block_ids(xy, size)).size
    if size < rng_m:
        rule += (
            f"; reduced to {size:.0f} m so that there are at least {n_splits} non-empty blocks "
            "(blocks are smaller than the range: spatial CV is still somewhat optimistic)"
        )
    return {
        "block_size_m": float(size),
        "block_size_rule": rule,
        "n_blocks": int(n_blocks),
        "variogram": {
            "variable": variable,
            "lag_m": vario["lag_m"].round(3).tolist(),
            "gamma": vario["gamma"].round(6).tolist(),
            "n_pairs": vario["n_pairs"].astype(int).tolist(),
            "sill": sill,
            "range_m": float(rng_m),
            "reached_sill": bool(reached),
        },
    }


def _metrics(y_true, y_pred, labels, fold_accuracy) -> dict:
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(labels), zero_division=0
    )
    return {
        "overall_accuracy": float(accuracy_score(y_true, y_pred)),
        "kappa": float(cohen_kappa_score(y_true, y_pred, labels=list(labels))),
        "per_class": {
            str(lab): {
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for lab, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=list(labels)).tolist(),
        "confusion_matrix_axes": "rows = observed (survey) class, columns = predicted class",
        "fold_accuracy": [float(a) for a in fold_accuracy],
    }


def _cross_validate(X, y, splits, *, estimator, params, class_weight, seed) -> tuple:
    pred = np.zeros_like(y)
    fold_acc = []
    for train_idx, test_idx in splits:
        model = train_classifier(
            X.iloc[train_idx],
            y[train_idx],
            estimator=estimator,
            params=params,
            class_weight=class_weight,
            seed=seed,
        )
        pred[test_idx] = model.predict(X.iloc[test_idx])
        fold_acc.append(accuracy_score(y[test_idx], pred[test_idx]))
    return pred, fold_acc


def spatial_cv(
    X: pd.DataFrame | np.ndarray,
    y: Sequence[int] | np.ndarray,
    coords_xy: np.ndarray,
    *,
    estimator: str = "random_forest",
    params: Mapping | None = None,
    class_weight: str | Mapping | None = "balanced",
    n_splits: int = 5,
    block_size_m: float | None = None,
    groups: Sequence | None = None,
    labels: Sequence[int] = LABELS,
    seed: int = 0,
    return_predictions: bool = False,
) -> dict:
    """Spatial (block) and random k-fold cross-validation of :func:`train_classifier`.

    Parameters
    ----------
    X, y
        Features (no NaN) and observed class codes, as for ``train_classifier``.
    coords_xy : (n, 2) array, metres
        Sample coordinates in the (projected, metric) grid CRS.
    estimator, params, class_weight, seed
        Passed to ``train_classifier`` for every fold; ``seed`` also shuffles the folds.
    n_splits : int
        Number of folds for both schemes.
    block_size_m : float, optional
        Side of the square blocks (m). Default: chosen from the variogram of ``y``
        (:func:`choose_block_size`).
    groups : sequence, optional
        Ready-made spatial groups (e.g. small-watershed ids) used instead of blocks.
    labels : sequence of int
        Class codes of the confusion matrix and per-class scores (default 1..6).
    return_predictions : bool
        Also return the out-of-fold predicted class of every sample under key
        ``out_of_fold`` (``{"spatial": [...], "random": [...]}``, sample order), e.g. as the
        ML map's labels at the reference units for error-adjusted areas (no unit is then
        judged by a model trained on it).

    Returns
    -------
    dict
        JSON-ready: ``spatial`` and ``random`` each with ``overall_accuracy``, ``kappa``
        (Cohen 1960), ``per_class`` precision/recall/F1/support, ``confusion_matrix``
        (rows observed, columns predicted, ``labels`` order) and ``fold_accuracy``, computed on
        the pooled out-of-fold predictions; plus ``block_size_m``, ``block_size_rule``,
        ``n_blocks``, ``variogram`` (when chosen automatically), ``n_samples``, ``n_splits``,
        ``labels``, ``estimator``, ``params``, ``seed`` and ``optimism`` (random − spatial
        overall accuracy).

    Raises
    ------
    InputDataError
        Bad X/y/coords, or fewer groups than folds.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 5000, (120, 2))
    >>> X = pd.DataFrame({"f": xy[:, 0] / 1000 + rng.normal(size=120)})
    >>> y = 1 + (xy[:, 0] > 2500).astype(int)
    >>> cv = spatial_cv(X, y, xy, params={"n_estimators": 10}, n_splits=3)
    >>> sorted(cv)[:4]
    ['block_size_m', 'block_size_rule', 'estimator', 'labels']
    """
    X = _as_frame(X)
    y = _as_labels(y, len(X))
    xy = np.asarray(coords_xy, dtype="float64")
    if xy.shape != (len(X), 2) or not np.isfinite(xy).all():
        raise InputDataError(f"coords_xy must be finite with shape ({len(X)}, 2), got {xy.shape}")
    result: dict = {
        "n_samples": len(X),
        "n_splits": n_splits,
        "labels": [int(v) for v in labels],
        "estimator": estimator,
        "params": dict(params or {}),
        "seed": int(seed),
    }
    if groups is not None:
        group_ids = pd.factorize(pd.Series(list(groups)))[0]
        if len(group_ids) != len(X):
            raise InputDataError(f"groups has {len(group_ids)} values for {len(X)} samples")
        result.update(
            block_size_m=None,
            block_size_rule="groups given by the caller",
            n_blocks=int(np.unique(group_ids).size),
        )
    else:
        if block_size_m is None:
            result.update(choose_block_size(xy, y, n_splits=n_splits, seed=seed))
        else:
            result.update(block_size_m=float(block_size_m), block_size_rule="given by the caller")
        group_ids = block_ids(xy, result["block_size_m"])
        result["n_blocks"] = int(np.unique(group_ids).size)
    if result["n_blocks"] < n_splits:
        raise InputDataError(
            f"spatial CV needs at least {n_splits} groups/blocks with samples, got "
            f"{result['n_blocks']} (block size {result['block_size_m']} m)"
        )

    common = {
        "estimator": estimator,
        "params": params,
        "class_weight": class_weight,
        "seed": seed,
    }
    with warnings.catch_warnings():
        # classes rarer than n_splits make sklearn warn once per split; the per-class
        # support in the result shows it.
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        warnings.filterwarnings("ignore", message=".*members, which is less than n_splits.*")
        spatial_splits = list(
            StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(
                X, y, group_ids
            )
        )
        random_splits = list(
            StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(X, y)
        )
    sp_pred, sp_acc = _cross_validate(X, y, spatial_splits, **common)
    rd_pred, rd_acc = _cross_validate(X, y, random_splits, **common)
    result["spatial"] = _metrics(y, sp_pred, labels, sp_acc)
    result["random"] = _metrics(y, rd_pred, labels, rd_acc)
    result["optimism"] = (
        result["random"]["overall_accuracy"] - result["spatial"]["overall_accuracy"]
    )
    if return_predictions:
        result["out_of_fold"] = {
            "spatial": [int(v) for v in sp_pred],
            "random": [int(v) for v in rd_pred],
        }
    return result
