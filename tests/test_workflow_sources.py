"""End-to-end: the Snakemake workflow on real sources (issue 6, [sources]).

(a) ``source.kind: local`` on the real Youwuzhen watershed (../shared/data, EPSG:2415
    with zone-prefixed eastings, no NDVI, no survey, 6 years of gauge rain): the
    district land area on the analysis grid (AOI-local Albers, 30 m) must equal the
    watershed's 7,310 px × 900 m² = 6.579 km² and the class areas must add up to it.
(b) ``source.kind: stac`` against a static catalogue of COGs served on 127.0.0.1 with
    HTTP range support (tests/stac_server.py), rain and soil from the demo generator:
    the workflow must produce a report.

Each run is one year on a grid of about 100 × 100 px; most of its time is the start-up
of the ~10 Snakemake jobs.
"""

from __future__ import annotations

import json
import os
import subprocess

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml

from pipeline.notebook import snakemake_command
from tests.conftest import REPO, example_paths_to_shared

pytestmark = pytest.mark.slow

#: The watershed: 7,310 valid 30 m pixels of the land-use map in EPSG:2415 (SOURCE.md).
WATERSHED_HA = 7310 * 900 / 1e4
#: Allowed relative difference of the district land area on the Albers grid. Measured:
#: 0.000 % (7,310 px at 30 m: classes fill the AOI mask up to its edge). The AOI
#: polygon itself has 657.83 ha in the Albers CRS (EPSG:2415 is conformal, −0.01 %).
AREA_TOLERANCE = 0.005


def snakemake(workdir, configfile, *args, env=None):
    cmd = snakemake_command(configfile, workdir, extra=args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)


def _fail_with_logs(proc, workdir):
    logs = "\n".join(
        f"--- {p.relative_to(workdir)}\n{p.read_text()[-3000:]}"
        for p in workdir.glob("logs/**/*.log")
    )
    pytest.fail(f"workflow failed:\n{proc.stderr[-6000:]}\n{logs}")


