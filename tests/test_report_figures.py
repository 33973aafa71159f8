"""Maps and charts of the bulletin report (pipeline.report.maps / charts / fonts).

Figures are checked as pictures: real PNGs of a sane size whose pixels carry the fixed
class colours where the synthetic raster has those classes, north up; decimation of a
dask raster computes only the decimated array.
"""

from __future__ import annotations

import logging
import warnings

import dask
import dask.array as dsa
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib import colors as mcolors
from matplotlib import image as mimage
from scipy import ndimage
from shapely.geometry import box

from pipeline.classify import CLASSES
from pipeline.errors import ConfigError, InputDataError
from pipeline.grid import AnalysisGrid, local_albers_crs
from pipeline.report import charts, fonts, maps
from tests.utils import raise_if_dask_computes

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BREAKS = (5.0, 25.0, 50.0, 80.0, 150.0)
CRS = local_albers_crs(113.0, 25.0, 114.0, 26.0)


# ------------------------------------------------------------------------------ inputs
def synthetic_intensity(dtype="float32") -> xr.DataArray:
    """60 × 80 classes on a 30 m Albers grid (2.4 km × 1.8 km).

    Top-left quadrant 6 (剧烈), bottom-right quadrant 2 (轻度), a band of 3/4/5 in the
    bottom-left, the rest 1 (微度); a 6 × 6 nodata hole at rows 12–17, columns 60–65.
    """
    codes = np.ones((60, 80), dtype="float32")
    codes[:30, :40] = 6
    codes[30:, 40:] = 2
    codes[40:44, :40] = 3
    codes[46:50, :40] = 4
    codes[52:56, :40] = 5
    codes[12:18, 60:66] = np.nan
    if dtype == "uint8":
        codes = np.where(np.isnan(codes), 255, codes).astype("uint8")
    grid = AnalysisGrid.from_bounds(CRS, 0, 0, 2400, 1800, 30)
    return grid.dataarray(
        codes, name="intensity", units="1", attrs={"class_breaks_t_ha_yr": list(BREAKS)}
    )


def district_table() -> pd.DataFrame:
    areas = [31234.56, 5432.10, 1234.50, 543.21, 210.98, 54.32]
    land, erosion = sum(areas), sum(areas[1:])
    return pd.DataFrame(
        [
            {
                "class_code": code,
                "class_key": CLASSES[code][0],
                "class_zh": CLASSES[code][1],
                "class_en": CLASSES[code][2],
                "area_ha": area,
                "share_of_district_pct": round(100 * area / land, 2),
                "share_of_erosion_pct": np.nan if code == 1 else round(100 * area / erosion, 2),
            }
            for code, area in zip(CLASSES, areas, strict=True)
        ]
    )


def zone_table(names=("城关镇", "石门乡", "龙潭镇")) -> pd.DataFrame:
    rows = []
    for layer, zone_names in (("township", names), ("watershed", ("清水河小流域",))):
        for i, name in enumerate(zone_names):
            areas = np.array([2000.0, 400.0, 200.0, 100.0, 50.0, 20.0]) * (i + 1)
            for code in CLASSES:
                rows.append(
                    {
                        "zone_layer": layer,
                        "zone_id": f"{layer[0].upper()}{i + 1:02d}",
                        "zone_name": name,
                        "class_code": code,
                        "class_zh": CLASSES[code][1],
                        "class_en": CLASSES[code][2],
                        "area_ha": areas[code - 1],
                        "share_of_zone_pct": 100 * areas[code - 1] / areas.sum(),
                        "share_of_zone_erosion_pct": np.nan
                        if code == 1
                        else 100 * areas[code - 1] / areas[1:].sum(),
                    }
                )
    return pd.DataFrame(rows)


def change_matrix() -> pd.DataFrame:
    m = np.diag([30000.0, 5000.0, 1000.0, 400.0, 150.0, 40.0])
    m[1, 0], m[2, 1], m[0, 1], m[5, 4] = 300.0, 120.0, 90.0, 8.0
    index = pd.Index(range(1, 7), name="from_class")
    return pd.DataFrame(m, index=index, columns=pd.Index(range(1, 7), name="to_class"))


