"""Property tests for class-area statistics (hypothesis).

- printed shares (largest remainder) sum to exactly 100.00, and raw shares to 100;
- rechunking a dask input does not change the table;
- on an equal-area grid area-weighted shares equal pixel-count shares.
"""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

from pipeline.grid import AnalysisGrid, local_albers_crs  # noqa: E402
from pipeline.report.tables import display_class_table, round_shares  # noqa: E402
from pipeline.stats import class_area_table, pixel_area_ha  # noqa: E402

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALBERS = local_albers_crs(113.0, 23.0, 114.0, 24.0)

class_codes = st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan])


def _grid(crs, shape, res):
    h, w = shape
    if crs == "EPSG:4326":
        return AnalysisGrid.from_bounds(crs, 110.0, 25.0, 110.0 + w * res, 25.0 + h * res, res)
    return AnalysisGrid.from_bounds(crs, 0, 0, w * res, h * res, res)


def _classes(draw, crs, res):
    shape = draw(st.tuples(st.integers(1, 12), st.integers(1, 12)))
    values = draw(arrays(np.float32, shape, elements=class_codes))
    if np.all(np.isnan(values)):
        values[0, 0] = 1.0
    grid = _grid(crs, shape, res)
    return grid.dataarray(values, name="intensity_class", units="1")


@st.composite
def geographic_classes(draw):
    return _classes(draw, "EPSG:4326", 0.5)


@st.composite
def albers_classes(draw):
    return _classes(draw, ALBERS, draw(st.sampled_from([10.0, 30.0, 100.0, 250.0])))


@SETTINGS
@given(geographic_classes())
def test_shares_sum_to_100(cls):
    table = class_area_table(cls, pixel_area_ha(cls))
    assert table["share_of_district_pct"].sum() == pytest.approx(100.0, abs=1e-9)
    printed = display_class_table(table)
    assert sum(round(v * 100) for v in printed["share_of_district_pct"]) == 10000
    if table["area_ha"].iloc[1:].sum() > 0:
        assert sum(round(v * 100) for v in printed["share_of_erosion_pct"].iloc[1:]) == 10000


@SETTINGS
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=8))
def test_round_shares_sum_exactly_and_stay_close(values):
    shares = round_shares(values)
    if sum(values) == 0:
        assert np.all(shares == 0)
        return
    assert sum(round(v * 100) for v in shares) == 10000
    exact = np.asarray(values) / np.sum(values) * 100
    assert np.all(np.abs(shares - exact) < 0.01 + 1e-9)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geographic_classes(), st.integers(1, 5), st.integers(1, 5))
def test_rechunking_does_not_change_shares(cls, cy, cx):
    ref = class_area_table(cls, pixel_area_ha(cls))
    lazy = cls.chunk({"y": cy, "x": cx})
    got = class_area_table(lazy, pixel_area_ha(lazy))
    np.testing.assert_allclose(got["area_ha"], ref["area_ha"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(
        got["share_of_district_pct"], ref["share_of_district_pct"], rtol=1e-12, atol=1e-9
    )


@SETTINGS
@given(albers_classes())
def test_area_shares_equal_count_shares_on_equal_area_grid(cls):
    table = class_area_table(cls, pixel_area_ha(cls))
    values = cls.values
    counts = np.array([(values == c).sum() for c in range(1, 7)], dtype="float64")
    np.testing.assert_allclose(
        table["share_of_district_pct"], counts / counts.sum() * 100, rtol=1e-12, atol=1e-12
    )
    res = cls.rio.resolution()[0]
    np.testing.assert_allclose(table["area_ha"], counts * res * res / 1e4, rtol=1e-12)
