"""Direct test of the ML stage (pipeline/stages/ml.py) on a tiny synthetic district.

Called as pipeline/scripts/ml.py calls it. The soil loss is a function of one
feature (LS), the RUSLE classes follow it, and the survey labels equal the
RUSLE class at each unit, so the tables have margins known in advance.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.stages import ml as ml_stage
from pipeline.stages import report as report_stage
from tests import stage_fixtures as fx

ROWS, COLS = 30, 30


def test_ndvi_statistics_are_the_band_mean_min_max_and_amplitude(tmp_path):
    ndvi = np.stack([np.full((2, 2), v, "float32") for v in np.linspace(0.2, 0.66, 24)])
    ndvi[:, 1, 1] = np.nan
    path = fx.write_raster(tmp_path / "ndvi.tif", ndvi)
    out = ml_stage.ndvi_statistics(path, {"y": 2, "x": 2})
    assert float(out["ndvi_min"][0, 0]) == pytest.approx(0.2, abs=1e-6)
    assert float(out["ndvi_max"][0, 0]) == pytest.approx(0.66, abs=1e-6)
    assert float(out["ndvi_mean"][0, 0]) == pytest.approx(0.43, abs=1e-6)
    assert float(out["ndvi_amplitude"][0, 0]) == pytest.approx(0.46, abs=1e-6)
    assert np.isnan(float(out["ndvi_mean"][1, 1]))


@pytest.mark.slow
def test_make_ml_tables_match_the_maps(tmp_path):
    rng = np.random.default_rng(0)
    ls = rng.uniform(0.01, 20.0, size=(ROWS, COLS)).astype("float32")
    a = (8.0 * ls).astype("float32")  # R·K·C·P = 8
    breaks = [5, 25, 50, 80, 150]
    rusle = (np.digitize(a, breaks) + 1).astype("uint8")  # lower <= A < upper
    inputs = {
        "R": fx.write_raster(tmp_path / "R.tif", np.full((ROWS, COLS), 64.0, "float32")),
        "K": fx.write_raster(tmp_path / "K.tif", np.full((ROWS, COLS), 0.125, "float32")),
        "LS": fx.write_raster(tmp_path / "LS.tif", ls),
        "C": fx.write_raster(tmp_path / "C.tif", np.ones((ROWS, COLS), "float32")),
        "P": fx.write_raster(tmp_path / "P.tif", np.ones((ROWS, COLS), "float32")),
        "slope": fx.write_raster(tmp_path / "slope.tif", 3 * ls),
        "ndvi": fx.write_raster(
            tmp_path / "ndvi.tif", np.stack([1 / (1 + ls)] * 24).astype("float32")
        ),
        "landcover": fx.write_raster(
            tmp_path / "lc.tif", np.ones((ROWS, COLS), "uint8"), nodata=255, dtype="uint8"
        ),
        "soil_loss": fx.write_raster(tmp_path / "soil_loss.tif", a),
        "intensity": fx.write_raster(tmp_path / "intensity.tif", rusle, nodata=255, dtype="uint8"),
        "aoi": fx.write_polygons(
            tmp_path / "aoi.gpkg", [fx.pixel_box(0, 0, ROWS, COLS)], layer="aoi", name=["d"]
        ),
    }
    # 120 survey units at pixel centres, labelled with the RUSLE class there
    cells = rng.choice(ROWS * COLS, size=120, replace=False)
    r, c = np.divmod(cells, COLS)
    xy = [
        (fx.X0 + (cc + 0.5) * fx.RES, fx.Y0 - (rr + 0.5) * fx.RES)
        for rr, cc in zip(r, c, strict=True)
    ]
    inputs["survey"] = fx.write_points(
        tmp_path / "survey.gpkg",
        xy,
        survey_id=[f"S{i:03d}" for i in range(len(xy))],
        year=[2020] * len(xy),
        intensity_class=rusle[r, c].astype(int),
    )
    names = ("intensity_ml", "map", "model", "metadata", "cv", "areas", "agreement")
    suffix = {"map": ".png", "model": ".skops", "cv": ".json", "metadata": ".json"}
    outputs = {k: str(tmp_path / "ml" / f"{k}{suffix.get(k, '.csv')}") for k in names}
    outputs["intensity_ml"] = str(tmp_path / "intensity_ml.tif")
    ml_stage.make_ml(
        inputs={k: str(v) for k, v in inputs.items()},
        year=2020,
        outputs=outputs,
        ml={
            "enabled": True,
            "estimator": "random_forest",
            "params": {"n_estimators": 20, "max_depth": 6},
            "n_splits": 3,
            "seed": 0,
        },
        model="rusle",
    )
    counts_rusle = np.array([(rusle == k).sum() for k in range(1, 7)], float)
    ml_map, _ = fx.read(outputs["intensity_ml"])
    counts_ml = np.array([(ml_map == k).sum() for k in range(1, 7)], float)
    assert counts_ml.sum() == ROWS * COLS  # every pixel of the AOI is classified

    # agreement (ha): rows = RUSLE, columns = ML; margins are each map's class areas
    agreement = pd.read_csv(outputs["agreement"], encoding="utf-8-sig")
    agreement = agreement.set_index(agreement.columns[0])
    m = agreement.to_numpy(float)
    np.testing.assert_allclose(m.sum(axis=1), counts_rusle * fx.PIXEL_HA, atol=1e-9)
    np.testing.assert_allclose(m.sum(axis=0), counts_ml * fx.PIXEL_HA, atol=1e-9)

    # error-adjusted areas: the mapped areas are the map's class areas; the labels of the
    # RUSLE map at the units are the reference itself, so its accuracy is 1
    areas = pd.read_csv(outputs["areas"], encoding="utf-8-sig")
    mapped_col = "mapped_area"  # ha
    by_map = {name: df.set_index("class") for name, df in areas.groupby("map")}
    np.testing.assert_allclose(
        by_map["RUSLE"].loc[[1, 2, 3, 4, 5, 6], mapped_col], counts_rusle * fx.PIXEL_HA
    )
    np.testing.assert_allclose(
        by_map["ML"].loc[[1, 2, 3, 4, 5, 6], mapped_col], counts_ml * fx.PIXEL_HA
    )
    assert by_map["RUSLE"]["overall_accuracy"].iloc[0] == pytest.approx(1.0)
    cv = json.loads((tmp_path / "ml" / "cv.json").read_text(encoding="utf-8"))
    assert 0.0 <= cv["spatial"]["overall_accuracy"] <= 1.0
    assert cv["n_splits"] == 3 and len(cv["spatial"]["fold_accuracy"]) == 3

    # the report's ML section shows the folds and block size of this very file
    sections = dict(
        report_stage.ml_sections(
            {
                "ml_cv": outputs["cv"],
                "ml_areas": outputs["areas"],
                "ml_agreement": outputs["agreement"],
            }
        )
    )
    cv_table = next(v for k, v in sections.items() if "cross-validation" in k)
    assert cv_table["folds 折数"].tolist() == [3, 3]
    assert cv_table["block size 分块边长 (m)"].iloc[0] == pytest.approx(cv["block_size_m"])
    assert cv_table["overall accuracy 总体精度"].iloc[0] == cv["spatial"]["overall_accuracy"]
