"""Styled rasters: colour table, RAT sidecar, QGIS style, float32 + averaged overviews, named CRS."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rasterio
from pyproj import CRS

from pipeline import classify
from pipeline.errors import ConfigError
from pipeline.grid import AnalysisGrid, local_albers_crs
from pipeline.io import write_cog
from pipeline.raster_style import (
    DEFAULT_CLASS_COLOURS,
    class_colours,
    gdal_colormap,
    write_intensity_sidecars,
)

BREAKS = (5.0, 25.0, 50.0, 80.0, 150.0)


@pytest.fixture
def grid():
    return AnalysisGrid.from_bounds(
        local_albers_crs(116.3, 25.6, 116.5, 25.8), 0, 0, 1280, 1280, 10
    )


@pytest.fixture
def intensity_tif(tmp_path, grid):
    codes = (np.arange(grid.height * grid.width) % 6 + 1).reshape(grid.shape).astype("float64")
    codes[0, 0] = np.nan
    da = grid.dataarray(codes, name="intensity", units="class")
    path = tmp_path / "intensity.tif"
    colours = class_colours({"severe": "#000000"})
    write_cog(da, path, dtype="uint8", nodata=255, colormap=gdal_colormap(colours, nodata=255))
    write_intensity_sidecars(path, colours=colours, breaks=BREAKS)
    return path


def test_colour_table_in_geotiff(intensity_tif):
    with rasterio.open(intensity_tif) as src:
        cmap = src.colormap(1)
        assert src.colorinterp[0] == rasterio.enums.ColorInterp.palette
        assert src.dtypes[0] == "uint8"
    # 轻度 default #a6d96a = (166, 217, 106); severe overridden to black
    assert cmap[2] == (166, 217, 106, 255)
    assert cmap[6] == (0, 0, 0, 255)
    assert cmap[255][3] == 0  # nodata transparent


def test_rat_sidecar_lists_the_six_classes(intensity_tif):
    aux = intensity_tif.with_name(intensity_tif.name + ".aux.xml")
    rat = ET.parse(aux).getroot().find("./PAMRasterBand/GDALRasterAttributeTable")
    names = [f.findtext("Name") for f in rat.findall("FieldDefn")]
    assert names[:4] == ["Value", "class_zh", "class_en", "class_key"]
    rows = [[c.text for c in r.findall("F")] for r in rat.findall("Row")]
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    assert [r[1] for r in rows] == ["微度", "轻度", "中度", "强烈", "极强烈", "剧烈"]
    assert rows[0][2] == "Slight" and rows[5][2] == "Severe"
    # class bounds: 中度 is 25 <= A < 50; 剧烈 open-ended (-1)
    assert rows[2][4:6] == ["25", "50"] and rows[5][5] == "-1"


def test_qml_is_a_paletted_style(intensity_tif):
    root = ET.parse(intensity_tif.with_suffix(".qml")).getroot()
    renderer = root.find("./pipe/rasterrenderer")
    assert renderer.get("type") == "paletted"
    entries = renderer.findall("./colorPalette/paletteEntry")
    assert [e.get("value") for e in entries] == ["1", "2", "3", "4", "5", "6"]
    assert entries[0].get("color") == DEFAULT_CLASS_COLOURS[1]
    assert "剧烈" in entries[5].get("label")


@pytest.mark.skipif(shutil.which("gdalinfo") is None, reason="gdal-bin (gdalinfo) not installed")
def test_gdalinfo_sees_colour_table_rat_and_crs_name(intensity_tif):
    info = json.loads(
        subprocess.run(
            ["gdalinfo", "-json", str(intensity_tif)], check=True, capture_output=True, text=True
        ).stdout
    )
    band = info["bands"][0]
    assert band["colorInterpretation"] == "Palette"
    assert len(band["colorTable"]["entries"]) >= 7
    rat = info["rat"]
    assert [f["name"] for f in rat["fieldDefn"]][:3] == ["Value", "class_zh", "class_en"]
    assert [r["f"][1] for r in rat["row"]] == ["微度", "轻度", "中度", "强烈", "极强烈", "剧烈"]
    wkt = info["coordinateSystem"]["wkt"]
    assert 'PROJCRS["unknown"' not in wkt
    assert "CGCS2000 / Albers Equal Area (Shuibao AOI" in wkt


def test_named_crs_keeps_areas(grid):
    crs = grid.crs
    assert crs.name.startswith("CGCS2000 / Albers Equal Area (Shuibao AOI 116.30E-116.50E")
    assert grid.is_equal_area
    # the datum is CGCS2000 (EPSG:4490), whose ellipsoid is GRS80 to 1e-11 in 1/f
    assert crs.geodetic_crs == CRS.from_epsg(4490)
    assert crs.ellipsoid.semi_major_metre == 6378137.0
    assert abs(crs.ellipsoid.inverse_flattening - 298.257222101) < 1e-6


def test_float64_stored_float32_with_average_overviews(tmp_path):
    g = AnalysisGrid.from_bounds(local_albers_crs(116.3, 25.6, 116.5, 25.8), 0, 0, 2048, 2048, 2)
    # a checkerboard of 0 and 1: averaged overview pixels are 0.5, nearest ones 0 or 1
    yy, xx = np.indices(g.shape)
    data = ((yy + xx) % 2).astype("float64")
    path = write_cog(g.dataarray(data, name="R", units="x"), tmp_path / "R.tif")
    with rasterio.open(path) as src:
        assert src.dtypes[0] == "float32"
        assert src.overviews(1), "expected overviews"
        ov = src.read(1, out_shape=(src.height // 2, src.width // 2))
    np.testing.assert_allclose(ov, 0.5, atol=1e-6)


def test_bad_colour_is_a_config_error():
    with pytest.raises(ConfigError, match="report.class_colours"):
        class_colours({"severe": "red"})
    with pytest.raises(ConfigError, match="unknown class"):
        class_colours({"huge": "#000000"})


def test_intensity_nodata_matches_classify():
    assert gdal_colormap(DEFAULT_CLASS_COLOURS, nodata=classify.NODATA)[255] == (0, 0, 0, 0)
