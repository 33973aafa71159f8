"""Report provenance: data sources, non-default parameters, software, config hash, banner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine

from pipeline.config import config_hash, validate_config
from pipeline.report import provenance
from pipeline.report.html import build_html_report, render_html_report
from pipeline.stats import _class_table

LOCAL = {
    "aoi": "x",
    "years": [2024],
    "source": {"kind": "local"},
    "support": {"table": {"forest": 1.0, "paddy": 0.2}},
    "terrain": {"routing": "d8"},
}


def test_non_default_parameters_lists_exactly_the_changed_keys():
    cfg = validate_config(LOCAL)
    params = provenance.non_default_parameters(cfg).set_index("key")
    assert "terrain.routing" in params.index
    assert params.loc["terrain.routing", "value"] == '"d8"'
    assert params.loc["terrain.routing", "default"] == '"mfd"'
    assert "source.kind" in params.index
    assert params.loc["support.table.paddy", "value"] == "0.2"
    # the user's P table replaces the default one: its dropped entries are listed too
    assert params.loc["support.table.orchard", "value"] == "—"
    assert params.loc["support.table.orchard", "default"] == "0.7"
    assert "rainfall.method" not in params.index  # left at its default
    assert "terrain.m_method" not in params.index


def test_banner_demo_illustrative_and_none():
    demo = validate_config({"aoi": "x", "years": [2024]})
    assert provenance.banner(demo).startswith("示范数据 / synthetic demo data")
    # local data but the default (illustrative, study-specific) P table
    local_default_p = validate_config({"aoi": "x", "years": [2024], "source": {"kind": "local"}})
    text = provenance.banner(local_default_p)
    assert text.startswith("示范参数 / illustrative tables") and "support.table" in text
    assert provenance.banner(validate_config(LOCAL)) is None
    # a SYNTHETIC-tagged input on a local run still gets the demo banner
    sources = pd.DataFrame([{"file": "dem.tif", "synthetic": "yes"}])
    assert provenance.banner(validate_config(LOCAL), sources).startswith("示范数据")


def test_data_sources_read_tags_and_sidecars(tmp_path):
    profile = dict(
        driver="GTiff",
        width=2,
        height=2,
        count=1,
        dtype="uint8",
        crs="EPSG:4547",
        transform=Affine(10, 0, 0, 0, -10, 20),
    )
    with rasterio.open(tmp_path / "ndvi_2024.tif", "w", **profile) as dst:
        dst.write(np.zeros((1, 2, 2), "uint8"))
        dst.update_tags(source="stac:sentinel-2-l2a", year="2024")
    (tmp_path / "dem.tif.provenance.json").write_text(
        '{"asset_ids": ["COP-DEM_GLO-30_N25_E116"], "dates": ["2021-04-22"]}', encoding="utf-8"
    )
    with rasterio.open(tmp_path / "dem.tif", "w", **profile) as dst:
        dst.write(np.zeros((1, 2, 2), "uint8"))
    df = provenance.data_sources(tmp_path).set_index("file")
    assert df.loc["ndvi_2024.tif", "source"] == "stac:sentinel-2-l2a"
    assert df.loc["ndvi_2024.tif", "year"] == "2024"
    assert "COP-DEM_GLO-30_N25_E116" in df.loc["dem.tif", "asset_ids"]
    assert "2021-04-22" in df.loc["dem.tif", "dates"]


def test_appendix_in_html_with_banner_and_config_hash(tmp_path):
    cfg = validate_config(LOCAL)
    app = provenance.appendix(cfg, tmp_path)
    assert app["config_hash"] == config_hash(cfg)
    html = render_html_report(
        title="t",
        district_name="示例区",
        year=2024,
        bulletin_paragraph="x",
        district_table=_class_table(np.array([5.0, 3, 1, 1, 0, 0])),
        summary={},
        extra_sections=provenance.appendix_sections(app),
        banner="示范数据 / synthetic demo data",
    )
    assert 'id="demo-banner"' in html and "示范数据 / synthetic demo data" in html
    assert "附录一 数据来源" in html and "附录二 非默认参数" in html
    assert app["config_hash"] in html
    assert "terrain.routing" in html and "GDAL" in html and "shuibao" in html
    rows = dict(provenance.appendix_rows(app))
    assert rows["配置哈希 config hash"] == app["config_hash"]


@pytest.mark.browser
@pytest.mark.slow
def test_banner_and_appendix_render_in_chromium(tmp_path):
    from tests.test_report_html import (
        colour_mask,
        leaving_requests,
        load_in_chromium,
        needs_chromium,
    )

    if needs_chromium.args[0]:
        pytest.skip(needs_chromium.kwargs["reason"])
    cfg = validate_config({"aoi": "x", "years": [2024]})
    app = provenance.appendix(cfg, tmp_path)
    out = build_html_report(
        tmp_path / "report.html",
        title="2024年示例区水土流失动态监测报告",
        district_name="示例区",
        year=2024,
        bulletin_paragraph="x",
        district_table=_class_table(np.array([5.0, 3, 1, 1, 0, 0])),
        summary={},
        extra_sections=provenance.appendix_sections(app),
        banner=app["banner"],
    )
    shot = tmp_path / "shot.png"
    result = load_in_chromium(out, shot)
    assert leaving_requests(result["requests"]) == []
    assert result["failed"] == [] and result["exceptions"] == []
    from matplotlib import image as mimage

    rgb = mimage.imread(shot)[..., :3]
    assert colour_mask(rgb, "#fff3cd").sum() > 5000  # the banner's background is on screen
