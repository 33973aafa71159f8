"""Training (determinism, class weighting, config errors), spatial CV and model files."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from scipy.ndimage import gaussian_filter
from sklearn.metrics import confusion_matrix, recall_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from pipeline.errors import ConfigError, InputDataError
from pipeline.ml.model_io import canonical_skops_bytes, load_model, metadata_path, save_model
from pipeline.ml.spatial_cv import (
    block_ids,
    choose_block_size,
    empirical_variogram,
    spatial_cv,
    variogram_range,
)
from pipeline.ml.train import train_classifier, training_data_hash

ESTIMATORS = [
    ("random_forest", {"n_estimators": 20}),
    ("hist_gradient_boosting", {"max_iter": 20}),
]


@pytest.fixture(autouse=True)
def _one_openmp_thread():
    """HistGradientBoosting's OpenMP threads stall on a busy shared machine; results do not
    depend on the thread count."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def _table(seed=0, n=200):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"slope_deg": rng.uniform(0, 35, n), "ndvi_mean": rng.uniform(0, 1, n), "c": rng.random(n)}
    )
    score = X["slope_deg"] * (1.2 - X["ndvi_mean"]) + rng.normal(0, 3, n)
    y = 1 + np.digitize(score, [5, 10, 18, 25, 32])
    return X, y


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize(("estimator", "params"), ESTIMATORS)
def test_fixed_seed_gives_identical_models(estimator, params):
    X, y = _table()
    a = train_classifier(X, y, estimator=estimator, params=params, seed=3)
    b = train_classifier(X, y, estimator=estimator, params=params, seed=3)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert canonical_skops_bytes(a) == canonical_skops_bytes(b)
    assert list(a.feature_names_in_) == list(X.columns)
    assert a.named_steps["classifier"].class_weight == "balanced"


def test_other_seed_gives_another_forest():
    X, y = _table()
    a = train_classifier(X, y, params={"n_estimators": 20}, seed=3)
    b = train_classifier(X, y, params={"n_estimators": 20}, seed=4)
    assert canonical_skops_bytes(a) != canonical_skops_bytes(b)


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("random_forest", {"n_estimators": 50, "min_samples_leaf": 20}),
        ("hist_gradient_boosting", {"max_iter": 50}),
    ],
)
def test_balanced_class_weight_recovers_the_rare_class(estimator, params):
    rng = np.random.default_rng(1)

    def data(n1, n2):
        x = np.concatenate([rng.normal(0, 1, n1), rng.normal(1.5, 1, n2)])
        return pd.DataFrame({"x": x}), np.r_[np.ones(n1, int), np.full(n2, 5)]

    X, y = data(950, 50)  # 5 % severe
    Xt, yt = data(2000, 2000)
    recall = {
        cw: recall_score(
            yt,
            train_classifier(X, y, estimator=estimator, params=params, class_weight=cw).predict(Xt),
            pos_label=5,
        )
        for cw in ("balanced", None)
    }
    # measured: forest 0.79 vs 0.27, boosting 0.70 vs 0.24
    assert recall["balanced"] > 0.6 > 0.35 > recall[None]


@pytest.mark.parametrize(("estimator", "params"), ESTIMATORS)
def test_class_weight_mapping_is_by_class_code(estimator, params):
    X, y = _table()
    classes, counts = np.unique(y, return_counts=True)
    balanced = {int(c): len(y) / (len(classes) * n) for c, n in zip(classes, counts, strict=True)}
    a = train_classifier(X, y, estimator=estimator, params=params, class_weight=balanced)
    b = train_classifier(X, y, estimator=estimator, params=params, class_weight="balanced")
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-9, atol=1e-12)
    with pytest.raises(ConfigError, match=r"no weight for class\(es\) \[2, 3, 4, 5, 6\]"):
        train_classifier(X, y, estimator=estimator, params=params, class_weight={1: 1.0})


def test_training_errors_name_the_problem():
    X, y = _table(n=20)
    with pytest.raises(ConfigError, match=r"\['n_trees'\] are not parameters of RandomForest"):
        train_classifier(X, y, params={"n_trees": 5})
    with pytest.raises(ConfigError, match="ml.estimator must be one of"):
        train_classifier(X, y, estimator="svm")
    with pytest.raises(ConfigError, match="set 'random_state' through seed"):
        train_classifier(X, y, params={"random_state": 1})
    with pytest.raises(ConfigError, match="ml.class_weight must be one of"):
        train_classifier(
            X, y, estimator="hist_gradient_boosting", class_weight="balanced_subsample"
        )
    bad = X.copy()
    bad.iloc[3, 1] = np.nan
    with pytest.raises(
        InputDataError, match=r"1 row\(s\) with NaN/inf \(columns \['ndvi_mean'\]\)"
    ):
        train_classifier(bad, y)
    with pytest.raises(InputDataError, match="at least 2 classes"):
        train_classifier(X, np.ones(len(X), int))
    with pytest.raises(InputDataError, match="must be integer codes"):
        train_classifier(X, np.r_[y[:-1], 2.5])


