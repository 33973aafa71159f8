"""A survey layer whose classes, CRS or extent do not fit gets a clear error."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from pipeline.errors import GridError, InputDataError
from pipeline.grid import local_albers_crs
from pipeline.ml.features import read_survey, validate_survey

CRS = local_albers_crs(118.0, 25.0, 118.2, 25.2)
AOI = box(-5000.0, -5000.0, 5000.0, 5000.0)


def _survey(classes, *, xy=None, crs=CRS) -> gpd.GeoDataFrame:
    n = len(classes)
    xy = xy if xy is not None else [(-4000.0 + 800.0 * i, 100.0 * i) for i in range(n)]
    return gpd.GeoDataFrame(
        {
            "survey_id": [f"S{i:03d}" for i in range(n)],
            "year": 2023,
            "intensity_class": classes,
        },
        geometry=[Point(x, y) for x, y in xy],
        crs=crs,
    )


def test_valid_layer_passes_and_classes_become_int():
    out = validate_survey(_survey([1.0, 2.0, 6.0]), aoi_geom=AOI, grid_crs=CRS)
    assert out["intensity_class"].tolist() == [1, 2, 6]
    assert out["intensity_class"].dtype == np.int64


@pytest.mark.parametrize(
    ("classes", "count", "example"),
    [
        ([1, 7, 0], 2, "0"),
        ([1, 2, np.nan], 1, "nan"),
        ([1, 2.5, 3], 1, "2.5"),
        (["1", "heavy", "2"], 1, "'heavy'"),
    ],
)
def test_classes_outside_1_to_6_name_file_column_and_count(classes, count, example):
    with pytest.raises(InputDataError) as err:
        validate_survey(_survey(classes), aoi_geom=AOI, grid_crs=CRS, source="survey_2023.gpkg")
    msg = str(err.value)
    assert msg.startswith("survey_2023.gpkg: column 'intensity_class' has ")
    assert f"has {count} value(s) outside the classes [1, 2, 3, 4, 5, 6]" in msg
    assert example in msg


def test_missing_class_column_lists_the_columns():
    with pytest.raises(InputDataError, match=r"class column 'grade' not found; columns are "):
        validate_survey(_survey([1]), aoi_geom=AOI, grid_crs=CRS, class_col="grade")


def test_missing_crs_is_an_error():
    gdf = _survey([1, 2]).set_crs(None, allow_override=True)
    with pytest.raises(GridError, match=r"survey_2023.gpkg: the survey layer has no CRS"):
        validate_survey(gdf, aoi_geom=AOI, grid_crs=CRS, source="survey_2023.gpkg")


def test_other_crs_is_reprojected_to_the_grid():
    gdf = _survey([1, 3, 5])
    lonlat = gdf.to_crs(4326)
    out = validate_survey(lonlat, aoi_geom=AOI, grid_crs=CRS)
    assert out.crs == CRS
    np.testing.assert_allclose(out.geometry.x, gdf.geometry.x, atol=1e-6)
    np.testing.assert_allclose(out.geometry.y, gdf.geometry.y, atol=1e-6)


def test_points_outside_the_district_are_counted_and_named():
    gdf = _survey([1, 2, 3], xy=[(0.0, 0.0), (9000.0, 0.0), (0.0, -7000.0)])
    with pytest.raises(InputDataError) as err:
        validate_survey(gdf, aoi_geom=AOI, grid_crs=CRS, source="survey_2023.gpkg")
    msg = str(err.value)
    assert "survey_2023.gpkg: 2 of 3 survey unit(s) lie outside the district" in msg
    assert "'S001'" in msg and "'S002'" in msg and "'S000'" not in msg


def test_layer_in_wrong_crs_label_falls_outside():
    # coordinates in metres but labelled as lon/lat: reprojection lands far away
    gdf = _survey([1, 2], crs=4326, xy=[(10.0, 10.0), (20.0, 20.0)])
    with pytest.raises(InputDataError, match="2 of 2 survey unit"):
        validate_survey(gdf, aoi_geom=AOI, grid_crs=CRS)


def test_aoi_as_geodataframe_in_other_crs():
    aoi = gpd.GeoDataFrame(geometry=[AOI], crs=CRS).to_crs(4326)
    out = validate_survey(_survey([2]), aoi_geom=aoi, grid_crs=CRS)
    assert len(out) == 1


def test_empty_layer_and_empty_geometry():
    with pytest.raises(InputDataError, match="has no features"):
        validate_survey(_survey([]), aoi_geom=AOI, grid_crs=CRS)
    gdf = _survey([1, 2])
    gdf.loc[1, "geometry"] = Point()
    with pytest.raises(InputDataError, match=r"1 survey unit\(s\) have no geometry"):
        validate_survey(gdf, aoi_geom=AOI, grid_crs=CRS)


def test_read_survey_names_the_file(tmp_path):
    path = tmp_path / "survey_2023.gpkg"
    _survey([1, 8]).to_file(path, layer="survey")
    with pytest.raises(InputDataError, match=r"survey_2023.gpkg: column 'intensity_class' has 1"):
        read_survey(path, aoi_geom=AOI, grid_crs=CRS)
    with pytest.raises(InputDataError, match="survey layer not found: .*nope.gpkg"):
        read_survey(tmp_path / "nope.gpkg", aoi_geom=AOI, grid_crs=CRS)
    good = tmp_path / "good.gpkg"
    _survey([4, 5]).to_file(good)
    assert read_survey(good, aoi_geom=AOI, grid_crs=CRS)["intensity_class"].tolist() == [4, 5]