def change_summary() -> dict:
    m = change_matrix()
    y0, y1 = m.sum(axis=1), m.sum(axis=0)
    e0, e1 = float(y0.loc[2:].sum()), float(y1.loc[2:].sum())
    return {
        "erosion_area_y0_ha": e0,
        "erosion_area_y1_ha": e1,
        "erosion_area_change_ha": e1 - e0,
        "erosion_area_change_pct": 100 * (e1 - e0) / e0,
        "improved_ha": 428.0,
        "deteriorated_ha": 90.0,
        "per_class": [
            {
                "class_code": c,
                "area_y0_ha": float(y0[c]),
                "area_y1_ha": float(y1[c]),
                "net_change_ha": float(y1[c] - y0[c]),
            }
            for c in range(1, 7)
        ],
    }


# ----------------------------------------------------------------------------- helpers
def read_png(path) -> np.ndarray:
    """RGB floats 0–1 of a PNG, after checking it is one of a sane size."""
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC, f"{path} is not a PNG"
    rgba = mimage.imread(path)
    height, width = rgba.shape[:2]
    assert 300 <= width <= 4000 and 200 <= height <= 4000, (width, height)
    return rgba[..., :3]


def colour_mask(rgb: np.ndarray, hex_colour: str, tol: float = 1.5 / 255) -> np.ndarray:
    target = np.array(mcolors.to_rgb(hex_colour))
    return np.all(np.abs(rgb - target) <= tol, axis=-1)


def largest_blob(mask: np.ndarray):
    """(row, col) centroid and size of the largest 4-connected blob of a mask."""
    labels, n = ndimage.label(mask)
    assert n > 0, "colour not found"
    sizes = ndimage.sum(mask, labels, index=range(1, n + 1))
    biggest = int(np.argmax(sizes)) + 1
    rows, cols = np.nonzero(labels == biggest)
    return rows.mean(), cols.mean(), int(sizes.max())


class _RecordingScheduler:
    """Synchronous dask scheduler that records how many elements each compute returns."""

    def __init__(self):
        self.computed_elements = []

    def __call__(self, dsk, keys, **kwargs):
        result = dask.get(dsk, keys, **kwargs)
        self.computed_elements.append(_n_elements(result))
        return result


def _n_elements(obj) -> int:
    if isinstance(obj, list | tuple):
        return sum(_n_elements(o) for o in obj)
    return int(getattr(obj, "size", 1))


# ------------------------------------------------------------------------ intensity map
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_intensity_map_colours_sit_where_the_classes_are(tmp_path, dtype):
    out = maps.plot_intensity_map(
        synthetic_intensity(dtype), tmp_path / "intensity.png", title="测试 强度", lang="zh"
    )
    rgb = read_png(out)
    blobs = {c: largest_blob(colour_mask(rgb, maps.CLASS_COLOURS[c])) for c in maps.CLASS_COLOURS}
    row6, col6, size6 = blobs[6]
    row2, col2, size2 = blobs[2]
    row1, col1, size1 = blobs[1]
    # class 6 (dark red) is the top-left quadrant, class 2 the bottom-right: north up
    assert row6 < row2 and col6 < col2
    # the quadrants are big blobs, far bigger than a legend patch
    assert size6 > 20_000 and size2 > 20_000 and size1 > 5_000
    assert abs(size6 - size2) / size6 < 0.05  # both quadrants are 30 × 40 pixels
    # class 6 is the exact fixed colour, not a colour stretched over the data
    assert colour_mask(rgb, "#67000d").sum() >= size6
    # the map is the bounding box of the class-coloured area; the nodata hole (rows 12–17,
    # columns 60–65 of 60 × 80) is white, not a class colour
    any_class = np.zeros(rgb.shape[:2], dtype=bool)
    for colour in maps.CLASS_COLOURS.values():
        any_class |= colour_mask(rgb, colour)
    labels, _ = ndimage.label(any_class)
    map_label = np.bincount(labels.ravel())[1:].argmax() + 1
    rows, cols = np.nonzero(labels == map_label)
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    h, w = bottom - top + 1, right - left + 1
    hole = rgb[
        top + int(h * 12.2 / 60) : top + int(h * 17.8 / 60),
        left + int(w * 60.2 / 80) : left + int(w * 65.8 / 80),
    ]
    assert hole.size > 0 and np.all(hole > 0.99)
    ring = rgb[top + int(h * 10.5 / 60) : top + int(h * 11.5 / 60), left + int(w * 62 / 80)]
    assert np.all(colour_mask(ring, maps.CLASS_COLOURS[1]))  # 微度 just north of the hole
    assert h / w == pytest.approx(60 / 80, rel=0.03)  # equal-area grid drawn with aspect 1


