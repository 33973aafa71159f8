"""C factor: pixel dichotomy FVC, Cai et al. (2000), van der Knijff et al. (2000), tables,
and the R-weighted annual mean. Expected values computed here from the equations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors import cover
from tests.utils import raise_if_dask_computes


def grid(values, dtype=float) -> xr.DataArray:
    arr = np.asarray(values, dtype=dtype)
    return xr.DataArray(
        arr,
        dims=("y", "x"),
        coords={"y": np.arange(arr.shape[0])[::-1] + 0.5, "x": np.arange(arr.shape[1]) + 0.5},
    )


# ------------------------------------------------------------------------------ Cai
def test_cai_boundaries():
    assert float(cover.c_cai2000(0.0)) == 1.0  # f = 0 → C = 1
    assert float(cover.c_cai2000(0.783)) == 0.0  # f = 78.3 % → C = 0
    assert float(cover.c_cai2000(1.0)) == 0.0
    just_below = float(cover.c_cai2000(0.7829))
    assert just_below == pytest.approx(0.6508 - 0.3436 * math.log10(78.29), rel=1e-12)
    assert 0 < just_below < 2e-4  # C(78.3 %) ≈ 0.0001: the cut-off is where the log branch ends


@pytest.mark.parametrize("f", [0.001, 0.01, 0.1, 0.3, 0.5, 0.7])
def test_cai_log_branch_uses_percent(f):
    expected = min(1.0, 0.6508 - 0.3436 * math.log10(100 * f))
    assert float(cover.c_cai2000(f)) == pytest.approx(expected, rel=1e-12)


def test_cai_is_clipped_to_one_below_about_0_1_percent():
    # 0.6508 − 0.3436·lg(0.05) = 1.098 > 1
    assert 0.6508 - 0.3436 * math.log10(0.05) > 1
    assert float(cover.c_cai2000(0.0005)) == 1.0


def test_cai_refuses_percent_input():
    with pytest.raises(InputDataError, match=r"fvc_fraction: value 45 .*fraction 0-1, not percent"):
        cover.c_cai2000(grid([[0.2, 45.0]]))


def test_cai_keeps_nan_and_units():
    c = cover.c_cai2000(grid([[np.nan, 0.5]]))
    assert np.isnan(c.values[0, 0])
    assert c.attrs["units"] == "1"
    assert c.name == "c_factor"


# ------------------------------------------------------------------ van der Knijff
@pytest.mark.parametrize("ndvi", [0.1, 0.5, 0.8, 0.95])
def test_van_der_knijff_hand_values(ndvi):
    assert float(cover.c_van_der_knijff(ndvi)) == pytest.approx(
        math.exp(-2 * ndvi / (1 - ndvi)), rel=1e-12
    )


def test_van_der_knijff_limits_and_parameters():
    c = cover.c_van_der_knijff(grid([[-0.5, 0.0, 1.0]]))
    assert c.values.tolist() == [[1.0, 1.0, 0.0]]
    assert float(cover.c_van_der_knijff(0.5, alpha=1.0, beta=2.0)) == pytest.approx(
        math.exp(-0.5 / 1.5)
    )


def test_ndvi_outside_minus_one_one_is_refused():
    with pytest.raises(InputDataError, match=r"ndvi: value 1.5 is out of range; expected ≤ 1"):
        cover.c_van_der_knijff(grid([[0.2, 1.5]]))
    with pytest.raises(InputDataError, match=r"ndvi: value -1.2 is out of range; expected ≥ -1"):
        cover.fvc_pixel_dichotomy(grid([[-1.2]]), ndvi_soil=0.1, ndvi_veg=0.8)
    with pytest.raises(InputDataError, match=r"ndvi: value 8000"):
        cover.ndvi_endmembers(grid([[8000.0, 100.0]]))


def test_ndvi_check_is_lazy_on_dask():
    nd = grid([[0.2, 1.5], [0.1, 0.3]]).chunk(1)
    with raise_if_dask_computes():
        c = cover.c_van_der_knijff(nd)
    with pytest.raises(InputDataError, match="ndvi: value 1.5"):
        c.compute()


# ------------------------------------------------------------------- FVC, end-members
def test_fvc_pixel_dichotomy_values_and_clip():
    nd = grid([[0.0, 0.1, 0.45, 0.8, 0.95, np.nan]])
    fvc = cover.fvc_pixel_dichotomy(nd, ndvi_soil=0.1, ndvi_veg=0.8)
    np.testing.assert_allclose(fvc.values, [[0.0, 0.0, 0.5, 1.0, 1.0, np.nan]], atol=1e-12)
    assert fvc.attrs["units"] == "1"


def test_fvc_with_endmember_maps():
    nd = grid([[0.3, 0.3]])
    soil = grid([[0.1, 0.2]])
    veg = grid([[0.5, 0.6]])
    fvc = cover.fvc_pixel_dichotomy(nd, ndvi_soil=soil, ndvi_veg=veg)
    np.testing.assert_allclose(fvc.values, [[0.5, 0.25]])


def test_fvc_refuses_inverted_endmembers():
    with pytest.raises(InputDataError, match=r"ndvi_veg - ndvi_soil: value -0.5.*must exceed"):
        cover.fvc_pixel_dichotomy(grid([[0.3]]), ndvi_soil=0.8, ndvi_veg=0.3)


def test_endmembers_are_global_percentiles():
    rng = np.random.default_rng(3)
    values = rng.uniform(-0.2, 0.9, (20, 30))
    values[0, 0] = np.nan
    nd = grid(values)
    soil, veg = cover.ndvi_endmembers(nd)
    finite = values[np.isfinite(values)]
    assert float(soil) == pytest.approx(np.percentile(finite, 5))
    assert float(veg) == pytest.approx(np.percentile(finite, 95))
    soil, veg = cover.ndvi_endmembers(nd.chunk(7), percentiles=(0.5, 99.5))
    assert float(veg) == pytest.approx(np.percentile(finite, 99.5))


def test_endmembers_per_period_and_per_class():
    rng = np.random.default_rng(4)
    values = rng.uniform(0, 0.9, (2, 10, 10))
    nd = xr.DataArray(values, dims=("period", "y", "x"), coords={"period": [1, 2]})
    soil, veg = cover.ndvi_endmembers(nd)
    assert soil.dims == ("period",)
    assert float(veg.sel(period=2)) == pytest.approx(np.percentile(values[1], 95))

    lc = np.ones((10, 10), dtype=np.uint8)
    lc[:, 5:] = 3
    lc[0, 0] = 255
    landcover = xr.DataArray(lc, dims=("y", "x"))
    nd2 = nd.isel(period=0, drop=True)
    soil_map, veg_map = cover.ndvi_endmembers(nd2, landcover=landcover, landcover_nodata=255)
    in3 = values[0][lc == 3]
    assert float(veg_map[0, 7]) == pytest.approx(np.percentile(in3, 95))
    assert soil_map.attrs["by_class"][3] == pytest.approx(np.percentile(in3, 5))
    assert soil_map.attrs["by_class"][1] == pytest.approx(np.percentile(values[0][lc == 1], 5))
    assert np.isnan(float(soil_map[0, 0]))  # land-cover nodata


# ---------------------------------------------------------------------------- tables
def test_c_from_table_and_missing_code():
    lc = grid([[1, 6], [255, 7]], dtype=np.uint8)
    c = cover.c_from_table(lc, {1: 0.006, 6: 0.2, 7: 0.1}, nodata=255)
    np.testing.assert_array_equal(c.values, [[0.006, 0.2], [np.nan, 0.1]])
    with pytest.raises(
        InputDataError,
        match=r"landcover: code\(s\) \[7\] not found in C table \(table has codes \[1, 6\]\)",
    ):
        cover.c_from_table(lc, {1: 0.006, 6: 0.2}, nodata=255)


def test_c_table_values_must_be_in_0_1():
    with pytest.raises(InputDataError, match="C table: code 6 has value 1.5; expected a value in"):
        cover.c_from_table(grid([[6]]), {6: 1.5})


def test_c_from_table_missing_code_raises_on_dask_compute():
    lc = grid([[1, 6], [9, 9]]).chunk(1)
    with raise_if_dask_computes():
        c = cover.c_from_table(lc, {1: 0.006, 6: 0.2})
    with pytest.raises(InputDataError, match=r"code\(s\) \[9\] not found in C table"):
        c.compute()


# --------------------------------------------------------------- R-weighted mean
def test_r_weighted_mean_hand_value():
    periods = [1, 2, 3]
    c = xr.DataArray(
        np.array([[0.2, 0.5], [0.4, 0.5], [0.6, np.nan]]).reshape(3, 1, 2),
        dims=("period", "y", "x"),
        coords={"period": periods},
        attrs={"units": "1"},
    )
    w = xr.DataArray([0.5, 0.3, 0.2], dims="period", coords={"period": periods})
    out = cover.r_weighted_mean(c, weights=w)
    assert out.dims == ("y", "x")
    assert float(out[0, 0]) == pytest.approx(0.2 * 0.5 + 0.4 * 0.3 + 0.6 * 0.2)
    assert np.isnan(float(out[0, 1]))  # nodata in a period propagates by default
    skip = cover.r_weighted_mean(c, weights=w, skipna=True)
    assert float(skip[0, 1]) == pytest.approx(0.5)  # renormalised over the periods with data


def test_r_weighted_mean_refuses_mismatched_periods():
    c = xr.DataArray([0.2, 0.4], dims="period", coords={"period": [1, 2]})
    w = xr.DataArray([0.5, 0.5], dims="period", coords={"period": [2, 3]})
    with pytest.raises(InputDataError, match="values_by_period and weights have different periods"):
        cover.r_weighted_mean(c, weights=w)
    w23 = xr.DataArray([0.2, 0.3, 0.5], dims="period")
    with pytest.raises(InputDataError, match="different periods"):
        cover.r_weighted_mean(c, weights=w23)
    with pytest.raises(InputDataError, match="weights: expected a DataArray with a 'period'"):
        cover.r_weighted_mean(c, weights=xr.DataArray([0.5, 0.5], dims="time"))


def test_small_or_flat_classes_fall_back_to_scene_endmembers():
    values = np.linspace(0.0, 0.9, 100).reshape(10, 10)
    values[0, :3] = 0.5  # class 9: three pixels, all 0.5
    lc = np.ones((10, 10), dtype=np.uint8)
    lc[0, :3] = 9
    soil_map, veg_map = cover.ndvi_endmembers(
        grid(values), landcover=xr.DataArray(lc, dims=("y", "x")), min_pixels=5
    )
    scene = np.percentile(values, [5, 95])
    assert float(soil_map[0, 0]) == pytest.approx(scene[0])
    assert float(veg_map[0, 0]) == pytest.approx(scene[1])
    fvc = cover.fvc_pixel_dichotomy(grid(values), ndvi_soil=soil_map, ndvi_veg=veg_map)
    assert np.isfinite(fvc.values).all()
