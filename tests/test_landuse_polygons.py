"""三调-style land-use polygons (DLBM codes) → land-cover raster on the analysis grid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml
from shapely.geometry import box

from pipeline import landcover
from pipeline.errors import InputDataError
from pipeline.grid import AnalysisGrid, local_albers_crs
from pipeline.landuse_polygons import dlbm_to_codes, rasterize_landuse, sandiao_table

ROOT = Path(__file__).resolve().parents[1]
C = landcover.CODE_BY_KEY


def test_table_covers_gbt21010_second_level_codes():
    t = sandiao_table()
    # GB/T 21010-2017 / 三调 codes and names
    assert t["0101"] == ("水田", "paddy")
    assert t["0305"] == ("灌木林地", "shrub")
    assert t["05H1"][0] == "商业服务业设施用地"
    assert t["1206"] == ("裸土地", "bare")
    assert {v[1] for v in t.values()} <= set(landcover.CODE_BY_KEY)


def test_codes_suffixes_terraces_and_overrides():
    codes = dlbm_to_codes(
        ["0201K", "1104A", "0103", "0103", "0901", "0301"],
        terrace=["", "", "TT", "PD", "", ""],
        recode={"0301": "shrub"},
    )
    assert codes.tolist() == [
        C["orchard"],
        C["water"],
        C["terraced_cropland"],
        C["sloping_cropland"],
        C["built_up"],
        C["shrub"],
    ]
    with pytest.raises(InputDataError, match=r"\['9999'\]"):
        dlbm_to_codes(["0101", "9999"])


def test_pixel_centre_rule_like_the_zones():
    g = AnalysisGrid.from_bounds(local_albers_crs(116, 25, 117, 26), 0, 0, 40, 20, 10)
    # boundary at x = 16: pixel centres 5, 15 are west, 25, 35 east
    gdf = gpd.GeoDataFrame(
        {"DLBM": ["0101", "0301"]},
        geometry=[box(0, 0, 16, 20), box(16, 0, 40, 10)],
        crs=g.crs,
    )
    out = rasterize_landuse(gdf, g)
    assert out.tolist() == [
        [C["paddy"], C["paddy"], 255, 255],
        [C["paddy"], C["paddy"], C["forest"], C["forest"]],
    ]


PATCHES = [  # (DLBM, GDLX, DLMC, expected key)
    ("0301", "", "乔木林地", "forest"),
    ("0103", "TT", "旱地", "terraced_cropland"),
    ("0103", "PD", "旱地", "sloping_cropland"),
    ("0101", "", "水田", "paddy"),
    ("0201K", "", "可调整果园", "orchard"),
    ("0305", "", "灌木林地", "shrub"),
    ("0404", "", "其他草地", "grass"),
    ("0702", "", "农村宅基地", "built_up"),
    ("1101", "", "河流水面", "water"),
]


def _sandiao_layer(path: Path) -> None:
    """A 3×3 grid of 三调 polygons in lon/lat around the small demo's centre, written as
    a GBK shapefile without .cpg (as many 三调 extracts are)."""
    lon0, lat0, d = 116.37, 25.67, 0.02
    rows = []
    for i, (dlbm, gdlx, dlmc, _) in enumerate(PATCHES):
        r, c = divmod(i, 3)
        rows.append(
            {
                "DLBM": dlbm,
                "GDLX": gdlx,
                "DLMC": dlmc,
                "geometry": box(lon0 + c * d, lat0 + r * d, lon0 + (c + 1) * d, lat0 + (r + 1) * d),
            }
        )
    gdf = gpd.GeoDataFrame(rows, crs="EPSG:4490")
    gdf.to_file(path, encoding="GBK", engine="pyogrio")
    path.with_suffix(".cpg").unlink(missing_ok=True)


@pytest.mark.slow
def test_sandiao_polygons_run_the_small_workflow(tmp_path):
    shp = tmp_path / "dltb.shp"
    _sandiao_layer(shp)
    cfg = yaml.safe_load((ROOT / "tests/configs/small.yaml").read_text(encoding="utf-8"))
    cfg["ml"] = {"enabled": False}
    cfg["source"]["inputs"] = {"landcover": "local"}
    cfg["source"]["local"] = {"landcover": {"path": str(shp)}}
    cfg["years"] = [2024]
    cfg["results_dir"] = str(tmp_path / "results")
    cfg["resources_dir"] = str(tmp_path / "resources")
    cfg_path = tmp_path / "sandiao.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            "2",
            "--configfile",
            str(cfg_path),
            "--directory",
            str(ROOT),
            "--quiet",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lc_path = tmp_path / "resources" / "small" / "landcover_2024.tif"
    with rasterio.open(lc_path) as src:
        lc = src.read(1)
        crs, transform = src.crs, src.transform
        assert src.tags()["source"] == "local:dltb.shp"
    # the land cover at each polygon's centre is its mapped class
    gdf = gpd.read_file(shp, encoding="GBK").to_crs(crs)
    for (dlbm, _, _, key), geom in zip(PATCHES, gdf.geometry, strict=True):
        p = geom.representative_point()
        col, row = ~transform * (p.x, p.y)
        if 0 <= row < lc.shape[0] and 0 <= col < lc.shape[1]:
            assert lc[int(row), int(col)] == C[key], dlbm
    present = set(np.unique(lc).tolist())
    assert {C["forest"], C["terraced_cropland"], C["paddy"]} <= present
    report = tmp_path / "results" / "small" / "2024" / "report.html"
    assert report.exists() and (tmp_path / "results/small/2024/shuibao_2024.gpkg").exists()
