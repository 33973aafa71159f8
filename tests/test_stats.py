"""True pixel areas, district class tables, summaries and zone tables.

References are independent of the code under test: pyproj.Geod geodesic
polygon areas (Karney 2013) of each cell, with the parallels densified so that
the geodesic edges follow them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Polygon, box

from pipeline.classify import classify_intensity
from pipeline.errors import GridError, InputDataError
from pipeline.grid import AnalysisGrid, local_albers_crs
from pipeline.stats import (
    CLASS_TABLE_COLUMNS,
    ZONE_SUMMARY_COLUMNS,
    ZONE_TABLE_COLUMNS,
    class_area_table,
    pixel_area_ha,
    summarize,
    zonal_class_areas,
    zone_summary,
)
from tests.utils import raise_if_dask_computes

GEOD = Geod(ellps="WGS84")


def geod_cell_area_ha(lon0, lon1, lat0, lat1, *, geod=GEOD, n=16) -> float:
    """Geodesic area of a lon/lat cell; parallels densified (n points per edge)."""
    lons = np.linspace(lon0, lon1, n)
    lats = np.linspace(lat0, lat1, n)
    xs = np.r_[lons, np.full(n, lon1), lons[::-1], np.full(n, lon0)]
    ys = np.r_[np.full(n, lat0), lats, np.full(n, lat1), lats[::-1]]
    area, _ = geod.polygon_area_perimeter(xs, ys)
    return abs(area) / 1e4


def geographic_grid(res=0.1, lon=(110.0, 111.5), lat=(25.0, 30.0), crs="EPSG:4326"):
    return AnalysisGrid.from_bounds(crs, lon[0], lat[0], lon[1], lat[1], res)


def random_classes(grid, seed=7, nan_fraction=0.1):
    rng = np.random.default_rng(seed)
    cls = rng.integers(1, 7, size=grid.shape).astype("float32")
    cls[rng.random(grid.shape) < nan_fraction] = np.nan
    return grid.dataarray(cls, name="intensity_class", units="1")


# --------------------------------------------------------------------------- pixel areas
def test_geographic_pixel_areas_equal_geodesic_cell_areas():
    grid = geographic_grid()
    area = pixel_area_ha(grid.dataarray(np.zeros(grid.shape), name="t", units="1"))
    assert area.attrs["units"] == "ha" and area.dims == ("y", "x")
    t = grid.transform
    for i in (0, grid.height // 2, grid.height - 1):
        lat1 = t.f + i * t.e
        expected = geod_cell_area_ha(110.0, 110.1, lat1 + t.e, lat1)
        assert area.values[i, 0] == pytest.approx(expected, rel=1e-8)
        assert np.all(area.values[i] == area.values[i, 0])  # same along a row
    # areas shrink northwards (cos latitude), here by ~ cos(29.95°)/cos(25.05°)
    assert area.values[0, 0] < area.values[-1, 0]


def test_cgcs2000_geographic_grid_uses_grs80():
    grid = geographic_grid(crs="EPSG:4490")
    area = pixel_area_ha(grid.dataarray(np.zeros(grid.shape), name="t", units="1"))
    expected = geod_cell_area_ha(110.0, 110.1, 29.9, 30.0, geod=Geod(ellps="GRS80"))
    assert area.values[0, 0] == pytest.approx(expected, rel=1e-8)
    assert "GRS" in area.attrs["area_method"] or "CGCS" in area.attrs["area_method"]


def test_geographic_total_and_class_areas_equal_geodesic_areas():
    grid = geographic_grid()
    cls = random_classes(grid)
    table = class_area_table(cls, pixel_area_ha(cls))
    # independent reference: geodesic area of every cell, summed per class
    t = grid.transform
    row_ref = np.array(
        [
            geod_cell_area_ha(110.0, 110.1, t.f + (i + 1) * t.e, t.f + i * t.e)
            for i in range(grid.height)
        ]
    )
    ref_area = np.broadcast_to(row_ref[:, None], grid.shape)
    values = cls.values
    for code in range(1, 7):
        expected = ref_area[values == code].sum()
        got = table.loc[table.class_code == code, "area_ha"].item()
        assert got == pytest.approx(expected, rel=1e-3)  # acceptance: 0.1 %
        assert got == pytest.approx(expected, rel=1e-7)  # actual agreement
    # whole grid vs the geodesic area of the 1.5° x 5° box
    full = class_area_table(xr.ones_like(cls), pixel_area_ha(cls))  # every pixel valid and class 1
    box_area = geod_cell_area_ha(110.0, 111.5, 25.0, 30.0, n=400)
    assert full["area_ha"].sum() == pytest.approx(box_area, rel=1e-6)


def test_pixel_count_shares_are_wrong_on_geographic_grid_ours_are_not():
    # south half light (2), north half slight (1): equal counts, unequal true areas
    grid = geographic_grid(res=0.05)
    cls = np.ones(grid.shape, dtype="float32")
    cls[grid.height // 2 :, :] = 2.0  # rows from the top: the south half is the bottom
    da = grid.dataarray(cls, name="intensity_class", units="1")
    table = class_area_table(da, pixel_area_ha(da))
    count_share = 100.0 * (cls == 2).sum() / cls.size
    south = geod_cell_area_ha(110.0, 111.5, 25.0, 27.5, n=200)
    north = geod_cell_area_ha(110.0, 111.5, 27.5, 30.0, n=200)
    true_share = 100.0 * south / (south + north)
    ours = table.loc[table.class_code == 2, "share_of_district_pct"].item()
    assert count_share == 50.0
    assert abs(count_share - true_share) > 0.5  # pixel counting is off by 0.56 points
    assert ours == pytest.approx(true_share, abs=1e-5)


@pytest.mark.parametrize("epsg,lon,lat", [(32649, 113.2, 23.2), (4547, 113.2, 23.2)])
def test_conformal_projected_pixel_areas_equal_geodesic(epsg, lon, lat):
    crs = CRS.from_epsg(epsg)
    to_xy = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    x0, y0 = to_xy.transform(lon, lat)
    grid = AnalysisGrid.from_bounds(crs, x0, y0, x0 + 30_000, y0 + 20_000, 1000.0)
    area = pixel_area_ha(grid.dataarray(np.zeros(grid.shape), name="t", units="1"))
    t = grid.transform
    geod = Geod(ellps="GRS80") if epsg == 4547 else GEOD
    for i, j in [(0, 0), (5, 17), (grid.height - 1, grid.width - 1)]:
        xs = t.c + np.r_[np.linspace(j, j + 1, 20), np.full(20, j + 1.0)] * t.a
        ys = t.f + np.r_[np.full(20, i + 1.0), np.linspace(i + 1, i, 20)] * t.e
        xs = np.r_[xs, t.c + np.r_[np.linspace(j + 1, j, 20), np.full(20, float(j))] * t.a]
        ys = np.r_[ys, t.f + np.r_[np.full(20, float(i)), np.linspace(i, i + 1, 20)] * t.e]
        lons, lats = to_ll.transform(xs, ys)
        expected = abs(geod.polygon_area_perimeter(lons, lats)[0]) / 1e4
        assert area.values[i, j] == pytest.approx(expected, rel=1e-6)
    # not the nominal 100 ha: UTM/GK scale factors differ from 1
    assert not np.allclose(area.values, 100.0, rtol=1e-5)


def test_equal_area_grid_areas_are_count_times_pixel_area_exactly():
    crs = local_albers_crs(113.0, 23.0, 114.0, 24.0)
    grid = AnalysisGrid.from_bounds(crs, 0, 0, 3000, 2000, 100.0)  # 1 ha pixels
    cls = random_classes(grid, seed=3)
    area = pixel_area_ha(cls)
    assert np.all(area.values == 1.0)
    table = class_area_table(cls, area)
    counts = [(cls.values == c).sum() for c in range(1, 7)]
    assert table["area_ha"].tolist() == [float(c) for c in counts]
    # 30 m pixels: 0.09 ha each
    grid30 = AnalysisGrid.from_bounds(crs, 0, 0, 900, 600, 30.0)
    cls30 = random_classes(grid30, seed=4)
    t30 = class_area_table(cls30, pixel_area_ha(cls30))
    counts30 = np.array([(cls30.values == c).sum() for c in range(1, 7)])
    np.testing.assert_allclose(t30["area_ha"], counts30 * 0.09, rtol=1e-12)


def test_pixel_area_is_lazy_and_chunked_like_the_template():
    for grid in (
        geographic_grid(),
        AnalysisGrid.from_bounds("EPSG:32649", 500_000, 2_500_000, 520_000, 2_510_000, 1000.0),
        AnalysisGrid.from_bounds(local_albers_crs(113, 23, 114, 24), 0, 0, 2000, 1000, 100.0),
    ):
        template = grid.dataarray(np.zeros(grid.shape), name="t", units="1").chunk(7)
        with raise_if_dask_computes():
            lazy = pixel_area_ha(template)
        assert lazy.chunks == template.chunks
        eager = pixel_area_ha(template.compute())
        np.testing.assert_allclose(lazy.values, eager.values, rtol=1e-14)
        assert lazy.rio.crs == grid.crs


def test_pixel_area_errors():
    with pytest.raises(GridError, match="has no CRS"):
        pixel_area_ha(xr.DataArray(np.zeros((2, 2)), dims=("y", "x"), name="nocrs"))
    with pytest.raises(GridError, match="must have dims"):
        pixel_area_ha(xr.DataArray(np.zeros((2, 2)), dims=("a", "b")))


# --------------------------------------------------------------------------- district table
def test_class_table_schema_rows_and_sums():
    grid = geographic_grid()
    cls = random_classes(grid)
    cls = cls.where(cls != 5)  # class 5 absent: still a row with 0 ha
    table = class_area_table(cls, pixel_area_ha(cls))
    assert list(table.columns) == CLASS_TABLE_COLUMNS
    assert table["class_code"].tolist() == [1, 2, 3, 4, 5, 6]
    assert table["class_zh"].tolist() == ["微度", "轻度", "中度", "强烈", "极强烈", "剧烈"]
    assert table.loc[4, "area_ha"] == 0.0
    assert np.isnan(table.loc[0, "share_of_erosion_pct"])
    assert table["share_of_district_pct"].sum() == pytest.approx(100.0, abs=1e-9)
    assert table["share_of_erosion_pct"].iloc[1:].sum() == pytest.approx(100.0, abs=1e-9)
    # class areas sum to the district (valid) area, to 0.01 ha
    district = float(pixel_area_ha(cls).where(cls.notnull()).sum())
    assert abs(table["area_ha"].sum() - district) < 0.01


def test_class_table_numpy_equals_dask_and_mask():
    grid = geographic_grid()
    cls = random_classes(grid)
    area = pixel_area_ha(cls)
    ref = class_area_table(cls, area)
    dask_table = class_area_table(cls.chunk(7), pixel_area_ha(cls.chunk(7)))
    np.testing.assert_allclose(dask_table["area_ha"], ref["area_ha"], rtol=1e-12)
    # boolean mask keeps the masked-in part; fractional mask scales the areas
    mask = xr.zeros_like(cls, dtype=bool)
    mask[:10] = True
    masked = class_area_table(cls, area, mask=mask)
    expected = class_area_table(cls.where(mask), area)
    np.testing.assert_allclose(masked["area_ha"], expected["area_ha"], rtol=1e-12)
    half = class_area_table(cls, area, mask=xr.full_like(cls, 0.5, dtype="float64"))
    np.testing.assert_allclose(half["area_ha"], ref["area_ha"] / 2, rtol=1e-12)


def test_class_table_keeps_breaks_from_classification():
    grid = geographic_grid()
    loss = grid.dataarray(
        np.linspace(0, 200, grid.height * grid.width).reshape(grid.shape).astype("float32"),
        name="soil_loss",
        units="t ha-1 yr-1",
    )
    cls = classify_intensity(loss, region="northwest_loess")
    table = class_area_table(cls, pixel_area_ha(cls))
    assert table.attrs["class_breaks_t_ha_yr"] == [10.0, 25.0, 50.0, 80.0, 150.0]
    assert table.attrs["convention"] == "lower <= A < upper"
    assert "ellipsoidal" in table.attrs["area_method"]


def test_class_table_errors():
    grid = geographic_grid()
    cls = random_classes(grid)
    area = pixel_area_ha(cls)
    with pytest.raises(InputDataError, match="values other than the class codes 1..6"):
        class_area_table(cls.fillna(255), area)
    other = geographic_grid(lon=(110.0, 111.0))
    with pytest.raises(GridError, match="shape"):
        class_area_table(
            cls, pixel_area_ha(other.dataarray(np.zeros(other.shape), name="o", units="1"))
        )
    with pytest.raises(InputDataError, match="fractions in 0..1"):
        class_area_table(cls, area, mask=xr.full_like(cls, 2.0, dtype="float64"))
    with pytest.raises(InputDataError, match="units 'm2'"):
        class_area_table(cls, area.assign_attrs(units="m2"))
    with pytest.raises(InputDataError, match="2-D"):
        class_area_table(cls.expand_dims(time=[0]), area)


# --------------------------------------------------------------------------- summary
def _table(areas):
    from pipeline.stats import _class_table

    return _class_table(np.asarray(areas, dtype="float64"))


def test_summarize_values():
    s = summarize(_table([500.0, 300.0, 100.0, 50.0, 30.0, 20.0]))
    assert s["land_area_ha"] == 1000.0
    assert s["erosion_area_ha"] == 500.0
    assert s["erosion_share_pct"] == 50.0
    assert s["soil_conservation_rate_pct"] == 50.0
    assert s["slight_area_ha"] == 500.0
    assert s["moderate_and_above_area_ha"] == 200.0
    assert s["moderate_and_above_share_pct"] == 40.0
    assert s["intense_and_above_area_ha"] == 100.0
    assert s["intense_and_above_share_pct"] == 20.0
    assert s["dominant_class_code"] == 2 and s["dominant_class_zh"] == "轻度"
    assert set(s) == {
        "land_area_ha",
        "erosion_area_ha",
        "erosion_share_pct",
        "soil_conservation_rate_pct",
        "slight_area_ha",
        "moderate_and_above_area_ha",
        "moderate_and_above_share_pct",
        "intense_and_above_area_ha",
        "intense_and_above_share_pct",
        "dominant_class_code",
        "dominant_class_zh",
    }


def test_summarize_dominant_ignores_slight_and_breaks_ties_low():
    s = summarize(_table([900.0, 10.0, 40.0, 40.0, 0, 0]))
    assert s["dominant_class_code"] == 3 and s["dominant_class_zh"] == "中度"
    none = summarize(_table([900.0, 0, 0, 0, 0, 0]))
    assert none["erosion_area_ha"] == 0.0 and none["dominant_class_code"] == 1
    assert np.isnan(none["moderate_and_above_share_pct"])
    assert none["soil_conservation_rate_pct"] == 100.0


def test_summarize_rejects_incomplete_table():
    with pytest.raises(InputDataError, match="one row per class code 1..6"):
        summarize(_table([1, 2, 3, 4, 5, 6]).iloc[:5])


# --------------------------------------------------------------------------- zones
def tiling_zones(grid, crs=None):
    """Three zones tiling the grid with borders through pixel interiors."""
    left, bottom, right, top = grid.bounds
    xm = left + 0.437 * (right - left)
    ya = bottom + 0.31 * (top - bottom)
    yb = bottom + 0.73 * (top - bottom)
    geoms = [
        box(left, bottom, xm, top),
        Polygon([(xm, bottom), (right, bottom), (right, yb), (xm, ya)]),
        Polygon([(xm, ya), (right, yb), (right, top), (xm, top)]),
    ]
    zones = gpd.GeoDataFrame(
        {"zone_id": ["T1", "T2", "T3"], "name": ["甲镇", "乙镇", "丙镇"]},
        geometry=geoms,
        crs=grid.crs,
    )
    return zones if crs is None else zones.to_crs(crs)


def test_zone_tables_sum_to_district_table():
    grid = geographic_grid()
    cls = random_classes(grid)
    area = pixel_area_ha(cls)
    district = class_area_table(cls, area)
    long = zonal_class_areas(cls, area, tiling_zones(grid))
    assert list(long.columns) == ZONE_TABLE_COLUMNS
    assert long["zone_id"].unique().tolist() == ["T1", "T2", "T3"]
    assert (long["zone_layer"] == "township").all()
    per_class = long.groupby("class_code")["area_ha"].sum()
    np.testing.assert_allclose(per_class.to_numpy(), district["area_ha"].to_numpy(), atol=0.01)
    for _, z in long.groupby("zone_id"):
        assert z["share_of_zone_pct"].sum() == pytest.approx(100.0)
        assert np.isnan(z["share_of_zone_erosion_pct"].iloc[0])
        assert z["share_of_zone_erosion_pct"].iloc[1:].sum() == pytest.approx(100.0)
    wide = zone_summary(long)
    assert list(wide.columns) == ZONE_SUMMARY_COLUMNS
    assert wide["zone_name"].tolist() == ["甲镇", "乙镇", "丙镇"]
    s = summarize(district)
    assert wide["land_area_ha"].sum() == pytest.approx(s["land_area_ha"], abs=0.01)
    assert wide["erosion_area_ha"].sum() == pytest.approx(s["erosion_area_ha"], abs=0.01)
    np.testing.assert_allclose(
        wide[["light_area_ha", "moderate_area_ha", "intense_area_ha"]].sum().to_numpy(),
        district["area_ha"].to_numpy()[1:4],
        atol=0.01,
    )


def test_partial_pixels_count_by_coverage_fraction():
    crs = local_albers_crs(113.0, 23.0, 114.0, 24.0)
    grid = AnalysisGrid.from_bounds(crs, 0, 0, 400, 100, 100.0)  # 4 pixels of 1 ha
    cls = grid.dataarray(np.array([[1.0, 2.0, 2.0, 3.0]]), name="c", units="1")
    zones = gpd.GeoDataFrame(
        {"zone_id": [1], "name": ["a"]}, geometry=[box(50, 0, 375, 100)], crs=crs
    )
    long = zonal_class_areas(cls, pixel_area_ha(cls), zones)
    np.testing.assert_allclose(long["area_ha"], [0.5, 2.0, 0.75, 0, 0, 0], atol=1e-6)
    assert long["share_of_zone_pct"].iloc[0] == pytest.approx(100 * 0.5 / 3.25, rel=1e-6)


def test_zones_in_another_crs_are_reprojected():
    grid = geographic_grid()
    cls = random_classes(grid)
    area = pixel_area_ha(cls)
    zones = gpd.GeoDataFrame(
        {"zone_id": [1, 2], "name": ["a", "b"]},
        geometry=[box(110.0, 25.0, 110.73, 30.0), box(110.73, 25.0, 111.5, 30.0)],
        crs="EPSG:4326",
    )
    ref = zonal_class_areas(cls, area, zones)
    # Web Mercator maps parallels and meridians to straight lines: same boxes
    moved = zonal_class_areas(cls, area, zones.to_crs("EPSG:3857"))
    np.testing.assert_allclose(moved["area_ha"], ref["area_ha"], rtol=1e-6, atol=1e-6)


def test_zone_dask_equals_numpy():
    grid = geographic_grid()
    cls = random_classes(grid)
    zones = tiling_zones(grid)
    ref = zonal_class_areas(cls, pixel_area_ha(cls), zones)
    lazy = cls.chunk(9)
    got = zonal_class_areas(lazy, pixel_area_ha(lazy), zones)
    np.testing.assert_allclose(got["area_ha"], ref["area_ha"], rtol=1e-12)


def test_zone_errors():
    grid = geographic_grid()
    cls = random_classes(grid)
    area = pixel_area_ha(cls)
    far = gpd.GeoDataFrame(
        {"zone_id": [1, 2], "name": ["in", "out"]},
        geometry=[box(110.2, 26, 110.4, 27), box(120, 40, 121, 41)],
        crs="EPSG:4326",
    )
    with pytest.raises(InputDataError, match=r"\[2\] lie outside the raster"):
        zonal_class_areas(cls, area, far)
    with pytest.raises(GridError, match="have no CRS"):
        zonal_class_areas(cls, area, far.iloc[:1].set_crs(None, allow_override=True))
    with pytest.raises(InputDataError, match="lack column 'zone_id'"):
        zonal_class_areas(cls, area, far.iloc[:1].rename(columns={"zone_id": "id"}))
    dup = pd.concat([far.iloc[:1], far.iloc[:1]])
    with pytest.raises(InputDataError, match="duplicate 'zone_id'"):
        zonal_class_areas(cls, area, dup)
    with pytest.raises(InputDataError, match="must be a GeoDataFrame"):
        zonal_class_areas(cls, area, pd.DataFrame(far.drop(columns="geometry")))


def test_coverage_guard_or_exact_sum_for_zones_through_pixel_corners():
    """A border through pixel corners once made exactextract drop a pixel: we must
    then raise rather than print a table that does not add up."""
    grid = AnalysisGrid.from_bounds("EPSG:4326", 110, 25, 110.1, 25.08, 0.01)
    cls = grid.dataarray(np.ones(grid.shape, dtype="float32"), name="c", units="1")
    zones = gpd.GeoDataFrame(
        {"zone_id": [1, 2], "name": ["a", "b"]},
        geometry=[
            Polygon([(110, 25), (110.1, 25), (110, 25.08)]),
            Polygon([(110.1, 25), (110.1, 25.08), (110, 25.08)]),
        ],
        crs="EPSG:4326",
    )
    area = pixel_area_ha(cls)
    try:
        long = zonal_class_areas(cls, area, zones)
    except InputDataError as exc:
        assert "exactextract coverage" in str(exc)
    else:
        assert long["area_ha"].sum() == pytest.approx(float(area.sum()), abs=0.01)


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def mula_mutha(shared_data):
    from pipeline.io import open_raster

    folder = shared_data / "mula_mutha_rusle_2020_in"
    soil_loss = open_raster(folder / "a_factor_2020.tif", chunks={"y": 512, "x": 512})
    catchment = gpd.read_file(folder / "Mula_Mutha_Catchment.shp")
    return soil_loss, catchment


def test_mula_mutha_area_weighted_class_shares(mula_mutha):
    soil_loss, _ = mula_mutha
    cls = classify_intensity(soil_loss, region="south_red_soil")
    area = pixel_area_ha(cls)
    table = class_area_table(cls, area)
    shares = table.set_index("class_code")["share_of_district_pct"]
    # SOURCE.md (spherical cell areas): micro 99.6223 %, light 0.3777 %; the shares are
    # ratios, so the ellipsoid-vs-sphere difference cancels to < 1e-5 percentage points.
    assert shares.loc[1] == pytest.approx(99.6223, abs=5e-5)
    assert shares.loc[2] == pytest.approx(0.3777, abs=5e-5)
    assert shares.loc[[3, 4, 5, 6]].sum() == 0.0
    counts = cls.to_series().value_counts()
    assert counts.sum() == 740_656
    count_share_light = 100.0 * counts.loc[2.0] / counts.sum()
    assert count_share_light == pytest.approx(0.3779, abs=5e-5)  # what pixel counting gives
    # SOURCE.md: valid area ≈ 5671.56 km² on a sphere of R = 6 371 008.8 m. On WGS84 a
    # cell's area is M·N·cos φ dφ dλ instead of R² cos φ dφ dλ; at the catchment's
    # central latitude (18.65°N) M·N/R² = 0.99669, so our ellipsoidal total must be
    # ~0.33 % below the spherical figure (we get 5653.94 km²).
    total_km2 = table["area_ha"].sum() / 100.0
    a, e2, phi = 6378137.0, 0.00669437999014, np.deg2rad(18.649)
    w = 1.0 - e2 * np.sin(phi) ** 2
    mn_over_r2 = (a * (1 - e2) / w**1.5) * (a / w**0.5) / 6371008.8**2
    assert total_km2 / 5671.56 == pytest.approx(mn_over_r2, abs=2e-4)
    assert total_km2 == pytest.approx(5653.94, abs=0.01)
    t = soil_loss.rio.transform()
    for i in (0, 435, 870):
        lat_top = t.f + i * t.e
        ref = geod_cell_area_ha(t.c, t.c + t.a, lat_top + t.e, lat_top)
        assert float(area[i, 0]) == pytest.approx(ref, rel=1e-7)
    summary = summarize(table)
    assert summary["dominant_class_code"] == 2
    assert summary["erosion_share_pct"] == pytest.approx(0.3777, abs=5e-5)


@pytest.mark.slow
def test_mula_mutha_zone_pieces_sum_to_the_catchment(mula_mutha):
    soil_loss, catchment = mula_mutha
    cls = classify_intensity(soil_loss, region="south_red_soil")
    area = pixel_area_ha(cls)
    catchment = catchment.assign(zone_id=["catchment"], name=["Mula–Mutha"])
    whole = zonal_class_areas(cls, area, catchment, layer_name="watershed")
    district = class_area_table(cls, area)
    # A is nodata outside the catchment: coverage-weighted totals equal the pixel
    # totals up to the partial pixels along the border (< 0.1 %)
    assert whole["area_ha"].sum() == pytest.approx(district["area_ha"].sum(), rel=1e-3)
    # cut the catchment into three pieces by lines through pixel interiors
    minx, miny, maxx, maxy = catchment.total_bounds
    x1 = minx + 0.3737 * (maxx - minx)
    y1 = miny + 0.5151 * (maxy - miny)
    cuts = [
        box(minx - 1, miny - 1, x1, maxy + 1),
        box(x1, miny - 1, maxx + 1, y1),
        box(x1, y1, maxx + 1, maxy + 1),
    ]
    geom = catchment.geometry.iloc[0]
    pieces = gpd.GeoDataFrame(
        {"zone_id": [1, 2, 3], "name": ["w", "se", "ne"]},
        geometry=[geom.intersection(c) for c in cuts],
        crs=catchment.crs,
    )
    parts = zonal_class_areas(cls, area, pieces, layer_name="watershed")
    np.testing.assert_allclose(
        parts.groupby("class_code")["area_ha"].sum().to_numpy(),
        whole["area_ha"].to_numpy(),
        atol=0.01,
    )


def test_invalid_zone_geometry_is_repaired_with_a_warning():
    crs = local_albers_crs(113.0, 23.0, 114.0, 24.0)
    grid = AnalysisGrid.from_bounds(crs, 0, 0, 400, 400, 100.0)
    cls = grid.dataarray(np.ones(grid.shape), name="c", units="1")
    bowtie = Polygon([(0, 0), (400, 400), (400, 0), (0, 400)])  # self-intersecting
    zones = gpd.GeoDataFrame({"zone_id": [1], "name": ["bow"]}, geometry=[bowtie], crs=crs)
    with pytest.warns(UserWarning, match=r"\[1\] have invalid geometries"):
        long = zonal_class_areas(cls, pixel_area_ha(cls), zones)
    assert long["area_ha"].sum() == pytest.approx(8.0, rel=1e-6)  # the two triangles


def test_nearly_equal_coordinates_do_not_drop_pixels():
    grid = geographic_grid()
    cls = random_classes(grid)
    area = pixel_area_ha(cls)
    ref = class_area_table(cls, area)
    noisy = area.assign_coords(x=area["x"].values + 1e-9)  # within check_same_grid's tolerance
    got = class_area_table(
        cls, noisy, mask=xr.ones_like(cls, dtype=bool).assign_coords(y=cls["y"] - 1e-9)
    )
    np.testing.assert_allclose(got["area_ha"], ref["area_ha"], rtol=1e-12)


def test_zone_partly_outside_the_raster_warns():
    grid = geographic_grid()
    cls = random_classes(grid)
    zones = gpd.GeoDataFrame(
        {"zone_id": ["edge"], "name": ["e"]}, geometry=[box(111.0, 29.0, 112.0, 31.0)], crs=4326
    )
    with pytest.warns(UserWarning, match=r"\['edge'\] extend beyond the raster"):
        long = zonal_class_areas(cls, pixel_area_ha(cls), zones)
    inside = class_area_table(
        cls.sel(x=slice(111.0, 111.5), y=slice(30.0, 29.0)),
        pixel_area_ha(cls).sel(x=slice(111.0, 111.5), y=slice(30.0, 29.0)),
    )
    np.testing.assert_allclose(long["area_ha"], inside["area_ha"], rtol=1e-6)


def test_centre_method_zones_sum_exactly_to_the_centre_masked_district():
    """Zones that tile the district, assigned by pixel centre, add up to the district table
    built with the same (centre) rule, to floating-point precision; coverage fractions do
    not, because border pixels are split while the district counts them whole."""
    import geopandas as gpd
    from rasterio.features import geometry_mask
    from shapely.geometry import Polygon, box

    from pipeline.grid import AnalysisGrid, local_albers_crs

    grid = AnalysisGrid.from_bounds(local_albers_crs(116, 25, 117, 26), 0, 0, 1000, 1000, 10.0)
    district = Polygon([(55, 30), (960, 80), (930, 955), (40, 900)])
    halves = [
        district.intersection(box(0, 0, 503.3, 1000)),
        district.intersection(box(503.3, 0, 1000, 1000)),
    ]
    rng = np.random.default_rng(1)
    codes = rng.integers(1, 7, size=grid.shape).astype("float32")
    inside = ~geometry_mask([district], out_shape=grid.shape, transform=grid.transform)
    intensity = grid.dataarray(np.where(inside, codes, np.nan), name="c", units="1").chunk(37)
    area = pixel_area_ha(intensity)
    table = class_area_table(intensity, area)
    zones = gpd.GeoDataFrame(
        {"zone_id": ["w", "e"], "name": ["西", "东"]}, geometry=halves, crs=grid.crs
    )
    centre = zonal_class_areas(intensity, area, zones, method="centre")
    by_class = centre.groupby("class_code")["area_ha"].sum().to_numpy()
    np.testing.assert_allclose(by_class, table["area_ha"].to_numpy(), rtol=0, atol=1e-9)
    coverage = zonal_class_areas(intensity, area, zones, method="coverage")
    assert abs(coverage["area_ha"].sum() - table["area_ha"].sum()) > 0.01
    assert abs(table["area_ha"].sum() * 1e4 - district.area) / district.area < 0.01
