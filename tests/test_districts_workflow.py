"""Many districts in one run (#17): the small demo with its townships as the districts.

One workflow run (module fixture) with ``districts.enabled: true`` (the layer defaults to the
run's township layer). Each district must get the figures of its own single-district run:
the soil-loss and statistics stages run again here with that township as the AOI on the
same grid and inputs (a separate workflow run with the township as its AOI would build its
own grid and end the DEM at the township border, changing LS; so the same grid is the
comparable run). Class areas agree to 1e-6 ha, the classified rasters byte for byte.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml

from pipeline import layout
from pipeline.config import validate_config
from pipeline.notebook import snakemake_command
from tests.conftest import REPO

pytestmark = pytest.mark.slow

SMALL = REPO / "tests" / "configs" / "small.yaml"
YEAR = 2024


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("districts")
    cfg = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    cfg["years"] = [YEAR]
    cfg["cover"]["endmember_years"] = [YEAR]
    cfg["ml"] = {"enabled": False}
    cfg["districts"] = {"enabled": True}
    path = workdir / "districts.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    proc = subprocess.run(
        snakemake_command(path, workdir), capture_output=True, text=True, timeout=1500
    )
    if proc.returncode != 0:
        logs = "\n".join(
            f"--- {p.relative_to(workdir)}\n{p.read_text()[-3000:]}"
            for p in workdir.glob("logs/**/*.log")
        )
        pytest.fail(f"workflow failed:\n{proc.stderr[-6000:]}\n{logs}")
    return workdir, validate_config(cfg)


def _paths(workdir):
    return layout.Layout.from_config({}, workdir=workdir)


def _district_ids(workdir):
    lay = _paths(workdir)
    gdf = layout.read_vector(lay.path("district_layer", aoi="small"), layer="districts")
    return gdf["district_id"].astype(str).tolist()


def test_every_township_is_a_district_with_its_report(run):
    workdir, _ = run
    lay = _paths(workdir)
    towns = layout.read_zones(lay.path("townships", aoi="small"))
    ids = _district_ids(workdir)
    assert sorted(ids) == sorted(str(z) for z in towns["zone_id"])
    for d in ids:
        w = dict(aoi="small", year=YEAR, district=d)
        summary = layout.read_json(lay.path("district_summary", **w))
        zh = open(lay.path("district_bulletin_zh", **w), encoding="utf-8").read()
        assert summary["district_id"] == d
        assert summary["district_name"] in zh and "XX" not in zh
        assert f"{summary['erosion_area_ha']:,.2f}".replace(",", "") in zh.replace(",", "")
        html = open(lay.path("district_report_html", **w), encoding="utf-8").read()
        assert summary["district_name"] in html


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_district_figures_equal_a_single_district_run(run, tmp_path, which):
    """Each township run alone (AOI = that township) through the soil-loss and statistics
    stages gives the district's table, summary and rasters."""
    from pipeline.stages.soil_loss import make_soil_loss
    from pipeline.stages.statistics import make_statistics

    workdir, cfg = run
    lay = _paths(workdir)
    towns = layout.read_zones(lay.path("townships", aoi="small"))
    d = _district_ids(workdir)[which]
    aoi = towns[towns["zone_id"].astype(str) == d][["name", "name_en", "geometry"]]
    aoi_path = layout.write_vector(aoi, tmp_path / "aoi.gpkg", key="aoi")
    w = dict(aoi="small", year=YEAR)
    single = {k: tmp_path / f"{k}.{ext}" for k, ext in
              (("soil_loss", "tif"), ("intensity", "tif"), ("classes", "csv"), ("summary", "json"),
               ("township", "csv"), ("watershed", "csv"))}  # fmt: skip
    make_soil_loss(
        factors=lay.factors("rusle", **w),
        landcover_path=lay.path("landcover", **w),
        aoi_path=aoi_path,
        out_soil_loss=single["soil_loss"],
        out_intensity=single["intensity"],
        model="rusle",
        classification=cfg["classification"],
    )
    make_statistics(
        intensity_path=single["intensity"],
        soil_loss_path=single["soil_loss"],
        aoi_path=aoi_path,
        zone_paths={
            "township": lay.path("townships", **w),
            "watershed": lay.path("watersheds", **w),
        },  # fmt: skip
        year=YEAR,
        out_classes=single["classes"],
        out_summary=single["summary"],
        out_zones={"township": single["township"], "watershed": single["watershed"]},
        statistics=cfg["statistics"],
        classification=cfg["classification"],
    )
    wd = dict(w, district=d)
    mine = layout.read_table(lay.path("district_class_areas", **wd))
    alone = layout.read_table(single["classes"])
    assert mine["class_code"].tolist() == alone["class_code"].tolist()
    np.testing.assert_allclose(mine["area_ha"], alone["area_ha"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        mine["share_of_district_pct"], alone["share_of_district_pct"], rtol=0, atol=1e-9
    )
    assert mine["area_ha"].sum() > 0
    s_mine = layout.read_json(lay.path("district_summary", **wd))
    s_alone = layout.read_json(single["summary"])
    for key in ("land_area_ha", "erosion_area_ha", "total_soil_loss_t_a", "unassessed_area_ha",
                "aoi_true_area_ha"):  # fmt: skip
        assert s_mine[key] == pytest.approx(s_alone[key], abs=1e-6), key
    assert s_mine["mean_modulus_t_km2_a"] == pytest.approx(
        s_alone["mean_modulus_t_km2_a"], rel=1e-12
    )
    assert s_mine["district_class_code"] == s_alone["district_class_code"]
    # the township's own row of the zone table: same class areas
    zt_mine = layout.read_table(lay.path("district_zones_township", **wd))
    zt_alone = layout.read_table(single["township"])
    pick = [c for c in zt_alone.columns if c in ("class_code", "area_ha")]
    a = zt_alone[zt_alone["zone_id"].astype(str) == d][pick].reset_index(drop=True)
    b = zt_mine[zt_mine["zone_id"].astype(str) == d][pick].reset_index(drop=True)
    np.testing.assert_allclose(b.to_numpy(float), a.to_numpy(float), rtol=0, atol=1e-6)
    # the classified raster: the district's window of the single run, value for value
    with rasterio.open(lay.path("district_intensity", **wd)) as src:
        mine_px, win_bounds = src.read(1), src.bounds
    with rasterio.open(single["intensity"]) as src:
        win = rasterio.windows.from_bounds(*win_bounds, transform=src.transform)
        alone_px = src.read(1, window=win.round_offsets().round_lengths())
    assert mine_px.shape == alone_px.shape
    assert np.array_equal(mine_px, alone_px)


def test_districts_add_up_to_the_run_and_are_ranked(run):
    workdir, _ = run
    lay = _paths(workdir)
    ids = _district_ids(workdir)
    w = dict(aoi="small", year=YEAR)
    zones = layout.read_table(lay.path("zones_township", **w))
    whole = zones.groupby("class_code")["area_ha"].sum()
    parts = sum(
        layout.read_table(lay.path("district_class_areas", **w, district=d)).set_index(
            "class_code"
        )["area_ha"]
        for d in ids
    )
    # the districts are the townships, and the run's township table uses the same
    # pixel-centre rule: class by class, the districts add up to it
    np.testing.assert_allclose(parts.to_numpy(), whole.to_numpy(), rtol=0, atol=1e-6)
    ranking = layout.read_table(lay.path("district_ranking", **w))
    assert sorted(ranking["district_id"].astype(str)) == sorted(ids)
    shares = ranking["erosion_share_pct"].to_numpy()
    assert np.all(np.diff(shares) <= 0) and ranking["rank_erosion_share"].iloc[0] == 1
    top = ranking.sort_values("mean_modulus_t_km2_a", ascending=False).iloc[0]
    assert top["rank_mean_modulus"] == 1
    for _, row in ranking.iterrows():
        s = json.loads(open(lay.path("district_summary", **w, district=row["district_id"])).read())
        assert row["erosion_share_pct"] == pytest.approx(s["erosion_share_pct"], rel=1e-12)
    xlsx = pd.read_excel(lay.path("district_ranking_xlsx", **w), sheet_name=f"districts_{YEAR}")
    assert xlsx["district_id"].astype(str).tolist() == ranking["district_id"].astype(str).tolist()
