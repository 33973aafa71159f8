"""Saving and loading the fitted classifier safely (skops), with a JSON metadata sidecar.

Format: skops (``skops.io``), which stores the estimator as JSON + numpy arrays and, on
loading, builds only types from an explicit trusted list, unlike pickle/joblib, which can run
arbitrary code. Beside ``model.skops`` sits ``model.json`` with the features and their
units, classes, package versions, training-data hash, seed, CV results and the SHA-256 of
the model file, so a model can be inspected without loading it.

Written by hand: skops names the arrays inside its zip after Python object ids and stamps
zip entries with the current time, so the same model gives different bytes on every dump.
:func:`canonical_skops_bytes` renumbers the ids in order of first appearance and fixes the
timestamps, so the same model gives the same file (Shuibao writes outputs deterministically);
the renumbering is a bijection, so skops's shared-object memo still works when loading.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import skops.io as sio

from pipeline.errors import InputDataError
from pipeline.io import atomic_path, write_text

# Types that skops does not trust by default but a Shuibao model needs: the tree structures
# of the two supported estimators. Anything else in a file is refused.
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)
FORMAT = "shuibao-ml-model/1"

__all__ = [
    "TRUSTED_TYPES",
    "canonical_skops_bytes",
    "load_model",
    "metadata_path",
    "save_model",
]

_ID_RE = re.compile(r'"__id__": (\d+)')
_FILE_RE = re.compile(r'"file": "(\d+)\.npy"')
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def metadata_path(path: str | os.PathLike) -> Path:
    """The sidecar path: the model path with suffix ``.json`` (``model.skops`` → ``model.json``).

    Examples
    --------
    >>> metadata_path("results/ml/model.skops").as_posix()
    'results/ml/model.json'
    """
    path = Path(path)
    if path.suffix == ".json":
        raise InputDataError(f"model file {path} must not end in .json (that is the sidecar)")
    return path.with_suffix(".json")


def canonical_skops_bytes(model) -> bytes:
    """``skops.io.dumps(model)`` with object ids renumbered and fixed zip timestamps.

    The same fitted model (or two models fitted identically) gives the same bytes.

    Examples
    --------
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> m = DecisionTreeClassifier(random_state=0).fit([[0.0], [1.0]], [1, 2])
    >>> canonical_skops_bytes(m) == canonical_skops_bytes(m)
    True
    """
    raw = sio.dumps(model)
    src = zipfile.ZipFile(io.BytesIO(raw))
    schema = src.read("schema.json").decode("utf-8")
    mapping: dict[str, str] = {}
    for match in re.finditer(r'"__id__": (\d+)|"file": "(\d+)\.npy"', schema):
        old = match.group(1) or match.group(2)
        mapping.setdefault(old, str(len(mapping) + 1))

    def _sub_id(m):
        return f'"__id__": {mapping[m.group(1)]}'

    def _sub_file(m):
        return f'"file": "{mapping[m.group(1)]}.npy"'

    new_schema = _FILE_RE.sub(_sub_file, _ID_RE.sub(_sub_id, schema))
    members = {}
    for info in src.infolist():
        if info.filename == "schema.json":
            continue
        stem = info.filename.removesuffix(".npy")
        if info.filename.endswith(".npy") and stem in mapping:
            members[f"{mapping[stem]}.npy"] = src.read(info.filename)
        else:
            members[info.filename] = src.read(info.filename)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        for name in ["schema.json", *sorted(members, key=_member_key)]:
            data = new_schema.encode("utf-8") if name == "schema.json" else members[name]
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            dst.writestr(info, data)
    return out.getvalue()


def _member_key(name: str):
    stem = name.split(".")[0]
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)


def _versions() -> dict[str, str]:
    import sklearn
    import skops

    import pipeline

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "shuibao": pipeline.__version__,
    }


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def save_model(
    model,
    path: str | os.PathLike,
    *,
    feature_names: Sequence[str],
    feature_units: Sequence[str],
    training_hash: str,
    seed: int,
    cv_results: Mapping | None = None,
    extra: Mapping | None = None,
) -> tuple[Path, Path]:
    """Write the model (skops, deterministic bytes) and its JSON metadata sidecar, atomically.

    Parameters
    ----------
    model : fitted scikit-learn Pipeline/estimator
    path : path of the ``.skops`` file; the sidecar is the same path with suffix ``.json``.
    feature_names, feature_units : the model's features, in order, and their units.
    training_hash : ``train.training_data_hash(X, y)`` of the training table.
    seed : the seed it was trained with.
    cv_results : the ``spatial_cv`` result (JSON-ready dict), optional.
    extra : other JSON-ready metadata (e.g. survey file, year), optional.

    Returns
    -------
    (Path, Path)
        The model file and the sidecar.

    Raises
    ------
    InputDataError
        If names and units differ in length or disagree with the model's own feature names.

    Examples
    --------
    >>> save_model(m, "ml_model.skops", feature_names=names, feature_units=units,
    ...            training_hash=h, seed=0)  # doctest: +SKIP
    """
    feature_names = [str(f) for f in feature_names]
    feature_units = [str(u) for u in feature_units]
    if len(feature_names) != len(feature_units):
        raise InputDataError(f"{len(feature_names)} feature names but {len(feature_units)} units")
    own = getattr(model, "feature_names_in_", None)
    if own is not None and list(own) != feature_names:
        raise InputDataError(f"feature_names {feature_names} differ from the model's {list(own)}")
    payload = canonical_skops_bytes(model)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    meta = {
        "format": FORMAT,
        "model_file": path.name,
        "model_sha256": hashlib.sha256(payload).hexdigest(),
        "serialization": "skops",
        "trusted_types": list(TRUSTED_TYPES),
        "estimator": type(final).__name__,
        "params": _jsonable(final.get_params()),
        "features": feature_names,
        "feature_units": feature_units,
        "classes": _jsonable(np.asarray(model.classes_)),
        "training_data_sha256": training_hash,
        "seed": int(seed),
        "versions": _versions(),
        "cv_results": _jsonable(cv_results) if cv_results is not None else None,
        **({"extra": _jsonable(extra)} if extra else {}),
    }
    side = write_text(
        json.dumps(meta, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
        metadata_path(path),
    )
    return path, side


def load_model(
    path: str | os.PathLike,
    *,
    expected_features: Sequence[str] | None = None,
) -> tuple[object, dict]:
    """Load a model written by :func:`save_model`, checking integrity, types and features.

    Parameters
    ----------
    path : the ``.skops`` file (its ``.json`` sidecar must sit beside it).
    expected_features : the features of the stack it will be applied to, in order; loading
        fails if they differ from the model's.

    Returns
    -------
    (model, metadata)

    Raises
    ------
    InputDataError
        Missing file or sidecar, SHA-256 mismatch (file changed since it was saved), a type
        outside ``TRUSTED_TYPES``, or features that differ from ``expected_features``.

    Examples
    --------
    >>> model, meta = load_model("ml_model.skops", expected_features=names)  # doctest: +SKIP
    """
    path = Path(path)
    side = metadata_path(path)
    for p in (path, side):
        if not p.exists():
            raise InputDataError(f"model file not found: {p}")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputDataError(f"model metadata {side} is not valid JSON: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise InputDataError(f"{side}: format {meta.get('format')!r}, expected {FORMAT!r}")
    payload = path.read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != meta.get("model_sha256"):
        raise InputDataError(
            f"{path}: SHA-256 {digest[:12]}… does not match its metadata "
            f"{str(meta.get('model_sha256'))[:12]}…; the file changed after it was saved"
        )
    try:
        untrusted = sio.get_untrusted_types(data=payload)
    except Exception as exc:  # noqa: BLE001 - corrupt zip/JSON
        raise InputDataError(f"{path} is not a readable skops file: {exc}") from exc
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise InputDataError(f"{path} holds types outside the trusted list: {refused}")
    model = sio.loads(payload, trusted=list(untrusted))
    features = list(meta.get("features", []))
    own = getattr(model, "feature_names_in_", None)
    if own is not None and list(own) != features:
        raise InputDataError(
            f"{path}: model features {list(own)} differ from its metadata {features}"
        )
    if expected_features is not None and [str(f) for f in expected_features] != features:
        raise InputDataError(
            f"{path}: the model was trained on features {features}, but the stack has "
            f"{[str(f) for f in expected_features]}; retrain or rebuild the stack"
        )
    return model, meta