def test_intensity_map_with_zones_and_aoi_in_another_crs(tmp_path):
    intensity = synthetic_intensity()
    zones_albers = gpd.GeoDataFrame(
        {"name": ["甲镇", "乙镇"]},
        geometry=[box(0, 0, 1200, 1800), box(1200, 0, 2400, 1800)],
        crs=CRS,
    )
    zones_lonlat = zones_albers.to_crs("EPSG:4326")
    plain = read_png(maps.plot_intensity_map(intensity, tmp_path / "a.png", title="t"))
    outlined = read_png(
        maps.plot_intensity_map(
            intensity,
            tmp_path / "b.png",
            title="t",
            zones=zones_lonlat,
            aoi=zones_albers.union_all(),
            zone_label_column="name",
        )
    )
    dark = np.all(outlined < 0.25, axis=-1).sum() - np.all(plain < 0.25, axis=-1).sum()
    assert dark > 500  # outlines (and labels) were drawn


def test_intensity_map_bad_inputs(tmp_path):
    three_d = xr.concat([synthetic_intensity()] * 2, dim="band")
    with pytest.raises(InputDataError, match=r"needs \(y, x\).*select one 'band'"):
        maps.plot_intensity_map(three_d, tmp_path / "x.png", title="t")
    with pytest.raises(InputDataError, match="5 values"):
        maps.plot_intensity_map(
            synthetic_intensity(), tmp_path / "x.png", title="t", breaks=[5, 25]
        )
    with pytest.raises(InputDataError, match="zones have no column 'nom'"):
        maps.plot_intensity_map(
            synthetic_intensity(),
            tmp_path / "x.png",
            title="t",
            zones=gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(0, 0, 1, 1)], crs=CRS),
            zone_label_column="nom",
        )
    assert not (tmp_path / "x.png").exists()


def test_legend_labels_state_the_breaks_and_convention():
    assert maps.class_range_label(1, BREAKS) == "A < 5"
    assert maps.class_range_label(3, BREAKS) == "25 ≤ A < 50"
    assert maps.class_range_label(6, BREAKS) == "A ≥ 150"
    assert maps.class_range_label(2, (10, 25, 50, 80, 150)) == "10 ≤ A < 25"
    assert maps.class_label(6, lang="zh") == "剧烈 Severe"
    assert maps.class_label(5, lang="en") == "Very intense"


def test_km_per_unit_on_geographic_and_projected_grids():
    from pyproj import CRS as ProjCRS

    km, aspect = maps._km_per_unit(ProjCRS.from_epsg(4326), (113.0, 114.0, 27.0, 28.0))
    # one degree of longitude at 27.5°N on GRS80: 111.32 km × cos(27.5°) ≈ 98.8 km
    assert km == pytest.approx(98.8, rel=0.003)
    assert aspect == pytest.approx(1 / np.cos(np.radians(27.5)), rel=1e-6)
    assert maps._km_per_unit(CRS, (0, 1, 0, 1)) == (0.001, 1.0)
    assert maps._nice_length(7.3) == 5 and maps._nice_length(0.31) == 0.2


# --------------------------------------------------------------------------- decimation
@pytest.mark.parametrize("method", ["mean", "nearest"])
def test_decimation_of_dask_raster_is_lazy_and_small(method):
    big = xr.DataArray(
        dsa.ones((6000, 4500), chunks=1000, dtype="float32"),
        dims=("y", "x"),
        coords={"y": np.arange(6000)[::-1] * 30.0, "x": np.arange(4500) * 30.0},
        attrs={"units": "t·ha⁻¹·a⁻¹"},
    )
    with raise_if_dask_computes(max_computes=0):
        small = maps.decimate_for_plot(big, max_side=1500, method=method)
    assert isinstance(small.data, dsa.Array)
    assert small.shape == (1500, 1125)
    assert small.attrs["decimation_factor"] == 4 and small.attrs["units"] == "t·ha⁻¹·a⁻¹"
    assert float(small["x"][1] - small["x"][0]) == pytest.approx(120.0)


def test_decimation_mean_and_nearest_values():
    values = np.arange(36, dtype="float64").reshape(6, 6)
    values[0, 0] = np.nan
    da = xr.DataArray(values, dims=("y", "x"))
    mean = maps.decimate_for_plot(da, max_side=2, method="mean")
    assert mean.values[0, 0] == pytest.approx(np.nanmean(values[:3, :3]))
    nearest = maps.decimate_for_plot(da, max_side=2, method="nearest")
    np.testing.assert_array_equal(nearest.values, values[1::3, 1::3])
    with pytest.raises(ConfigError, match="'mean' or 'nearest'"):
        maps.decimate_for_plot(da, max_side=2, method="mode")


