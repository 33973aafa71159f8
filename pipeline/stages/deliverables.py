"""Stages for the hand-over deliverables (#14): zone tables, change by zone, GeoPackage.

- ``make_zone_tables``: total soil loss (t/a) and mean modulus (t/(km²·a)) per
  district / township / watershed, slope class × land use × intensity, 重点乡镇.
- ``make_zone_change``: change between two years per township and watershed.
- ``make_gpkg``: ``shuibao_{year}.gpkg`` with district, townships and watersheds
  (every table figure as attributes) and intensity patches (图斑), plus a QGIS style.

The science is in ``pipeline.stats``; these functions read paths and write paths.
Polygonising is delegated to rasterio.features.shapes, geometry work to shapely /
geopandas, writing to pyogrio (GeoPackage).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from pipeline import landcover
from pipeline.classify import CLASS_CODES, CLASSES
from pipeline.errors import InputDataError
from pipeline.io import atomic_path, open_raster, write_csv, write_text
from pipeline.stages.common import chunks_2d

log = logging.getLogger("shuibao.deliverables")

LAYERS = ("township", "watershed")


def _read_zones(path, crs) -> gpd.GeoDataFrame:
    zones = gpd.read_file(path)
    for col in ("zone_id", "name"):
        if col not in zones.columns:
            raise InputDataError(
                f"{path}: zone layer needs a column {col!r}; has {list(zones.columns)}"
            )
    if zones.crs is None:
        raise InputDataError(f"{path}: zone layer has no CRS")
    return zones.to_crs(crs)


def _district_zone(aoi_path, crs, name: str) -> gpd.GeoDataFrame:
    aoi = gpd.read_file(aoi_path).to_crs(crs)
    geom = aoi.geometry.union_all() if hasattr(aoi.geometry, "union_all") else aoi.unary_union
    return gpd.GeoDataFrame({"zone_id": ["district"], "name": [name]}, geometry=[geom], crs=crs)


def make_zone_tables(
    *,
    intensity_path,
    soil_loss_path,
    slope_path,
    landcover_path,
    aoi_path,
    zone_paths: Mapping[str, str],
    zone_class_paths: Mapping[str, str],
    district_name: str,
    out_soil_loss: Mapping[str, str],
    out_slope_landuse,
    out_key_zones,
    key_zone_count: int = 10,
    compute: Mapping | None = None,
) -> None:
    """Soil loss per zone (incl. the district), slope × land use × intensity, 重点乡镇."""
    from pipeline import stats

    ch = chunks_2d(compute)
    intensity = open_raster(intensity_path, chunks=ch)
    soil_loss = open_raster(soil_loss_path, chunks=ch)
    area = stats.pixel_area_ha(intensity)
    crs = intensity.rio.crs
    zone_sets = {"district": _district_zone(aoi_path, crs, district_name)}
    zone_sets.update({layer: _read_zones(p, crs) for layer, p in zone_paths.items()})
    for layer, zones in zone_sets.items():
        table = stats.zonal_soil_loss(
            soil_loss.where(intensity.notnull()), area, zones, layer_name=layer
        )
        write_csv(table, out_soil_loss[layer])
    slope = open_raster(slope_path, chunks=ch)
    lc = open_raster(landcover_path, chunks=ch)
    names = {code: (v[1], v[2]) for code, v in landcover.CLASSES.items()}
    cross = stats.slope_landuse_intensity(intensity, slope, lc, area, landcover_names=names)
    write_csv(cross, out_slope_landuse)
    long = pd.read_csv(zone_class_paths["township"], encoding="utf-8-sig")
    write_csv(stats.key_zones(long, top=key_zone_count), out_key_zones)
    log.info("zone tables written (%d slope × land use × class cells)", len(cross))


def make_zone_change(
    *,
    intensity_y0,
    intensity_y1,
    zone_paths: Mapping[str, str],
    out_tables: Mapping[str, str],
    compute: Mapping | None = None,
) -> None:
    """Per-zone change tables (net change per class, improved/deteriorated area, ha)."""
    from pipeline import stats

    ch = chunks_2d(compute)
    a = open_raster(intensity_y0, chunks=ch)
    b = open_raster(intensity_y1, chunks=ch)
    area = stats.pixel_area_ha(a)
    for layer, path in zone_paths.items():
        zones = _read_zones(path, a.rio.crs)
        write_csv(stats.zonal_change(a, b, area, zones, layer_name=layer), out_tables[layer])


# --------------------------------------------------------------------------- GeoPackage
def _zone_attributes(long: pd.DataFrame, soil: pd.DataFrame, change: pd.DataFrame | None):
    from pipeline.stats import zone_summary

    wide = zone_summary(long)
    slight = long[long["class_code"] == 1].set_index("zone_id")["area_ha"]
    wide.insert(
        wide.columns.get_loc("erosion_area_ha"),
        "slight_area_ha",
        wide["zone_id"].map(slight).to_numpy(),
    )
    shares = long.pivot_table(
        index="zone_id", columns="class_code", values="share_of_zone_pct", sort=False
    )
    for code in CLASS_CODES:
        wide[f"{CLASSES[code][0]}_share_pct"] = wide["zone_id"].map(shares[code]).to_numpy()
    s = soil.set_index("zone_id")
    wide["total_soil_loss_t_yr"] = wide["zone_id"].map(s["total_soil_loss_t_yr"]).to_numpy()
    wide["mean_modulus_t_km2_yr"] = wide["zone_id"].map(s["mean_modulus_t_km2_yr"]).to_numpy()
    if change is not None:
        c = change.set_index("zone_id")
        for col in c.columns:
            if col.endswith("_ha") or col.endswith("_pct"):
                wide[f"chg_{col}"] = wide["zone_id"].map(c[col]).to_numpy()
    return wide.drop(columns=["zone_layer"])


def intensity_patches(
    intensity, pixel_area, zone_idx: Mapping[str, np.ndarray], zones, *, mmu_ha: float
):
    """Class polygons dissolved per class within each township × watershed unit.

    4-connected pixels of one class within one unit form a region
    (:func:`pipeline.regions.label_equal_regions`); its true area is the sum of its pixels'
    true areas. Regions below ``mmu_ha`` are dropped (their area is reported, not merged
    into neighbours, so no class area changes hands) before anything is polygonised; each
    kept region becomes one polygon (``rasterio.features.shapes`` on the region labels),
    and the polygons are dissolved per (unit, class).

    Returns (patches GeoDataFrame, bookkeeping DataFrame per class: total, kept,
    removed below the MMU, outside every zone; ha).
    """
    import shapely
    from rasterio.features import shapes

    from pipeline import exactsum, regions

    cls = np.asarray(intensity.values, dtype="float64")
    area = np.asarray(pixel_area.values, dtype="float64")
    t_idx = zone_idx["township"].astype("int64")
    w_idx = zone_idx["watershed"].astype("int64")
    nw = int(max(w_idx.max() + 1, 1))
    valid = np.isfinite(cls)
    inside = valid & (t_idx >= 0) & (w_idx >= 0)
    unit = np.where(inside, t_idx * nw + w_idx, -1)
    label = np.where(inside, unit * 8 + np.nan_to_num(cls, nan=0).astype("int64"), -1)
    region, first = regions.label_equal_regions(label, inside)
    values, true_ha = regions.region_table(region, first, label, area)
    values = values.astype("int64")
    codes = values % 8
    units = values // 8
    keep = true_ha >= mmu_ha
    transform = intensity.rio.transform()
    kept_pixels = inside & keep[np.maximum(region, 0)]
    kept_ids, geoms = [], []
    for geom, value in shapes(region, mask=kept_pixels, transform=transform, connectivity=4):
        kept_ids.append(int(value))
        geoms.append(shapely.geometry.shape(geom))
    order = np.argsort(np.asarray(kept_ids, dtype="int64"), kind="stable")
    kept_ids = np.asarray(kept_ids, dtype="int64")[order]
    geoms = np.asarray(geoms, dtype=object)[order]
    if len(kept_ids) != int(keep.sum()) or np.any(kept_ids != np.flatnonzero(keep)):
        raise AssertionError("polygonising the kept regions did not give one polygon each")
    # removed and kept area per class: exact sums over the regions (order-independent)
    by_class = exactsum.grouped_sum(true_ha, codes * 2 + keep, 16).reshape(8, 2)
    book = []
    for code in CLASS_CODES:
        total = float(area[valid & (cls == code)].sum())
        in_zone = float(area[inside & (cls == code)].sum())
        book.append(
            {
                "class_code": code,
                "class_zh": CLASSES[code][1],
                "class_en": CLASSES[code][2],
                "class_area_ha": total,
                "outside_zones_ha": total - in_zone,
                "removed_below_mmu_ha": float(by_class[code, 0]),
                "patch_area_ha": float(by_class[code, 1]),
                "removed_polygons": int(((codes == code) & ~keep).sum()),
            }
        )
    # Dissolve per (unit, class). The regions of one unit and class are maximal 4-connected
    # sets, so two of them share no edge (at most a corner point): their union is the
    # multipolygon of the parts, which shapely builds without a costly union (the union
    # is kept as a fallback should a part ever be invalid).
    key = units[keep] * 8 + codes[keep]
    order = np.argsort(key, kind="stable")
    key, parts, part_ha = key[order], geoms[order], true_ha[keep][order]
    groups, start = np.unique(key, return_index=True)
    index = np.repeat(np.arange(len(groups)), np.diff(np.append(start, len(key))))
    multi = shapely.multipolygons(parts, indices=index) if len(parts) else np.empty(0, object)
    for i in np.flatnonzero(~shapely.is_valid(multi)):
        multi[i] = shapely.union_all(parts[index == i])
    group_ha = exactsum.grouped_sum(part_ha, index, len(groups))
    dissolved = pd.DataFrame(
        {"unit": groups // 8, "class_code": groups % 8, "area_ha": group_ha, "geometry": multi}
    )
    t_rows = (dissolved["unit"] // nw).to_numpy()
    w_rows = (dissolved["unit"] % nw).to_numpy()
    tz, wz = zones["township"], zones["watershed"]
    out = gpd.GeoDataFrame(
        {
            "class_code": dissolved["class_code"].astype("int32"),
            "class_zh": [CLASSES[c][1] for c in dissolved["class_code"]],
            "class_en": [CLASSES[c][2] for c in dissolved["class_code"]],
            "area_ha": dissolved["area_ha"].astype("float64"),
            "township_id": tz["zone_id"].to_numpy()[t_rows].astype(str),
            "township": tz["name"].to_numpy()[t_rows],
            "watershed_id": wz["zone_id"].to_numpy()[w_rows].astype(str),
            "watershed": wz["name"].to_numpy()[w_rows],
        },
        geometry=shapely.force_2d(dissolved["geometry"].to_numpy()),
        crs=intensity.rio.crs,
    )
    out = out.sort_values(["township_id", "watershed_id", "class_code"], kind="stable")
    return out.reset_index(drop=True), pd.DataFrame(book)


def make_gpkg(
    *,
    intensity_path,
    aoi_path,
    zone_paths: Mapping[str, str],
    tables: Mapping[str, str],
    year: int,
    district_name: str,
    out_gpkg,
    out_bookkeeping,
    mmu_ha: float,
    class_colours: Mapping | None = None,
    compute: Mapping | None = None,
) -> None:
    """Write ``shuibao_{year}.gpkg`` (district, townships, watersheds, intensity_patches,
    patch_bookkeeping, layer_styles) in the analysis CRS, and a ``.qml`` beside it."""
    import pyogrio

    from pipeline import raster_style, stats

    intensity = open_raster(intensity_path)  # polygonising needs the whole array
    crs = intensity.rio.crs
    area = stats.pixel_area_ha(intensity)
    zones = {layer: _read_zones(p, crs).reset_index(drop=True) for layer, p in zone_paths.items()}
    layers: dict[str, gpd.GeoDataFrame] = {}
    for layer in LAYERS:
        long = pd.read_csv(tables[f"zones_{layer}"], encoding="utf-8-sig")
        soil = pd.read_csv(tables[f"soil_loss_{layer}"], encoding="utf-8-sig")
        change = None
        if f"change_{layer}" in tables:
            change = pd.read_csv(tables[f"change_{layer}"], encoding="utf-8-sig")
        for df in (long, soil) + ((change,) if change is not None else ()):
            df["zone_id"] = df["zone_id"].astype(str)
        attrs = _zone_attributes(long, soil, change)
        z = zones[layer][["zone_id", "geometry"]].copy()
        z["zone_id"] = z["zone_id"].astype(str)
        layers[layer + "s"] = gpd.GeoDataFrame(
            z.merge(attrs, on="zone_id", how="left"), geometry="geometry", crs=crs
        )
    # district: one row, summary + class areas + soil loss + change
    summary = json.loads(Path(tables["summary"]).read_text(encoding="utf-8"))
    classes = pd.read_csv(tables["classes"], encoding="utf-8-sig")
    dsoil = pd.read_csv(tables["soil_loss_district"], encoding="utf-8-sig").iloc[0]
    row = {"name": district_name, "year": int(year)}
    row.update(
        {k: v for k, v in summary.items() if isinstance(v, int | float | str) and k != "year"}
    )
    for _, c in classes.iterrows():
        key = CLASSES[int(c["class_code"])][0]
        row[f"{key}_area_ha"] = float(c["area_ha"])
        row[f"{key}_share_pct"] = float(c["share_of_district_pct"])
    row["total_soil_loss_t_yr"] = float(dsoil["total_soil_loss_t_yr"])
    row["mean_modulus_t_km2_yr"] = float(dsoil["mean_modulus_t_km2_yr"])
    if "change_summary" in tables:
        ch = json.loads(Path(tables["change_summary"]).read_text(encoding="utf-8"))
        for k, v in ch.items():
            if k.endswith("_ha") or k.endswith("_pct"):
                row[f"chg_{k}"] = v
    aoi = _district_zone(aoi_path, crs, district_name)
    layers["district"] = gpd.GeoDataFrame([row], geometry=[aoi.geometry.iloc[0]], crs=crs)

    idx = {layer: np.asarray(stats.zone_index(zones[layer], intensity).values) for layer in LAYERS}
    patches, book = intensity_patches(intensity, area, idx, zones, mmu_ha=float(mmu_ha))
    layers["intensity_patches"] = patches
    book.insert(0, "mmu_ha", float(mmu_ha))
    write_csv(book, out_bookkeeping)

    colours = raster_style.class_colours(class_colours)
    qml = raster_style.vector_qml(colours)
    styles = pd.DataFrame(
        {
            "f_table_catalog": [""],
            "f_table_schema": [""],
            "f_table_name": ["intensity_patches"],
            "f_geometry_column": ["geom"],
            "styleName": ["SL 190-2007 intensity"],
            "styleQML": [qml],
            "styleSLD": [""],
            "useAsDefault": [True],
            "description": ["Shuibao SL 190-2007 class colours"],
            "owner": [""],
            "ui": [""],
        }
    )
    out_gpkg = Path(out_gpkg)
    with atomic_path(out_gpkg, suffix=".gpkg") as tmp:
        tmp.unlink()
        for name in ("district", "townships", "watersheds", "intensity_patches"):
            gdf = layers[name]
            gdf = gdf.set_geometry(gdf.geometry.apply(_multi))
            pyogrio.write_dataframe(
                gdf, tmp, layer=name, driver="GPKG", geometry_type="MultiPolygon", append=False
            )
        pyogrio.write_dataframe(book, tmp, layer="patch_bookkeeping", driver="GPKG")
        pyogrio.write_dataframe(styles, tmp, layer="layer_styles", driver="GPKG")
    write_text(qml, out_gpkg.with_suffix(".qml"))
    log.info(
        "GeoPackage %s: %d patches; %.2f ha removed below the MMU of %g ha",
        out_gpkg,
        len(patches),
        book["removed_below_mmu_ha"].sum(),
        mmu_ha,
    )


def _multi(geom):
    from shapely.geometry import MultiPolygon, Polygon

    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    return geom


def make_delineated_watersheds(*, dem_path, aoi_path, out_path, min_area_km2: float) -> None:
    """Small watersheds from the DEM (``pipeline.watersheds``) as a zone layer
    (``zone_id`` = outlet code, ``name``, ``name_en``, ``area_km2``), clipped to the AOI."""
    import shapely
    from rasterio.features import shapes

    from pipeline.watersheds import delineate_small_watersheds

    dem = open_raster(dem_path)
    index, codes = delineate_small_watersheds(dem, min_area_km2=float(min_area_km2))
    values = np.asarray(index.values, dtype="int32")
    geoms, ids = [], []
    for geom, v in shapes(values, mask=values >= 0, transform=index.rio.transform()):
        geoms.append(shapely.geometry.shape(geom))
        ids.append(int(v))
    gdf = gpd.GeoDataFrame({"idx": ids}, geometry=geoms, crs=index.rio.crs).dissolve(by="idx")
    aoi = gpd.read_file(aoi_path).to_crs(index.rio.crs)
    clip = aoi.geometry.union_all() if hasattr(aoi.geometry, "union_all") else aoi.unary_union
    gdf["geometry"] = gdf.geometry.intersection(clip)
    gdf = gdf[~gdf.geometry.is_empty & (gdf.geometry.area > 0)].reset_index()
    gdf["zone_id"] = [codes[i] for i in gdf["idx"]]
    gdf["name"] = [f"小流域{c}" for c in gdf["zone_id"]]
    gdf["name_en"] = [f"Small watershed {c}" for c in gdf["zone_id"]]
    gdf["area_km2"] = gdf.geometry.area / 1e6
    gdf = gdf[["zone_id", "name", "name_en", "area_km2", "geometry"]].sort_values("zone_id")
    out_path = Path(out_path)
    with atomic_path(out_path, suffix=".gpkg") as tmp:
        tmp.unlink()
        gdf.to_file(tmp, driver="GPKG", layer="watersheds", engine="pyogrio")
    log.info("%d small watersheds delineated (min area %g km²)", len(gdf), min_area_km2)
