"""P (support practice) and the CSLE factors B, E, T and A = R·K·L·S·B·E·T."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pipeline.errors import GridError, InputDataError
from pipeline.factors import cover, csle, support
from tests.utils import assert_same_values, raise_if_dask_computes

# land-cover codes of pipeline.landcover: 1 forest, 3 grass, 6 sloping cropland, 7 paddy
LC = [[1, 3, 6], [7, 255, 1]]


def grid(values, dtype=float, x0=0.0) -> xr.DataArray:
    arr = np.asarray(values, dtype=dtype)
    return xr.DataArray(
        arr,
        dims=("y", "x"),
        coords={"y": np.arange(arr.shape[0])[::-1] + 0.5, "x": np.arange(arr.shape[1]) + 0.5 + x0},
    )


def landcover():
    return grid(LC, dtype=np.uint8).rio.write_nodata(255)


# ------------------------------------------------------------------------------- P
def test_p_from_table_uses_raster_nodata():
    p = support.p_from_table(landcover(), {1: 1.0, 3: 1.0, 6: 0.4, 7: 0.15})
    np.testing.assert_array_equal(p.values, [[1.0, 1.0, 0.4], [0.15, np.nan, 1.0]])
    assert p.attrs["units"] == "1"
    assert p.name == "p_factor"


def test_p_with_measures_replace_and_multiply():
    measures = grid([[0, 0, 2], [1, 0, 0]], dtype=np.uint8)
    table = {1: 1.0, 3: 1.0, 6: 0.4, 7: 0.15}
    p = support.p_from_table(landcover(), table, measures=measures, measures_table={1: 0.5, 2: 0.1})
    np.testing.assert_array_equal(p.values, [[1.0, 1.0, 0.1], [0.5, np.nan, 1.0]])
    p = support.p_from_table(
        landcover(), table, measures=measures, measures_table={1: 0.5, 2: 0.1}, combine="multiply"
    )
    np.testing.assert_allclose(p.values, [[1.0, 1.0, 0.04], [0.075, np.nan, 1.0]])


def test_p_missing_codes_are_refused():
    with pytest.raises(InputDataError, match=r"landcover: code\(s\) \[3, 7\] not found in P table"):
        support.p_from_table(landcover(), {1: 1.0, 6: 0.4})
    measures = grid([[0, 0, 4], [0, 0, 0]], dtype=np.uint8)
    with pytest.raises(InputDataError, match=r"measures: code\(s\) \[4\] not found in P measures"):
        support.p_from_table(
            landcover(), {1: 1, 3: 1, 6: 0.4, 7: 0.15}, measures=measures, measures_table={1: 0.5}
        )
    with pytest.raises(InputDataError, match="code 0, which means 'no measure'"):
        support.p_from_table(
            landcover(), {1: 1, 3: 1, 6: 0.4, 7: 0.15}, measures=measures, measures_table={0: 1.0}
        )
    with pytest.raises(InputDataError, match=r"P table: code 6 has value 4"):
        support.p_from_table(landcover(), {1: 1, 3: 1, 6: 4, 7: 0.15})


# ------------------------------------------------------------------------------ B, E, T
def test_b_from_cover_is_cai_under_another_name():
    fvc = grid([[0.0, 0.2, 0.5, 0.9]])
    b = csle.b_from_cover(fvc)
    assert_same_values(b, cover.c_cai2000(fvc))
    assert b.name == "b_factor"
    assert b.attrs["units"] == "1"


def test_e_from_table_one_where_no_measure():
    measures = grid([[0, 3, 255], [5, 0, 3]], dtype=np.uint8).rio.write_nodata(255)
    e = csle.e_from_table(measures, {3: 0.2, 5: 0.35})
    np.testing.assert_array_equal(e.values, [[1.0, 0.2, 1.0], [0.35, 1.0, 0.2]])
    with pytest.raises(InputDataError, match=r"measures: code\(s\) \[5\] not found in E table"):
        csle.e_from_table(measures, {3: 0.2})


def test_t_from_table_only_on_cropland():
    t = csle.t_from_table(landcover(), {6: 0.5, 7: 0.3})
    np.testing.assert_array_equal(t.values, [[1.0, 1.0, 0.5], [0.3, np.nan, 1.0]])
    with pytest.raises(InputDataError, match=r"landcover: code\(s\) \[7\] not found in T table"):
        csle.t_from_table(landcover(), {6: 0.5})
    # another cropland definition
    t = csle.t_from_table(landcover(), {6: 0.5}, cropland_codes=[6])
    np.testing.assert_array_equal(t.values, [[1.0, 1.0, 0.5], [1.0, np.nan, 1.0]])


# --------------------------------------------------------------------------- A (CSLE)
def test_csle_uses_b_off_cropland_and_t_on_cropland():
    lc = landcover()
    r, k = 6000.0, 0.005
    l_factor, s_factor = grid(np.full((2, 3), 2.0)), grid(np.full((2, 3), 1.5))
    b = grid([[0.1, 0.2, 0.9], [0.9, 0.1, 0.05]])  # B on cropland pixels must be ignored
    e = grid([[1.0, 1.0, 0.5], [1.0, 1.0, 1.0]])
    t = grid([[0.7, 0.7, 0.4], [0.3, 0.3, 0.7]])  # T off cropland must be ignored
    a = csle.soil_loss_csle(r=r, k=k, l=l_factor, s=s_factor, b=b, e=e, t=t, landcover=lc)
    base = 6000.0 * 0.005 * 2.0 * 1.5
    expected = [
        [base * 0.1, base * 0.2, base * 0.5 * 0.4],
        [base * 0.3, np.nan, base * 0.05],
    ]
    np.testing.assert_allclose(a.values, expected, rtol=1e-12)
    assert a.name == "soil_loss_t_ha_yr"
    assert a.attrs["units"] == "t ha-1 a-1"
    # l·s given as ls gives the same
    a2 = csle.soil_loss_csle(r=r, k=k, ls=l_factor * s_factor, b=b, e=e, t=t, landcover=lc)
    assert_same_values(a, a2)


def test_csle_nodata_propagates_and_grids_must_match():
    lc = landcover()
    b = grid([[0.1, np.nan, 0.9], [0.9, 0.1, 0.05]])
    a = csle.soil_loss_csle(r=5000.0, k=0.004, ls=1.0, b=b, e=1.0, t=1.0, landcover=lc)
    assert np.isnan(a.values[0, 1])  # B missing on grass → NaN, not 0
    assert np.isnan(a.values[1, 1])  # land-cover nodata
    shifted = grid([[0.1, 0.2, 0.9], [0.9, 0.1, 0.05]], x0=30.0)
    with pytest.raises(GridError, match="'b' and 'landcover' have different x coordinates"):
        csle.soil_loss_csle(r=5000.0, k=0.004, ls=1.0, b=shifted, e=1.0, t=1.0, landcover=lc)
    with pytest.raises(GridError, match="'ls' has shape"):
        csle.soil_loss_csle(
            r=5000.0, k=0.004, ls=grid(np.ones((3, 3))), b=b, e=1.0, t=1.0, landcover=lc
        )


def test_csle_argument_errors():
    lc = landcover()
    with pytest.raises(InputDataError, match="give both l and s, or their product ls"):
        csle.soil_loss_csle(r=1.0, k=1.0, l=1.0, b=1.0, e=1.0, t=1.0, landcover=lc)
    with pytest.raises(InputDataError, match="b: value 1.2 is out of range"):
        csle.soil_loss_csle(r=1.0, k=1.0, ls=1.0, b=1.2, e=1.0, t=1.0, landcover=lc)


def test_csle_is_lazy_on_dask():
    lc = landcover().chunk(1)
    b = grid([[0.1, 0.2, 0.9], [0.9, 0.1, 0.05]]).chunk(1)
    with raise_if_dask_computes():
        t = csle.t_from_table(lc, {6: 0.5, 7: 0.3})
        a = csle.soil_loss_csle(r=5000.0, k=0.004, ls=1.0, b=b, e=1.0, t=t, landcover=lc)
    expected = csle.soil_loss_csle(
        r=5000.0,
        k=0.004,
        ls=1.0,
        b=b.compute(),
        e=1.0,
        t=csle.t_from_table(landcover(), {6: 0.5, 7: 0.3}),
        landcover=landcover(),
    )
    assert_same_values(a, expected)
