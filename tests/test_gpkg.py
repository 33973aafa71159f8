"""GeoPackage deliverable: layers, attributes that add up, patch-area bookkeeping."""

from __future__ import annotations

import json
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from scipy import ndimage
from shapely.geometry import box

from pipeline.grid import AnalysisGrid, local_albers_crs
from pipeline.io import write_cog
from pipeline.stages.deliverables import make_gpkg, make_zone_tables
from pipeline.stages.statistics import make_statistics

RES = 10.0  # 10 m pixels: 0.01 ha each
N = 60
MMU_HA = 0.05  # patches of fewer than 5 pixels are left out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("gpkg")
    g = AnalysisGrid.from_bounds(
        local_albers_crs(116.3, 25.6, 116.5, 25.8), 0, 0, N * RES, N * RES, RES
    )
    rng = np.random.default_rng(3)
    # blocky classes (3×3 blocks) plus salt noise, so there are patches above and below the MMU
    blocks = rng.integers(1, 7, size=(N // 3, N // 3))
    cls = np.kron(blocks, np.ones((3, 3))).astype("float64")
    noise = rng.random((N, N)) < 0.05
    cls[noise] = rng.integers(1, 7, size=noise.sum())
    cls[:2, :2] = np.nan  # nodata corner
    a = cls * 10.0 + rng.random((N, N))
    write_cog(
        g.dataarray(cls, name="i", units="class"), d / "intensity.tif", dtype="uint8", nodata=255
    )
    write_cog(g.dataarray(a, name="a", units="t ha-1 a-1"), d / "soil_loss.tif")
    write_cog(g.dataarray(rng.random((N, N)) * 40, name="s", units="degree"), d / "slope.tif")
    lc = rng.integers(1, 8, size=(N, N)).astype("float64")
    write_cog(g.dataarray(lc, name="lc", units="1"), d / "landcover.tif", dtype="uint8", nodata=255)
    half = N * RES / 2
    crs = g.crs
    gpd.GeoDataFrame({"name": ["区"]}, geometry=[box(0, 0, N * RES, N * RES)], crs=crs).to_file(
        d / "aoi.gpkg"
    )
    gpd.GeoDataFrame(
        {"zone_id": [1, 2], "name": ["汀州镇", "大同镇"]},
        geometry=[box(0, 0, half, N * RES), box(half, 0, N * RES, N * RES)],
        crs=crs,
    ).to_file(d / "townships.gpkg")
    gpd.GeoDataFrame(
        {"zone_id": ["W01", "W02"], "name": ["北流域", "南流域"]},
        geometry=[box(0, half - 10, N * RES, N * RES), box(0, 0, N * RES, half - 10)],
        crs=crs,
    ).to_file(d / "watersheds.gpkg")
    zones = {"township": d / "townships.gpkg", "watershed": d / "watersheds.gpkg"}
    t = d / "tables"
    make_statistics(
        intensity_path=d / "intensity.tif",
        zone_paths=zones,
        year=2024,
        out_classes=t / "class_areas.csv",
        out_summary=t / "summary.json",
        out_zones={k: t / f"zones_{k}.csv" for k in zones},
    )
    make_zone_tables(
        intensity_path=d / "intensity.tif",
        soil_loss_path=d / "soil_loss.tif",
        slope_path=d / "slope.tif",
        landcover_path=d / "landcover.tif",
        aoi_path=d / "aoi.gpkg",
        zone_paths=zones,
        zone_class_paths={"township": t / "zones_township.csv"},
        district_name="区",
        out_soil_loss={k: t / f"zone_soil_loss_{k}.csv" for k in ("district", *zones)},
        out_slope_landuse=t / "slope_landuse_intensity.csv",
        out_key_zones=t / "key_townships.csv",
    )
    tables = {
        "classes": t / "class_areas.csv",
        "summary": t / "summary.json",
        "soil_loss_district": t / "zone_soil_loss_district.csv",
    }
    for k in zones:
        tables[f"zones_{k}"] = t / f"zones_{k}.csv"
        tables[f"soil_loss_{k}"] = t / f"zone_soil_loss_{k}.csv"
    out = d / "shuibao_2024.gpkg"
    make_gpkg(
        intensity_path=d / "intensity.tif",
        aoi_path=d / "aoi.gpkg",
        zone_paths=zones,
        tables=tables,
        year=2024,
        district_name="区",
        out_gpkg=out,
        out_bookkeeping=t / "patch_bookkeeping.csv",
        mmu_ha=MMU_HA,
    )
    return {"dir": d, "gpkg": out, "cls": cls, "tables": t}


def test_layers_open_with_pyogrio(run):
    layers = {name for name, _ in pyogrio.list_layers(run["gpkg"])}
    assert {"district", "townships", "watersheds", "intensity_patches"} <= layers
    info = pyogrio.read_info(run["gpkg"], layer="intensity_patches")
    assert info["geometry_type"] == "MultiPolygon"
    assert (
        "CGCS2000 / Albers Equal Area"
        in pyogrio.read_dataframe(run["gpkg"], layer="townships").crs.to_wkt()
    )
    assert run["gpkg"].with_suffix(".qml").exists()


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin (ogrinfo) not installed")
def test_ogrinfo_opens_the_geopackage(run):
    out = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", str(run["gpkg"])], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "ERROR" not in out.stderr
    for layer in ("district", "townships", "watersheds", "intensity_patches"):
        assert f"Layer name: {layer}" in out.stdout


def test_township_attributes_sum_to_district(run):
    town = pyogrio.read_dataframe(run["gpkg"], layer="townships")
    dist = pyogrio.read_dataframe(run["gpkg"], layer="district").iloc[0]
    for col in [
        "land_area_ha",
        "erosion_area_ha",
        "slight_area_ha",
        "light_area_ha",
        "moderate_area_ha",
        "intense_area_ha",
        "very_intense_area_ha",
        "severe_area_ha",
    ]:
        assert abs(town[col].sum() - dist[col]) <= 0.01, col
    assert town["total_soil_loss_t_yr"].sum() == pytest.approx(dist["total_soil_loss_t_yr"])
    # the district land area = valid pixels × 0.01 ha (2×2 nodata corner)
    assert dist["land_area_ha"] == pytest.approx((N * N - 4) * 0.01)
    assert set(town["zone_name"]) == {"汀州镇", "大同镇"}


def _components_below_mmu(cls, unit, code):
    """Independent count: area (ha) of 4-connected same-class components within a unit
    smaller than the MMU (scipy.ndimage.label)."""
    removed = 0.0
    for u in np.unique(unit[unit >= 0]):
        lab, n = ndimage.label((cls == code) & (unit == u))
        sizes = np.bincount(lab.ravel())[1:] * 0.01
        removed += sizes[sizes < MMU_HA - 1e-9].sum()
    return removed


def test_patch_areas_add_up_with_the_mmu_bookkeeping(run):
    patches = pyogrio.read_dataframe(run["gpkg"], layer="intensity_patches")
    book = pd.read_csv(run["tables"] / "patch_bookkeeping.csv", encoding="utf-8-sig")
    classes = pd.read_csv(run["tables"] / "class_areas.csv", encoding="utf-8-sig")
    by_class = patches.groupby("class_code")["area_ha"].sum()
    cls = run["cls"]
    # units: township split at x = 300 m (column 30), watershed at y = 290 m (row 31 from
    # the top, y counted from the bottom edge at 0); boundaries on pixel edges
    col = np.arange(N)
    row = np.arange(N)
    t = np.broadcast_to((col * RES + RES / 2 > 300)[None, :], (N, N)).astype(int)
    y_centre = N * RES - (row * RES + RES / 2)
    w = np.broadcast_to((y_centre < 290)[:, None], (N, N)).astype(int)
    unit = np.where(np.isfinite(cls), t * 2 + w, -1)
    for _, r in book.iterrows():
        code = int(r["class_code"])
        district_area = float(classes.set_index("class_code").loc[code, "area_ha"])
        assert r["class_area_ha"] == pytest.approx(district_area)
        assert r["outside_zones_ha"] == pytest.approx(0.0, abs=1e-9)
        # patches + removed = class area
        assert by_class.get(code, 0.0) + r["removed_below_mmu_ha"] == pytest.approx(
            district_area, abs=1e-6
        )
        assert r["removed_below_mmu_ha"] == pytest.approx(_components_below_mmu(cls, unit, code))
    assert book["removed_below_mmu_ha"].sum() > 0  # the MMU did remove something
    # geometry areas agree with the attribute (equal-area grid: 1 m² = 1e-4 ha)
    np.testing.assert_allclose(patches.geometry.area / 1e4, patches["area_ha"], rtol=1e-9)
    # every patch carries its township and watershed, and lies in that township
    assert patches["township"].notna().all() and patches["watershed"].notna().all()
    town = pyogrio.read_dataframe(run["gpkg"], layer="townships").set_index("zone_name")
    inside = [
        town.loc[p.township, "geometry"].buffer(1e-6).contains(p.geometry)
        for p in patches.itertuples()
    ]
    assert all(inside)
    # one feature per (township, watershed, class): dissolved
    assert not patches.duplicated(["township_id", "watershed_id", "class_code"]).any()


def test_summary_json_is_strict(run):
    def refuse(name):
        raise ValueError(name)

    json.loads((run["tables"] / "summary.json").read_text("utf-8"), parse_constant=refuse)


def test_patches_on_a_gauss_kruger_grid_keep_true_areas():
    """EPSG:4547 (CGCS2000 3° GK, CM 114°E) 300 km east of the central meridian: map
    areas are ~0.11 % too large; patch areas use the true (ellipsoidal) pixel areas."""
    from pipeline.stages.deliverables import intensity_patches

    g = AnalysisGrid.from_bounds("EPSG:4547", 800_000, 2_850_000, 801_000, 2_851_000, 10)
    rng = np.random.default_rng(5)
    cls = np.kron(rng.integers(1, 7, size=(20, 20)), np.ones((5, 5))).astype("float64")
    da = g.dataarray(cls, name="i", units="class")
    from pipeline import stats

    area = stats.pixel_area_ha(da)
    assert float(area.mean()) < 0.01 * (1 - 5e-4)  # true area clearly below the map area
    z = gpd.GeoDataFrame({"zone_id": [1], "name": ["甲"]}, geometry=[box(*g.bounds)], crs=g.crs)
    idx = {k: np.asarray(stats.zone_index(z, da).values) for k in ("township", "watershed")}
    patches, book = intensity_patches(da, area, idx, {"township": z, "watershed": z}, mmu_ha=0.0)
    for _, r in book.iterrows():
        exact = float(area.values[cls == r["class_code"]].sum())
        got = float(patches.loc[patches["class_code"] == r["class_code"], "area_ha"].sum())
        assert got == pytest.approx(exact, rel=1e-6)
        assert r["removed_below_mmu_ha"] == 0.0
