"""PNG maps for the bulletin: SL 190 intensity classes, soil loss and each factor.

Written by hand on top of matplotlib (Agg backend, no display): the fixed
green→dark-red class palette, the bilingual legend with the class breaks, a km scale
bar and a north arrow. No maintained library does this for a dask-backed xarray
raster without loading it (matplotlib-scalebar and cartopy are not dependencies and
neither decimates), so the pieces are small functions here.

Large rasters are decimated *lazily* before plotting (:func:`decimate_for_plot`), to
at most ``max_side`` (1500) pixels on the longer side: class rasters by taking every
f-th pixel (nearest, like a COG's nearest overview), continuous rasters by a block
mean (NaN skipped). For a dask-backed array only the decimated array is computed,
chunk by chunk, so a province-sized raster never sits in memory whole.

Maps assume a north-up grid (affine without rotation); on the local Albers grid,
grid north and true north differ by less than a degree over a district.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib import colormaps, patheffects
from matplotlib import colors as mcolors
from matplotlib.cm import ScalarMappable
from matplotlib.patches import Patch, Rectangle

from pipeline.classify import CLASSES
from pipeline.errors import ConfigError, InputDataError
from pipeline.io import atomic_path
from pipeline.report.fonts import agg_figure, can_render, figure_style, resolve_lang

log = logging.getLogger(__name__)

#: Fixed colour per SL 190-2007 class (ColorBrewer RdYlGn family, darkest red for 剧烈).
CLASS_COLOURS: dict[int, str] = {
    1: "#1a9850",  # 微度 Slight: green
    2: "#a6d96a",  # 轻度 Light: light green
    3: "#fee08b",  # 中度 Moderate: yellow
    4: "#fdae61",  # 强烈 Intense: orange
    5: "#d73027",  # 极强烈 Very intense: red
    6: "#67000d",  # 剧烈 Severe: dark red
}
#: Longest side, in pixels, of the array handed to matplotlib.
MAX_PLOT_SIDE = 1500
SOIL_LOSS_UNITS = "t·ha⁻¹·a⁻¹"

#: Default look of each factor map: (colormap, log scale, Chinese name, English name, units).
FACTOR_STYLES: dict[str, dict] = {
    "A": dict(
        cmap="YlOrRd", log=True, zh="土壤侵蚀模数 A", en="Soil loss A", units=SOIL_LOSS_UNITS
    ),
    "R": dict(
        cmap="YlGnBu",
        log=False,
        zh="降雨侵蚀力因子 R",
        en="Rainfall erosivity R",
        units="MJ·mm·ha⁻¹·h⁻¹·a⁻¹",
    ),
    "K": dict(
        cmap="YlOrBr",
        log=False,
        zh="土壤可蚀性因子 K",
        en="Soil erodibility K",
        units="t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹",
    ),
    "LS": dict(cmap="magma_r", log=True, zh="地形因子 LS", en="Topographic factor LS", units="1"),
    # CSLE maps L and S separately
    "L": dict(cmap="magma_r", log=True, zh="坡长因子 L", en="Slope-length factor L", units="1"),
    "S": dict(cmap="magma_r", log=True, zh="坡度因子 S", en="Slope-steepness factor S", units="1"),
    "C": dict(
        cmap="RdYlGn_r", log=False, zh="植被覆盖与管理因子 C", en="Cover-management C", units="1"
    ),
    "P": dict(
        cmap="PuBu_r", log=False, zh="水土保持措施因子 P", en="Support practice P", units="1"
    ),
    "B": dict(
        cmap="RdYlGn_r", log=False, zh="生物措施因子 B", en="Biological measures B", units="1"
    ),
    "E": dict(
        cmap="PuBu_r", log=False, zh="工程措施因子 E", en="Engineering measures E", units="1"
    ),
    "T": dict(cmap="PuBu_r", log=False, zh="耕作措施因子 T", en="Tillage measures T", units="1"),
}

_LEGEND_TITLE = {"zh": "侵蚀强度", "en": "Erosion intensity"}


# --------------------------------------------------------------------------- decimation
def _as_2d(da: xr.DataArray, what: str) -> xr.DataArray:
    if not isinstance(da, xr.DataArray):
        raise InputDataError(f"{what}: expected an xarray.DataArray, got {type(da).__name__}")
    for dim in [d for d in da.dims if d not in ("y", "x")]:
        if da.sizes[dim] != 1:
            raise InputDataError(
                f"{what} ({da.name!r}) has dims {da.dims}; a map needs (y, x) "
                f"(select one {dim!r} first)"
            )
        da = da.squeeze(dim, drop=True)
    if set(da.dims) != {"y", "x"}:
        raise InputDataError(f"{what} ({da.name!r}) has dims {da.dims}; a map needs (y, x)")
    return da.transpose("y", "x")


def decimation_factor(shape: tuple[int, int], *, max_side: int = MAX_PLOT_SIDE) -> int:
    """Smallest integer f with ceil(side / f) ≤ max_side for both sides."""
    if max_side < 1:
        raise ConfigError(f"max_side must be ≥ 1, got {max_side}")
    return max(1, math.ceil(max(shape) / max_side))


def decimate_for_plot(
    da: xr.DataArray, *, max_side: int = MAX_PLOT_SIDE, method: str = "mean"
) -> xr.DataArray:
    """Lazily shrink a (y, x) raster to at most ``max_side`` pixels per side for plotting.

    Parameters
    ----------
    da : xarray.DataArray
        (y, x) raster, numpy- or dask-backed; any units (kept in ``attrs``).
    max_side : int
        Longest side of the result, pixels.
    method : {"mean", "nearest"}
        ``"mean"``: block mean over f×f pixels, NaN skipped (continuous values);
        ``"nearest"``: every f-th pixel, starting at the block centre (class codes).

    Returns
    -------
    xarray.DataArray
        Same kind of backing as the input (dask stays lazy); coords are block centres;
        ``attrs`` are kept and ``attrs["decimation_factor"]`` is set.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.ones((3000, 1000)), dims=("y", "x"))
    >>> decimate_for_plot(da, max_side=1500).shape
    (1500, 500)
    """
    da = _as_2d(da, "raster to plot")
    f = decimation_factor(da.shape, max_side=max_side)
    if f == 1:
        out = da
    elif method == "mean":
        out = da.coarsen(y=f, x=f, boundary="trim").mean()  # NaN skipped (float default)
    elif method == "nearest":
        start = f // 2
        out = da.isel(y=slice(start, None, f), x=slice(start, None, f))
    else:
        raise ConfigError(f"decimation method must be 'mean' or 'nearest', got {method!r}")
    out.attrs = dict(da.attrs)
    out.attrs["decimation_factor"] = f
    return out


# ---------------------------------------------------------------------------- geometry
def _crs_of(da: xr.DataArray):
    try:
        return da.rio.crs
    except Exception:  # no rioxarray metadata
        return None


def _extent(da: xr.DataArray, factor: int, original_res: tuple[float, float] | None):
    """(left, right, bottom, top) in CRS units, from pixel-centre coords."""
    x = np.asarray(da["x"].values, dtype="float64") if "x" in da.coords else None
    y = np.asarray(da["y"].values, dtype="float64") if "y" in da.coords else None
    if x is None or y is None:
        return (0.0, float(da.sizes["x"]), 0.0, float(da.sizes["y"]))
    dx = abs(x[1] - x[0]) if x.size > 1 else (original_res[0] * factor if original_res else 1.0)
    dy = abs(y[1] - y[0]) if y.size > 1 else (original_res[1] * factor if original_res else 1.0)
    return (x.min() - dx / 2, x.max() + dx / 2, y.min() - dy / 2, y.max() + dy / 2)


def _north_up(values: np.ndarray, da: xr.DataArray) -> np.ndarray:
    """Flip rows so that row 0 is the northernmost (y descending)."""
    if "y" in da.coords and da.sizes["y"] > 1:
        y = da["y"].values
        if y[0] < y[-1]:
            return values[::-1, :]
    return values


def _km_per_unit(crs, extent) -> tuple[float, float] | None:
    """(km per x unit, y-aspect) of the map; None if the CRS is unknown."""
    if crs is None:
        return None
    if crs.is_geographic:
        from pyproj import Geod

        lat = 0.5 * (extent[2] + extent[3])
        lon = 0.5 * (extent[0] + extent[1])
        geod = Geod(ellps="GRS80")
        _, _, metres = geod.inv(lon - 0.5, lat, lon + 0.5, lat)
        return metres / 1000.0, 1.0 / max(math.cos(math.radians(lat)), 1e-6)
    try:
        factor = crs.axis_info[0].unit_conversion_factor
    except (IndexError, AttributeError):
        factor = 1.0
    return factor / 1000.0, 1.0


def _nice_length(target: float) -> float:
    """1, 2 or 5 × 10ⁿ, the largest not above ``target`` (> 0)."""
    exponent = math.floor(math.log10(target))
    for mantissa in (5, 2, 1):
        value = mantissa * 10.0**exponent
        if value <= target:
            return value
    return 10.0**exponent


def _draw_scale_bar(ax, extent, km_per_unit: float) -> None:
    left, right, bottom, top = extent
    width_km = (right - left) * km_per_unit
    length_km = _nice_length(width_km / 4.0)
    length_units = length_km / km_per_unit
    x0 = left + 0.05 * (right - left)
    y0 = bottom + 0.05 * (top - bottom)
    h = 0.012 * (top - bottom)
    half = length_units / 2.0
    ax.add_patch(
        Rectangle(
            (x0 - 0.015 * (right - left), y0 - 0.02 * (top - bottom)),
            length_units + 0.04 * (right - left),
            0.075 * (top - bottom),
            facecolor="white",
            edgecolor="none",
            alpha=0.75,
            zorder=5,
        )
    )
    for i, colour in enumerate(("black", "white")):
        ax.add_patch(
            Rectangle(
                (x0 + i * half, y0),
                half,
                h,
                facecolor=colour,
                edgecolor="black",
                linewidth=0.8,
                zorder=6,
            )
        )
    label = f"{length_km:g} km"
    for xpos, text in ((x0, "0"), (x0 + length_units, label)):
        ax.text(xpos, y0 + 1.6 * h, text, ha="center", va="bottom", fontsize=7, zorder=7)


def _draw_north_arrow(ax) -> None:
    ax.annotate(
        "N",
        xy=(0.95, 0.96),
        xytext=(0.95, 0.84),
        xycoords="axes fraction",
        textcoords="axes fraction",
        ha="center",
        va="center",
        fontsize=11,
        fontweight="bold",
        # a Latin letter: matplotlib's own DejaVu Sans has a bold face (the packaged CJK
        # font has only a regular one, which made matplotlib warn "findfont … bold")
        fontfamily="DejaVu Sans",
        arrowprops=dict(facecolor="black", edgecolor="black", width=3, headwidth=10, headlength=9),
        zorder=7,
    )


def _as_geoseries(shapes, crs, what: str):
    """A GeoSeries of ``shapes`` in the map CRS (GeoDataFrame/GeoSeries/shapely)."""
    import geopandas as gpd

    if isinstance(shapes, gpd.GeoDataFrame):
        geoms = shapes.geometry
    elif isinstance(shapes, gpd.GeoSeries):
        geoms = shapes
    else:
        try:
            geoms = gpd.GeoSeries([shapes], crs=None)
        except TypeError as exc:
            raise InputDataError(
                f"{what}: expected a GeoDataFrame, GeoSeries or shapely geometry, "
                f"got {type(shapes).__name__}"
            ) from exc
    if crs is not None and geoms.crs is not None and geoms.crs != crs:
        geoms = geoms.to_crs(crs)
    return geoms


def _draw_overlays(ax, *, zones, aoi, crs, zone_label_column, tolerance=0.0) -> None:
    """Zone and AOI boundaries; ``tolerance`` (map units, about half a screen pixel)
    simplifies the lines first: zones polygonised from a raster have a vertex at every
    pixel step, which only slows the drawing."""
    if zones is not None:
        zone_geoms = _as_geoseries(zones, crs, "zones")
        _outline(zone_geoms, tolerance).plot(ax=ax, color="#333333", linewidth=0.6, zorder=3)
        if zone_label_column is not None:
            if zone_label_column not in getattr(zones, "columns", ()):
                raise InputDataError(
                    f"zones have no column {zone_label_column!r}; columns: {list(zones.columns)}"
                )
            for geom, name in zip(zone_geoms, zones[zone_label_column], strict=True):
                if geom is None or geom.is_empty or not can_render(str(name)):
                    continue
                point = geom.representative_point()
                ax.text(
                    point.x,
                    point.y,
                    str(name),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="#111111",
                    zorder=4,
                    path_effects=[patheffects.withStroke(linewidth=2.0, foreground="white")],
                )
    if aoi is not None:
        outline = _outline(_as_geoseries(aoi, crs, "aoi"), tolerance)
        outline.plot(ax=ax, color="black", linewidth=1.4, zorder=4)


def _outline(geoms, tolerance: float):
    """Boundaries of ``geoms``, simplified to ``tolerance`` (map units) when it is > 0."""
    lines = geoms.boundary
    return lines.simplify(tolerance) if tolerance > 0 else lines


def _new_map_figure(extent, aspect: float, *, legend_width_in: float):
    map_w = 7.0
    ratio = (extent[3] - extent[2]) * aspect / max(extent[1] - extent[0], 1e-12)
    map_h = min(max(map_w * ratio, 3.0), 9.0)
    fig = agg_figure(figsize=(map_w + legend_width_in, map_h + 0.8))
    ax = fig.add_axes((0.03, 0.04, map_w / (map_w + legend_width_in) - 0.04, 0.86))
    return fig, ax


def _finish_map(ax, *, extent, crs, aspect, title, zones, aoi, zone_label_column):
    # a map is about 1000 pixels across: half a pixel
    tolerance = max(extent[1] - extent[0], extent[3] - extent[2]) / 2000.0
    _draw_overlays(
        ax,
        zones=zones,
        aoi=aoi,
        crs=crs,
        zone_label_column=zone_label_column,
        tolerance=tolerance,
    )
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect(aspect)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")  # geopandas labels the axes "Easting [metre]"
    ax.set_ylabel("")
    scale = _km_per_unit(crs, extent)
    if scale is not None:
        _draw_scale_bar(ax, extent, scale[0])
    else:
        log.warning("map %r: raster has no CRS; no scale bar drawn", title)
    _draw_north_arrow(ax)
    ax.set_title(title, fontsize=13, pad=10)


def _coloured(values: np.ma.MaskedArray, cmap, norm) -> np.ndarray:
    """RGBA bytes of a (masked) array: colours are looked up once, at the raster's own
    resolution, instead of in each of the two draws of a ``bbox_inches="tight"`` save
    (the same pixels with nearest-neighbour display; masked cells get the colour map's
    "bad" colour, transparent by default)."""
    return cmap(norm(values), bytes=True)


def save_figure(fig, out_png: str | os.PathLike) -> Path:
    """Save a figure as PNG atomically (same figure → same bytes).

    zlib level 3 instead of Pillow's 6: half the encoding time of a full-page raster map
    (0.24 → 0.11 s), files 1–5 % larger."""
    out_png = Path(out_png)
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(
            tmp,
            format="png",
            bbox_inches="tight",
            pad_inches=0.15,
            facecolor="white",
            pil_kwargs={"compress_level": 3},
        )
    return out_png


def class_label(code: int, *, lang: str) -> str:
    """'微度 Slight' (zh) or 'Slight' (en) for an SL 190 class code."""
    _, zh, en = CLASSES[int(code)]
    return f"{zh} {en}" if lang == "zh" else en


def class_range_label(code: int, breaks) -> str:
    """The class's soil-loss range under the lower ≤ A < upper convention."""
    b = [float(v) for v in breaks]
    if code == 1:
        return f"A < {b[0]:g}"
    if code == 6:
        return f"A ≥ {b[4]:g}"
    return f"{b[code - 2]:g} ≤ A < {b[code - 1]:g}"


