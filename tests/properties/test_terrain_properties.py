"""Hypothesis properties of the LS routing: tiles equal one block, D8 conserves cells."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.factors import _routing
from pipeline.factors import terrain as T
from pipeline.grid import AnalysisGrid

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DASK = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def dems(draw, min_side=6, max_side=40):
    ny = draw(st.integers(min_side, max_side))
    nx = draw(st.integers(min_side, max_side))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    z = rng.random((ny, nx)) * draw(st.sampled_from([0.5, 5.0, 50.0]))
    z += np.arange(ny)[:, None] * draw(st.floats(-1.0, 1.0))
    z = np.round(z, draw(st.sampled_from([0, 1, 3])))  # quantised: flats and ties
    if draw(st.booleans()):
        r, c = rng.integers(0, ny), rng.integers(0, nx)
        z[r : r + 3, c : c + 4] = np.nan
    return z


def _dem(z, cell=10.0):
    ny, nx = z.shape
    grid = AnalysisGrid.from_bounds(
        "EPSG:32650", 300000.0, 3e6 - ny * cell, 300000.0 + nx * cell, 3e6, cell
    )
    return grid.dataarray(z, name="dem", units="m")


@SETTINGS
@given(dems())
def test_d8_drains_every_cell_to_an_outlet_and_fill_is_minimal(z):
    filled = z.astype(np.float32)
    codes = _routing.fill_and_route_d8(filled, 10.0, 10.0)
    counts = _routing.d8_upstream_counts(codes)
    valid = np.isfinite(z)
    assert counts[codes == 0].sum() == valid.sum()  # no cycles, nothing lost
    assert np.all((codes == 247) == ~valid)
    assert np.all(filled[valid] >= z[valid].astype(np.float32))
    # every non-outlet cell drains to a cell no higher than itself
    k = np.vectorize(lambda v: _routing._DECODE[v])(codes)
    rows, cols = np.nonzero(k >= 0)
    dr = _routing.DR[k[rows, cols]]
    dc = _routing.DC[k[rows, cols]]
    assert np.all(filled[rows + dr, cols + dc] <= filled[rows, cols])


@DASK
@given(
    dems(min_side=12, max_side=36),
    st.sampled_from(["d8", "mfd"]),
    st.integers(4, 13),
    st.sampled_from([20.0, 60.0, None]),
)
def test_tiles_equal_one_block(z, routing, chunk, cap):
    dem = _dem(z)
    one = T.terrain_factors(dem, routing=routing, max_slope_length_m=cap)
    tiled = T.terrain_factors(dem.chunk(chunk), routing=routing, max_slope_length_m=cap).compute()
    for name in one.data_vars:
        np.testing.assert_array_equal(tiled[name].values, one[name].values)