def test_continuous_map_computes_only_the_decimated_array(tmp_path):
    side, max_side = 3000, 300
    rng = dsa.random.default_rng(0)
    soil_loss = xr.DataArray(
        rng.lognormal(1.0, 1.5, size=(side, side), chunks=750).astype("float32"),
        dims=("y", "x"),
        coords={"y": 1e5 - np.arange(side) * 10.0, "x": np.arange(side) * 10.0},
        attrs={"units": maps.SOIL_LOSS_UNITS},
    ).rio.write_crs(CRS)
    recorder = _RecordingScheduler()
    with raise_if_dask_computes(max_computes=1), dask.config.set(scheduler=recorder):
        maps.plot_continuous_map(
            soil_loss,
            tmp_path / "a.png",
            title="soil loss",
            cmap="YlOrRd",
            log=True,
            max_side=max_side,
        )
    assert recorder.computed_elements == [max_side * max_side]  # not side × side
    read_png(tmp_path / "a.png")


def test_continuous_map_colours_follow_values(tmp_path):
    values = np.tile(np.linspace(0.0, 100.0, 80), (60, 1))  # increases west → east
    grid = AnalysisGrid.from_bounds(CRS, 0, 0, 2400, 1800, 30)
    da = grid.dataarray(values, name="R", units="MJ·mm·ha⁻¹·h⁻¹·a⁻¹")
    rgb = read_png(
        maps.plot_continuous_map(
            da, tmp_path / "r.png", title="R", cmap="Greys", vmin=0.0, vmax=100.0
        )
    )
    # Greys: low = white, high = black; the darkest map columns are on the east side
    dark_cols = np.nonzero(np.all(rgb < 0.1, axis=-1))[1]
    light_cols = np.nonzero(np.all((rgb > 0.9) & (rgb < 0.99), axis=-1))[1]
    assert np.median(dark_cols) > np.median(light_cols)


@pytest.mark.parametrize("factor", sorted(maps.FACTOR_STYLES))
def test_every_factor_map_draws(tmp_path, factor):
    grid = AnalysisGrid.from_bounds(CRS, 0, 0, 1200, 900, 30)
    values = np.random.default_rng(1).uniform(0.0, 2.0, grid.shape)
    values[0, :] = 0.0  # zeros on a log scale are drawn in the lowest colour
    da = grid.dataarray(values, name=factor, units="1")
    out = maps.plot_factor_map(da, tmp_path / f"{factor}.png", factor=factor, lang="en")
    read_png(out)


def test_factor_and_continuous_map_errors(tmp_path):
    grid = AnalysisGrid.from_bounds(CRS, 0, 0, 300, 300, 30)
    da = grid.dataarray(np.full(grid.shape, np.nan), name="C", units="1")
    with pytest.raises(ConfigError, match=r"unknown factor 'Q'; expected one of \['A', 'B'"):
        maps.plot_factor_map(da, tmp_path / "q.png", factor="Q")
    with pytest.raises(InputDataError, match="raster 'C' has no finite values"):
        maps.plot_continuous_map(da, tmp_path / "c.png", title="C", units="1")


def test_same_inputs_give_same_png_bytes(tmp_path):
    a = maps.plot_intensity_map(synthetic_intensity(), tmp_path / "a.png", title="t")
    b = maps.plot_intensity_map(synthetic_intensity(), tmp_path / "b.png", title="t")
    assert a.read_bytes() == b.read_bytes()
    c = charts.plot_class_shares(district_table(), tmp_path / "c.png")
    d = charts.plot_class_shares(district_table(), tmp_path / "d.png")
    assert c.read_bytes() == d.read_bytes()


# ------------------------------------------------------------------------------- charts
def test_class_shares_chart_draws_the_erosion_classes(tmp_path):
    rgb = read_png(charts.plot_class_shares(district_table(), tmp_path / "s.png", lang="zh"))
    sizes = {c: colour_mask(rgb, maps.CLASS_COLOURS[c]).sum() for c in CLASSES}
    assert sizes[1] == 0  # 微度 is not part of the erosion area
    # bar lengths follow the shares 72.67 % > 16.51 % > 7.27 % > 2.82 % > 0.73 %
    assert sizes[2] > sizes[3] > sizes[4] > sizes[5] > sizes[6] > 0


def test_class_shares_ignores_a_total_row_and_checks_columns(tmp_path):
    table = pd.concat(
        [district_table(), pd.DataFrame([{"class_code": "total", "area_ha": 1.0}])],
        ignore_index=True,
    )
    read_png(charts.plot_class_shares(table, tmp_path / "s.png", lang="en"))
    with pytest.raises(InputDataError, match=r"lacks column\(s\) \['share_of_erosion_pct'\]"):
        charts.plot_class_shares(
            district_table().drop(columns="share_of_erosion_pct"), tmp_path / "x.png"
        )


