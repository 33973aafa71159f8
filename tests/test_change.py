"""Change between two years: transition matrix (ha) and the bulletin change figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipeline.classify import classify_intensity
from pipeline.errors import GridError, InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.stats import (
    change_matrix,
    change_summary,
    class_area_table,
    pixel_area_ha,
    summarize,
)
from tests.utils import as_backend


@pytest.fixture(scope="module")
def two_years():
    """Two demo years of soil loss on a geographic grid at 25–30°N (year 1 ≈ 0.8 × year 0)."""
    grid = AnalysisGrid.from_bounds("EPSG:4326", 110.0, 25.0, 111.5, 30.0, 0.05)
    rng = np.random.default_rng(11)
    loss0 = rng.gamma(0.7, 25.0, size=grid.shape)
    loss1 = loss0 * rng.lognormal(np.log(0.8), 0.3, size=grid.shape)
    loss0[rng.random(grid.shape) < 0.05] = np.nan
    y0 = classify_intensity(grid.dataarray(loss0, name="a0", units="t ha-1 yr-1"))
    y1 = classify_intensity(grid.dataarray(loss1, name="a1", units="t ha-1 yr-1"))
    return y0, y1.where(y0.notnull()), pixel_area_ha(y0)


def test_row_and_column_sums_equal_each_years_class_areas(two_years):
    y0, y1, area = two_years
    m = change_matrix(y0, y1, area)
    assert m.shape == (6, 6)
    assert m.index.name == "from_class" and m.columns.name == "to_class"
    assert m.index.tolist() == [1, 2, 3, 4, 5, 6] and m.columns.tolist() == [1, 2, 3, 4, 5, 6]
    t0 = class_area_table(y0, area)["area_ha"].to_numpy()
    t1 = class_area_table(y1, area)["area_ha"].to_numpy()
    np.testing.assert_allclose(m.sum(axis=1).to_numpy(), t0, atol=0.01)
    np.testing.assert_allclose(m.sum(axis=0).to_numpy(), t1, atol=0.01)
    assert m.attrs["units"] == "ha"
    assert m.attrs["valid_in_one_year_only_ha"] == 0.0


def test_summary_matches_the_two_year_tables(two_years):
    y0, y1, area = two_years
    m = change_matrix(y0, y1, area)
    s = change_summary(m, year0=2023, year1=2024)
    e0 = summarize(class_area_table(y0, area))["erosion_area_ha"]
    e1 = summarize(class_area_table(y1, area))["erosion_area_ha"]
    assert s["erosion_area_y0_ha"] == pytest.approx(e0, abs=0.01)
    assert s["erosion_area_y1_ha"] == pytest.approx(e1, abs=0.01)
    assert s["erosion_area_change_ha"] == pytest.approx(e1 - e0, abs=0.01)
    assert s["erosion_area_change_pct"] == pytest.approx((e1 - e0) / e0 * 100, rel=1e-9)
    assert s["erosion_area_change_ha"] < 0  # year 1 has 20 % less soil loss
    total = float(m.to_numpy().sum())
    assert s["improved_ha"] + s["deteriorated_ha"] + s["unchanged_ha"] == pytest.approx(total)
    assert s["improved_ha"] > s["deteriorated_ha"] > 0
    per = pd.DataFrame(s["per_class"])
    assert per.columns[:1].tolist() == ["class_code"]
    assert {"area_y0_ha", "area_y1_ha", "net_change_ha", "net_change_pct"} <= set(per.columns)
    assert per["net_change_ha"].sum() == pytest.approx(0.0, abs=1e-6)  # same valid area
    assert s["year0"] == 2023 and s["year1"] == 2024


def test_numpy_equals_dask(two_years):
    y0, y1, area = two_years
    ref = change_matrix(y0, y1, area)
    got = change_matrix(
        as_backend(y0, "dask", chunks=17), as_backend(y1, "dask", chunks=23), area.chunk(17)
    )
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-12)


def test_hand_example_with_known_transitions():
    grid = AnalysisGrid.from_bounds("EPSG:32649", 500_000, 2_500_000, 500_300, 2_500_100, 100.0)
    y0 = grid.dataarray(np.array([[2.0, 3.0, 1.0]]), name="y0", units="1")
    y1 = grid.dataarray(np.array([[1.0, 4.0, 1.0]]), name="y1", units="1")
    area = pixel_area_ha(y0)
    m = change_matrix(y0, y1, area)
    a = area.values[0]
    assert m.loc[2, 1] == pytest.approx(a[0]) and m.loc[3, 4] == pytest.approx(a[1])
    assert m.loc[1, 1] == pytest.approx(a[2])
    assert m.to_numpy().sum() == pytest.approx(a.sum())
    s = change_summary(m, year0=2020, year1=2021)
    assert s["improved_ha"] == pytest.approx(a[0])  # 轻度 -> 微度
    assert s["deteriorated_ha"] == pytest.approx(a[1])  # 中度 -> 强烈
    assert s["unchanged_ha"] == pytest.approx(a[2])
    assert s["erosion_area_change_ha"] == pytest.approx(-a[0])
    per = {row["class_code"]: row for row in s["per_class"]}
    assert per[4]["area_y0_ha"] == 0.0 and np.isnan(per[4]["net_change_pct"])
    assert per[2]["net_change_pct"] == pytest.approx(-100.0)


def test_pixels_valid_in_one_year_only_are_reported():
    grid = AnalysisGrid.from_bounds("EPSG:32649", 500_000, 2_500_000, 500_300, 2_500_100, 100.0)
    y0 = grid.dataarray(np.array([[2.0, np.nan, 1.0]]), name="y0", units="1")
    y1 = grid.dataarray(np.array([[2.0, 3.0, 1.0]]), name="y1", units="1")
    area = pixel_area_ha(y0)
    m = change_matrix(y0, y1, area)
    assert m.attrs["valid_in_one_year_only_ha"] == pytest.approx(float(area.values[0, 1]))
    assert m.to_numpy().sum() == pytest.approx(float(area.values[0, [0, 2]].sum()))


def test_change_errors():
    grid = AnalysisGrid.from_bounds("EPSG:32649", 500_000, 2_500_000, 500_300, 2_500_100, 100.0)
    y0 = grid.dataarray(np.array([[2.0, 255.0, 1.0]]), name="y0", units="1")
    area = pixel_area_ha(y0)
    with pytest.raises(InputDataError, match="other than the class codes"):
        change_matrix(y0, y0, area)
    m = pd.DataFrame(np.eye(6), index=range(1, 7), columns=range(1, 7))
    with pytest.raises(InputDataError, match=r"year1 \(2020\) must be after year0 \(2021\)"):
        change_summary(m, year0=2021, year1=2020)
    with pytest.raises(InputDataError, match="from_class and to_class 1..6"):
        change_summary(m.iloc[:5, :5], year0=2020, year1=2021)
    with pytest.raises(InputDataError, match="2-D"):
        change_matrix(y0.expand_dims(t=[0]), y0, area)
    other = xr.DataArray(np.ones((1, 2)), dims=("y", "x"))
    with pytest.raises(GridError, match="shape"):
        change_matrix(y0, other, area)
