"""Stage: ML intensity classifier trained on field-survey units.

Features (factors, slope, NDVI statistics, land cover, the RUSLE soil loss) are
stacked lazily; the model is validated by spatial block cross-validation (with
random CV beside it), fitted on all units, saved with skops, and mapped through
dask blocks. Error-adjusted class areas (Olofsson et al. 2014) are estimated
for the RUSLE map and for the ML map from the same reference sample; for the
ML map the labels at the survey units are the out-of-fold spatial-CV
predictions (the same folds as the reported accuracy), so no unit judges a model
that was trained on it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline import classify, landcover, layout
from pipeline.errors import InputDataError
from pipeline.io import open_raster, write_cog, write_csv, write_text
from pipeline.stages.common import aoi_mask, chunks_2d, progress_bar, provenance
from pipeline.stages.soil_loss import read_aoi

log = logging.getLogger("shuibao.ml")

CLASS_CODES = tuple(classify.CLASSES)
FACTOR_KEYS = layout.ALL_FACTORS


def ndvi_statistics(ndvi_path, chunks) -> dict:
    """Annual NDVI statistics of an ``ndvi_{year}.tif``: see
    :func:`pipeline.ml.features.ndvi_statistics`."""
    from pipeline.ml.features import ndvi_statistics as stats_of

    return stats_of(open_raster(ndvi_path, chunks={"band": -1, **chunks}))


def feature_layers(inputs: Mapping[str, str], chunks) -> dict:
    layers = {}
    for key in FACTOR_KEYS:
        if key in inputs:
            layers[key.lower()] = open_raster(inputs[key], chunks=chunks)
    layers["slope_deg"] = open_raster(inputs["slope"], chunks=chunks)
    layers.update(ndvi_statistics(inputs["ndvi"], chunks))
    layers["soil_loss_t_ha_yr"] = open_raster(inputs["soil_loss"], chunks=chunks)
    for name, da in layers.items():
        da.attrs.setdefault("units", "1")
        da.name = name
    return layers


def make_ml(
    *,
    inputs: Mapping[str, str],
    year: int,
    outputs: Mapping[str, str],
    ml: Mapping,
    model: str,
    compute: Mapping | None = None,
) -> None:
    from pipeline import stats
    from pipeline.ml import accuracy, features, model_io, predict, train
    from pipeline.ml.spatial_cv import spatial_cv as run_spatial_cv
    from pipeline.report import maps

    ch = chunks_2d(compute)
    lc = open_raster(inputs["landcover"], chunks=ch)
    stack = features.build_feature_stack(
        feature_layers(inputs, ch), landcover=lc, landcover_codes=list(landcover.CLASSES)
    )
    feature_names = [str(f) for f in stack["feature"].values]
    aoi = read_aoi(inputs["aoi"], stack.rio.crs if stack.rio.crs else lc.rio.crs)
    survey = features.read_survey(inputs["survey"], aoi_geom=aoi.union_all(), grid_crs=lc.rio.crs)
    samples = features.sample_at_points(stack, survey)
    valid = samples["valid"].to_numpy(bool)
    if valid.sum() < 10:
        raise InputDataError(
            f"{inputs['survey']}: only {int(valid.sum())} survey units have "
            "complete features; at least 10 are needed to train"
        )
    X = samples.loc[valid, feature_names].reset_index(drop=True)
    y = survey.loc[valid, "intensity_class"].to_numpy(int)
    coords = samples.loc[valid, ["x", "y"]].to_numpy(float)
    estimator, params, seed = ml["estimator"], dict(ml.get("params", {})), int(ml["seed"])
    n_splits = int(ml["n_splits"])

    bar = progress_bar(total=3, desc=f"ML {year}: spatial CV, training, map")
    cv = run_spatial_cv(
        X,
        y,
        coords,
        estimator=estimator,
        params=params,
        n_splits=n_splits,
        seed=seed,
        return_predictions=True,
    )
    oof = np.asarray(cv.pop("out_of_fold")["spatial"], dtype=float)
    bar.update(1)
    fitted = train.train_classifier(
        X, y, estimator=estimator, params=params, seed=seed, feature_names=feature_names
    )
    bar.update(1)
    units = list(stack.attrs.get("feature_units", ["1"] * len(feature_names)))
    model_io.save_model(
        fitted,
        outputs["model"],
        feature_names=feature_names,
        feature_units=units,
        training_hash=train.training_data_hash(X, y),
        seed=seed,
        cv_results=cv,
        extra={"year": int(year), "model": model},
    )
    write_text(
        json.dumps(cv, ensure_ascii=False, indent=2, sort_keys=True, default=float) + "\n",
        outputs["cv"],
    )

    classes_ml, _proba = predict.predict_map(fitted, stack, feature_names=feature_names)
    bar.update(1)
    bar.close()
    inside = aoi_mask(aoi.geometry, lc)
    classes_ml = classes_ml.where(inside)
    classes_ml = classes_ml.rio.write_crs(lc.rio.crs).rio.write_transform(lc.rio.transform())
    write_cog(
        classes_ml.astype("float32"),
        outputs["intensity_ml"],
        dtype="uint8",
        nodata=classify.NODATA,
        tags=provenance("ml", ml=ml, year=int(year)),
    )

    # Error-adjusted areas from the survey sample (reference), for both maps.
    rusle = open_raster(inputs["intensity"], chunks=ch)
    ml_map = open_raster(outputs["intensity_ml"], chunks=ch)
    area = stats.pixel_area_ha(rusle)
    rows, cols = samples.loc[valid, "row"].to_numpy(int), samples.loc[valid, "col"].to_numpy(int)
    data = rusle.data
    rusle_at_units = (
        np.asarray(data.vindex[rows, cols].compute())
        if hasattr(data, "vindex")
        else data[rows, cols]
    )
    tables = []
    for name, class_map, labels in (("RUSLE", rusle, rusle_at_units), ("ML", ml_map, oof)):
        ok = np.isfinite(labels)
        counts = accuracy.confusion_counts(labels[ok].astype(int), y[ok], classes=CLASS_CODES)
        mapped = accuracy.class_areas(class_map, pixel_area_ha=area, classes=CLASS_CODES)
        eaa = accuracy.error_adjusted_areas(counts, mapped, classes=CLASS_CODES)
        eaa.insert(0, "map", name)
        eaa["overall_accuracy"] = eaa.attrs["overall_accuracy"]
        eaa["overall_accuracy_ci_halfwidth"] = eaa.attrs["overall_accuracy_ci_halfwidth"]
        tables.append(eaa.reset_index())
    write_csv(pd.concat(tables, ignore_index=True), outputs["areas"])
    agreement = accuracy.agreement_matrix(rusle, ml_map, area, classes=CLASS_CODES)
    write_csv(agreement.reset_index(), outputs["agreement"])
    maps.plot_intensity_map(
        ml_map, outputs["map"], title=f"{year} ML 强度分级 / ML intensity", aoi=aoi, lang="zh"
    )
    log.info(
        "ML %s: spatial-CV OA %.3f, random-CV OA %.3f",
        year,
        cv["spatial"]["overall_accuracy"],
        cv["random"]["overall_accuracy"],
    )
