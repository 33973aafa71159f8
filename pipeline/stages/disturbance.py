"""Stages: construction-disturbance supervision (扰动图斑) for one assessment year.

- :func:`make_disturbance_inputs` — the seasonal composites of the year before and of the
  assessment year (``resources/{aoi}/disturbance/{year}/before.tif``, ``after.tif``) from
  the demo generator, local files, STAC or Earth Engine, and for the demo its approved
  projects and hidden truth;
- :func:`make_disturbance` — patches, compliance, soil loss and fee →
  ``results/{aoi}/{year}/disturbance/{patches.gpkg, field_check.xlsx, field_check.csv,
  by_township.csv, map.png, summary.json}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from pipeline.errors import ConfigError, InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.io import atomic_path, open_raster, write_csv, write_text
from pipeline.sources.seasonal_bands import SEASONS, read_composite, write_composite

log = logging.getLogger("shuibao.disturbance")

_GPKG_DATE = "2000-01-01T00:00:00.000Z"  # fixed GPKG timestamps: same inputs, same bytes
PROJECT_COLUMNS = ("name", "approval_no", "approval_date")


def _write_gpkg(gdf: gpd.GeoDataFrame, path, *, layer: str) -> Path:
    path = Path(path)
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _GPKG_DATE})
    try:
        with atomic_path(path, suffix=".gpkg") as tmp:
            tmp.unlink()
            gdf.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return path


def _json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=float) + "\n"


# ----------------------------------------------------------------------------- inputs
def disturbance_source(config: Mapping) -> str | None:
    """Source of the composites (``disturbance.source``, else ``source.kind``); None = off.

    Raises ConfigError when disturbance is enabled with local files but no path template.
    """
    dist = config.get("disturbance") or {}
    if not dist.get("enabled"):
        return None
    kind = dist.get("source") or config["source"]["kind"]
    if kind == "local" and not (dist.get("local") or {}).get("path"):
        raise ConfigError(
            "config key 'disturbance.local.path' is required when disturbance is enabled with "
            "local composites: give a GeoTIFF path template with {year} and {season}, or set "
            "disturbance.enabled: false"
        )
    return kind


def disturbance_years(config: Mapping) -> list[int]:
    """Assessment years of the disturbance workflow (empty when it is off).

    ``disturbance.years`` when given; else, for the demo, every configured year whose
    previous calendar year is configured too (the demo has land cover only for those);
    else every configured year.
    """
    kind = disturbance_source(config)
    if kind is None:
        return []
    years = sorted(int(y) for y in config["years"])
    chosen = (config.get("disturbance") or {}).get("years")
    if chosen:
        return sorted(int(y) for y in chosen)
    if kind == "demo":
        return [y for y in years if y - 1 in years]
    return years


def make_disturbance_inputs(
    *,
    kind: str,
    year: int,
    grid_path,
    aoi_path,
    out_before,
    out_after,
    out_projects=None,
    out_truth=None,
    landcover_paths: Mapping[int, str] | None = None,
    demo_seed: int = 20240601,
    local: Mapping | None = None,
    stac: Mapping | None = None,
    earthengine: Mapping | None = None,
) -> None:
    """Write the seasonal composites of ``year − 1`` and ``year`` (and the demo's projects/truth)."""
    grid = AnalysisGrid.from_json(grid_path)
    years = (year - 1, year)
    outs = {years[0]: out_before, years[1]: out_after}
    tags = {"source": kind}
    if kind == "demo":
        from pipeline.sources import demo_disturbance as dd

        if not landcover_paths:
            raise InputDataError("the disturbance demo needs the land cover of both years")
        lc = {y: open_raster(landcover_paths[y], masked=False) for y in years}
        aoi = gpd.read_file(aoi_path).to_crs(grid.crs).geometry.union_all()
        scene = dd.make_disturbance_demo(
            lc[years[0]], lc[years[1]], years=years, seed=demo_seed, aoi=aoi
        )
        for i, y in enumerate(years):
            seasons = [
                dd.composite(
                    dd.season_classes(scene, y, s), grid, seed=demo_seed, year_index=i, season=s
                )
                for s in SEASONS
            ]
            comp = _stack(seasons)
            write_composite(comp, outs[y], tags={**tags, "year": y, "SYNTHETIC": "demo"})
            del comp, seasons
        _write_gpkg(scene["projects"], out_projects, layer="approved_projects")
        _write_gpkg(scene["truth"], out_truth, layer="truth")
        return
    for y in years:
        if kind == "local":
            from pipeline.sources.local_bands import load_local_composite

            comp = load_local_composite(grid, y, **dict(local or {}))
        elif kind == "stac":
            from pipeline.sources.stac_bands import fetch_seasonal_composite

            comp = fetch_seasonal_composite(grid, y, **dict(stac or {}))
        elif kind == "earthengine":
            from pipeline.sources.earthengine_bands import fetch_seasonal_composite

            ee_cfg = dict(earthengine or {})
            ee_cfg["cache_dir"] = ee_cfg.get("cache_dir") or Path(out_after).parent / ".ee_cache"
            comp = fetch_seasonal_composite(grid, y, **ee_cfg)
        else:
            raise ConfigError(f"config key 'disturbance.source': unknown source {kind!r}")
        write_composite(comp, outs[y], tags={**tags, "year": y})


def _stack(seasons):
    import xarray as xr

    out = xr.concat(seasons, dim="season").assign_coords(season=list(SEASONS))
    return out.transpose("band", "season", "y", "x")


# ----------------------------------------------------------------------------- patches
def _read_projects(path, crs, columns: Mapping | None, layer=None) -> gpd.GeoDataFrame | None:
    if not path:
        return None
    if not Path(path).exists():
        raise InputDataError(
            f"approved-projects layer not found: {path} (config key 'disturbance.projects')"
        )
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises several types
        raise InputDataError(f"cannot read the approved-projects layer {path}: {exc}") from exc
    rename = {v: k for k, v in dict(columns or {}).items() if v and v != k}
    gdf = gdf.rename(columns=rename)
    missing = [c for c in PROJECT_COLUMNS if c not in gdf.columns]
    if missing:
        raise InputDataError(
            f"{path}: the approved-projects layer lacks {missing} (has {list(gdf.columns)}); "
            "map its columns with disturbance.projects_columns"
        )
    if gdf.crs is None:
        raise InputDataError(f"{path}: the approved-projects layer has no CRS")
    return gdf.to_crs(crs)


def _factor(paths: Mapping[str, str], name: str):
    return open_raster(paths[name]) if name in paths else None


def make_disturbance(
    *,
    before_path,
    after_path,
    year: int,
    townships_path,
    watersheds_path,
    aoi_path,
    out: Mapping[str, str],
    projects_path=None,
    factor_paths: Mapping[str, str] | None = None,
    ndvi_path=None,
    params: Mapping | None = None,
    district_name: str = "",
    lang: str = "zh",
) -> None:
    """Patches, compliance, human-induced soil loss and fee for ``year`` (see module docstring)."""
    from pipeline.disturbance import (
        assess_compliance,
        compensation_fee_yuan,
        detect_patches,
        first_visible_period,
        patch_soil_loss_t,
    )
    from pipeline.disturbance.compliance import COMPLIANCE_CATEGORIES, patch_change_dates
    from pipeline.disturbance.detect import assign_zone, patch_ids
    from pipeline.report import disturbance as report
    from pipeline.stats import pixel_area_ha

    p = dict(params or {})
    before, after = read_composite(before_path), read_composite(after_path)
    area = pixel_area_ha(after.isel(band=0, season=0, drop=True))
    labels, patches = detect_patches(
        before,
        after,
        years=(year - 1, year),
        pixel_area=area,
        ndvi_bare=p.get("ndvi_bare", 0.30),
        bsi_bare=p.get("bsi_bare", 0.10),
        ndvi_veg=p.get("ndvi_veg", 0.50),
        min_bare_seasons=p.get("min_bare_seasons", 2),
        min_area_ha=p.get("min_area_ha", 0.1),
        opening_px=p.get("opening_px", 1),
        closing_px=p.get("closing_px", 1),
    )
    first_periods = {}
    if ndvi_path:
        ndvi = open_raster(ndvi_path)
        first_periods = first_visible_period(ndvi, labels, ndvi_bare=p.get("ndvi_bare", 0.30))
    patches["first_period"] = [
        f"P{first_periods[int(k)]:02d}"
        if t == "新增" and first_periods.get(int(k)) is not None
        else None
        for k, t in zip(patches["label"], patches["change_type"], strict=True)
    ]
    patches["change_date"] = patch_change_dates(patches, first_periods=first_periods, year=year)
    projects = _read_projects(
        projects_path, patches.crs, p.get("projects_columns"), p.get("projects_layer")
    )
    patches = patches.join(
        assess_compliance(
            patches,
            projects,
            tolerance_fraction=p.get("tolerance_fraction", 0.10),
            tolerance_ha=p.get("tolerance_ha", 0.10),
        )
    )
    townships = gpd.read_file(townships_path)
    watersheds = gpd.read_file(watersheds_path)
    patches["township"] = assign_zone(patches, townships, column="name")
    patches["watershed"] = assign_zone(patches, watersheds, column="name")
    codes = assign_zone(patches, townships, column="zone_id")
    patches.insert(0, "编号", patch_ids(patches, codes, year=year))
    if factor_paths:
        fp = dict(factor_paths)
        ls = _factor(fp, "LS")
        if ls is None and "L" in fp and "S" in fp:
            ls = _factor(fp, "L") * _factor(fp, "S")
        loss = patch_soil_loss_t(
            labels,
            R=_factor(fp, "R"),
            K=_factor(fp, "K"),
            LS=ls,
            pixel_area=area,
            c_bare=p.get("c_bare", 1.0),
        )
        patches = patches.merge(loss, on="label", how="left")
    else:
        patches["soil_loss_t"] = np.nan
        patches["modulus_t_ha"] = np.nan
    rate = p.get("compensation_rate_yuan_m2")
    fee = compensation_fee_yuan(patches["area_ha"].to_numpy(), rate)
    patches["fee_yuan"] = fee if fee is not None else np.nan
    # revegetated patches are no longer bare construction land: no bare-soil loss, no fee
    back = patches["change_type"] == "恢复"
    patches.loc[back, ["soil_loss_t", "modulus_t_ha", "fee_yuan"]] = np.nan
    patches["change_date"] = [d.isoformat() if d else None for d in patches["change_date"]]
    order = {c: i for i, c in enumerate(COMPLIANCE_CATEGORIES)}
    patches = patches.sort_values(
        ["compliance", "area_ha"], key=lambda s: s.map(order) if s.name == "compliance" else -s
    ).reset_index(drop=True)
    cols = [
        "编号",
        "change_type",
        "compliance",
        "area_ha",
        "outside_ha",
        "outside_share",
        "project_name",
        "approval_no",
        "township",
        "watershed",
        "first_visible",
        "first_period",
        "change_date",
        "ndvi_before",
        "ndvi_after",
        "bsi_before",
        "bsi_after",
        "soil_loss_t",
        "modulus_t_ha",
        "fee_yuan",
        "n_pixels",
        "label",
    ]
    gdf = gpd.GeoDataFrame(patches[cols], geometry=patches.geometry, crs=patches.crs)
    _write_gpkg(gdf, out["patches"], layer="disturbance_patches")

    by_town = _by_township(gdf)
    write_csv(by_town, out["by_township"])
    summary = _summary(gdf, year=year, params=p, rate=rate, has_projects=projects is not None)
    write_text(_json(summary), out["summary"])
    field = report.field_check_table(gdf, lang="zh")
    write_csv(field, out["field_check_csv"])
    report.write_field_check_xlsx(field, out["field_check_xlsx"], summary=summary)
    report.plot_disturbance_map(
        gdf,
        out["map"],
        aoi=gpd.read_file(aoi_path),
        townships=townships,
        title=f"{district_name} {year} 扰动图斑 / disturbance patches",
        lang=lang,
    )
    log.info("%d disturbance patches, %.2f ha, for %s", len(gdf), gdf["area_ha"].sum(), year)


def _by_township(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """Patch count and area (ha) by township and compliance category, with a total row."""
    df = pd.DataFrame(
        {
            "township": gdf["township"].fillna("（区外）"),
            "compliance": gdf["compliance"],
            "area_ha": gdf["area_ha"],
        }
    )
    g = df.groupby(["township", "compliance"], sort=True)["area_ha"]
    table = pd.DataFrame({"patches": g.size(), "area_ha": g.sum()}).reset_index()
    total = pd.DataFrame(
        [
            {
                "township": "合计",
                "compliance": "全部",
                "patches": int(len(df)),
                "area_ha": float(df["area_ha"].sum()),
            }
        ]
    )
    return pd.concat([table, total], ignore_index=True)


def _summary(gdf, *, year, params, rate, has_projects) -> dict:
    def block(col):
        out = {}
        for key, sub in gdf.groupby(col, sort=True):
            out[str(key)] = {"patches": int(len(sub)), "area_ha": float(sub["area_ha"].sum())}
        return out

    disturbed = gdf[gdf["change_type"] != "恢复"]
    return {
        "year": int(year),
        "year_before": int(year) - 1,
        "patches": int(len(gdf)),
        "area_ha": float(gdf["area_ha"].sum()),
        "disturbed_patches": int(len(disturbed)),
        "disturbed_area_ha": float(disturbed["area_ha"].sum()),
        "by_change_type": block("change_type"),
        "by_compliance": block("compliance"),
        "soil_loss_t": float(np.nansum(disturbed["soil_loss_t"]))
        if disturbed["soil_loss_t"].notna().any()
        else None,
        "compensation_rate_yuan_m2": rate,
        "compensation_fee_yuan": float(np.nansum(disturbed["fee_yuan"]))
        if rate is not None
        else None,
        "approved_projects_layer": bool(has_projects),
        "parameters": {
            k: params.get(k)
            for k in (
                "ndvi_bare",
                "bsi_bare",
                "ndvi_veg",
                "min_bare_seasons",
                "min_area_ha",
                "opening_px",
                "closing_px",
                "tolerance_fraction",
                "tolerance_ha",
                "c_bare",
            )
        },
    }