def _original_res(da):
    try:
        return tuple(abs(v) for v in da.rio.resolution())
    except Exception:  # no transform metadata
        return None


# -------------------------------------------------------------------------------- maps
def plot_intensity_map(
    intensity: xr.DataArray,
    out_png: str | os.PathLike,
    *,
    title: str,
    zones=None,
    aoi=None,
    lang: str = "zh",
    breaks=None,
    zone_label_column: str | None = None,
    max_side: int = MAX_PLOT_SIDE,
) -> Path:
    """Draw the SL 190-2007 intensity-class raster as a PNG map.

    Parameters
    ----------
    intensity : xarray.DataArray
        (y, x) class codes 1–6 (float with NaN, or uint8 with 255 = nodata; any value
        outside 1–6 is drawn as no data). numpy or dask; only the decimated array
        (≤ ``max_side`` pixels a side, nearest) is computed.
    out_png : path
        Output PNG, written atomically.
    title : str
        Map title.
    zones, aoi : GeoDataFrame, GeoSeries or shapely geometry, optional
        Zone outlines (thin) and district outline (thick); reprojected to the raster CRS
        when both CRSs are known.
    lang : {"zh", "en"}
        Legend language: "zh" gives Chinese + English class names, "en" English only.
        Falls back to "en" if no CJK font is installed (see pipeline.report.fonts).
    breaks : sequence of 5 floats, optional
        Class breaks, t·ha⁻¹·a⁻¹, for the legend; default ``intensity.attrs
        ["class_breaks_t_ha_yr"]`` (set by :func:`pipeline.classify.classify_intensity`).
        Without either, the legend shows class names only.
    zone_label_column : str, optional
        Column of ``zones`` whose values label each zone.
    max_side : int
        Longest side of the plotted array, pixels.

    Returns
    -------
    pathlib.Path
        ``out_png``.

    Examples
    --------
    >>> plot_intensity_map(intensity, "maps/intensity.png", title="2024 土壤侵蚀强度")
    ... # doctest: +SKIP
    """
    lang = resolve_lang(lang)
    intensity = _as_2d(intensity, "intensity")
    breaks = breaks if breaks is not None else intensity.attrs.get("class_breaks_t_ha_yr")
    if breaks is not None and len(breaks) != 5:
        raise InputDataError(f"intensity class breaks must have 5 values, got {list(breaks)}")
    crs = _crs_of(intensity)
    res = _original_res(intensity)
    small = decimate_for_plot(intensity, max_side=max_side, method="nearest")
    factor = small.attrs["decimation_factor"]
    codes = _north_up(np.asarray(small.values, dtype="float64"), small)
    valid = np.isin(codes, list(CLASS_COLOURS))
    codes = np.ma.masked_array(codes, mask=~valid)
    extent = _extent(small, factor, res)
    scale = _km_per_unit(crs, extent)
    aspect = scale[1] if scale else 1.0

    cmap = mcolors.ListedColormap([CLASS_COLOURS[c] for c in sorted(CLASS_COLOURS)])
    cmap = cmap.with_extremes(bad=(1.0, 1.0, 1.0, 0.0))
    norm = mcolors.BoundaryNorm(np.arange(0.5, 7.5, 1.0), cmap.N)
    with figure_style():
        fig, ax = _new_map_figure(extent, aspect, legend_width_in=3.2 if lang == "zh" else 2.8)
        ax.imshow(
            _coloured(codes, cmap, norm),
            extent=extent,
            origin="upper",
            interpolation="nearest",
            zorder=1,
        )
        _finish_map(
            ax,
            extent=extent,
            crs=crs,
            aspect=aspect,
            title=title,
            zones=zones,
            aoi=aoi,
            zone_label_column=zone_label_column,
        )
        handles = []
        for code in sorted(CLASS_COLOURS):
            label = class_label(code, lang=lang)
            if breaks is not None:
                label = f"{label}  {class_range_label(code, breaks)}"
            handles.append(
                Patch(facecolor=CLASS_COLOURS[code], edgecolor="#555555", label=label, lw=0.5)
            )
        legend_title = _LEGEND_TITLE[lang]
        if breaks is not None:
            legend_title += f" (A: {SOIL_LOSS_UNITS})"
        ax.legend(
            handles=handles,
            title=legend_title,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize=8,
            title_fontsize=9,
            frameon=False,
            handlelength=1.6,
            handleheight=1.1,
        )
        return save_figure(fig, out_png)


