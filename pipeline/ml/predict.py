"""Per-pixel prediction of the erosion-intensity classifier over a (dask) feature stack.

Written by hand: the block function that turns a ``(feature, y, x)`` block into rows for
scikit-learn and back into class and probability rasters. Each dask block is predicted
independently with ``dask.array.map_blocks`` (one OpenMP thread per block), so memory is bounded by the chunk size; the
model's per-row prediction does not depend on which other rows share the call (tree models
sum per-row leaf values in a fixed order with ``n_jobs=1``), so chunked and in-memory results
are identical bit for bit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import dask.array as dsa
import numpy as np
import pandas as pd
import xarray as xr
from threadpoolctl import ThreadpoolController

from pipeline.errors import InputDataError

__all__ = ["predict_map"]

_THREADPOOLS: list[ThreadpoolController] = []


def _threadpools() -> ThreadpoolController:
    """One controller per process (building it scans the loaded libraries)."""
    if not _THREADPOOLS:
        _THREADPOOLS.append(ThreadpoolController())
    return _THREADPOOLS[0]


def _predict_block(block: np.ndarray, *, model, feature_names: list[str]) -> np.ndarray:
    """(F, by, bx) float features → (1 + C, by, bx) float32: class code, then probabilities."""
    n_feat, by, bx = block.shape
    n_classes = len(model.classes_)
    rows = block.reshape(n_feat, by * bx).T
    valid = np.isfinite(rows).all(axis=1)
    out = np.full((1 + n_classes, by * bx), np.nan, dtype="float32")
    if valid.any():
        frame = pd.DataFrame(rows[valid].astype("float64"), columns=feature_names)
        # dask already runs one block per core: one OpenMP thread per block (OpenMP's thread
        # count is per calling thread, so this does not touch other blocks) avoids
        # oversubscription in HistGradientBoosting; results do not depend on it.
        with _threadpools().limit(limits=1, user_api="openmp"):
            proba = model.predict_proba(frame)  # float64
        codes = np.asarray(model.classes_)[np.argmax(proba, axis=1)]
        out[0, valid] = codes.astype("float32")
        out[1:, valid] = proba.T.astype("float32")
    return out.reshape(1 + n_classes, by, bx)


def predict_map(
    model,
    stack: xr.DataArray,
    *,
    feature_names: Sequence[str],
) -> tuple[xr.DataArray, xr.DataArray]:
    """Predict the class and class probabilities of every pixel of a feature stack.

    Parameters
    ----------
    model : fitted scikit-learn classifier or Pipeline
        With ``predict_proba`` and ``classes_`` (e.g. from ``train_classifier``).
    stack : xarray.DataArray (feature, y, x)
        Feature stack (``build_feature_stack``), numpy- or dask-backed. Dask stacks are
        predicted chunk by chunk (lazy; the ``feature`` axis is merged into one chunk).
    feature_names : sequence of str
        The model's features, in training order; they are selected from ``stack`` by name.

    Returns
    -------
    classes : xarray.DataArray (y, x), float32
        Predicted class code (the class of highest probability; ties → first in
        ``model.classes_``, as scikit-learn's ``predict``); NaN where any feature is NaN.
        ``attrs["units"] = "1"``. Write as uint8 with nodata 255.
    probabilities : xarray.DataArray (class, y, x), float32
        Probability of each class in ``model.classes_`` (coordinate ``class``); NaN where
        any feature is NaN. ``attrs["units"] = "1"``.

    Raises
    ------
    InputDataError
        If the stack lacks a feature, or the model's own feature names differ from
        ``feature_names``.

    Examples
    --------
    >>> from pipeline.ml.train import train_classifier
    >>> X = pd.DataFrame({"slope_deg": [1.0, 2.0, 20.0, 25.0]})
    >>> m = train_classifier(X, [1, 1, 4, 4], params={"n_estimators": 5})
    >>> s = xr.DataArray(np.array([[[1.0, 24.0], [np.nan, 3.0]]]), dims=("feature", "y", "x"),
    ...                  coords={"feature": ["slope_deg"]})
    >>> classes, proba = predict_map(m, s, feature_names=["slope_deg"])
    >>> classes.values.tolist()
    [[1.0, 4.0], [nan, 1.0]]
    """
    feature_names = [str(f) for f in feature_names]
    if stack.dims != ("feature", "y", "x"):
        raise InputDataError(f"stack must have dims (feature, y, x), got {stack.dims}")
    available = [str(f) for f in stack["feature"].to_numpy()]
    missing = [f for f in feature_names if f not in available]
    if missing:
        raise InputDataError(
            f"the feature stack lacks feature(s) {missing} the model was trained on; "
            f"it has {available}"
        )
    model_names = getattr(model, "feature_names_in_", None)
    if model_names is not None and list(model_names) != feature_names:
        raise InputDataError(
            f"feature_names {feature_names} differ from the model's {list(model_names)}"
        )
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        raise InputDataError("model must be a fitted classifier with predict_proba and classes_")
    classes = np.asarray(model.classes_)
    n_classes = classes.size
    selected = stack.sel(feature=feature_names)

    data = selected.data
    if isinstance(data, dsa.Array):
        data = data.rechunk({0: -1})
        combined = dsa.map_blocks(
            _predict_block,
            data,
            model=model,
            feature_names=feature_names,
            dtype="float32",
            chunks=((1 + n_classes,), *data.chunks[1:]),
            name=f"shuibao-ml-predict-{uuid.uuid4().hex}",
            meta=np.empty((0, 0, 0), dtype="float32"),
        )
    else:
        combined = _predict_block(np.asarray(data), model=model, feature_names=feature_names)

    spatial = {k: v for k, v in selected.coords.items() if "feature" not in v.dims}
    class_map = xr.DataArray(combined[0], dims=("y", "x"), coords=spatial, name="intensity_ml")
    class_map.attrs = {
        "units": "1",
        "long_name": "ML-predicted SL 190-2007 erosion intensity class (1 微度 … 6 剧烈)",
        "classes": [
            int(c) if np.issubdtype(classes.dtype, np.integer) else str(c) for c in classes
        ],
    }
    proba = xr.DataArray(
        combined[1:],
        dims=("class", "y", "x"),
        coords={**spatial, "class": classes},
        name="class_probability",
    )
    proba.attrs = {
        "units": "1",
        "long_name": "ML class probability (predict_proba)",
    }
    return class_map, proba
