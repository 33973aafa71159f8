"""Training the erosion-intensity classifier (scikit-learn), deterministic for a fixed seed.

Written by hand: only the choice of estimator, its defaults, the imbalance handling and the
input checks; the learning itself is scikit-learn (RandomForestClassifier, Breiman 2001;
HistGradientBoostingClassifier, after Ke et al. 2017 LightGBM).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline

from pipeline.errors import ConfigError, InputDataError

# Defaults chosen for a few hundred to a few thousand survey units; all overridable by
# ``params``. n_jobs=1 keeps the tree sums in one fixed order (bit-identical predictions) and
# leaves the cores to dask; HistGradientBoosting's early stopping would hold out a random
# validation split, so it is off and every sample is used.
DEFAULT_PARAMS: dict[str, dict] = {
    "random_forest": {
        "n_estimators": 300,
        "max_features": "sqrt",
        "min_samples_leaf": 1,
        "n_jobs": 1,
    },
    "hist_gradient_boosting": {
        "max_iter": 200,
        "learning_rate": 0.1,
        "max_leaf_nodes": 31,
        "early_stopping": False,
    },
}
_ESTIMATORS = {
    "random_forest": RandomForestClassifier,
    "hist_gradient_boosting": HistGradientBoostingClassifier,
}

__all__ = ["DEFAULT_PARAMS", "make_classifier", "train_classifier", "training_data_hash"]


def make_classifier(
    estimator: str = "random_forest",
    *,
    params: Mapping | None = None,
    class_weight: str | Mapping | None = "balanced",
    seed: int = 0,
) -> Pipeline:
    """An unfitted pipeline ``[("classifier", estimator)]`` with defaults, weights and seed.

    See :func:`train_classifier` for the parameters.

    Examples
    --------
    >>> make_classifier("hist_gradient_boosting", params={"max_iter": 50}).named_steps[
    ...     "classifier"].max_iter
    50
    """
    if estimator not in _ESTIMATORS:
        raise ConfigError(f"ml.estimator must be one of {sorted(_ESTIMATORS)}, got {estimator!r}")
    cls = _ESTIMATORS[estimator]
    merged = {**DEFAULT_PARAMS[estimator], **dict(params or {})}
    allowed = set(cls().get_params())
    unknown = sorted(set(merged) - allowed)
    if unknown:
        raise ConfigError(
            f"ml.params: {unknown} are not parameters of {cls.__name__}; allowed: {sorted(allowed)}"
        )
    for fixed in ("random_state", "class_weight"):
        if fixed in (params or {}):
            raise ConfigError(f"ml.params: set {fixed!r} through seed/class_weight, not params")
    valid_weights = (
        ("balanced", "balanced_subsample") if estimator == "random_forest" else ("balanced",)
    )
    if isinstance(class_weight, str) and class_weight not in valid_weights:
        raise ConfigError(
            f"ml.class_weight must be one of {list(valid_weights)}, a mapping or null, "
            f"got {class_weight!r}"
        )
    # a mapping is applied as sample weights by train_classifier: HistGradientBoosting looks
    # a class_weight dict up by its internal 0..k-1 label codes, not by the class labels
    own_weight = None if isinstance(class_weight, Mapping) else class_weight
    model = cls(**merged, class_weight=own_weight, random_state=int(seed))
    return Pipeline([("classifier", model)])


def train_classifier(
    X: pd.DataFrame | np.ndarray,
    y: Sequence[int] | np.ndarray | pd.Series,
    *,
    estimator: str = "random_forest",
    params: Mapping | None = None,
    class_weight: str | Mapping | None = "balanced",
    seed: int = 0,
    feature_names: Sequence[str] | None = None,
) -> Pipeline:
    """Fit an erosion-intensity classifier on survey samples.

    Parameters
    ----------
    X : DataFrame (n_samples, n_features) or ndarray
        Feature values (units as recorded by ``build_feature_stack``); a DataFrame's column
        names become the model's ``feature_names_in_``. No NaN allowed (drop rows with
        ``valid == False`` from ``sample_at_points``).
    y : array-like of int (n_samples,)
        Observed SL 190-2007 class codes (1..6).
    estimator : {"random_forest", "hist_gradient_boosting"}
        scikit-learn RandomForestClassifier or HistGradientBoostingClassifier.
    params : mapping, optional
        Hyperparameters overriding ``DEFAULT_PARAMS[estimator]``.
    class_weight : "balanced", "balanced_subsample" (forest only), mapping or None
        Class imbalance handling: "balanced" weights each class by n / (k · n_class)
        (King & Zeng 2001 via scikit-learn), so rare severe classes are not ignored; a
        mapping class code → weight is applied as per-sample weights (every class in ``y``
        needs one).
    seed : int
        ``random_state``; the same data and seed give the same model and predictions.
    feature_names : sequence of str, optional
        Column names for an ndarray ``X``.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted, step ``"classifier"``; ``classes_`` are the codes seen in ``y``.

    Raises
    ------
    InputDataError
        NaN or non-finite features, non-integer or missing labels, length mismatch, fewer
        than two classes. ConfigError for an unknown estimator or parameter.

    Examples
    --------
    >>> X = pd.DataFrame({"slope_deg": [1.0, 2.0, 20.0, 25.0]})
    >>> m = train_classifier(X, [1, 1, 4, 4], params={"n_estimators": 5})
    >>> m.predict(pd.DataFrame({"slope_deg": [22.0]})).tolist()
    [4]
    """
    X = _as_frame(X, feature_names)
    y = _as_labels(y, len(X))
    model = make_classifier(estimator, params=params, class_weight=class_weight, seed=seed)
    if isinstance(class_weight, Mapping):
        weights = {int(k): float(v) for k, v in class_weight.items()}
        missing = sorted(set(np.unique(y).tolist()) - set(weights))
        if missing:
            raise ConfigError(f"ml.class_weight has no weight for class(es) {missing}")
        sample_weight = np.array([weights[int(v)] for v in y], dtype="float64")
        model.fit(X, y, classifier__sample_weight=sample_weight)
    else:
        model.fit(X, y)
    return model


def _as_frame(X, feature_names=None) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        arr = np.asarray(X, dtype="float64")
        if arr.ndim != 2:
            raise InputDataError(f"X must be 2-D (samples × features), got shape {arr.shape}")
        names = (
            list(feature_names)
            if feature_names is not None
            else [f"f{i}" for i in range(arr.shape[1])]
        )
        X = pd.DataFrame(arr, columns=names)
    values = X.to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        cols = [c for c, b in zip(X.columns, bad.any(axis=0), strict=True) if b]
        raise InputDataError(
            f"training features have {int(bad.any(axis=1).sum())} row(s) with NaN/inf "
            f"(columns {cols}); drop rows with valid == False before training"
        )
    return X


def _as_labels(y, n: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise InputDataError(f"y has shape {arr.shape}, expected ({n},) to match X")
    as_float = pd.to_numeric(pd.Series(arr), errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(as_float) | (np.mod(np.nan_to_num(as_float), 1) != 0)
    if bad.any():
        raise InputDataError(
            f"class labels must be integer codes; {int(bad.sum())} are not, e.g. "
            f"{arr[bad][:5].tolist()}"
        )
    labels = as_float.astype("int64")
    if np.unique(labels).size < 2:
        raise InputDataError(f"training needs at least 2 classes, got {np.unique(labels)}")
    return labels


def training_data_hash(X: pd.DataFrame | np.ndarray, y) -> str:
    """SHA-256 of the training table (column names, float64 values, labels), for metadata.

    Examples
    --------
    >>> len(training_data_hash(pd.DataFrame({"a": [1.0]}), [1]))
    64
    """
    X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype="float64"))
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, X.columns)).encode())
    h.update(np.ascontiguousarray(X.to_numpy(dtype="float64")).tobytes())
    h.update(np.ascontiguousarray(np.asarray(y, dtype="int64")).tobytes())
    return h.hexdigest()
