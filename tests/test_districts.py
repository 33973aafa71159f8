"""Many districts in one run (#17): the district layer and the ranking, on small hand-made
inputs (the workflow itself: tests/test_districts_workflow.py)."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from shapely.geometry import box

from pipeline import layout
from pipeline.errors import ConfigError, InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.stages.districts import (
    district_id_text,
    make_district_layer,
    make_district_ranking,
)

CFG = {"id_field": "code", "name_field": "name", "name_en_field": "name_en"}


@pytest.fixture
def grid_path(tmp_path):
    grid = AnalysisGrid.from_bounds("EPSG:32650", 400000, 2760000, 402000, 2770000, 100.0)
    return layout.write_grid(grid, tmp_path / "grid.json")


def _layer(tmp_path, codes, names=("甲县", "乙县")):
    gdf = gpd.GeoDataFrame(
        {"code": codes, "name": list(names), "name_en": ["Jia", None]},
        geometry=[box(117.0, 25.0, 117.01, 25.01), box(117.01, 25.0, 117.02, 25.01)],
        crs=4326,
    )
    path = tmp_path / "counties.gpkg"
    gdf.to_file(path)
    return path


def test_layer_keeps_codes_names_and_moves_to_the_grid_crs(tmp_path, grid_path):
    out = tmp_path / "districts.gpkg"
    src = _layer(tmp_path, [350821.0, 350822.0])
    make_district_layer(source_path=src, grid_path=grid_path, out_path=out, districts=CFG)
    got = gpd.read_file(out, layer="districts")
    assert got["district_id"].tolist() == ["350821", "350822"]  # 6-digit codes, no ".0"
    assert got["name"].tolist() == ["甲县", "乙县"]
    assert got["name_en"].tolist() == ["Jia", "乙县"]  # no English name: the name
    assert got.crs.to_epsg() == 32650


def test_layer_errors_name_the_key(tmp_path, grid_path):
    out = tmp_path / "districts.gpkg"
    src = _layer(tmp_path, ["A1", "A1"])
    with pytest.raises(InputDataError, match="more than once"):
        make_district_layer(source_path=src, grid_path=grid_path, out_path=out, districts=CFG)
    with pytest.raises(ConfigError, match="districts.id_field"):
        make_district_layer(source_path=src, grid_path=grid_path, out_path=out,
                            districts={**CFG, "id_field": "adcode"})  # fmt: skip
    with pytest.raises(ConfigError, match="districts.id_field"):
        district_id_text("a/b")


def test_ranking_by_share_and_by_modulus(tmp_path):
    # hand-made: share 10 / 30 / 30 %, modulus 900 / 700 / 2500 t/km²·a
    rows = [("a", 10.0, 900.0), ("b", 30.0, 700.0), ("c", 30.0, 2500.0)]
    paths = []
    for d, share, modulus in rows:
        p = tmp_path / f"{d}.json"
        p.write_text(json.dumps({"district_id": d, "district_name": d.upper(),
                                 "erosion_share_pct": share, "mean_modulus_t_km2_a": modulus}))  # fmt: skip
        paths.append(p)
    csv, xlsx = tmp_path / "r.csv", tmp_path / "r.xlsx"
    make_district_ranking(summary_paths=paths, year=2024, out_csv=csv, out_xlsx=xlsx)
    t = layout.read_table(csv)
    # ties share the smaller rank; sorted by share rank, then by code
    assert t["district_id"].tolist() == ["b", "c", "a"]
    assert t["rank_erosion_share"].tolist() == [1, 1, 3]
    assert t["rank_mean_modulus"].tolist() == [3, 1, 2]
    assert (t["year"] == 2024).all()
    import pandas as pd

    x = pd.read_excel(xlsx, sheet_name="districts_2024")
    assert x["district_id"].tolist() == ["b", "c", "a"]
