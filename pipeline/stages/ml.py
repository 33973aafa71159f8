"""Stage: ML intensity classifier trained on field-survey units.

Features (factors, slope, NDVI statistics, land cover, the RUSLE soil loss) are
stacked lazily; the model is validated by spatial block cross-validation (with
random CV beside it), saved with skops, and mapped through dask blocks.

Accuracy and areas follow the survey's design (``pipeline.ml.design``): Stehman (2014)
when the survey carries its strata and inclusion probabilities (e.g. stratified by land
cover), Olofsson et al. (2014) when the map classes are the strata. The ML map whose
areas are reported is the map whose accuracy is reported: a seeded, stratified share of the
units (``ml.holdout_fraction``) is held out, the model is trained and cross-validated on
the rest, and the held-out units judge the mapped result. The RUSLE map is judged on all
units (none of them was used to make it).
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
from pipeline.ml.design import holdout_units
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


#: A feature stack up to this size (22 float32 features: ~6 million cells) is computed once
#: and kept in memory for both the sampling at the survey units and the map; a larger one
#: is computed chunk by chunk twice (memory bounded by the chunks).
PERSIST_MAX_BYTES = 512 * 2**20


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
    from pipeline.ml import accuracy, design, features, model_io, predict, train
    from pipeline.ml.spatial_cv import spatial_cv as run_spatial_cv
    from pipeline.report import maps

    ch = chunks_2d(compute)
    lc = open_raster(inputs["landcover"], chunks=ch)
    stack = features.build_feature_stack(
        feature_layers(inputs, ch), landcover=lc, landcover_codes=list(landcover.CLASSES)
    )
    feature_names = [str(f) for f in stack["feature"].values]
    if hasattr(stack.data, "dask") and stack.nbytes <= PERSIST_MAX_BYTES:
        # sampled at the survey units, then predicted: computed once, not twice
        stack = stack.persist()
    aoi = read_aoi(inputs["aoi"], stack.rio.crs if stack.rio.crs else lc.rio.crs)
    survey = features.read_survey(inputs["survey"], aoi_geom=aoi.union_all(), grid_crs=lc.rio.crs)
    samples = features.sample_at_points(stack, survey)
    valid = samples["valid"].to_numpy(bool)
    if valid.sum() < 10:
        raise InputDataError(
            f"{inputs['survey']}: only {int(valid.sum())} survey units have "
            "complete features; at least 10 are needed to train"
        )
    has_design = {"stratum", "inclusion_probability"} <= set(survey.columns)
    strata_all = (
        survey["stratum"].astype(str).to_numpy()
        if has_design
        else survey["intensity_class"].astype(str).to_numpy()
    )
    seed = int(ml["seed"])
    holdout = holdout_units(
        strata_all, valid, fraction=float(ml.get("holdout_fraction", 0.3)), seed=seed
    )
    train_units = valid & ~holdout
    X_all = samples[feature_names]
    y_all = survey["intensity_class"].to_numpy(int)
    X = X_all.loc[train_units].reset_index(drop=True)
    y = y_all[train_units]
    coords = samples.loc[train_units, ["x", "y"]].to_numpy(float)
    estimator, params = ml["estimator"], dict(ml.get("params", {}))
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
    cv.pop("out_of_fold", None)
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

    # only the district's pixels are predicted (the map is masked to the AOI anyway; the
    # bounding box's corners outside it were about a quarter of the demo's prediction time)
    inside = aoi_mask(aoi.geometry, lc)
    classes_ml, _proba = predict.predict_map(
        fitted, stack.where(inside), feature_names=feature_names
    )
    bar.update(1)
    bar.close()
    classes_ml = classes_ml.where(inside)
    classes_ml = classes_ml.rio.write_crs(lc.rio.crs).rio.write_transform(lc.rio.transform())
    write_cog(
        classes_ml.astype("float32"),
        outputs["intensity_ml"],
        dtype="uint8",
        nodata=classify.NODATA,
        tags=provenance("ml", ml=ml, year=int(year)),
    )

    # Design-based areas and accuracy from the survey sample (reference), for both maps.
    rusle = open_raster(inputs["intensity"], chunks=ch)
    ml_map = open_raster(outputs["intensity_ml"], chunks=ch)
    area = stats.pixel_area_ha(rusle)
    rows, cols = samples["row"].to_numpy(), samples["col"].to_numpy()
    ok_rc = valid.copy()
    r_i, c_i = rows[ok_rc].astype(int), cols[ok_rc].astype(int)

    def at_units(class_map):
        values = np.full(len(samples), np.nan)
        data = class_map.data
        got = (
            np.asarray(data.vindex[r_i, c_i].compute())
            if hasattr(data, "vindex")
            else data[r_i, c_i]
        )
        values[ok_rc] = np.asarray(got, dtype="float64")
        return values

    sizes = None
    if has_design:
        sizes = design.stratum_sizes_from_inclusion(
            strata_all, survey["inclusion_probability"].to_numpy(float)
        )
    unit_area = float(area.mean())
    tables = []
    for name, class_map, units in (("RUSLE", rusle, valid), ("ML", ml_map, valid & holdout)):
        labels = at_units(class_map)
        ok = units & np.isfinite(labels) & (labels != classify.NODATA)
        mapped = accuracy.class_areas(class_map, pixel_area_ha=area, classes=CLASS_CODES)
        eaa = design.design_based_estimates(
            map_classes=labels[ok].astype(int),
            reference_classes=y_all[ok],
            classes=CLASS_CODES,
            mapped_area_by_class=mapped,
            strata=strata_all[ok] if has_design else None,
            stratum_sizes=sizes,
            unit_area=unit_area,
        )
        eaa.insert(0, "map", name)
        eaa.insert(1, "estimator", eaa.attrs["estimator"])
        eaa.insert(2, "n_reference_units", int(ok.sum()))
        eaa["mapped_area_ha"] = mapped.reindex(eaa.index).to_numpy()
        eaa["overall_accuracy"] = eaa.attrs["overall_accuracy"]
        eaa["overall_accuracy_ci_halfwidth"] = eaa.attrs["overall_accuracy_ci_halfwidth"]
        tables.append(eaa.reset_index())
        log.info(
            "%s map: %s, %d reference units, OA %.3f ± %.3f",
            name,
            eaa.attrs["estimator"],
            int(ok.sum()),
            eaa.attrs["overall_accuracy"],
            eaa.attrs["overall_accuracy_ci_halfwidth"],
        )
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