def test_training_hash_changes_with_data():
    X, y = _table(n=20)
    h = training_data_hash(X, y)
    assert h == training_data_hash(X.copy(), y.copy())
    y2 = y.copy()
    y2[0] = 6 if y[0] != 6 else 1
    assert h != training_data_hash(X, y2)


# --------------------------------------------------------------------------- spatial CV
def _synthetic_autocorrelated(seed=0, n=300, size=80, res=100.0, sigma=6.0):
    """Target = quartile class of a smooth random field; five smooth fields unrelated to it
    plus one weak noisy copy of the target. Random folds can 'recognise the place' through
    the smooth fields; spatial blocks cannot."""
    rng = np.random.default_rng(seed)

    def field():
        f = gaussian_filter(rng.normal(size=(size, size)), sigma, mode="wrap")
        return (f - f.mean()) / f.std()

    t = field()
    classes = 1 + np.digitize(t, np.quantile(t, [0.25, 0.5, 0.75]))
    smooth = {f"g{i}": field() for i in range(5)}
    idx = rng.choice(size * size, n, replace=False)
    r, c = np.divmod(idx, size)
    X = pd.DataFrame({k: v[r, c] for k, v in smooth.items()})
    X["weak"] = t[r, c] + rng.normal(scale=2.0, size=n)
    xy = np.column_stack([(c + 0.5) * res, (r + 0.5) * res])
    return X, classes[r, c], xy


@pytest.fixture(scope="module")
def cv_result():
    X, y, xy = _synthetic_autocorrelated()
    return spatial_cv(X, y, xy, params={"n_estimators": 30}, n_splits=5, seed=0)


def test_random_cv_is_optimistic_on_autocorrelated_data(cv_result):
    sp, rd = cv_result["spatial"], cv_result["random"]
    assert sp["overall_accuracy"] <= rd["overall_accuracy"] - 0.1
    assert sp["kappa"] < rd["kappa"]
    assert cv_result["optimism"] == pytest.approx(rd["overall_accuracy"] - sp["overall_accuracy"])


def test_cv_report_contents(cv_result):
    assert cv_result["variogram"]["reached_sill"]
    assert cv_result["block_size_m"] >= cv_result["variogram"]["range_m"]
    assert "variogram practical range" in cv_result["block_size_rule"]
    assert cv_result["n_blocks"] >= 5
    sp = cv_result["spatial"]
    assert np.array(sp["confusion_matrix"]).shape == (6, 6)
    assert np.array(sp["confusion_matrix"]).sum() == cv_result["n_samples"] == 300
    assert sp["per_class"]["5"]["support"] == 0 and set(sp["per_class"]) == set("123456")
    assert len(sp["fold_accuracy"]) == 5
    json.dumps(cv_result)  # JSON-ready for the model metadata and the report


def test_cv_is_deterministic(cv_result):
    X, y, xy = _synthetic_autocorrelated()
    again = spatial_cv(X, y, xy, params={"n_estimators": 30}, n_splits=5, seed=0)
    assert again == cv_result


