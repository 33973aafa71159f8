"""Chinese shapefile attributes: GBK with and without .cpg, UTF-8, garbled text."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box

from pipeline.errors import InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.sources.local import read_zones
from pipeline.vector_io import detect_dbf_encoding, vector_encoding

NAMES = ["汀州镇", "大同镇", "策武镇"]


def _write(tmp_path, encoding, *, keep_cpg=True):
    gdf = gpd.GeoDataFrame(
        {"code": ["350821100", "350821101", "350821102"], "name": NAMES},
        geometry=[box(i * 100, 0, i * 100 + 100, 100) for i in range(3)],
        crs="EPSG:4547",
    )
    path = tmp_path / f"towns_{encoding}.shp"
    gdf.to_file(path, encoding=encoding, engine="pyogrio")
    if not keep_cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


@pytest.fixture
def grid():
    return AnalysisGrid.from_bounds("EPSG:4547", 0, 0, 300, 100, 10)


def test_gbk_bytes_really_are_gbk(tmp_path):
    path = _write(tmp_path, "GBK", keep_cpg=False)
    raw = path.with_suffix(".dbf").read_bytes()
    assert "汀州镇".encode("gbk") in raw  # the test file is what it claims to be
    assert "汀州镇".encode() not in raw
    assert not path.with_suffix(".cpg").exists()


@pytest.mark.parametrize("keep_cpg", [True, False])
def test_gbk_shapefile_reads_correctly(tmp_path, grid, keep_cpg):
    path = _write(tmp_path, "GBK", keep_cpg=keep_cpg)
    zones = read_zones(path, id_col="code", name_col="name", grid=grid)
    assert zones["name"].tolist() == NAMES
    if not keep_cpg:
        assert vector_encoding(path) == "GB18030"


def test_utf8_without_cpg_is_detected(tmp_path, grid):
    path = _write(tmp_path, "UTF-8", keep_cpg=False)
    assert vector_encoding(path) == "UTF-8"
    assert read_zones(path, id_col="code", name_col="name", grid=grid)["name"].tolist() == NAMES


def test_explicit_encoding_wins(tmp_path, grid):
    path = _write(tmp_path, "GBK", keep_cpg=False)
    assert vector_encoding(path, "GBK") == "GBK"
    zones = read_zones(path, id_col="code", name_col="name", grid=grid, encoding="GBK")
    assert zones["name"].tolist() == NAMES


def test_garbled_shapefile_stops_naming_the_file(tmp_path, grid):
    path = _write(tmp_path, "GBK", keep_cpg=False)
    dbf = path.with_suffix(".dbf")
    raw = dbf.read_bytes()
    gbk = "汀州镇".encode("gbk")
    # 0x80 and 0xFF are invalid lead bytes in GB18030 and invalid in UTF-8
    dbf.write_bytes(raw.replace(gbk, b"\xff\x80\xff\x80\xff\x80"))
    with pytest.raises(
        InputDataError, match=r"towns_GBK\.dbf.*neither UTF-8 nor GB18030.*encoding"
    ):
        detect_dbf_encoding(dbf)
    with pytest.raises(InputDataError, match="towns_GBK.dbf"):
        read_zones(path, id_col="code", name_col="name", grid=grid)


def test_ascii_and_geopackage_need_nothing(tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4547")
    shp = tmp_path / "a.shp"
    gdf.to_file(shp, engine="pyogrio")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    assert vector_encoding(shp) is None
    assert vector_encoding(tmp_path / "x.gpkg") is None
