"""Direct tests of the factor stages (pipeline/stages/factors.py) on tiny synthetic files.

Each stage is called as its Snakemake script calls it (pipeline/scripts/factor_*.py,
terrain.py) with the config section it gets, and its output raster is checked
against values worked out by hand here (closed forms, written in the test).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import ConfigError, InputDataError
from pipeline.stages import factors as st
from pipeline.stages.csle import make_e_t_layers
from tests import stage_fixtures as fx

SOIL_BANDS = ["sand_pct", "silt_pct", "clay_pct", "organic_carbon_pct"]


# ----------------------------------------------------------------------------- K
def test_make_k_epic_si_by_hand(tmp_path):
    """EPIC (Sharpley & Williams 1990), SI = 0.1317 × US.

    Pixel (0, 0): SAN 40, SIL 40, CLA 20, C 1.0 %, SN1 = 0.6:
      f_csand = 0.2 + 0.3·exp(−0.0256·40·(1 − 0.40)) = 0.2 + 0.3·exp(−0.6144) = 0.362290
      f_cl_si = (40 / 60)^0.3 = 0.885467
      f_orgc  = 1 − 0.25·1 / (1 + exp(3.72 − 2.95)) = 1 − 0.25 / 3.159766 = 0.920880
      f_hisand = 1 − 0.7·0.6 / (0.6 + exp(−5.51 + 22.9·0.6)) = 1 − 0.42 / 3752.2 = 0.999888
      K_US = 0.295381, K_SI = 0.1317 · K_US = 0.038902
    Pixel (0, 1): SAN 70, SIL 20, CLA 10, C 0.5 %, SN1 = 0.3:
      f_csand = 0.2 + 0.3·exp(−0.0256·70·0.8) = 0.2 + 0.3·exp(−1.4336) = 0.271535
      f_cl_si = (20 / 30)^0.3 = 0.885467
      f_orgc  = 1 − 0.25·0.5 / (0.5 + exp(3.72 − 1.475)) = 1 − 0.125 / 9.9404 = 0.987425
      f_hisand = 1 − 0.7·0.3 / (0.3 + exp(−5.51 + 6.87)) = 1 − 0.21 / 4.1962 = 0.949955
      K_US = 0.225530, K_SI = 0.029702
    """
    soil = np.full((4, 2, 3), np.nan, dtype="float32")
    soil[:, 0, 0] = [40, 40, 20, 1.0]
    soil[:, 0, 1] = [70, 20, 10, 0.5]
    soil[:, 0, 2] = [10, 60, 30, 2.0]
    soil[:, 1, :] = soil[:, 0, :]
    soil[:, 1, 2] = np.nan  # nodata stays nodata
    path = fx.write_raster(tmp_path / "soil.tif", soil, band_names=SOIL_BANDS)
    out = tmp_path / "K.tif"
    st.make_k(soil_path=path, out_k=out, soil={"method": "epic"})
    k, meta = fx.read(out)
    assert k[0, 0] == pytest.approx(0.038902, abs=2e-6)
    assert k[0, 1] == pytest.approx(0.029702, abs=2e-6)
    np.testing.assert_allclose(k[1, :2], k[0, :2])
    assert np.isnan(k[1, 2]) and np.isfinite(k[0, 2])
    assert meta["tags"]["units"] == "t ha h ha-1 MJ-1 mm-1"
    assert meta["tags"]["shuibao_stage"] == "factor_k"
    assert meta["crs"] == fx.read(path)[1]["crs"]


def test_make_k_third_pixel_against_the_published_equation(tmp_path):
    """The same equation written out once more, for a clay-rich, carbon-rich pixel."""
    san, sil, cla, c = 10.0, 60.0, 30.0, 2.0
    sn1 = 1 - san / 100
    k_us = (
        (0.2 + 0.3 * math.exp(-0.0256 * san * (1 - sil / 100)))
        * (sil / (cla + sil)) ** 0.3
        * (1 - 0.25 * c / (c + math.exp(3.72 - 2.95 * c)))
        * (1 - 0.7 * sn1 / (sn1 + math.exp(-5.51 + 22.9 * sn1)))
    )
    soil = np.array([san, sil, cla, c], dtype="float32").reshape(4, 1, 1)
    path = fx.write_raster(tmp_path / "soil.tif", soil, band_names=SOIL_BANDS)
    st.make_k(soil_path=path, out_k=tmp_path / "K.tif", soil={})
    assert fx.read(tmp_path / "K.tif")[0][0, 0] == pytest.approx(0.1317 * k_us, rel=1e-5)


def test_make_k_names_a_missing_band(tmp_path):
    soil = np.ones((3, 1, 1), dtype="float32")
    path = fx.write_raster(tmp_path / "soil.tif", soil, band_names=SOIL_BANDS[:3])
    with pytest.raises(InputDataError, match="organic_carbon_pct"):
        st.make_k(soil_path=path, out_k=tmp_path / "K.tif", soil={})


# ------------------------------------------------------------------------ terrain
def _plane(rows, cols, *, tan_slope, res=fx.RES):
    """A plane falling due south: z = 100 + tan θ · (distance north of the bottom edge)."""
    y = (rows - 1 - np.arange(rows))[:, None] * res
    return (100.0 + tan_slope * y + 0.0 * np.arange(cols)[None, :]).astype("float32")


def _segment_l(lambda_out, d, m):
    """RUSLE segment L = (λ_out^(m+1) − (λ_out − D)^(m+1)) / (D · 22.13^m)."""
    return (lambda_out ** (m + 1) - (lambda_out - d) ** (m + 1)) / (d * 22.13**m)


@pytest.mark.parametrize("cap", [300.0, 100.0])
def test_make_terrain_plane_matches_desmet_govers(tmp_path, cap):
    """South-facing plane, tan θ = 0.1 (θ = 5.711°), 10 m cells, D8.

    D8 flows due south, so the cell in row i (0 = top) has A_in = i·D² and x = 1:
    Desmet & Govers' L is the segment value with λ_out = (i + 1)·D, capped at
    λ_max. m = 0.5 (θ ≥ 3°, china); S = 16.8·sin θ − 0.5 (5° ≤ θ < 10°, china)
    = 16.8 · 0.0995037 − 0.5 = 1.171662.
    """
    rows, cols = 20, 4
    dem = fx.write_raster(tmp_path / "dem.tif", _plane(rows, cols, tan_slope=0.1))
    outs = {k: tmp_path / f"{k}.tif" for k in ("slope", "l", "s", "ls")}
    terrain = {
        "routing": "d8",
        "m_method": "china",
        "s_method": "china",
        "max_slope_length_m": cap,
        "channel_threshold_m2": None,
    }
    st.make_terrain(
        dem_path=dem,
        out_slope=outs["slope"],
        out_l=outs["l"],
        out_s=outs["s"],
        out_ls=outs["ls"],
        terrain=terrain,
    )
    slope, s, l_, ls = (fx.read(outs[k])[0] for k in ("slope", "s", "l", "ls"))
    np.testing.assert_allclose(slope, math.degrees(math.atan(0.1)), rtol=1e-4)
    sin = 0.1 / math.sqrt(1.01)
    np.testing.assert_allclose(s, 16.8 * sin - 0.5, rtol=1e-4)
    lam_out = np.minimum((np.arange(rows) + 1) * fx.RES, cap)
    expected_l = _segment_l(lam_out, fx.RES, 0.5)
    np.testing.assert_allclose(l_, np.broadcast_to(expected_l[:, None], (rows, cols)), rtol=1e-4)
    np.testing.assert_allclose(ls, l_ * s, rtol=1e-5)
    # top cell: one 10 m segment, L = 10^1.5 / (10 · 22.13^0.5) = 0.672214
    assert l_[0, 0] == pytest.approx(0.672214, rel=1e-4)
    if cap == 100.0:  # rows ≥ 9 all end at λ_max: (100^1.5 − 90^1.5)/(10·√22.13) = 2.080...
        assert np.allclose(l_[9:], l_[9, 0])
        assert l_[9, 0] == pytest.approx((1000 - 90**1.5) / (10 * 22.13**0.5), rel=1e-4)
    assert fx.read(outs["ls"])[1]["tags"]["shuibao_stage"] == "terrain"


# ----------------------------------------------------------------------------- P
LC_NODATA = 255


def _landcover(tmp_path, codes, name="landcover_2020.tif"):
    return fx.write_raster(
        tmp_path / name, np.asarray(codes, dtype="uint8"), nodata=LC_NODATA, dtype="uint8"
    )


def test_make_p_is_the_table_value(tmp_path):
    # forest 1, terraced 5, paddy 7, water 9, nodata
    lc = _landcover(tmp_path, [[1, 5, 7], [9, LC_NODATA, 1]])
    support = {"table": {"forest": 1.0, "terraced_cropland": 0.15, "paddy": 0.1, "water": 0.0}}
    st.make_p(landcover_path=lc, out_p=tmp_path / "P.tif", support=support)
    p, meta = fx.read(tmp_path / "P.tif")
    np.testing.assert_allclose(p, [[1.0, 0.15, 0.1], [0.0, np.nan, 1.0]], rtol=1e-6)
    assert meta["tags"]["shuibao_stage"] == "factor_p"


def test_make_p_refuses_a_class_missing_from_the_table(tmp_path):
    lc = _landcover(tmp_path, [[1, 6]])
    with pytest.raises(InputDataError, match="6"):
        st.make_p(landcover_path=lc, out_p=tmp_path / "P.tif", support={"table": {"forest": 1}})


def test_make_p_refuses_an_unknown_land_cover_key(tmp_path):
    lc = _landcover(tmp_path, [[1]])
    with pytest.raises(ConfigError, match="support.table.*'forrest'"):
        st.make_p(landcover_path=lc, out_p=tmp_path / "P.tif", support={"table": {"forrest": 1}})


# --------------------------------------------------------------------------- E, T
# The workflow's CSLE E/T stage is pipeline.stages.csle.make_e_t_layers (the only one).
def test_make_e_t_tables_on_cropland_and_elsewhere(tmp_path):
    """E from the engineering table, T from the tillage table on cropland, 1 elsewhere.

    Land cover: forest 1, terraced cropland 5, sloping cropland 6, paddy 7, nodata.
    The config schema says: unlisted classes get E = 1; unlisted cropland T = 1.
    """
    lc = _landcover(tmp_path, [[1, 5, 6], [7, LC_NODATA, 1]])
    csle = {
        "engineering_table": {"terraced_cropland": 0.2},
        "tillage_table": {"sloping_cropland": 0.5, "terraced_cropland": 0.8},
    }
    make_e_t_layers(
        landcover_path=lc, out_e=tmp_path / "E.tif", out_t=tmp_path / "T.tif", csle=csle
    )
    e = fx.read(tmp_path / "E.tif")[0]
    t = fx.read(tmp_path / "T.tif")[0]
    np.testing.assert_allclose(e, [[1.0, 0.2, 1.0], [1.0, np.nan, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(t, [[1.0, 0.8, 0.5], [1.0, np.nan, 1.0]], rtol=1e-6)


def test_make_e_t_with_the_schema_defaults_gives_ones(tmp_path):
    """engineering_table and tillage_table default to {} (configs/schema.yaml): E = T = 1."""
    lc = _landcover(tmp_path, [[1, 5, 6, 9]])
    csle = {"engineering_table": {}, "tillage_table": {}}
    make_e_t_layers(
        landcover_path=lc, out_e=tmp_path / "E.tif", out_t=tmp_path / "T.tif", csle=csle
    )
    np.testing.assert_array_equal(fx.read(tmp_path / "E.tif")[0], [[1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(fx.read(tmp_path / "T.tif")[0], [[1.0, 1.0, 1.0, 1.0]])


# ----------------------------------------------------------------------------- C
def test_endmember_sample_is_a_regular_stride_or_the_whole_scene():
    import xarray as xr

    data = np.arange(24 * 10 * 10, dtype="float64").reshape(24, 10, 10) / 2400.0
    ndvi = xr.DataArray(data, dims=("period", "y", "x")).chunk({"y": 5, "x": 5})
    whole = st.endmember_sample(ndvi, max_pixels=100)
    assert not hasattr(whole.data, "dask")  # in memory
    np.testing.assert_array_equal(whole.values, data)
    # 100 pixels, at most 25: stride ceil(sqrt(100 / 25)) = 2 → rows/cols 0, 2, 4, 6, 8
    sample = st.endmember_sample(ndvi, max_pixels=25)
    np.testing.assert_array_equal(sample.values, data[:, ::2, ::2])
    # at most 10: stride ceil(sqrt(10)) = 4 → rows/cols 0, 4, 8
    assert st.endmember_sample(ndvi, max_pixels=10).shape == (24, 3, 3)


def _cai(fvc):
    """Cai et al. (2000): C = 1 at 0 %, 0.6508 − 0.3436·lg f below 78.3 %, 0 above."""
    f = 100.0 * fvc
    if f <= 0:
        return 1.0
    if f >= 78.3:
        return 0.0
    return min(1.0, 0.6508 - 0.3436 * math.log10(f))


def _ndvi_scene():
    """10×10 NDVI: row 0 = 0.1 (bare), row 9 = 0.8 (full cover), rows 1–8 in between.

    With ≥ 10 % of the pixels at each extreme, the 5th and 95th percentiles are
    exactly 0.1 and 0.8 whatever the interpolation, so FVC = (NDVI − 0.1) / 0.7.
    """
    rows = np.array([0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.8])
    return np.broadcast_to(rows[:, None], (10, 10)).astype("float32")


def test_cover_factor_cai2000_r_weighted_by_hand(tmp_path):
    """C = Σ_p w_p · C_cai(FVC_p), shares w: 0.02 for periods 1–12, 0.0633… for 13–24.

    Periods 1–12 have the scene above; periods 13–24 the same scene with the two
    middle rows swapped to 0.8 / 0.1 (end-members unchanged). Water (code 9) takes
    cover.table's 0; land-cover nodata gives NaN.
    """
    scene_a = _ndvi_scene()
    scene_b = scene_a.copy()
    scene_b[4], scene_b[5] = 0.8, 0.1
    ndvi = np.stack([scene_a] * 12 + [scene_b] * 12)
    ndvi_path = fx.write_raster(
        tmp_path / "ndvi_2020.tif", ndvi, band_names=[f"P{p:02d}" for p in range(1, 25)]
    )
    lc = np.ones((10, 10), dtype="uint8")  # forest
    lc[0, 0] = 9  # water
    lc[9, 9] = LC_NODATA
    lc_path = _landcover(tmp_path, lc)
    w_a, w_b = 0.02, (1 - 12 * 0.02) / 12
    shares = fx.write_shares(tmp_path / "shares.csv", [w_a] * 12 + [w_b] * 12)
    cover = {
        "method": "cai2000",
        "endmember_percentiles": [5.0, 95.0],
        "table": {"built_up": 0.0, "water": 0.0},
    }
    st.make_c(
        ndvi_path=ndvi_path,
        landcover_path=lc_path,
        shares_path=shares,
        out_c=tmp_path / "C.tif",
        cover=cover,
    )
    c, meta = fx.read(tmp_path / "C.tif")
    fvc = lambda v: min(max((float(v) - 0.1) / 0.7, 0.0), 1.0)  # noqa: E731
    for r in (1, 3, 4, 5, 7):
        expected = 12 * w_a * _cai(fvc(scene_a[r, 0])) + 12 * w_b * _cai(fvc(scene_b[r, 0]))
        assert c[r, 3] == pytest.approx(expected, rel=1e-5), r
    # row 3: NDVI 0.3 → FVC 2/7 = 28.571 % → C = 0.6508 − 0.3436 · 1.455932 = 0.150542
    assert c[3, 3] == pytest.approx(0.150542, rel=1e-4)
    # row 4: 0.4, then 0.8 → 0.24 · (0.6508 − 0.3436·lg 42.857) + 0.76 · 0
    #      = 0.24 · (0.6508 − 0.3436 · 1.632023) = 0.24 · 0.090037
    assert c[4, 3] == pytest.approx(0.24 * 0.090037, rel=1e-4)
    assert c[0, 0] == 0.0  # water from cover.table
    assert c[0, 1] == pytest.approx(1.0)  # bare end-member: FVC 0 → C 1
    assert np.isnan(c[9, 9])
    assert meta["tags"]["shuibao_stage"] == "factor_c"


def test_cover_factor_table_method_needs_no_ndvi(tmp_path):
    lc_path = _landcover(tmp_path, [[1, 6, 9]])
    shares = fx.write_shares(tmp_path / "shares.csv", [1 / 24] * 24)
    cover = {"method": "table", "table": {"forest": 0.006, "sloping_cropland": 0.31, "water": 0}}
    st.make_c(
        ndvi_path=None,
        landcover_path=lc_path,
        shares_path=shares,
        out_c=tmp_path / "B.tif",
        cover=cover,
        what="B",
    )
    b, meta = fx.read(tmp_path / "B.tif")
    np.testing.assert_allclose(b, [[0.006, 0.31, 0.0]], rtol=1e-6)
    assert meta["tags"]["shuibao_stage"] == "factor_b"


def test_make_c_wants_24_ndvi_bands(tmp_path):
    ndvi_path = fx.write_raster(tmp_path / "ndvi.tif", np.zeros((12, 2, 2), "float32"))
    with pytest.raises(InputDataError, match="24 half-month NDVI bands"):
        st.make_c(
            ndvi_path=ndvi_path,
            landcover_path=_landcover(tmp_path, [[1, 1], [1, 1]]),
            shares_path=fx.write_shares(tmp_path / "s.csv", [1 / 24] * 24),
            out_c=tmp_path / "C.tif",
            cover={"method": "cai2000"},
        )


# ----------------------------------------------------------------------------- R
def _rain_record(years, days):
    """Daily rain (mm) for whole ``years``: ``days`` maps (month, day) → mm, else 0."""
    idx = pd.date_range(f"{years[0]}-01-01", f"{years[-1]}-12-31", freq="D")
    values = [days.get((t.month, t.day), 0.0) for t in idx]
    return pd.Series(values, index=idx)


def test_make_r_zhang_wenbo_by_hand(tmp_path):
    """Zhang Wenbo et al. (2002) on a record with 20 mm on 1 Jan and 40 mm on 1 Jul (+ 5 mm
    on 2 Jul, not erosive) in each of 2019 and 2020:

      P_d12 = (20 + 40) / 2 = 30 mm, P_y12 = 60 mm
      β = 0.8363 + 18.144/30 + 24.455/60 = 1.848383;  α = 21.586 · β^−7.1891
      R(2020) = α·(20^β + 40^β); period 1 share 20^β / (20^β + 40^β), period 13 the rest.
    The field is uniform, so the bilinear regridding leaves R constant on the grid.
    """
    rain = _rain_record([2019, 2020], {(1, 1): 20.0, (7, 1): 40.0, (7, 2): 5.0})
    lon = np.arange(116.2, 116.61, 0.05)
    lat = np.arange(25.9, 25.49, -0.05)
    rain_path = fx.write_daily_rain(tmp_path / "rain_daily.nc", rain, lon=lon, lat=lat)
    dem = fx.write_raster(tmp_path / "dem.tif", np.full((6, 8), 100.0, "float32"))
    out = {k: tmp_path / n for k, n in (("r", "R.tif"), ("s", "s.csv"), ("h", "h.nc"))}
    st.make_r(
        rain_path=rain_path,
        dem_path=dem,
        year=2020,
        out_r=out["r"],
        out_shares=out["s"],
        out_halfmonth=out["h"],
        rainfall={"method": "zhang_wenbo", "threshold_mm": 12.0},
    )
    beta = 0.8363 + 18.144 / 30 + 24.455 / 60
    alpha = 21.586 * beta**-7.1891
    r_expected = alpha * (20**beta + 40**beta)
    r, meta = fx.read(out["r"])
    assert r.shape == (6, 8)
    np.testing.assert_allclose(r, r_expected, rtol=1e-5)
    assert meta["tags"]["units"] == "MJ mm ha-1 h-1 a-1"
    shares = pd.read_csv(out["s"], encoding="utf-8-sig")
    assert shares["period"].tolist() == list(range(1, 25))
    share1 = 20**beta / (20**beta + 40**beta)
    assert shares["r_share"].iloc[0] == pytest.approx(share1, rel=1e-6)
    assert shares["r_share"].iloc[12] == pytest.approx(1 - share1, rel=1e-6)
    assert shares["r_share"].drop(index=[0, 12]).abs().max() == 0.0


def test_make_r_refuses_a_year_outside_the_record(tmp_path):
    rain = _rain_record([2019], {(1, 1): 20.0})
    rain_path = fx.write_daily_rain(
        tmp_path / "rain_daily.nc", rain, lon=[116.35, 116.4, 116.45], lat=[25.75, 25.7, 25.65]
    )
    dem = fx.write_raster(tmp_path / "dem.tif", np.full((2, 2), 1.0, "float32"))
    with pytest.raises(InputDataError, match="no daily rainfall for 2021"):
        st.make_r(
            rain_path=rain_path,
            dem_path=dem,
            year=2021,
            out_r=tmp_path / "R.tif",
            out_shares=tmp_path / "s.csv",
            out_halfmonth=tmp_path / "h.nc",
            rainfall={},
        )