def plot_continuous_map(
    da: xr.DataArray,
    out_png: str | os.PathLike,
    *,
    title: str,
    units: str | None = None,
    cmap: str = "viridis",
    log: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
    percentiles: tuple[float, float] = (2.0, 98.0),
    zones=None,
    aoi=None,
    lang: str = "zh",
    zone_label_column: str | None = None,
    max_side: int = MAX_PLOT_SIDE,
) -> Path:
    """Draw a continuous raster (soil loss, a factor) as a PNG map with a colour bar.

    Parameters
    ----------
    da : xarray.DataArray
        (y, x) values, numpy or dask; block-mean decimated to ≤ ``max_side`` pixels a side
        before anything is computed.
    units : str, optional
        Colour-bar label; default ``da.attrs["units"]`` ("1" is shown as dimensionless).
    cmap : str
        Matplotlib colormap name.
    log : bool
        Logarithmic colour scale (soil loss, LS). Values ≤ ``vmin`` (zeros included) are
        drawn in the lowest colour.
    vmin, vmax : float, optional
        Colour limits; default the ``percentiles`` of the decimated finite values
        (positive values only for ``log``).
    Other parameters as for :func:`plot_intensity_map`.

    Returns
    -------
    pathlib.Path
        ``out_png``.

    Examples
    --------
    >>> plot_continuous_map(soil_loss, "maps/soil_loss.png", title="土壤侵蚀模数",
    ...                     units="t·ha⁻¹·a⁻¹", cmap="YlOrRd", log=True)  # doctest: +SKIP
    """
    lang = resolve_lang(lang)
    da = _as_2d(da, "raster")
    crs = _crs_of(da)
    res = _original_res(da)
    units = units if units is not None else da.attrs.get("units")
    small = decimate_for_plot(da, max_side=max_side, method="mean")
    factor = small.attrs["decimation_factor"]
    values = _north_up(np.asarray(small.values, dtype="float64"), small)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise InputDataError(f"raster {da.name!r} has no finite values to map ({title!r})")
    if log:
        positive = finite[finite > 0]
        if positive.size == 0:
            logging.getLogger(__name__).warning(
                "map %r: no positive values, using a linear colour scale", title
            )
            log = False
    sample = positive if log else finite
    lo = vmin if vmin is not None else float(np.percentile(sample, percentiles[0]))
    hi = vmax if vmax is not None else float(np.percentile(sample, percentiles[1]))
    if not hi > lo:
        pad = abs(lo) * 0.01 if lo != 0 else 0.5
        lo, hi = (lo / 1.1, hi * 1.1) if log else (lo - pad, hi + pad)
    if log:
        values = np.where(np.isfinite(values), np.maximum(values, lo), np.nan)
        norm = mcolors.LogNorm(vmin=lo, vmax=hi, clip=False)
    else:
        norm = mcolors.Normalize(vmin=lo, vmax=hi)
    extent = _extent(small, factor, res)
    scale = _km_per_unit(crs, extent)
    aspect = scale[1] if scale else 1.0
    with figure_style():
        fig, ax = _new_map_figure(extent, aspect, legend_width_in=1.6)
        cmap = colormaps[cmap] if isinstance(cmap, str) else cmap
        ax.imshow(
            _coloured(np.ma.masked_invalid(values), cmap, norm),
            extent=extent,
            origin="upper",
            interpolation="nearest",
            zorder=1,
        )
        image = ScalarMappable(norm=norm, cmap=cmap)  # for the colour bar
        _finish_map(
            ax,
            extent=extent,
            crs=crs,
            aspect=aspect,
            title=title,
            zones=zones,
            aoi=aoi,
            zone_label_column=zone_label_column,
        )
        colorbar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.03, extend="both")
        if units and units != "1":
            colorbar.set_label(units)
        elif units == "1":
            colorbar.set_label("无量纲 dimensionless" if lang == "zh" else "dimensionless")
        return save_figure(fig, out_png)