def test_cv_with_given_groups_and_too_few_blocks():
    X, y, xy = _synthetic_autocorrelated(n=60)
    groups = (xy[:, 0] // 2000).astype(int)
    out = spatial_cv(X, y, xy, params={"n_estimators": 5}, n_splits=3, groups=groups)
    assert out["block_size_rule"] == "groups given by the caller" and out["n_blocks"] == 4
    assert "out_of_fold" not in out
    again = spatial_cv(
        X, y, xy, params={"n_estimators": 5}, n_splits=3, groups=groups, return_predictions=True
    )
    oof = np.array(again["out_of_fold"]["spatial"])
    assert oof.shape == (60,)
    # the pooled confusion matrix is made of exactly these out-of-fold predictions
    np.testing.assert_array_equal(
        confusion_matrix(y, oof, labels=[1, 2, 3, 4, 5, 6]), again["spatial"]["confusion_matrix"]
    )
    with pytest.raises(InputDataError, match="needs at least 5 groups/blocks with samples, got 1"):
        spatial_cv(X, y, xy, params={"n_estimators": 5}, block_size_m=1e6)


def test_variogram_pieces_closed_form():
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    v = empirical_variogram(xy, np.array([0.0, 2.0, 4.0]), n_lags=3, max_lag=3.0)
    # pairs: d=1 (γ=2), d=2 (γ=2), d=3 (γ=8)
    assert v.to_dict("list") == {
        "lag_m": [1.0, 2.0, 3.0],
        "gamma": [2.0, 2.0, 8.0],
        "n_pairs": [1, 1, 1],
    }
    assert variogram_range(v, sill=4.0, min_pairs=1) == (pytest.approx(2.0 + 1.8 / 6.0), True)
    assert variogram_range(v, sill=100.0, min_pairs=1) == (3.0, False)
    assert block_ids(np.array([[0.0, 0.0], [0.0, 25.0], [25.0, 0.0]]), 20.0).tolist() == [0, 1, 2]


def test_block_size_is_reduced_when_range_leaves_too_few_blocks():
    # two distant clusters of 50 points (100 m wide) with different values: within half the
    # largest distance γ stays at the small within-cluster variance, never near the sill
    rng = np.random.default_rng(0)
    xy = np.vstack([rng.uniform(0, 100, (50, 2)), rng.uniform(1000, 1100, (50, 2))])
    values = np.r_[np.zeros(50), np.full(50, 10.0)] + rng.normal(0, 0.1, 100)
    info = choose_block_size(xy, values, n_splits=5)
    assert not info["variogram"]["reached_sill"]
    assert info["block_size_m"] < info["variogram"]["range_m"]
    assert info["n_blocks"] >= 5
    assert "never reached" in info["block_size_rule"]
    assert "reduced to" in info["block_size_rule"]


# --------------------------------------------------------------------------- model files
@pytest.mark.parametrize(("estimator", "params"), ESTIMATORS)
def test_save_and_load_round_trip(tmp_path, estimator, params):
    X, y = _table()
    model = train_classifier(X, y, estimator=estimator, params=params, seed=1)
    units = ["degree", "1", "1"]
    path, side = save_model(
        model,
        tmp_path / "ml_model.skops",
        feature_names=list(X.columns),
        feature_units=units,
        training_hash=training_data_hash(X, y),
        seed=1,
        cv_results={"spatial": {"overall_accuracy": 0.5}},
    )
    assert side == metadata_path(path) and side.name == "ml_model.json"
    meta = json.loads(side.read_text())
    assert meta["features"] == list(X.columns) and meta["feature_units"] == units
    assert meta["classes"] == model.classes_.tolist()
    assert set(meta["versions"]) >= {"scikit-learn", "skops", "numpy", "python", "shuibao"}
    assert meta["seed"] == 1 and meta["cv_results"]["spatial"]["overall_accuracy"] == 0.5
    loaded, meta2 = load_model(path, expected_features=list(X.columns))
    assert meta2 == meta
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    # deterministic file: a second identical training writes the same bytes
    twin = train_classifier(X, y, estimator=estimator, params=params, seed=1)
    path2, _ = save_model(
        twin,
        tmp_path / "twin.skops",
        feature_names=list(X.columns),
        feature_units=units,
        training_hash=training_data_hash(X, y),
        seed=1,
    )
    assert path2.read_bytes() == path.read_bytes()


def test_load_refuses_mismatch_tampering_and_untrusted_types(tmp_path):
    X, y = _table()
    model = train_classifier(X, y, params={"n_estimators": 5})
    path, side = save_model(
        model,
        tmp_path / "m.skops",
        feature_names=list(X.columns),
        feature_units=["degree", "1", "1"],
        training_hash="x",
        seed=0,
    )
    with pytest.raises(InputDataError, match=r"trained on features \['slope_deg'.*stack has"):
        load_model(path, expected_features=["slope_deg", "ndvi_mean"])
    with pytest.raises(InputDataError, match="differ from the model's"):
        save_model(
            model, tmp_path / "x.skops", feature_names=["a", "b", "c"],
            feature_units=["1"] * 3, training_hash="x", seed=0,
        )  # fmt: skip
    # a different file under the same metadata
    other = train_classifier(X, y, params={"n_estimators": 6})
    path.write_bytes(canonical_skops_bytes(other))
    with pytest.raises(InputDataError, match="does not match its metadata"):
        load_model(path)
    # a file holding a type outside the trusted list, with a matching hash
    evil = Pipeline([("f", FunctionTransformer(json.dumps)), ("classifier", model[-1])])
    payload = sio.dumps(evil)
    path.write_bytes(payload)
    meta = json.loads(side.read_text())
    meta["model_sha256"] = hashlib.sha256(payload).hexdigest()
    side.write_text(json.dumps(meta))
    with pytest.raises(InputDataError, match="types outside the trusted list: .*json.dumps"):
        load_model(path)
    side.unlink()
    with pytest.raises(InputDataError, match=r"model file not found: .*m.json"):
        load_model(path)
