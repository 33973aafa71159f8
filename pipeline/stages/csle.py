"""Stage: CSLE E (engineering measures) and T (tillage) from measure layers or land cover.

E: where a polygon of ``csle.measures`` (梯田, 水平阶, 鱼鳞坑 …) covers a pixel centre, its
code's value from ``csle.measures.table``; elsewhere ``csle.engineering_table`` by land
cover; unlisted = 1 (no measure). T: on cropland, ``csle.tillage`` polygons' codes, else
``csle.tillage_table`` by land cover; unlisted cropland and all other land = 1. The codes that
got 1 by default are written to the rasters' tags (``defaulted_codes``) so the soil-loss stage
can warn when such a class turns mostly 剧烈.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import xarray as xr

from pipeline import landcover
from pipeline.errors import ConfigError, InputDataError
from pipeline.io import open_raster, write_cog
from pipeline.stages.common import chunks_2d, provenance, table_by_code

log = logging.getLogger("shuibao.csle")


def rasterize_codes(layer: Mapping, template: xr.DataArray, *, key: str):
    """Polygon layer → integer raster (0 = no polygon) and {layer code: raster code}."""
    from rasterio.features import rasterize

    path, col = layer.get("path"), layer.get("code_col")
    try:
        gdf = gpd.read_file(path, layer=layer.get("layer"))
    except Exception as exc:  # noqa: BLE001 - name the key and file
        raise InputDataError(f"{key}.path {path!r}: cannot read the polygon layer ({exc})") from exc
    if col not in gdf.columns:
        raise ConfigError(f"{key}.code_col {col!r} is not a column of {path} ({list(gdf.columns)})")
    if gdf.crs is None:
        raise InputDataError(f"{key}.path {path}: the layer has no CRS")
    gdf = gdf.to_crs(template.rio.crs)
    gdf = gdf[gdf.geometry.notnull() & ~gdf.geometry.is_empty]
    values = gdf[col].astype(str).tolist()
    ids = {v: i + 1 for i, v in enumerate(sorted(set(values)))}
    shapes = ((g, ids[v]) for g, v in zip(gdf.geometry, values, strict=True))
    arr = rasterize(
        shapes,
        out_shape=template.shape[-2:],
        transform=template.rio.transform(),
        fill=0,
        dtype="int32",
    )
    da = xr.DataArray(arr, dims=("y", "x"), coords={"y": template.y, "x": template.x})
    return da, ids


def _layer_factor(layer: Mapping, template, *, key: str, what: str):
    """Per-pixel factor from a measures layer (NaN where no polygon) and unlisted codes."""
    codes, ids = rasterize_codes(layer, template, key=key)
    table = {str(k): float(v) for k, v in (layer.get("table") or {}).items()}
    present = set(np.unique(codes.values).tolist()) - {0}
    by_id = {i: v for v, i in ids.items()}
    unlisted = sorted(by_id[i] for i in present if by_id[i] not in table)
    if unlisted:
        log.warning(
            "%s.table has no value for code(s) %s of %s: %s = 1 there (no reduction)",
            key,
            unlisted,
            layer.get("path"),
            what,
        )
    lut = np.full(len(ids) + 1, np.nan)
    for v, i in ids.items():
        lut[i] = table.get(v, 1.0)
    out = xr.DataArray(lut[codes.values], dims=("y", "x"), coords=codes.coords)
    return out, unlisted


def make_e_t_layers(
    *,
    landcover_path,
    out_e,
    out_t,
    csle: Mapping,
    compute: Mapping | None = None,
    measures_path=None,
    measure_factors: Mapping | None = None,
) -> None:
    """Write E.tif and T.tif (dimensionless) on the land-cover grid.

    ``measures_path``: the treatment measures completed by the year (#15), which set E / T
    from ``measure_factors`` (``e_table``, ``t_table``, ``combine``) where they lie.
    """
    from pipeline.factors import measures

    lc = open_raster(landcover_path, chunks=chunks_2d(compute)).load()
    valid = lc.notnull() & (lc != landcover.NODATA)
    present = {int(c) for c in np.unique(lc.where(valid).values) if np.isfinite(c)}
    crop = set(landcover.CROPLAND_CODES)
    e_table = table_by_code(csle.get("engineering_table") or {}, key="csle.engineering_table")
    t_table = table_by_code(csle.get("tillage_table") or {}, key="csle.tillage_table")
    e = measures.factor_from_codes(lc, e_table, nodata=landcover.NODATA, name="E")
    t = measures.factor_from_codes(
        lc, t_table, apply_to=crop, nodata=landcover.NODATA, name="T", table_name="T table"
    )
    # E = 1 is the method's "no measure" value; it is suspect only on classes that are a
    # measure by definition (terraced cropland), so only those are checked for 剧烈
    e_default = (present - set(e_table)) & {landcover.CODE_BY_KEY["terraced_cropland"]}
    t_default = (present & crop) - set(t_table)
    tags = provenance("factor_e_t", csle=csle)
    for key, what in (("measures", "E"), ("tillage", "T")):
        layer = csle.get(key)
        if not layer:
            continue
        from_layer, _ = _layer_factor(layer, lc, key=f"csle.{key}", what=what)
        covered = from_layer.notnull() & valid
        if what == "E":
            e = xr.where(covered, from_layer, e)
            e_default = {c for c in e_default if bool(((lc == c) & ~covered).any())}
        else:
            covered = covered & lc.isin(list(crop))
            t = xr.where(covered, from_layer, t)
            t_default = {c for c in t_default if bool(((lc == c) & ~covered).any())}
        tags[f"{key}_layer"] = str(layer.get("path"))
    if t_default:
        log.warning(
            "CSLE: cropland class(es) %s have no tillage value (csle.tillage_table / "
            "csle.tillage): T = 1 there, and CSLE uses T, not B, on cropland",
            sorted(t_default),
        )
    if measures_path:  # treatment (#15): measures completed <= year set E / T where tabled
        from pipeline.stages.treatment import apply_measures_to_factor

        mf = measure_factors or {}
        kw = dict(measures_path=measures_path, combine=mf.get("combine", "replace"))
        e = apply_measures_to_factor(e, table=mf.get("e_table", {}), name="e_factor", **kw)
        t = apply_measures_to_factor(t, table=mf.get("t_table", {}), name="t_factor", **kw)
        tags["measure_factors"] = str(mf)
    for da, path, nm, dflt in ((e, out_e, "E", e_default), (t, out_t, "T", t_default)):
        da = da.where(valid)
        da = da.rio.write_crs(lc.rio.crs).rio.write_transform(lc.rio.transform())
        tags_i = dict(tags, defaulted_codes=",".join(str(c) for c in sorted(dflt)))
        write_cog(da.rename(nm).astype("float32"), path, tags=tags_i)