def plot_factor_map(
    da: xr.DataArray,
    out_png: str | os.PathLike,
    *,
    factor: str,
    title: str | None = None,
    zones=None,
    aoi=None,
    lang: str = "zh",
    max_side: int = MAX_PLOT_SIDE,
) -> Path:
    """Map one RUSLE/CSLE factor (R, K, LS, C, P, B, E, T) or soil loss ("A").

    Uses the factor's default colormap and scale from :data:`FACTOR_STYLES`; units come
    from ``da.attrs["units"]`` when set, else the style's units.

    Examples
    --------
    >>> plot_factor_map(r_factor, "maps/R.png", factor="R")  # doctest: +SKIP
    """
    if factor not in FACTOR_STYLES:
        raise ConfigError(f"unknown factor {factor!r}; expected one of {sorted(FACTOR_STYLES)}")
    style = FACTOR_STYLES[factor]
    shown_lang = resolve_lang(lang)
    if title is None:
        title = style["zh"] + " " + style["en"] if shown_lang == "zh" else style["en"]
    return plot_continuous_map(
        da,
        out_png,
        title=title,
        units=da.attrs.get("units", style["units"]),
        cmap=style["cmap"],
        log=style["log"],
        zones=zones,
        aoi=aoi,
        lang=lang,
        max_side=max_side,
    )
