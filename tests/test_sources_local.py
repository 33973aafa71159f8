"""Local source on the real Youwuzhen watershed (EPSG:2415, zone-prefixed eastings).

The land-use raster's 7,310 valid 30 m pixels are the watershed (6.579 km² in its own
Gauss–Krüger grid, whose scale error at 0.6° from the central meridian is k²−1 ≈ 9e-5 in
area, negligible). Reprojected onto an AOI-local Albers equal-area grid the watershed must
keep its area: within 0.5 % at 30 m (edge pixels change with the grid; measured −0.12 %)
and within 0.1 % at 10 m (measured +0.008 %). The DEM covers a larger box than the land
use (127×98 vs 125×85 px), so alignment is explicit.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.features
import rioxarray
import shapely
from pyproj import Transformer

from pipeline.errors import ConfigError, GridError, InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.io import open_raster
from pipeline.sources import local

WATERSHED_PX = 7310
PIXEL_AREA_M2 = 900.0
#: Youwuzhen legend (SEIMS codes) → Shuibao land-cover codes.
YOUWUZHEN_RECODE = {
    4: "orchard",  # ORCD
    6: "forest",  # FRST mixed (sparse) forest
    8: "forest",  # FRSE evergreen forest
    18: "water",  # WATR
    33: "paddy",  # RICE
    104: "built_up",  # URLD
    106: "built_up",  # UIDU
}
SOURCE_CLASS_PX = {1: 1569 + 3157, 4: 764, 7: 1329, 8: 300 + 128, 9: 63}


@pytest.fixture(scope="module")
def ywz(shared_data):
    return shared_data / "youwuzhen_fujian_cn"


@pytest.fixture(scope="module")
def watershed(ywz):
    """The watershed outline (valid land-use pixels) as a GeoSeries in EPSG:2415."""
    lu = rioxarray.open_rasterio(ywz / "ywzlanduse30m_upd.tif").squeeze()
    mask = (lu.values != 255).astype("uint8")
    shapes = [
        shapely.geometry.shape(geom)
        for geom, _ in rasterio.features.shapes(
            mask, mask=mask.astype(bool), transform=lu.rio.transform()
        )
    ]
    return gpd.GeoSeries([shapely.union_all(shapes)], crs=lu.rio.crs)


@pytest.fixture(scope="module")
def grid30(watershed):
    return local.grid_from_aoi(gpd.GeoDataFrame(geometry=watershed), resolution_m=30)


def test_watershed_outline_has_the_source_area(watershed):
    assert "Beijing 1954 / 3-degree Gauss-Kruger zone 39" in watershed.crs.name  # EPSG:2415
    assert watershed.area.iloc[0] == pytest.approx(WATERSHED_PX * PIXEL_AREA_M2)
    assert watershed.total_bounds[0] > 39_000_000  # zone prefix 39 in the eastings


def test_default_grid_is_local_albers_around_the_aoi(grid30, watershed):
    assert grid30.is_equal_area and grid30.res == (30.0, 30.0)
    proj = grid30.crs.to_dict()
    assert proj["proj"] == "aea" and proj["ellps"] == "GRS80"
    assert 116.3 < proj["lon_0"] < 116.6 and 25.6 < proj["lat_0"] < 25.8
    outline = watershed.to_crs(grid30.crs).iloc[0]
    assert shapely.box(*grid30.bounds).contains(outline)


#: Per-class relative tolerance. The majority rule erodes fragmented and linear classes on a
#: grid as coarse as the source: measured at 30 m forest +0.7 %, orchard +0.4 %, paddy −0.7 %,
#: built-up −5.4 %, water (a 1–2 px river, 63 px) −24 %; at 10 m all within 0.6 % but water −2.7 %.
CLASS_TOL = {
    30: {1: 0.01, 4: 0.01, 7: 0.01, 8: 0.06, 9: 0.25},
    10: {1: 0.005, 4: 0.005, 7: 0.005, 8: 0.01, 9: 0.03},
}


@pytest.mark.parametrize(("res", "tol"), [(30, 5e-3), (10, 1e-3)])
def test_landcover_keeps_watershed_area_and_codes(ywz, watershed, res, tol, tmp_path):
    """Total area within ``tol``, each class within CLASS_TOL, codes recoded."""
    grid = local.grid_from_aoi(watershed, resolution_m=res)
    path = local.write_local_landcover(
        ywz / "ywzlanduse30m_upd.tif",
        grid,
        tmp_path / "landcover_2015.tif",
        recode=YOUWUZHEN_RECODE,
    )
    with rasterio.open(path) as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 255
        codes = src.read(1)
    area_m2 = np.count_nonzero(codes != 255) * res * res
    assert area_m2 == pytest.approx(WATERSHED_PX * PIXEL_AREA_M2, rel=tol)
    assert set(np.unique(codes)) == {1, 4, 7, 8, 9, 255}
    for code, px in SOURCE_CLASS_PX.items():
        assert np.count_nonzero(codes == code) * res * res == pytest.approx(
            px * PIXEL_AREA_M2, rel=CLASS_TOL[res][code]
        ), code


def test_dem_is_bilinear_with_nodata_respected(ywz, grid30, tmp_path):
    path = local.write_local_dem(ywz / "ywzdem30m.tif", grid30, tmp_path / "dem.tif")
    dem = open_raster(path)
    assert dem.dtype == np.float32 and dem.attrs["units"] == "m" and grid30.matches(dem)
    valid = dem.values[np.isfinite(dem.values)]
    assert valid.size > 0.9 * dem.size
    assert 278.0 <= valid.min() and valid.max() <= 550.5  # no nodata (−3.4e38) leaks in
    # a source pixel centre, transformed to the grid, keeps its elevation (bilinear, ≤ 3 m)
    with rasterio.open(ywz / "ywzdem30m.tif") as src:
        row, col = 50, 60
        x, y = src.xy(row, col)
        z = src.read(1)[row, col]
        tr = Transformer.from_crs(src.crs, grid30.crs, always_xy=True)
    gx, gy = tr.transform(x, y)
    assert float(dem.interp(x=gx, y=gy)) == pytest.approx(float(z), abs=3.0)


def test_landcover_codes_missing_from_the_table_are_named(ywz, grid30):
    table = {k: v for k, v in YOUWUZHEN_RECODE.items() if k not in (104, 106)}
    with pytest.raises(InputDataError, match=r"class codes \[104, 106\] are not in the") as err:
        local.landcover_on_grid(ywz / "ywzlanduse30m_upd.tif", grid30, recode=table)
    assert "ywzlanduse30m_upd.tif" in str(err.value)
    with pytest.raises(ConfigError, match="unknown land-cover key 'woods'"):
        local.landcover_on_grid(
            ywz / "ywzlanduse30m_upd.tif", grid30, recode={**YOUWUZHEN_RECODE, 4: "woods"}
        )


def test_soil_from_class_raster_and_lookup(ywz, grid30, tmp_path):
    lookup = local.read_soil_lookup(
        ywz / "soil_properties_lookup.csv",
        code_col="SEQN",
        columns={
            "sand_pct": "SOL_SAND",
            "silt_pct": "SOL_SILT",
            "clay_pct": "SOL_CLAY",
            "organic_matter_pct": "SOL_OM",
        },
    )
    assert sorted(lookup.index) == [201, 202, 203, 204, 205]
    # code 201 top layer: sand 52.25, silt 13.8, clay 15.66 (of total incl. rock), OM 2.31 %
    fine = 52.25 + 13.8 + 15.66
    assert lookup.loc[201, "sand_pct"] == pytest.approx(52.25 / fine * 100)
    assert lookup.loc[201, "organic_carbon_pct"] == pytest.approx(2.31 / 1.724)
    np.testing.assert_allclose(lookup[["sand_pct", "silt_pct", "clay_pct"]].sum(axis=1), 100)
    soil = local.soil_from_classes(ywz / "ywzsoil30m.tif", lookup, grid30)
    path = local.write_soil(soil, tmp_path / "soil.tif")
    with rasterio.open(path) as src:
        assert src.descriptions == local.SOIL_BANDS and src.dtypes[0] == "float32"
        data = src.read()
    classes = local.reproject_to_grid(ywz / "ywzsoil30m.tif", grid30, kind="categorical")
    where_201 = classes.values == 201
    assert where_201.any()
    np.testing.assert_allclose(data[0][where_201], lookup.loc[201, "sand_pct"], rtol=1e-6)
    assert np.isnan(data[:, classes.values == 255]).all()
    with pytest.raises(InputDataError, match=r"codes \[205\] are not in the soil lookup"):
        local.soil_from_classes(ywz / "ywzsoil30m.tif", lookup.drop(index=205), grid30)


def test_soil_lookup_missing_column_is_named(ywz):
    with pytest.raises(InputDataError, match=r"columns \['SAND'\] not found"):
        local.read_soil_lookup(
            ywz / "soil_properties_lookup.csv",
            code_col="SEQN",
            columns={
                "sand_pct": "SAND",
                "silt_pct": "SOL_SILT",
                "clay_pct": "SOL_CLAY",
                "organic_carbon_pct": "SOL_OM",
            },
        )


def _write_raster(path, data, *, crs, transform, nodata=None):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[-1],
        height=data.shape[-2],
        count=1 if data.ndim == 2 else data.shape[0],
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(data if data.ndim == 3 else data[None])


def test_local_ndvi_from_a_24_band_raster_in_another_crs(grid30, tmp_path):
    w, s, e, n = Transformer.from_crs(grid30.crs, "EPSG:4326", always_xy=True).transform_bounds(
        *grid30.bounds
    )
    res = 0.0005
    transform = rasterio.transform.from_origin(w - 0.01, n + 0.01, res, res)
    width, height = int((e - w + 0.02) / res), int((n - s + 0.02) / res)
    data = np.stack([np.full((height, width), 100 * (p + 1), "int16") for p in range(24)])
    data[:, :, :5] = -1  # nodata strip far outside the grid
    src = tmp_path / "ndvi_src.tif"
    _write_raster(src, data, crs="EPSG:4326", transform=transform, nodata=-1)
    out = local.write_local_ndvi(src, grid30, tmp_path / "ndvi_2015.tif", scale=1e-4)
    ndvi = open_raster(out)
    assert list(ndvi["band"].values[:2]) == ["P01", "P02"]
    np.testing.assert_allclose(ndvi.sel(band="P03").values, 0.03, atol=1e-6)
    with pytest.raises(InputDataError, match="expected 24 half-month layers, got 2"):
        local.write_local_ndvi([src, src], grid30, tmp_path / "bad.tif")


def test_raster_without_crs_is_a_grid_error(grid30, tmp_path):
    path = tmp_path / "nocrs.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32"
    ) as dst:
        dst.write(np.ones((1, 4, 4), "float32"))
    with pytest.raises(GridError, match="nocrs.tif has no CRS"):
        local.reproject_to_grid(path, grid30)


def test_grid_json_round_trip_and_explicit_crs(grid30, tmp_path, watershed):
    path = local.write_grid_json(grid30, tmp_path / "grid.json")
    back = local.read_grid_json(path)
    assert back == grid30 or (
        back.crs == grid30.crs and back.transform == grid30.transform and back.shape == grid30.shape
    )
    utm = local.grid_from_aoi(watershed, resolution_m=30, crs="EPSG:32650")
    assert utm.crs.to_epsg() == 32650 and utm.transform.c % 30 == 0
    with pytest.raises(ConfigError, match="is not projected"):
        local.grid_from_aoi(watershed, resolution_m=30, crs="EPSG:4326")
    with pytest.raises(ConfigError, match="resolution_m must be > 0"):
        local.grid_from_aoi(watershed, resolution_m=0)


def test_aoi_file_without_crs_is_named(tmp_path):
    path = tmp_path / "aoi.shp"
    gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)]).to_file(path)
    with pytest.raises(GridError, match=r"aoi.shp has no CRS"):
        local.grid_from_aoi(path, resolution_m=30)


# -------------------------------------------------------------------------- vectors
@pytest.fixture
def zones_file(watershed, tmp_path):
    geom = watershed.iloc[0]
    minx, miny, maxx, maxy = geom.bounds
    mid = 0.5 * (minx + maxx)

    def polygons(g):
        return shapely.MultiPolygon([p for p in shapely.get_parts(g) if p.geom_type == "Polygon"])

    halves = [
        polygons(geom.intersection(shapely.box(minx, miny, mid, maxy))),
        polygons(geom.intersection(shapely.box(mid, miny, maxx, maxy))),
    ]
    gdf = gpd.GeoDataFrame(
        {
            "XZQDM": ["350821101", "350821102"],
            "XZQMC": ["河田镇", "三洲镇"],
            "NAME_EN": ["Hetian", "Sanzhou"],
        },
        geometry=halves,
        crs=watershed.crs,
    )
    path = tmp_path / "townships_src.gpkg"
    gdf.to_file(path, layer="xzq")
    return path


def test_read_zones_reprojects_and_renames(zones_file, grid30, tmp_path):
    zones = local.read_zones(
        zones_file,
        layer="xzq",
        id_col="XZQDM",
        name_col="XZQMC",
        name_en_col="NAME_EN",
        grid=grid30,
    )
    assert list(zones.columns) == ["zone_id", "name", "name_en", "geometry"]
    assert zones.crs == grid30.crs and zones["zone_id"].tolist() == ["350821101", "350821102"]
    # equal-area grid: the halves add up to the watershed area; the Gauss–Krüger area is
    # k² ≈ 1 + 1e-4 too large here (0.6° from the central meridian): measured −0.011 %
    assert zones.area.sum() == pytest.approx(WATERSHED_PX * PIXEL_AREA_M2, rel=2e-4)
    assert zones.area.sum() < WATERSHED_PX * PIXEL_AREA_M2
    out = local.write_zones(zones, tmp_path / "townships.gpkg")
    again = local.write_zones(zones, tmp_path / "again" / "townships.gpkg")
    assert out.read_bytes() == again.read_bytes()  # deterministic
    back = gpd.read_file(out)
    assert back["name"].tolist() == ["河田镇", "三洲镇"]


def test_read_zones_errors_name_file_and_column(zones_file, grid30):
    with pytest.raises(
        InputDataError, match=r"townships_src.gpkg: column\(s\) \['CODE'\] not found"
    ):
        local.read_zones(zones_file, id_col="CODE", name_col="XZQMC", grid=grid30)
    dup = gpd.read_file(zones_file)
    dup["XZQDM"] = "350821101"
    path = zones_file.with_name("dup.gpkg")
    dup.to_file(path)
    with pytest.raises(InputDataError, match=r"duplicate IDs \['350821101'\]"):
        local.read_zones(path, id_col="XZQDM", name_col="XZQMC", grid=grid30)


@pytest.fixture
def survey_file(watershed, tmp_path):
    inner = watershed.iloc[0].buffer(-60)
    pts = [
        inner.representative_point(),
        shapely.Point(inner.centroid.x, inner.centroid.y)
        if inner.contains(inner.centroid)
        else inner.representative_point(),
    ]
    gdf = gpd.GeoDataFrame(
        {"DCDH": ["A1", "A2"], "QSDJ": [1, 3], "ND": [2015, 2015]}, geometry=pts, crs=watershed.crs
    ).to_crs("EPSG:4326")
    path = tmp_path / "survey_src.gpkg"
    gdf.to_file(path)
    return path


def test_read_survey_points(survey_file, grid30, watershed, tmp_path):
    pts = local.read_survey(
        survey_file,
        class_col="QSDJ",
        id_col="DCDH",
        year_col="ND",
        grid=grid30,
        aoi=gpd.GeoDataFrame(geometry=watershed),
    )
    assert pts.crs == grid30.crs
    assert pts["survey_id"].tolist() == ["A1", "A2"]
    assert pts["intensity_class"].tolist() == [1, 3] and pts["year"].tolist() == [2015, 2015]
    path = local.write_survey(pts, tmp_path / "survey_2015.gpkg")
    assert gpd.read_file(path)["intensity_class"].dtype.kind == "i"


def test_read_survey_errors(survey_file, grid30, watershed, ywz, tmp_path):
    aoi = gpd.GeoDataFrame(geometry=watershed)
    bad = gpd.read_file(survey_file)
    bad.loc[1, "QSDJ"] = 7
    bad_path = tmp_path / "bad_class.gpkg"
    bad.to_file(bad_path)
    with pytest.raises(InputDataError, match=r"bad_class.gpkg: column 'QSDJ' has values \['7'\]"):
        local.read_survey(bad_path, class_col="QSDJ", year=2015, grid=grid30, aoi=aoi)
    far = gpd.read_file(survey_file)
    far.loc[0, "geometry"] = shapely.Point(117.5, 26.5)
    far_path = tmp_path / "far.gpkg"
    far.to_file(far_path)
    with pytest.raises(InputDataError, match=r"1 point\(s\) lie outside the AOI \(IDs \['A1'\]"):
        local.read_survey(
            far_path, class_col="QSDJ", id_col="DCDH", year=2015, grid=grid30, aoi=aoi
        )
    # the real outlet shapefile has no intensity column
    with pytest.raises(InputDataError, match=r"outlet_beijing1954.shp: column\(s\) \['QSDJ'\]"):
        local.read_survey(
            ywz / "outlet_beijing1954.shp", class_col="QSDJ", year=2015, grid=grid30, aoi=aoi
        )


def test_write_aoi_and_landcover_are_deterministic(ywz, grid30, watershed, tmp_path):
    a = local.write_aoi(
        watershed, grid30, tmp_path / "a" / "aoi.gpkg", name="游屋圳", name_en="Youwuzhen"
    )
    b = local.write_aoi(
        watershed, grid30, tmp_path / "b" / "aoi.gpkg", name="游屋圳", name_en="Youwuzhen"
    )
    assert a.read_bytes() == b.read_bytes()
    back = gpd.read_file(a, layer="aoi")
    assert back.crs == grid30.crs and back["name"].iloc[0] == "游屋圳"
    lc = [
        local.write_local_landcover(
            ywz / "ywzlanduse30m_upd.tif", grid30, tmp_path / d / "lc.tif", recode=YOUWUZHEN_RECODE
        )
        for d in ("a", "b")
    ]
    assert lc[0].read_bytes() == lc[1].read_bytes()


def test_write_landcover_rejects_non_shuibao_codes(grid30, tmp_path):
    da = grid30.dataarray(np.full(grid30.shape, 33, "uint8"), name="lc", units="class")
    with pytest.raises(InputDataError, match=r"values \[33\] are not Shuibao codes"):
        local.write_landcover(da, tmp_path / "lc.tif")


def test_recode_doc_example():
    out = local.recode_classes(np.array([10, 40, 0]), local.WORLDCOVER_TO_SHUIBAO, src_nodata=0)
    assert out.tolist() == [1, 6, 255] and out.dtype == np.uint8


def test_grid_type_is_analysis_grid(grid30):
    assert isinstance(grid30, AnalysisGrid)


def test_aoi_from_the_land_use_mask(ywz, grid30):
    grid = local.grid_from_aoi(ywz / "ywzlanduse30m_upd.tif", resolution_m=30)
    assert grid == grid30 or (grid.transform == grid30.transform and grid.shape == grid30.shape)


def test_local_rain_from_the_youwuzhen_gauge(ywz, grid30, tmp_path):
    import xarray as xr

    path = local.write_local_rain(
        ywz / "pcp_daily.csv",
        grid30,
        tmp_path / "rain_daily.nc",
        date_col="DATETIME",
        value_col="81502750",
    )
    rain = xr.open_dataset(path, decode_coords="all")["precipitation"]
    assert rain.dims == ("time", "y", "x") and rain.attrs["units"] == "mm/day"
    assert rain.rio.crs.to_epsg() == 4326 and rain.sizes["time"] == 2192
    assert float(rain["x"].diff("x")[0]) == pytest.approx(0.05)
    # the lattice covers the grid plus at least one 0.05° cell on every side
    w, s, e, n = Transformer.from_crs(grid30.crs, "EPSG:4326", always_xy=True).transform_bounds(
        *grid30.bounds
    )
    x, y = rain["x"].values, rain["y"].values
    assert x.min() - 0.025 <= w - 0.05 and x.max() + 0.025 >= e + 0.05
    assert y.min() - 0.025 <= s - 0.05 and y.max() + 0.025 >= n + 0.05
    annual = rain.isel(x=0, y=0).groupby("time.year").sum()
    assert 1253 <= float(annual.min()) and float(annual.max()) <= 2469  # SOURCE.md totals
    rain.close()


def test_local_rain_gaps_are_named(ywz, grid30, tmp_path):
    text = (ywz / "pcp_daily.csv").read_text().splitlines()
    del text[10]
    src = tmp_path / "gap.csv"
    src.write_text("\n".join(text) + "\n")
    with pytest.raises(
        InputDataError, match=r"gap.csv: the daily record must be complete.*2012-01-09"
    ):
        local.write_local_rain(
            src, grid30, tmp_path / "r.nc", date_col="DATETIME", value_col="81502750"
        )