def test_zone_stacked_bars(tmp_path):
    rgb = read_png(charts.plot_zone_stacked_bars(zone_table(), tmp_path / "z.png"))
    assert colour_mask(rgb, maps.CLASS_COLOURS[1]).sum() == 0  # erosion classes only
    assert colour_mask(rgb, maps.CLASS_COLOURS[2]).sum() > 1000
    with_slight = read_png(
        charts.plot_zone_stacked_bars(zone_table(), tmp_path / "z1.png", include_slight=True)
    )
    assert colour_mask(with_slight, maps.CLASS_COLOURS[1]).sum() > 1000
    with pytest.raises(InputDataError, match=r"no rows for layer 'village'.*'township'"):
        charts.plot_zone_stacked_bars(zone_table(), tmp_path / "v.png", layer="village")


def test_change_chart_from_summary_matrix_or_both(tmp_path):
    both = read_png(
        charts.plot_change(
            change_summary(), tmp_path / "c.png", year0=2023, year1=2024, matrix=change_matrix()
        )
    )
    bars = read_png(
        charts.plot_change(change_summary(), tmp_path / "b.png", year0=2023, year1=2024)
    )
    matrix_only = read_png(
        charts.plot_change(change_matrix(), tmp_path / "m.png", year0=2023, year1=2024, lang="en")
    )
    assert both.shape[1] > 1.6 * bars.shape[1]  # bars + heat map side by side
    assert matrix_only.shape[1] > 1.6 * bars.shape[1]
    for rgb in (both, bars):
        assert colour_mask(rgb, maps.CLASS_COLOURS[1]).sum() > 500  # 微度 grew by 210 ha


def test_change_chart_takes_years_and_matrix_from_the_summary(tmp_path):
    summary = {**change_summary(), "year0": 2023, "year1": 2024, "matrix": change_matrix()}
    both = read_png(charts.plot_change(summary, tmp_path / "s.png"))
    bars = read_png(charts.plot_change(change_summary(), tmp_path / "b.png", year0=1, year1=2))
    assert both.shape[1] > 1.6 * bars.shape[1]
    with pytest.raises(InputDataError, match="needs year0 and year1"):
        charts.plot_change(change_summary(), tmp_path / "x.png")


def test_change_chart_errors(tmp_path):
    bad = change_matrix().rename(index={6: 7})
    with pytest.raises(InputDataError, match=r"class codes outside 1–6: \[7\]"):
        charts.plot_change(bad, tmp_path / "x.png", year0=1, year1=2)
    with pytest.raises(InputDataError, match="no 'per_class' list and no matrix"):
        charts.plot_change({"improved_ha": 1.0}, tmp_path / "x.png", year0=1, year1=2)
    with pytest.raises(InputDataError, match="got list"):
        charts.plot_change([1, 2], tmp_path / "x.png", year0=1, year1=2)


# -------------------------------------------------------------------------------- fonts
def test_cjk_font_is_found_when_installed():
    # The font comes with the Python install (a runtime dependency), not from the system.
    assert fonts.cjk_font_family() is not None, f"{fonts.CJK_FONT_PACKAGE} is not installed"
    assert fonts.resolve_lang("zh") == "zh"
    assert fonts.can_render("城关镇")


def test_without_cjk_font_figures_fall_back_to_english_quietly(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(fonts, "cjk_font_family", lambda: None)
    monkeypatch.setattr(fonts, "_warned_fallback", False)
    assert not fonts.can_render("城关镇") and fonts.can_render("Chengguan 2024")
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        maps.plot_intensity_map(synthetic_intensity(), tmp_path / "m.png", title="Map", lang="zh")
        charts.plot_zone_stacked_bars(zone_table(), tmp_path / "z.png", lang="zh")
        charts.plot_class_shares(district_table(), tmp_path / "s.png", lang="zh")
    glyph_warnings = [w for w in caught if "missing from font" in str(w.message)]
    assert glyph_warnings == []  # no tofu: Chinese names replaced by zone ids
    fallback = [r for r in caplog.records if "no CJK font found" in r.getMessage()]
    assert len(fallback) == 1 and fonts.CJK_FONT_PACKAGE in fallback[0].getMessage()
    with pytest.raises(ConfigError, match="'zh' or 'en', got 'fr'"):
        fonts.resolve_lang("fr")
