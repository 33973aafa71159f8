"""Ready R/K (maps, constants, soil table) and R from several gauges: unit tests.

Closed forms: a constant R and K give loss = R·K·LS·C·P exactly; a thin-plate RBF through
two gauges is exact at the gauges and gives their mean half-way; three gauges on a linear
field reproduce it everywhere; one gauge is uniform. Unit errors (US units) are caught
with messages that name the file, the key and what to do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from rasterio.transform import from_origin

from pipeline.errors import ConfigError, InputDataError
from pipeline.factors.ready import (
    K_PLAUSIBLE_SI,
    R_PLAUSIBLE_SI,
    R_SI_PER_US,
    check_plausible,
    constant_field,
)
from pipeline.factors.station_r import interpolate_stations, station_erosivity

CRS = "EPSG:32650"


def _grid(ny=6, nx=8, res=100.0, x0=500000.0, y0=2800000.0, nan_corner=True):
    data = np.ones((ny, nx))
    if nan_corner:
        data[0, 0] = np.nan
    da = xr.DataArray(
        data,
        dims=("y", "x"),
        coords={"y": y0 - res * (np.arange(ny) + 0.5), "x": x0 + res * (np.arange(nx) + 0.5)},
    )
    return da.rio.write_crs(CRS).rio.write_transform(from_origin(x0, y0, res, res))


def _write_tif(path, data, *, transform, crs=CRS, nodata=None, dtype="float32"):
    with rasterio.open(
        path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
        dtype=dtype, crs=crs, transform=transform, nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(data.astype(dtype), 1)
    return path


# ------------------------------------------------------------------ plausibility
def test_si_r_and_k_pass_and_us_units_are_caught():
    r_si = xr.DataArray(np.linspace(4000, 6000, 12).reshape(3, 4), dims=("y", "x"))
    assert check_plausible(
        r_si, factor="R", plausible_range=(2600, 7000), source="r.tif", key="rainfall.r_raster"
    )["median"] == pytest.approx(5000)
    # the same map in US units: 5000 / 17.02 = 293.8, below a provincial range 2600–7000
    with pytest.raises(InputDataError) as e:
        check_plausible(
            r_si / R_SI_PER_US,
            factor="R",
            plausible_range=(2600, 7000),
            source="guangdong_r.tif",
            key="rainfall.r_raster",
            scale_key="rainfall.r_raster.scale",
        )
    msg = str(e.value)
    assert "guangdong_r.tif" in msg and "rainfall.r_raster.scale: 17.02" in msg
    assert "293.77" in msg  # the median it found
    # K: SI 0.02–0.05 passes; US units (÷ 0.1317 → 0.15–0.38) end above 0.1
    k_si = xr.DataArray(np.linspace(0.02, 0.05, 12).reshape(3, 4), dims=("y", "x"))
    check_plausible(
        k_si, factor="K", plausible_range=K_PLAUSIBLE_SI, source="k.tif", key="soil.k_raster"
    )
    with pytest.raises(InputDataError) as e:
        check_plausible(
            k_si / 0.1317, factor="K", plausible_range=K_PLAUSIBLE_SI, source="k_us.tif",
            key="soil.k_raster", scale_key="soil.k_raster.scale",
        )  # fmt: skip
    assert "k_us.tif" in str(e.value) and "soil.k_raster.scale: 0.1317" in str(e.value)
    # a constant has no scale key: the message asks to convert the value
    with pytest.raises(InputDataError, match="soil.k_constant.*multiply the value by 0.1317"):
        check_plausible(
            xr.DataArray([[0.3]], dims=("y", "x")), factor="K", plausible_range=K_PLAUSIBLE_SI,
            source="constant 0.3", key="soil.k_constant",
        )  # fmt: skip


def test_negative_and_empty_fields_are_refused():
    bad = xr.DataArray([[-9999.0, 3000.0, 3000.0]], dims=("y", "x"))
    with pytest.raises(InputDataError, match="negative R.*rainfall.r_raster.nodata"):
        check_plausible(
            bad, factor="R", plausible_range=R_PLAUSIBLE_SI, source="r.tif", key="rainfall.r_raster"
        )
    with pytest.raises(InputDataError, match="no valid K"):
        check_plausible(
            xr.DataArray([[np.nan]], dims=("y", "x")), factor="K", plausible_range=K_PLAUSIBLE_SI,
            source="k.tif", key="soil.k_raster",
        )  # fmt: skip


def test_constant_r_and_k_give_loss_r_k_ls_c_p_exactly():
    from pipeline.factors.soil_loss import soil_loss_rusle

    t = _grid()
    r = constant_field(t, value=5000.0, name="R", units="MJ mm ha-1 h-1 a-1")
    k = constant_field(t, value=0.03, name="K", units="t ha h ha-1 MJ-1 mm-1")
    ls = t * 2.5
    a = soil_loss_rusle(r=r, k=k, ls=ls, c=0.2, p=0.5)
    # 5000 · 0.03 · 2.5 · 0.2 · 0.5 = 37.5 t/(ha·a) on every AOI pixel, NaN outside
    np.testing.assert_allclose(a.values[1:, :], 37.5, rtol=1e-12)
    assert np.isnan(a.values[0, 0])


# ------------------------------------------------------------------ interpolation
def test_one_gauge_is_uniform():
    t = _grid()
    r = interpolate_stations([500050.0], [2799950.0], [4321.0], template=t)
    assert r.attrs["interpolator"] == "uniform"
    assert np.nanmin(r.values) == np.nanmax(r.values) == 4321.0
    assert np.isnan(r.values[0, 0])


def test_two_gauges_exact_at_gauges_and_mean_half_way():
    # linear field R = 3000 + 2·(x − 500000) sampled at two pixel centres of one row
    t = _grid(nan_corner=False)
    xs = t.x.values[[1, 7]]
    ys = t.y.values[[2, 2]]
    vals = 3000 + 2 * (xs - 500000)  # 3300, 4500
    r = interpolate_stations(xs, ys, vals, template=t)
    assert r.values[2, 1] == pytest.approx(3300, abs=1e-6)
    assert r.values[2, 7] == pytest.approx(4500, abs=1e-6)
    # half-way, x index 4: (3300 + 4500) / 2 = 3900, and the field is linear in between
    assert r.values[2, 4] == pytest.approx(3900, abs=1e-6)
    np.testing.assert_allclose(
        r.values[:, 1:8], np.broadcast_to(3000 + 2 * (t.x.values[1:8] - 500000), (6, 7)), atol=1e-6
    )
    # beyond the gauges the value is clipped to the gauges' range (3300 at x index 0)
    assert r.values[2, 0] == pytest.approx(3300)


def test_three_gauges_reproduce_a_linear_field_and_dask_matches_numpy():
    t = _grid(ny=10, nx=10, nan_corner=False)
    xs = np.array([500050.0, 500950.0, 500450.0])
    ys = np.array([2799950.0, 2799950.0, 2799050.0])

    def field(x, y):
        return 4000 + 0.5 * (x - 500000) - 0.8 * (2800000 - y)

    r = interpolate_stations(xs, ys, field(xs, ys), template=t)
    assert r.attrs["interpolator"].startswith("thin-plate RBF (degree 1)")
    yy, xx = np.meshgrid(t.y.values, t.x.values, indexing="ij")
    expect = np.clip(field(xx, yy), field(xs, ys).min(), field(xs, ys).max())
    np.testing.assert_allclose(r.values, expect, atol=1e-6)
    lazy = interpolate_stations(xs, ys, field(xs, ys), template=t.chunk({"y": 3, "x": 4}))
    assert hasattr(lazy.data, "dask")
    np.testing.assert_array_equal(lazy.values, r.values)


def test_duplicate_station_coordinates_are_refused():
    with pytest.raises(InputDataError, match="same coordinates"):
        interpolate_stations([1.0, 1.0], [2.0, 2.0], [10.0, 20.0], template=_grid())


# ------------------------------------------------------------------ per-station R
def _rain(years, scale=(1.0, 2.0)):
    t = pd.date_range(f"{years[0]}-01-01", f"{years[1]}-12-31")
    rng = np.random.default_rng(7)
    base = np.where(rng.random(len(t)) < 0.2, rng.gamma(1.5, 15.0, len(t)), 0.0)
    return xr.DataArray(
        np.stack([base * s for s in scale], axis=1),
        dims=("time", "station"),
        coords={"time": t, "station": [f"g{i}" for i in range(len(scale))]},
    )


def test_reference_logic_applies_per_station():
    from pipeline.factors.rainfall_reference import reference_erosivity

    rain = _rain((2001, 2010))
    res = station_erosivity(rain, year=2005, reference_period=(2001, 2008))
    # each station's R equals the single-record R of that station's own series
    for s in ("g0", "g1"):
        one = reference_erosivity(rain.sel(station=s), year=2005, reference_period=(2001, 2008))
        assert float(res["r_factor"].sel(station=s)) == pytest.approx(float(one["r_factor"]))
    # extending the records by later years leaves the period's R unchanged
    longer = station_erosivity(_rain((2001, 2010)).sel(time=slice(None, "2009-12-31")),
                               year=2005, reference_period=(2001, 2008))  # fmt: skip
    np.testing.assert_allclose(longer["r_factor"].values, res["r_factor"].values, rtol=1e-12)
    # mode year differs between years, reference_mean does not
    y1 = station_erosivity(rain, year=2003, mode="year", reference_period=(2001, 2008))
    y2 = station_erosivity(rain, year=2004, mode="year", reference_period=(2001, 2008))
    assert not np.allclose(y1["r_factor"].values, y2["r_factor"].values)


# ------------------------------------------------------------------ readers / K table
def test_ready_raster_regridded_and_coverage_and_crs_checked(tmp_path):
    from pipeline.sources.ready_inputs import read_onto_grid

    t = _grid()
    # a 4326 raster of constant R covering the grid: bilinear of a constant is the constant
    lon0, lat0 = 116.9, 25.4
    big = _write_tif(tmp_path / "r.tif", np.full((60, 60), 5000.0),
                     transform=from_origin(lon0, lat0 + 0.3, 0.01, 0.01), crs="EPSG:4326")  # fmt: skip
    from pyproj import Transformer

    x, y = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(500400, 2799700)
    assert lon0 < x < lon0 + 0.6 and lat0 - 0.3 < y < lat0 + 0.3, (x, y)
    r = read_onto_grid(big, template=t, key="rainfall.r_raster")
    np.testing.assert_allclose(r.values[1:], 5000.0, rtol=1e-6)
    # bilinear: a linear gradient on a 2× coarser grid is reproduced exactly at the fine
    # pixel centres between the coarse centres (bilinear of a linear function is linear)
    xc = 500000 + 200 * (np.arange(5) + 0.5)  # coarse centres, 200 m
    coarse = np.broadcast_to(3000 + 1.5 * (xc - 500000), (4, 5)).astype("float32")
    grad = _write_tif(
        tmp_path / "grad.tif", coarse, transform=from_origin(500000, 2800200, 200, 200)
    )
    r = read_onto_grid(grad, template=t, key="rainfall.r_raster")
    inner = (t.x.values > xc[0]) & (t.x.values < xc[-1])
    np.testing.assert_allclose(
        r.values[1:, inner],
        np.broadcast_to(3000 + 1.5 * (t.x.values[inner] - 500000), (5, inner.sum())),
        rtol=1e-6,
    )
    # half the grid outside the raster: error with the share covered
    half = _write_tif(tmp_path / "half.tif", np.full((6, 4), 5000.0),
                      transform=from_origin(500000, 2800000, 100, 100))  # fmt: skip
    with pytest.raises(InputDataError, match=r"half.tif \(rainfall.r_raster\): covers 4"):
        read_onto_grid(half, template=t, key="rainfall.r_raster")
    nocrs = _write_tif(tmp_path / "nocrs.tif", np.full((6, 8), 1.0), crs=None,
                       transform=from_origin(500000, 2800000, 100, 100))  # fmt: skip
    with pytest.raises(InputDataError, match="no CRS"):
        read_onto_grid(nocrs, template=t, key="soil.k_raster")


def test_k_from_soil_table_and_its_errors(tmp_path, monkeypatch):
    from pipeline.stages import ready_factors

    t = _grid(nan_corner=False)
    dem = tmp_path / "dem.tif"
    _write_tif(dem, np.full((6, 8), 100.0), transform=t.rio.transform())
    classes = np.array([[11] * 4 + [12] * 4] * 6)
    cls = _write_tif(tmp_path / "soil.tif", classes, transform=t.rio.transform(), dtype="int16",
                     nodata=-1)  # fmt: skip
    csv = tmp_path / "k.csv"
    csv.write_text("# K per soil class\ncode,k\n11,0.02\n12,0.04\n")
    cfg = {"method": "table", "k_table": {"classes": str(cls), "csv": str(csv)}}
    out = tmp_path / "K.tif"
    ready_factors.make_k_ready(dem_path=dem, out_k=out, soil=cfg)
    with rasterio.open(out) as src:
        k = src.read(1)
    np.testing.assert_allclose(k[:, :4], 0.02, rtol=1e-6)
    np.testing.assert_allclose(k[:, 4:], 0.04, rtol=1e-6)
    # an unlisted class
    csv.write_text("code,k\n11,0.02\n")
    with pytest.raises(
        InputDataError,
        match=r"soil.tif \(soil.k_table.classes\): code\(s\) \[12\] not found in .*k.csv",
    ):
        ready_factors.make_k_ready(dem_path=dem, out_k=out, soil=cfg)
    # a bad value: text, and a table in US units (0.3 > 0.1)
    csv.write_text("code,k\n11,0.02\n12,abc\n")
    with pytest.raises(InputDataError, match=r"k.csv.*row 3, class 12.*'abc'"):
        ready_factors.make_k_ready(dem_path=dem, out_k=out, soil=cfg)
    csv.write_text("code,k\n11,0.02\n12,0.3\n")
    with pytest.raises(InputDataError, match=r"k.csv.*0.3"):
        ready_factors.make_k_ready(dem_path=dem, out_k=out, soil=cfg)
    with pytest.raises(ConfigError, match="soil.k_constant"):
        ready_factors.make_k_ready(dem_path=dem, out_k=out, soil={"method": "constant"})


def test_station_table_wide_and_long(tmp_path):
    from pipeline.sources.ready_inputs import read_stations

    (tmp_path / "st.csv").write_text("id,lon,lat\nA,116.40,25.70\nB,116.50,25.72\n")
    days = pd.date_range("2001-01-01", "2001-01-05")
    wide = pd.DataFrame(
        {"date": days.strftime("%Y-%m-%d"), "A": [0, 5, 20, 0, 1], "B": [1, 0, 30, 2, 0]}
    )
    wide.to_csv(tmp_path / "wide.csv", index=False)
    cfg = {"path": str(tmp_path / "st.csv"), "id_col": "id", "x_col": "lon", "y_col": "lat",
           "crs": "EPSG:4326", "rain_csv": str(tmp_path / "wide.csv"), "date_col": "date",
           "value_col": None}  # fmt: skip
    st, rain = read_stations(cfg, grid_crs=CRS)
    assert list(st.index) == ["A", "B"] and rain.dims == ("time", "station")
    assert rain.sel(station="B").values.tolist() == [1, 0, 30, 2, 0]
    long = wide.melt(id_vars="date", var_name="id", value_name="mm")
    long.to_csv(tmp_path / "long.csv", index=False)
    st2, rain2 = read_stations({**cfg, "rain_csv": str(tmp_path / "long.csv"), "value_col": "mm"},
                               grid_crs=CRS)  # fmt: skip
    np.testing.assert_array_equal(rain2.values, rain.values)
    wide.drop(index=3).to_csv(tmp_path / "gap.csv", index=False)
    with pytest.raises(InputDataError, match="gap.csv.*2001-01-04 is missing"):
        read_stations({**cfg, "rain_csv": str(tmp_path / "gap.csv")}, grid_crs=CRS)
    wide.drop(columns="B").to_csv(tmp_path / "noB.csv", index=False)
    with pytest.raises(InputDataError, match=r"noB.csv.*no rain for station\(s\) \['B'\]"):
        read_stations({**cfg, "rain_csv": str(tmp_path / "noB.csv")}, grid_crs=CRS)


def test_plausible_ranges_equal_the_schema_defaults():
    from pipeline.config import schema_default

    assert tuple(schema_default("rainfall.r_plausible_range")) == R_PLAUSIBLE_SI
    assert tuple(schema_default("soil.k_plausible_range")) == K_PLAUSIBLE_SI


def test_run_statements_name_the_ready_r_and_the_gauges():
    from pipeline.report.statements import run_statements

    zh = run_statements(lang="zh", rainfall={"method": "raster", "r_raster": {"path": "r.tif"}})
    assert "给定栅格（r.tif）" in zh and "评估年降雨" not in zh
    en = run_statements(
        lang="en", rainfall={"method": "zhang_wenbo", "stations": {"path": "gauges.csv"}}
    )
    assert "per rain gauge of gauges.csv" in en and "thin-plate" in en


def test_local_source_needs_no_texture_with_a_ready_k_and_no_record_with_gauges():
    from pipeline.stages.inputs import check_source_config

    local = {"aoi": "aoi.gpkg", "dem": {"path": "dem.tif"}, "landcover": {"path": "lc.tif"},
             "rain": {"gauge_csv": "r.csv", "date_col": "d", "value_col": "v"}}  # fmt: skip
    cfg = {"years": [2020], "source": {"kind": "local", "local": local},
           "cover": {"method": "table"}, "ml": {"enabled": False}, "soil": {"method": "epic"}}  # fmt: skip
    with pytest.raises(ConfigError, match="source.local.soil"):
        check_source_config(cfg)
    check_source_config({**cfg, "soil": {"method": "raster"}})  # no error
    no_rain = {**cfg, "soil": {"method": "constant"}, "source": {"kind": "local",
               "local": {k: v for k, v in local.items() if k != "rain"}}}  # fmt: skip
    with pytest.raises(ConfigError, match="source.local.rain"):
        check_source_config(no_rain)
    check_source_config({**no_rain, "rainfall": {"stations": {"path": "s.csv"}}})


@pytest.mark.slow  # two Snakemake parses (~15 s each on a quiet machine)
def test_dag_with_gauges_and_a_soil_table_needs_no_rain_record_or_texture(tmp_path):
    """Dry run of the small demo: with rainfall.stations and soil.method table, no job makes
    the rain record or the soil texture; a ready method without its key stops at parse."""
    import subprocess

    import yaml

    from pipeline.notebook import snakemake_command
    from tests.conftest import REPO

    for name in ("st.csv", "rain.csv", "classes.tif", "k.csv"):
        (tmp_path / name).write_text("")
    cfg = yaml.safe_load((REPO / "tests" / "configs" / "small.yaml").read_text("utf-8"))
    cfg["ml"] = {"enabled": False}
    cfg["rainfall"] = {"stations": {"path": "st.csv", "rain_csv": "rain.csv"}}
    cfg["soil"] = {"method": "table", "k_table": {"classes": "classes.tif", "csv": "k.csv"}}

    def dry(c):
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump(c, allow_unicode=True), encoding="utf-8")
        cmd = snakemake_command(
            path, tmp_path, cores=1, extra=("-n", "results/small/2023/soil_loss.tif")
        )
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)

    proc = dry(cfg)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rule factor_r:" in proc.stdout and "rule factor_k:" in proc.stdout
    assert "inputs_rain" not in proc.stdout and "inputs_soil" not in proc.stdout
    cfg["soil"] = {"method": "raster"}
    proc = dry(cfg)
    assert proc.returncode != 0
    assert "soil.method raster needs soil.k_raster" in proc.stdout + proc.stderr