# ------------------------------------------------------------------- (a) local
@pytest.fixture(scope="module")
def local_run(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("workflow_local")
    cfg = yaml.safe_load((REPO / "configs" / "example-local.yaml").read_text(encoding="utf-8"))
    cfg = example_paths_to_shared(cfg, shared_data)
    cfg["years"] = [2017]
    configfile = root / "youwuzhen.yaml"
    configfile.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    workdir = root / "work"
    proc = snakemake(workdir, configfile)
    if proc.returncode != 0:
        _fail_with_logs(proc, workdir)
    return workdir


def _local(run, *parts):
    return run.joinpath("results", "youwuzhen", *parts)


def test_local_run_writes_a_report_with_every_number(local_run):
    html = _local(local_run, "2017", "report.html")
    assert html.stat().st_size > 10_000
    zh = _local(local_run, "2017", "bulletin_zh.md").read_text(encoding="utf-8")
    assert "XX" not in zh and "游屋圳小流域" in zh


def test_local_district_area_is_the_watershed_area(local_run):
    summary = json.loads(_local(local_run, "2017", "tables", "summary.json").read_text())
    land_ha = summary["land_area_ha"]
    assert abs(land_ha - WATERSHED_HA) / WATERSHED_HA < AREA_TOLERANCE, land_ha
    table = pd.read_csv(
        _local(local_run, "2017", "tables", "class_areas.csv"), encoding="utf-8-sig"
    )
    # classes add up to the classified pixels; land area is the AOI's true area (#12)
    assert abs(table["area_ha"].sum() - summary["classified_area_ha"]) < 0.01
    erosion = table.loc[table["class_code"] >= 2, "area_ha"].sum()
    assert abs(erosion - summary["erosion_area_ha"]) < 0.01


def test_local_aoi_is_the_only_township_and_watershed(local_run):
    summary = json.loads(_local(local_run, "2017", "tables", "summary.json").read_text())
    for layer in ("township", "watershed"):
        zones = pd.read_csv(
            _local(local_run, "2017", "tables", f"zones_{layer}.csv"), encoding="utf-8-sig"
        )
        if layer == "watershed":  # no layer given: small watersheds delineated from the DEM (#14)
            assert all(str(z).startswith("XLY") for z in zones["zone_id"].unique())
        else:
            assert zones["zone_id"].astype(str).unique().tolist() == ["1"]
            assert set(zones["zone_name"]) == {"游屋圳小流域"}
        # the one zone is the AOI as analysed (its grid pixels): no partial edge pixels
        assert abs(zones["area_ha"].sum() - summary["classified_area_ha"]) < 0.01


def test_local_inputs_are_on_an_albers_grid_in_shuibao_codes(local_run):
    from pipeline.io import open_raster

    res = local_run / "resources" / "youwuzhen"
    lc = open_raster(res / "landcover_2017.tif")
    assert lc.rio.crs.to_dict().get("proj") == "aea"
    codes = set(np.unique(lc.values[np.isfinite(lc.values)]).astype(int).tolist())
    assert codes == {1, 4, 7, 8, 9}  # forest, orchard, paddy, built-up, water
    dem = open_raster(res / "dem.tif")
    assert 270 < float(dem.min()) and float(dem.max()) < 560  # 278–550 m in the source


def test_short_rain_record_is_a_warning_not_a_failure(local_run):
    log = (local_run / "logs" / "youwuzhen" / "2017" / "factor_r.log").read_text()
    assert "WARNING" in log and "has 6 year(s) (2012–2017)" in log


def test_no_ndvi_no_survey_means_no_such_files_and_no_ml(local_run):
    res = local_run / "resources" / "youwuzhen"
    assert not (res / "ndvi_2017.tif").exists()
    assert not (res / "survey_2017.gpkg").exists()
    assert not (local_run / "results" / "youwuzhen" / "2017" / "ml").exists()


# -------------------------------------------------------------------- (b) STAC
STAC_AOI_LONLAT = (116.392, 25.673, 116.408, 25.687)  # inside the 2.56 km S2 tile


@pytest.fixture(scope="module")
def stac_run(tmp_path_factory):
    from tests.stac_server import serve_directory, write_static_catalog

    root = tmp_path_factory.mktemp("workflow_stac")
    catalog = write_static_catalog(root / "stac", years=(2023,))
    aoi = gpd.GeoDataFrame(
        {"name": ["试验区"]}, geometry=[shapely.box(*STAC_AOI_LONLAT)], crs="EPSG:4326"
    )
    aoi.to_file(root / "aoi.gpkg", layer="aoi")
    env = dict(
        os.environ,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR",
        GDAL_HTTP_MAX_RETRY="0",
    )
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(var, None)
    workdir = root / "work"
    with serve_directory(catalog.parent) as base_url:
        cfg = {
            "aoi": "stactest",
            "district_name": "试验区",
            "district_name_en": "Test area",
            "years": [2023],
            "source": {
                "kind": "stac",
                "inputs": {"rain": "demo", "soil": "demo"},
                "demo": {
                    "center_lon": 116.40,
                    "center_lat": 25.68,
                    "size_km": 4.0,
                    "resolution_m": 30.0,
                    "n_townships": 2,
                    "n_survey_points": 20,
                },
                "local": {
                    "aoi": str(root / "aoi.gpkg"),
                    "aoi_name": "试验区",
                    "aoi_name_en": "Test area",
                    "resolution_m": 30.0,
                },
                "stac": {
                    "catalog_url": f"{base_url}/catalog.json",
                    "worldcover_datetime": None,
                    "chunks": None,
                },
            },
            # the synthetic scenes have one NDVI per scene: no spread for pixel-dichotomy
            # end-members, so C from NDVI directly
            "cover": {"method": "van_der_knijff"},
            "ml": {"enabled": False},
        }
        configfile = root / "stac.yaml"
        configfile.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        proc = snakemake(workdir, configfile, env=env)
        requests = list(base_url.requests)
    if proc.returncode != 0:
        _fail_with_logs(proc, workdir)
    return workdir, requests


def test_stac_run_writes_a_report(stac_run):
    workdir, _ = stac_run
    html = workdir / "results" / "stactest" / "2023" / "report.html"
    assert html.stat().st_size > 10_000
    zh = (workdir / "results" / "stactest" / "2023" / "bulletin_zh.md").read_text(encoding="utf-8")
    assert "XX" not in zh


def test_stac_run_read_the_cogs_over_http_ranges(stac_run):
    _, requests = stac_run
    paths = [p for _, p, _ in requests]
    assert "/catalog.json" in paths
    ranged = [p for _, p, r in requests if r and p.endswith(".tif")]
    assert any("/s2/" in p for p in ranged)
    assert any("cop-dem-glo-30" in p for p in ranged)
    assert any("esa-worldcover" in p for p in ranged)


def test_stac_inputs_and_area(stac_run):
    from pipeline.io import open_raster
    from tests.stac_server import WORLDCOVER_STRIPS

    workdir, _ = stac_run
    res = workdir / "resources" / "stactest"
    lc = open_raster(res / "landcover_2023.tif")
    codes = set(np.unique(lc.values[np.isfinite(lc.values)]).astype(int).tolist())
    from pipeline.sources.local import WORLDCOVER_TO_SHUIBAO

    assert codes <= {WORLDCOVER_TO_SHUIBAO[c] for c in WORLDCOVER_STRIPS}
    ndvi = open_raster(res / "ndvi_2023.tif")
    assert ndvi.sizes["band"] == 24 and bool(np.isfinite(ndvi.values).all())
    aoi = gpd.read_file(res / "aoi.gpkg")
    aoi_ha = aoi.geometry.area.sum() / 1e4  # equal-area grid CRS
    summary = json.loads(
        (workdir / "results" / "stactest" / "2023" / "tables" / "summary.json").read_text()
    )
    # pixel centres in the AOI: the area is within half a pixel along the outline (a box
    # nearly aligned with the 30 m grid: measured +1.4 %, 252.72 ha for 249.12 ha)
    half_pixel_band_ha = aoi.geometry.length.sum() * 30.0 / 2 / 1e4
    assert abs(summary["land_area_ha"] - aoi_ha) <= half_pixel_band_ha
    table = pd.read_csv(
        workdir / "results" / "stactest" / "2023" / "tables" / "class_areas.csv",
        encoding="utf-8-sig",
    )
    # land area is the AOI's true area (#12); classes add up to the classified pixels, and the
    # half-pixel band along the outline is reported, not hidden
    assert abs(summary["land_area_ha"] - aoi_ha) < 0.01
    assert abs(table["area_ha"].sum() - summary["classified_area_ha"]) < 0.01
    assert abs(summary["boundary_difference_ha"]) <= half_pixel_band_ha
