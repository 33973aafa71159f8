"""Styles that travel with the outputs: colour tables, raster attribute tables, QGIS styles.

A GIS analyst opening ``intensity.tif`` in QGIS or ArcGIS should see the SL 190-2007
classes named and coloured without any set-up:

- the GeoTIFF carries a GDAL colour table (palette interpretation), written with
  rasterio's ``write_colormap`` before the COG is built (rio-cogeo copies it);
- a raster attribute table (RAT) with the code, 微度…剧烈, Slight…Severe, the class
  bounds and the colour goes into a GDAL PAM sidecar ``intensity.tif.aux.xml``:
  GeoTIFF has no internal RAT, and GDAL itself stores a GTiff RAT in exactly this
  sidecar (``<GDALRasterAttributeTable>``), which both QGIS and ArcGIS read;
- a QGIS style ``.qml`` beside the raster (paletted renderer: colours and labels)
  and one beside the GeoPackage (categorised renderer on ``class_code`` for the
  intensity patches); QGIS loads a same-named ``.qml`` automatically.

Written by hand because rasterio has no RAT API and no library writes QGIS styles
without QGIS; both are small, documented XML formats (GDAL PAM: gdal.org
"GDAL Raster Attribute Tables"; QGIS: ``QgsMapLayer::exportNamedStyle``).

Class colours: ``DEFAULT_CLASS_COLOURS`` (ColorBrewer RdYlGn family, green for 微度
to dark red for 剧烈, the colours of the report maps), overridable per class with the
config key ``report.class_colours``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from pyproj import CRS

from pipeline.errors import ConfigError
from pipeline.io import write_text
from pipeline.sl190 import CLASS_CODES, CLASSES

#: Default colour per SL 190-2007 class (ColorBrewer RdYlGn family; the report maps' colours).
DEFAULT_CLASS_COLOURS: dict[int, str] = {
    1: "#1a9850",  # 微度 Slight: green
    2: "#a6d96a",  # 轻度 Light: light green
    3: "#fee08b",  # 中度 Moderate: yellow
    4: "#fdae61",  # 强烈 Intense: orange
    5: "#d73027",  # 极强烈 Very intense: red
    6: "#67000d",  # 剧烈 Severe: dark red
}

# GDAL RAT field types and usages (gdal.h: GDALRATFieldType, GDALRATFieldUsage)
_GFT_INTEGER, _GFT_REAL, _GFT_STRING = 0, 1, 2
_GFU_GENERIC, _GFU_NAME, _GFU_MINMAX = 0, 2, 5
_GFU_RED, _GFU_GREEN, _GFU_BLUE, _GFU_ALPHA = 6, 7, 8, 9


def class_colours(overrides: Mapping | None = None) -> dict[int, str]:
    """Colour (``#rrggbb``) per class code 1–6: the defaults with ``overrides`` applied.

    ``overrides`` maps a class key (``slight`` … ``severe``) or a code to a colour,
    as in the config key ``report.class_colours``.

    >>> class_colours({"severe": "#000000"})[6]
    '#000000'
    """
    out = dict(DEFAULT_CLASS_COLOURS)
    by_key = {CLASSES[c][0]: c for c in CLASS_CODES}
    for key, colour in (overrides or {}).items():
        code = by_key.get(str(key))
        if code is None and str(key).isdigit() and int(key) in CLASSES:
            code = int(key)
        if code is None:
            raise ConfigError(
                f"config key 'report.class_colours': unknown class {key!r}; "
                f"expected one of {sorted(by_key)}"
            )
        out[code] = _hex(colour, key)
    return out


def _hex(colour, key) -> str:
    text = str(colour).strip()
    if len(text) != 7 or not text.startswith("#"):
        raise ConfigError(
            f"config key 'report.class_colours.{key}': {colour!r} is not a #rrggbb colour"
        )
    try:
        int(text[1:], 16)
    except ValueError:
        raise ConfigError(
            f"config key 'report.class_colours.{key}': {colour!r} is not a #rrggbb colour"
        ) from None
    return text.lower()


def rgba(colour: str) -> tuple[int, int, int, int]:
    """``#rrggbb`` → (r, g, b, 255).

    >>> rgba("#1a9850")
    (26, 152, 80, 255)
    """
    c = colour.lstrip("#")
    return (int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16), 255)


def gdal_colormap(colours: Mapping[int, str], *, nodata: int = 255) -> dict[int, tuple]:
    """rasterio ``write_colormap`` dict: class codes coloured, everything else transparent."""
    cmap = {i: (0, 0, 0, 0) for i in range(256)}
    for code in CLASS_CODES:
        cmap[code] = rgba(colours[code])
    cmap[nodata] = (0, 0, 0, 0)
    return cmap


def class_labels(code: int) -> str:
    """Bilingual label of a class, e.g. ``'2 轻度 Light'``."""
    return f"{code} {CLASSES[code][1]} {CLASSES[code][2]}"


def _bounds(breaks: Sequence[float]) -> list[tuple[float, float]]:
    edges = [0.0, *[float(b) for b in breaks], -1.0]  # -1: no upper bound
    return list(zip(edges[:-1], edges[1:], strict=True))


def rat_aux_xml(colours: Mapping[int, str], breaks: Sequence[float]) -> str:
    """GDAL PAM XML holding a thematic RAT for band 1 of an intensity raster.

    Columns: ``Value`` (class code), ``class_zh``, ``class_en``, ``class_key``,
    ``lower_t_ha_yr``, ``upper_t_ha_yr`` (−1 = open), ``Red``, ``Green``, ``Blue``,
    ``Alpha``.
    """
    fields = [
        ("Value", _GFT_INTEGER, _GFU_MINMAX),
        ("class_zh", _GFT_STRING, _GFU_NAME),
        ("class_en", _GFT_STRING, _GFU_GENERIC),
        ("class_key", _GFT_STRING, _GFU_GENERIC),
        ("lower_t_ha_yr", _GFT_REAL, _GFU_GENERIC),
        ("upper_t_ha_yr", _GFT_REAL, _GFU_GENERIC),
        ("Red", _GFT_INTEGER, _GFU_RED),
        ("Green", _GFT_INTEGER, _GFU_GREEN),
        ("Blue", _GFT_INTEGER, _GFU_BLUE),
        ("Alpha", _GFT_INTEGER, _GFU_ALPHA),
    ]
    if len(breaks) != 5:
        raise ConfigError(f"intensity classes need five breaks, got {list(breaks)}")
    lines = [
        "<PAMDataset>",
        '  <PAMRasterBand band="1">',
        '    <GDALRasterAttributeTable tableType="thematic">',
    ]
    for i, (name, ftype, usage) in enumerate(fields):
        lines.append(
            f'      <FieldDefn index="{i}"><Name>{name}</Name><Type>{ftype}</Type>'
            f"<Usage>{usage}</Usage></FieldDefn>"
        )
    for row, (code, (lo, hi)) in enumerate(zip(CLASS_CODES, _bounds(breaks), strict=True)):
        key, zh, en = CLASSES[code]
        r, g, b, a = rgba(colours[code])
        values = [code, zh, en, key, f"{lo:g}", f"{hi:g}", r, g, b, a]
        cells = "".join(f"<F>{escape(str(v))}</F>" for v in values)
        lines.append(f'      <Row index="{row}">{cells}</Row>')
    lines += ["    </GDALRasterAttributeTable>", "  </PAMRasterBand>", "</PAMDataset>"]
    return "\n".join(lines) + "\n"


def raster_qml(colours: Mapping[int, str]) -> str:
    """QGIS style (``.qml``) for an intensity raster: paletted renderer, bilingual labels."""
    entries = "\n".join(
        f"        <paletteEntry value={quoteattr(str(c))} color={quoteattr(colours[c])} "
        f'alpha="255" label={quoteattr(class_labels(c))}/>'
        for c in CLASS_CODES
    )
    return f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28" styleCategories="Symbology">
  <pipe>
    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1" nodataColor="">
      <rasterTransparency/>
      <colorPalette>
{entries}
      </colorPalette>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" grayscaleMode="0" colorizeOn="0"/>
    <rasterresampler maxOversampling="2"/>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"""


def vector_qml(colours: Mapping[int, str], *, field: str = "class_code") -> str:
    """QGIS style (``.qml``) for intensity patches: categorised fill on ``field``."""
    cats = "\n".join(
        f'      <category value="{c}" symbol="{i}" label={quoteattr(class_labels(c))} '
        'render="true"/>'
        for i, c in enumerate(CLASS_CODES)
    )
    symbols = "\n".join(
        f'      <symbol type="fill" name="{i}" alpha="1" clip_to_extent="1" force_rhr="0">\n'
        '        <layer class="SimpleFill" enabled="1" locked="0" pass="0">\n'
        '          <Option type="Map">\n'
        f'            <Option name="color" type="QString" value="{",".join(map(str, rgba(colours[c])))}"/>\n'
        '            <Option name="outline_color" type="QString" value="80,80,80,255"/>\n'
        '            <Option name="outline_width" type="QString" value="0.1"/>\n'
        '            <Option name="style" type="QString" value="solid"/>\n'
        "          </Option>\n"
        "        </layer>\n"
        "      </symbol>"
        for i, c in enumerate(CLASS_CODES)
    )
    return f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28" styleCategories="Symbology">
  <renderer-v2 type="categorizedSymbol" attr={quoteattr(field)} symbollevels="0" enableorderby="0" forceraster="0">
    <categories>
{cats}
    </categories>
    <symbols>
{symbols}
    </symbols>
  </renderer-v2>
  <blendMode>0</blendMode>
</qgis>
"""


def write_intensity_sidecars(
    tif_path: str | os.PathLike, *, colours: Mapping[int, str], breaks: Sequence[float]
) -> dict[str, Path]:
    """Write ``<tif>.aux.xml`` (RAT) and ``<stem>.qml`` beside an intensity GeoTIFF."""
    tif = Path(tif_path)
    aux = tif.with_name(tif.name + ".aux.xml")
    qml = tif.with_suffix(".qml")
    write_text(rat_aux_xml(colours, breaks), aux)
    write_text(raster_qml(colours), qml)
    return {"aux": aux, "qml": qml}


def named_crs(crs: CRS | str, name: str) -> CRS:
    """The same CRS with ``name`` (PROJJSON ``name``), so GIS software does not show
    "unknown". Coordinates and areas are unchanged.

    >>> named_crs(CRS.from_proj4("+proj=aea +lat_1=25 +lat_2=27 +lon_0=116 +ellps=GRS80"),
    ...           "Albers (demo)").name
    'Albers (demo)'
    """
    doc = CRS.from_user_input(crs).to_json_dict()
    doc["name"] = str(name)
    return CRS.from_json_dict(doc)


__all__ = [
    "DEFAULT_CLASS_COLOURS",
    "class_colours",
    "gdal_colormap",
    "named_crs",
    "rat_aux_xml",
    "raster_qml",
    "rgba",
    "vector_qml",
    "write_intensity_sidecars",
]
