"""Land use delivered as polygons: 第三次全国国土调查 (三调) 地类图斑 → the analysis grid.

The 三调 land-use layer (地类图斑, field ``DLBM`` 地类编码) uses the codes of
GB/T 21010-2017《土地利用现状分类》 as refined by the 第三次全国国土调查工作分类
(《第三次全国国土调查技术规程》TD/T 1055-2019, appendix A), e.g. 0101 水田, 0305
灌木林地, 05H1 商业服务业设施用地, 08H2 科教文卫用地, with suffixes such as ``K``
(可调整地类, 0201K) and ``A`` (1104A 养殖坑塘). ``pipeline/tables/sandiao_dlbm.csv``
maps each code to a Shuibao land-cover key (``pipeline.landcover``). The mapping is a
project choice, not a standard (e.g. 旱地 → sloping cropland unless the 耕地类型
field GDLX says 梯田 ``TT``; 采矿用地 → construction site); override any code with
the ``recode`` table of ``source.local.landcover``.

Rasterised with rasterio (pixel-centre rule, ``all_touched=False``), the rule of
the district mask and of the zone statistics, so a polygon's land use covers the
pixels whose centres it holds.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from pipeline import landcover
from pipeline.errors import ConfigError, InputDataError

TABLE_PATH = Path(__file__).resolve().parent / "tables" / "sandiao_dlbm.csv"
VECTOR_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".fgb")


def sandiao_table() -> dict[str, tuple[str, str]]:
    """三调 DLBM code → (地类名称, Shuibao land-cover key), from the shipped CSV."""
    with open(TABLE_PATH, encoding="utf-8") as fh:
        return {row["dlbm"]: (row["dlmc"], row["shuibao_key"]) for row in csv.DictReader(fh)}


def _base_code(code: str, table: Mapping) -> str | None:
    """The table entry for a DLBM value: itself, or without the K/A suffix, or its
    first two digits (一级类, e.g. 09 特殊用地)."""
    c = str(code).strip().upper()
    if c in table:
        return c
    stripped = c.rstrip("KA")
    if stripped in table:
        return stripped
    if len(c) >= 2 and c[:2] in table:
        return c[:2]
    return None


def dlbm_to_codes(
    values, *, recode: Mapping | None = None, terrace=None, source: str = "land-use layer"
) -> np.ndarray:
    """Shuibao land-cover codes (uint8) for an array of DLBM values.

    ``recode`` (DLBM → key or code 1–11, 255 to drop) overrides the shipped table;
    ``terrace`` (the 三调 耕地类型 field GDLX, ``TT`` = 梯田) turns 水浇地/旱地 polygons
    into terraced cropland. An unknown code stops with an error listing it.
    """
    table = sandiao_table()
    over = {str(k).strip().upper(): v for k, v in (recode or {}).items()}
    out = np.empty(len(values), dtype="uint8")
    unknown = set()
    for i, v in enumerate(values):
        key = over.get(str(v).strip().upper())
        if key is None:
            base = _base_code(v, table)
            if base is None:
                unknown.add(str(v))
                continue
            key = table[base][1]
            if terrace is not None and base in ("0102", "0103") and str(terrace[i]) == "TT":
                key = "terraced_cropland"
        if isinstance(key, int) or str(key).isdigit():
            code = int(key)
            if code not in landcover.CLASSES and code != landcover.NODATA:
                raise ConfigError(
                    f"config key 'source.local.landcover.recode': {v!r} → {key!r} is not a "
                    f"Shuibao land-cover code {sorted(landcover.CLASSES)} (255 = drop)"
                )
        else:
            if key not in landcover.CODE_BY_KEY:
                raise ConfigError(
                    f"config key 'source.local.landcover.recode': {v!r} → {key!r} is not a "
                    f"land-cover key {sorted(landcover.CODE_BY_KEY)}"
                )
            code = landcover.CODE_BY_KEY[key]
        out[i] = code
    if unknown:
        raise InputDataError(
            f"{source}: DLBM code(s) {sorted(unknown)} are not in the 三调 table "
            f"({TABLE_PATH.name}); map them with source.local.landcover.recode"
        )
    return out


def rasterize_landuse(
    gdf,
    grid,
    *,
    code_col: str = "DLBM",
    recode=None,
    terrace_col="GDLX",
    source: str = "land-use layer",
) -> np.ndarray:
    """(height, width) uint8 Shuibao codes on ``grid`` from 三调-style polygons.

    Pixel-centre rule (rasterio ``rasterize``, ``all_touched=False``); pixels outside
    every polygon are nodata (255). ``gdf`` is reprojected to the grid CRS.
    """
    from rasterio.features import rasterize

    if code_col not in gdf.columns:
        raise InputDataError(
            f"{source}: column {code_col!r} (地类编码) not found; it has "
            f"{[c for c in gdf.columns if c != 'geometry']}; set source.local.landcover.code_col"
        )
    if gdf.crs is None:
        raise InputDataError(f"{source}: no CRS")
    g = gdf.to_crs(grid.crs)
    terrace = g[terrace_col].to_numpy() if terrace_col and terrace_col in g.columns else None
    codes = dlbm_to_codes(g[code_col].to_numpy(), recode=recode, terrace=terrace, source=source)
    shapes = [
        (geom, int(c))
        for geom, c in zip(g.geometry.values, codes, strict=True)
        if geom is not None and not geom.is_empty and c != landcover.NODATA
    ]
    if not shapes:
        return np.full(grid.shape, landcover.NODATA, dtype="uint8")
    return rasterize(
        shapes,
        out_shape=grid.shape,
        transform=grid.transform,
        fill=landcover.NODATA,
        dtype="uint8",
        all_touched=False,
    )


__all__ = ["dlbm_to_codes", "rasterize_landuse", "sandiao_table"]
