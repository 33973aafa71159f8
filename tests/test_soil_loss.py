"""RUSLE soil loss A = R·K·LS·C·P: product, nodata, grids, units."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from pyproj import CRS

from pipeline.errors import GridError, InputDataError
from pipeline.factors import soil_loss
from pipeline.grid import AnalysisGrid
from tests.utils import as_backend, assert_same_values, raise_if_dask_computes

UTM50 = CRS.from_epsg(32650)
GRID = AnalysisGrid(UTM50, Affine(30.0, 0.0, 400020.0, 0.0, -30.0, 2800050.0), 2, 3)


def on_grid(values, name="f", grid=GRID):
    return grid.dataarray(np.asarray(values, dtype=float), name=name, units="1")


def test_product_matches_hand_value_and_units():
    r = on_grid([[6000, 8000, 9000], [7000, 7000, 7000]], "r")
    k = on_grid([[0.004, 0.005, 0.006], [0.003, 0.003, 0.003]], "k")
    ls = on_grid([[1.0, 2.5, 10.0], [0.3, 0.3, 0.3]], "ls")
    c = on_grid([[0.01, 0.1, 1.0], [0.2, 0.2, 0.2]], "c")
    p = on_grid([[1.0, 0.4, 1.0], [1.0, 1.0, 1.0]], "p")
    a = soil_loss.soil_loss_rusle(r=r, k=k, ls=ls, c=c, p=p)
    assert a.name == "soil_loss_t_ha_yr"
    assert a.attrs["units"] == "t ha-1 a-1"
    assert a.values[0].tolist() == pytest.approx([0.24, 4.0, 540.0], rel=1e-12)
    assert a.values[1].tolist() == pytest.approx([1.26] * 3, rel=1e-12)
    assert a.rio.crs == GRID.crs  # georeference kept
    m = soil_loss.to_t_km2_yr(a)
    assert m.name == "soil_loss_t_km2_yr"
    assert m.attrs["units"] == "t km-2 a-1"
    assert m.values[0].tolist() == pytest.approx([24.0, 400.0, 54000.0], rel=1e-12)


def test_scalar_r_from_a_station_broadcasts():
    ls = on_grid([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    r = xr.DataArray(5000.0)  # 0-d, e.g. a station's annual R
    a = soil_loss.soil_loss_rusle(r=r, k=0.004, ls=ls, c=0.1, p=1.0)
    assert a.values[0].tolist() == pytest.approx([2.0, 4.0, 6.0])


def test_nodata_propagates_and_never_becomes_zero():
    c = on_grid([[np.nan, 0.0, 0.1], [0.1, 0.1, 0.1]])
    ls = on_grid([[1.0, np.nan, 1.0], [1.0, 1.0, 1.0]])
    a = soil_loss.soil_loss_rusle(r=5000.0, k=0.004, ls=ls, c=c, p=1.0)
    assert np.isnan(a.values[0, 0])
    assert np.isnan(a.values[0, 1])  # C = 0 with LS nodata is still nodata, not 0 loss
    assert a.values[0, 2] == pytest.approx(2.0)


def test_numeric_nodata_of_a_raster_is_masked():
    k = on_grid([[-9999.0, 0.004, 0.004], [0.004, 0.004, 0.004]]).rio.write_nodata(
        -9999.0, encoded=False
    )
    a = soil_loss.soil_loss_rusle(r=5000.0, k=k, ls=1.0, c=0.1, p=1.0)
    assert np.isnan(a.values[0, 0])
    assert a.values[0, 1] == pytest.approx(2.0)


def test_mismatched_grids_are_refused():
    other = AnalysisGrid(UTM50, Affine(30.0, 0.0, 400050.0, 0.0, -30.0, 2800050.0), 2, 3)
    taller = AnalysisGrid(UTM50, GRID.transform, 3, 3)
    ls = on_grid(np.ones((2, 3)), grid=other)
    c = on_grid(np.ones((2, 3)))
    with pytest.raises(GridError, match="'c' and 'ls' have different x coordinates"):
        soil_loss.soil_loss_rusle(r=1.0, k=1.0, ls=ls, c=c, p=1.0)
    with pytest.raises(GridError, match=r"'p' has shape \(3, 3\) but 'ls' has \(2, 3\)"):
        soil_loss.soil_loss_rusle(r=1.0, k=1.0, ls=c, c=c, p=on_grid(np.ones((3, 3)), grid=taller))


def test_out_of_range_factors_are_refused():
    with pytest.raises(InputDataError, match="c: value 1.5 is out of range; expected ≤ 1"):
        soil_loss.soil_loss_rusle(r=1.0, k=1.0, ls=1.0, c=on_grid([[1.5, 0.1, 0.1]] * 2), p=1.0)
    with pytest.raises(InputDataError, match="r: value -5 is out of range; expected ≥ 0"):
        soil_loss.soil_loss_rusle(r=-5.0, k=1.0, ls=1.0, c=0.1, p=1.0)


def test_numpy_and_dask_identical_and_lazy():
    rng = np.random.default_rng(5)
    arrays = {n: on_grid(rng.uniform(0, 1, (2, 3)), n) for n in ("k", "ls", "c", "p")}
    a_np = soil_loss.soil_loss_rusle(r=7000.0, **arrays)
    lazy = {n: as_backend(v, "dask", chunks=1) for n, v in arrays.items()}
    with raise_if_dask_computes():
        a_dask = soil_loss.soil_loss_rusle(r=7000.0, **lazy)
        modulus = soil_loss.to_t_km2_yr(a_dask)
    assert_same_values(a_np, a_dask)
    assert_same_values(soil_loss.to_t_km2_yr(a_np), modulus)
