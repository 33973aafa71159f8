"""The factor library on the real Youwuzhen (游屋圳) watershed, Changting, Fujian.

Data: ../shared/data/youwuzhen_fujian_cn (SEIMS, see its SOURCE.md), read in place.

Values stated here (computed by this library and re-computed independently below
with plain pandas/numpy/math from the published equations):

R, Zhang Wenbo et al. (2002), station 81502750 (HeTianZhan), 2012–2017, α and β
from the same 6-year record (P_d12 = 29.161 mm, P_y12 = 1326.825 mm,
β = 1.476932, α = 1.308043), in MJ·mm·ha⁻¹·h⁻¹·a⁻¹:

    2012 13557.6   2013 8041.3   2014 6226.5   2015 5750.3   2016 15824.4   2017 8560.6
    mean 9660.1    (annual rainfall 1253.5–2467.6 mm)

Comparison with published values for the region: a 6-year plot study on red soil
in northern Jiangxi (水土保持通报 2010, 30(1): 74-79, EI30 method) gives a mean of
8695 with a range of 5601–15141 (same numeric unit as here); the Yangtze basin
compilation in ChinaXiv 202011.00116V1 gives 6498–10017. The Youwuzhen mean of
9660 and range of 5750–15824 lie in these ranges. A western-Fujian 10-station study
(水土保持研究 2013, 20(2): 33-37) reports 155.6–525.3 in a unit labelled
(MJ·mm)/(hm²·h) that is evidently not the SI unit (× 17.02 → 2650–8940, if US units).

K, EPIC, first soil layer (0–200 mm), sand/silt/clay rescaled to the fine earth
(the table's three fractions sum to 76–84 %, the remainder is rock > 2 mm), organic
carbon = organic matter / 1.724, in t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹:

    201 WNT 0.024101   202 HSNT 0.025029   203 SXYHR 0.032899
    204 SXYQSHR 0.027148   205 SXYCGXHR 0.027042

C: LanduseLookup_SEIMS.csv USLE_C is SWAT's *minimum* C, used only as a table-join
check. P: landcover_initial_parameters.csv USLE_P (the SEIMS modellers' choice).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors import cover, rainfall, soil, soil_loss, support
from pipeline.io import open_raster

R_BY_YEAR = {
    2012: 13557.618281,
    2013: 8041.314615,
    2014: 6226.462031,
    2015: 5750.315655,
    2016: 15824.394363,
    2017: 8560.635869,
}
R_MEAN = 9660.123469
K_BY_SOIL = {201: 0.024101, 202: 0.025029, 203: 0.032899, 204: 0.027148, 205: 0.027042}
LANDUSE_CODES = [4, 6, 8, 18, 33, 104, 106]
N_VALID_PIXELS = 7310


@pytest.fixture(scope="module")
def ywz(shared_data) -> Path:
    return shared_data / "youwuzhen_fujian_cn"


@pytest.fixture(scope="module")
def rain(ywz) -> xr.DataArray:
    df = pd.read_csv(ywz / "pcp_daily.csv", skiprows=1)  # line 1 is "#UTCTIME,"
    # dates are written both zero-padded and not ("2013-1-1 00:00:00"); keep the day
    days = pd.to_datetime(df["DATETIME"].str.split(" ").str[0], format="%Y-%m-%d")
    return xr.DataArray(
        df["81502750"].to_numpy(dtype=float),
        dims="time",
        coords={"time": days.to_numpy()},
        name="daily_rain_mm",
    )


def by_hand_r(rain: xr.DataArray):
    """Zhang Wenbo R per year, independently with pandas (threshold 12 mm inclusive)."""
    s = rain.to_series()
    erosive = s.where(s >= 12.0, 0.0)
    p_d12 = erosive.sum() / (s >= 12.0).sum()
    p_y12 = erosive.sum() / s.index.year.nunique()
    beta = 0.8363 + 18.144 / p_d12 + 24.455 / p_y12
    alpha = 21.586 * beta**-7.1891
    daily = np.where(erosive > 0, alpha * erosive**beta, 0.0)
    return p_d12, p_y12, alpha, beta, pd.Series(daily, index=s.index).groupby(s.index.year).sum()


# ----------------------------------------------------------------------------------- R
def test_record_is_complete_and_has_12_mm_days(rain):
    assert rain.sizes["time"] == 2192
    assert str(rain.time.values[0])[:10] == "2012-01-01"
    assert str(rain.time.values[-1])[:10] == "2017-12-31"
    assert int((rain == 12.0).sum()) == 7  # the threshold case occurs in the real record
    assert float(rain.min()) >= 0.0


def test_r_per_year_and_mean(rain):
    alpha, beta = rainfall.zhang_wenbo_coefficients(rain)
    r_half = rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=alpha, beta=beta)
    annual = rainfall.annual_erosivity(r_half)
    assert r_half.dims == ("year", "period")
    assert annual["year"].values.tolist() == list(R_BY_YEAR)

    p_d12, p_y12, alpha_h, beta_h, r_hand = by_hand_r(rain)
    assert float(beta) == pytest.approx(beta_h, rel=1e-9)
    assert float(alpha) == pytest.approx(alpha_h, rel=1e-9)
    assert p_d12 == pytest.approx(29.160989, rel=1e-6)
    assert p_y12 == pytest.approx(1326.825, rel=1e-9)
    np.testing.assert_allclose(annual.values, r_hand.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(annual.values, list(R_BY_YEAR.values()), rtol=1e-6)
    mean = rainfall.mean_annual_erosivity(r_half)
    assert float(mean) == pytest.approx(R_MEAN, rel=1e-6)
    assert float(mean) == pytest.approx(r_hand.mean(), rel=1e-9)

    # plausibility for southern China (Yangtze basin 6 498–10 017; N. Jiangxi 5 601–15 141)
    assert 5000 < float(annual.min()) and float(annual.max()) < 20000
    assert 6000 < float(mean) < 12000
    # wetter years are more erosive (2016: 2468 mm, 2015: 1417 mm)
    assert float(annual.sel(year=2016)) > float(annual.sel(year=2015))


def test_half_month_shares_peak_in_the_rainy_season(rain):
    alpha, beta = rainfall.zhang_wenbo_coefficients(rain)
    r_half = rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=alpha, beta=beta)
    share = rainfall.halfmonth_share(r_half)
    np.testing.assert_allclose(share.sum("period").values, 1.0, rtol=1e-12)
    # March–August (periods 5..16) carries most of the erosivity in western Fujian
    mean_share = share.mean("year")
    assert float(mean_share.sel(period=slice(5, 16)).sum()) > 0.7


def test_renard_freimund_on_the_annual_totals_is_the_same_order(rain):
    annual_p = rain.groupby("time.year").sum()
    r_rf = rainfall.erosivity_renard_freimund(annual_p)
    assert np.all((r_rf.values > 5000) & (r_rf.values < 30000))


# ----------------------------------------------------------------------------------- K
def first_layer(value) -> float:
    return float(str(value).split("-")[0])


def test_k_per_soil_code(ywz):
    table = pd.read_csv(ywz / "soil_properties_lookup.csv", comment="#")
    assert table["SEQN"].tolist() == list(K_BY_SOIL)
    k_table = {}
    for _, row in table.iterrows():
        sand, silt, clay = (first_layer(row[c]) for c in ("SOL_SAND", "SOL_SILT", "SOL_CLAY"))
        om = first_layer(row["SOL_OM"])
        # the raw fractions are % of the whole soil (rock is the rest): refused as texture
        with pytest.raises(InputDataError, match="must sum to about 100 %"):
            soil.k_epic(sand_pct=sand, silt_pct=silt, clay_pct=clay, organic_carbon_pct=1.0)
        fe = soil.fine_earth_texture(sand_pct=sand, silt_pct=silt, clay_pct=clay)
        oc = soil.organic_carbon_from_organic_matter(om)
        k = soil.k_epic(sand_pct=fe[0], silt_pct=fe[1], clay_pct=fe[2], organic_carbon_pct=oc)

        # by hand
        tot = sand + silt + clay
        san, sil, cla, c = 100 * sand / tot, 100 * silt / tot, 100 * clay / tot, om / 1.724
        sn1 = 1 - san / 100
        k_hand = 0.1317 * (
            (0.2 + 0.3 * math.exp(-0.0256 * san * (1 - sil / 100)))
            * (sil / (cla + sil)) ** 0.3
            * (1 - 0.25 * c / (c + math.exp(3.72 - 2.95 * c)))
            * (1 - 0.7 * sn1 / (sn1 + math.exp(-5.51 + 22.9 * sn1)))
        )
        code = int(row["SEQN"])
        assert float(k) == pytest.approx(k_hand, rel=1e-9)
        assert float(k) == pytest.approx(K_BY_SOIL[code], rel=2e-5)  # stated to 6 decimals
        assert 0.015 < float(k) < 0.045  # plausible SI K for red soils
        k_table[code] = float(k)

    soil_map = open_raster(ywz / "ywzsoil30m.tif")
    k_map = soil.k_from_table(soil_map, k_table)
    assert int(k_map.notnull().sum()) == N_VALID_PIXELS
    assert k_map.attrs["units"] == "t ha h ha-1 MJ-1 mm-1"
    assert float(k_map.min()) == pytest.approx(min(K_BY_SOIL.values()), rel=2e-5)
    # the unmasked uint8 raster with nodata 255 gives the same map
    raw = open_raster(ywz / "ywzsoil30m.tif", masked=False)
    np.testing.assert_array_equal(soil.k_from_table(raw, k_table).values, k_map.values)


# ------------------------------------------------------------------------------- C, P
def test_c_table_join_on_the_land_use_map(ywz):
    lookup = pd.read_csv(ywz / "LanduseLookup_SEIMS.csv")
    c_table = dict(
        zip(lookup["LANDUSE_ID"].astype(int), lookup["USLE_C"].astype(float), strict=True)
    )
    landuse = open_raster(ywz / "ywzlanduse30m_upd.tif")
    codes = np.unique(landuse.values[np.isfinite(landuse.values)]).astype(int).tolist()
    assert codes == LANDUSE_CODES
    c = cover.c_from_table(landuse, c_table, table_name="LanduseLookup_SEIMS.csv USLE_C")
    assert int(c.notnull().sum()) == N_VALID_PIXELS
    assert {int(k): c_table[k] for k in LANDUSE_CODES} == {
        4: 0.001,
        6: 0.001,
        8: 0.001,
        18: 0.0,
        33: 0.03,
        104: 0.0026,
        106: 0.001,
    }
    # paddy (33) pixels carry the rice value
    assert np.unique(c.values[landuse.values == 33]).tolist() == [0.03]
    # a table without the water code is refused, naming the code and the table
    without_water = {k: v for k, v in c_table.items() if k != 18}
    with pytest.raises(InputDataError, match=r"landcover: code\(s\) \[18\] not found in SEIMS C"):
        cover.c_from_table(landuse, without_water, table_name="SEIMS C")


def test_p_from_the_land_cover_parameters(ywz):
    params = pd.read_csv(ywz / "landcover_initial_parameters.csv", comment="#")
    p_table = dict(
        zip(params["LANDUSE_ID"].astype(int), params["USLE_P"].astype(float), strict=True)
    )
    assert p_table == {33: 0.084, 4: 0.8, 8: 0.8, 6: 0.8, 18: 1.0, 104: 1.0, 106: 1.0}
    landuse = open_raster(ywz / "ywzlanduse30m_upd.tif")
    p = support.p_from_table(landuse, p_table, table_name="landcover_initial_parameters USLE_P")
    assert int(p.notnull().sum()) == N_VALID_PIXELS
    lu = landuse.values
    counts = {code: int((lu == code).sum()) for code in LANDUSE_CODES}
    mean_by_hand = sum(p_table[c] * n for c, n in counts.items()) / N_VALID_PIXELS
    assert float(p.mean()) == pytest.approx(mean_by_hand, rel=1e-12)
    assert float(p.mean()) == pytest.approx(
        (0.084 * 1329 + 0.8 * (764 + 1569 + 3157) + 1.0 * (63 + 300 + 128)) / 7310, rel=1e-12
    )


def test_soil_loss_with_real_r_k_and_p_is_nan_outside_the_watershed(ywz, rain):
    """A smoke check of the chain (LS = 1, C = 0.1 for want of the terrain and NDVI)."""
    alpha, beta = rainfall.zhang_wenbo_coefficients(rain)
    r_mean = rainfall.mean_annual_erosivity(
        rainfall.erosivity_halfmonth_zhang_wenbo(rain, alpha=alpha, beta=beta)
    )
    soil_map = open_raster(ywz / "ywzsoil30m.tif")
    landuse = open_raster(ywz / "ywzlanduse30m_upd.tif")
    k = soil.k_from_table(soil_map, K_BY_SOIL)
    params = pd.read_csv(ywz / "landcover_initial_parameters.csv", comment="#")
    p = support.p_from_table(
        landuse, dict(zip(params["LANDUSE_ID"], params["USLE_P"], strict=True))
    )
    a = soil_loss.soil_loss_rusle(r=r_mean, k=k, ls=1.0, c=0.1, p=p)
    assert int(a.notnull().sum()) == N_VALID_PIXELS
    assert np.isnan(a.values[landuse.isnull().values]).all()
    expected_max = R_MEAN * max(K_BY_SOIL.values()) * 0.1 * 1.0
    assert float(a.max()) <= expected_max * (1 + 1e-5)
