"""Stages of the treatment chain (#15): paths in, paths out.

- ``make_demo_inputs``: the demo district's measures / projects / targets / parcels
  (``pipeline.sources.demo_treatment``) from its baseline land cover and slope;
- ``make_measures_raster``: measures completed ≤ year on the analysis grid (the P / E /
  T hook reads it);
- ``make_progress``: cumulative 治理 / 生态修复 areas, progress against targets,
  水土保持率 trajectory;
- ``make_project_evaluation``: per project before/after and matched DiD (+ placebo);
- ``make_parcels``: ranked untreated parcels (GeoPackage + XLSX);
- ``make_treatment_report``: bulletin paragraph (zh/en), 重点乡镇, chart and map.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from pipeline.errors import ConfigError, InputDataError
from pipeline.io import atomic_path, open_raster, write_cog, write_csv, write_text

log = logging.getLogger("shuibao.treatment")

EROSION_MIN_CLASS = 2  # 轻度 and above = 水土流失面积 (SL 190-2007)


def _json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=float) + "\n"


def _read_vector(path, *, layer=None, what: str) -> gpd.GeoDataFrame:
    if not Path(path).exists():
        raise InputDataError(f"{what}: file not found: {path}")
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises several types
        raise InputDataError(f"{what}: cannot read {path}: {exc}") from exc
    if gdf.crs is None:
        raise InputDataError(f"{what}: {path} has no CRS")
    return gdf


def _write_gpkg(gdf: gpd.GeoDataFrame, path, *, layer: str) -> None:
    with atomic_path(path, suffix=".gpkg") as tmp:
        gdf.to_file(tmp, layer=layer, driver="GPKG")


def read_measures_file(path, cfg: Mapping, crs) -> gpd.GeoDataFrame:
    from pipeline.treatment import measures

    gdf = _read_vector(path, layer=cfg.get("layer"), what="treatment.measures")
    return measures.read_measures(
        gdf,
        type_col=cfg.get("type_col", "措施类型"),
        year_col=cfg.get("year_col", "完成年份"),
        project_col=cfg.get("project_col"),
        type_map=cfg.get("type_map") or {},
        source=str(path),
        crs=crs,
    )


def read_targets_file(path, cfg: Mapping, *, period_end: int) -> pd.DataFrame:
    from pipeline.treatment import targets

    p = Path(path)
    if not p.exists():
        raise InputDataError(f"treatment.targets: file not found: {path}")
    df = pd.read_excel(p) if p.suffix.lower() in (".xlsx", ".xls") else pd.read_csv(p)
    zone_col = cfg.get("zone_col", "zone_id")
    return targets.read_targets(df, source=str(path), zone_col=zone_col, period_end=period_end)


# ----------------------------------------------------------------------------- demo
def make_demo_inputs(
    *, landcover_path, slope_path, townships_path, out: Mapping[str, str], seed: int
) -> None:
    from pipeline.sources import demo_treatment as dt

    lc = open_raster(landcover_path, masked=False)
    slope = open_raster(slope_path)
    towns = _read_vector(townships_path, what="townships").to_crs(lc.rio.crs)
    d = dt.make_treatment_demo(
        np.asarray(lc.values),
        np.asarray(slope.values),
        transform=lc.rio.transform(),
        crs=lc.rio.crs,
        townships=towns,
        seed=seed,
    )
    _write_gpkg(d["measures"], out["measures"], layer="measures")
    _write_gpkg(d["projects"], out["projects"], layer="projects")
    _write_gpkg(d["parcels"], out["parcels"], layer="parcels")
    write_csv(d["targets"], out["targets"], index=False)


# ----------------------------------------------------------------------------- raster
def make_measures_raster(*, measures_path, template_path, year: int, measures_cfg, out) -> None:
    from pipeline.stages.common import provenance
    from pipeline.treatment import measures

    tmpl = open_raster(template_path, masked=False)
    m = read_measures_file(measures_path, measures_cfg, tmpl.rio.crs)
    codes = measures.rasterize_measures(m, year=int(year), template=tmpl)
    write_cog(codes, out, dtype="uint8", tags=provenance("treatment_measures", year=int(year)))


def apply_measures_to_factor(factor, *, measures_path, table: Mapping, combine: str, name: str):
    """The P / E / T hook: ``factor`` with measure values where listed (see measures.py)."""
    from pipeline.treatment import measures

    codes = open_raster(measures_path, masked=False)
    return measures.apply_measure_factor(factor, codes, table, combine=combine, name=name)


# ----------------------------------------------------------------------------- progress
def make_progress(
    *,
    measures_path,
    targets_path,
    townships_path,
    aoi_path,
    summaries: Mapping[int, str],
    year: int,
    treatment: Mapping,
    out_achieved,
    out_progress,
    out_json,
) -> None:
    import shapely

    from pipeline.treatment import targets as tg

    towns = _read_vector(townships_path, what="townships")
    crs = towns.estimate_utm_crs() if not towns.crs.is_projected else towns.crs
    towns = towns.to_crs(crs)
    aoi = _read_vector(aoi_path, what="aoi").to_crs(crs)
    baseline = int(treatment.get("baseline_year", 2020))
    period_end = int(treatment.get("period_end", 2025))
    m = read_measures_file(measures_path, treatment.get("measures") or {}, crs)
    years = sorted(set(range(baseline + 1, int(year) + 1)) | {int(year)})
    ach = tg.cumulative_areas(
        m,
        towns,
        years=years,
        baseline_year=baseline,
        district=shapely.union_all(aoi.geometry.values),
    )
    write_csv(ach, out_achieved, index=False)
    prog = pd.DataFrame()
    rate_target = None
    if targets_path:
        tgt = read_targets_file(targets_path, treatment.get("targets") or {}, period_end=period_end)
        prog = tg.progress_table(ach, tgt, year=int(year), period_end=period_end)
        rate = tgt[(tgt["metric"] == "conservation_rate") & (tgt["zone_id"] == "district")]
        if len(rate):
            rate_target = {"year": int(rate["year"].max()), "pct": float(rate["target"].iloc[-1])}
    write_csv(prog, out_progress, index=False)
    names = dict(zip(towns["zone_id"], towns.get("name", towns["zone_id"]), strict=True))
    rates = {}
    for y, path in sorted(summaries.items()):
        s = json.loads(Path(path).read_text(encoding="utf-8"))
        rates[int(y)] = {
            "soil_conservation_rate_pct": s["soil_conservation_rate_pct"],
            "erosion_area_ha": s["erosion_area_ha"],
            "land_area_ha": s["land_area_ha"],
        }
    write_text(
        _json(
            {
                "year": int(year),
                "baseline_year": baseline,
                "period_end": period_end,
                "area_rule": "union per category (overlaps count once); 生态修复 (封禁治理) "
                "reported beside 治理面积",
                "achieved": ach[ach["year"] == int(year)].to_dict("records"),
                "progress": prog.to_dict("records"),
                "conservation_rate": rates,
                "conservation_rate_target": rate_target,
                "township_names": names,
            }
        ),  # fmt: skip
        out_json,
    )


# ----------------------------------------------------------------------------- evaluation
def _placebo_mask(untreated, n_discs: int, radius_px: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = untreated.shape
    m = int(radius_px) + 1
    inner = np.zeros(shape, bool)
    inner[m:-m, m:-m] = True
    cand = np.argwhere(untreated & inner)
    out = np.zeros(shape, bool)
    if cand.size == 0:
        return out
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    for r0, c0 in cand[rng.integers(len(cand), size=n_discs)]:
        out |= (rows - r0) ** 2 + (cols - c0) ** 2 <= radius_px**2
    return out & untreated


def make_project_evaluation(
    *,
    soil_loss_before,
    soil_loss_after,
    intensity_before,
    intensity_after,
    slope_path,
    landcover_before,
    measures_path,
    projects_path,
    before_year: int,
    year: int,
    treatment: Mapping,
    out_csv,
    out_json,
) -> None:
    from rasterio.features import rasterize

    from pipeline import stats
    from pipeline.treatment import evaluation as ev
    from pipeline.treatment import measures as ms

    a0 = open_raster(soil_loss_before)
    a1 = open_raster(soil_loss_after)
    i0 = np.asarray(open_raster(intensity_before, masked=False).values)
    i1 = np.asarray(open_raster(intensity_after, masked=False).values)
    slope = open_raster(slope_path)
    lc0 = np.asarray(open_raster(landcover_before, masked=False).values)
    crs, transform = a0.rio.crs, a0.rio.transform()
    cfg_p = treatment.get("projects") or {}
    ev_cfg = treatment.get("evaluation") or {}
    projects = _read_vector(projects_path, layer=cfg_p.get("layer"), what="treatment.projects")
    id_col = cfg_p.get("id_col", "project_id")
    name_col = cfg_p.get("name_col", "name")
    for col in (id_col, name_col):
        if col not in projects.columns:
            raise InputDataError(
                f"treatment.projects: {projects_path} has no column {col!r}; "
                f"has {list(projects.columns)}"
            )
    projects = projects.to_crs(crs)
    pid = rasterize(
        ((g, i + 1) for i, g in enumerate(projects.geometry)),
        out_shape=a0.shape, transform=transform, fill=0, dtype="int32",
    )  # fmt: skip
    baseline = int(treatment.get("baseline_year", 2020))
    m = read_measures_file(measures_path, treatment.get("measures") or {}, crs)
    treated_any = np.asarray(
        ms.rasterize_measures(m, year=int(year), template=a0, first_year=baseline + 1).values
    )
    area = np.asarray(stats.pixel_area_ha(a0).values)
    b = np.asarray(a0.values, np.float64)
    a = np.asarray(a1.values, np.float64)
    valid = np.isfinite(a) & np.isfinite(b)
    strata = ev.strata_codes(
        slope.values, lc0, by=tuple(ev_cfg.get("strata", ["slope", "landcover"]))
    )
    control = valid & (pid == 0) & (treated_any == 0)
    res = abs(transform.a)
    block = max(1, int(round(float(ev_cfg.get("block_size_m", 500.0)) / res)))
    kw = dict(
        control=control, strata=strata, block_size_px=block,
        n_boot=int(ev_cfg.get("n_boot", 999)), seed=int(ev_cfg.get("seed", 0)),
    )  # fmt: skip
    ero0 = ((i0 >= EROSION_MIN_CLASS) & (i0 <= 6)).astype(float)
    ero1 = ((i1 >= EROSION_MIN_CLASS) & (i1 <= 6)).astype(float)
    ero0[~valid] = np.nan
    ero1[~valid] = np.nan
    rows = []
    groups = [(str(r[id_col]), str(r[name_col]), pid == i + 1) for i, r in projects.iterrows()]
    groups.append(("ALL", "全部项目", pid > 0))
    for gid, name, mask in groups:
        mask = mask & valid
        ha = float(area[mask].sum())
        if ha == 0:
            log.warning("project %s has no pixel with data", gid)
            continue
        c0 = ev.class_structure(i0, mask, area)
        c1 = ev.class_structure(i1, mask, area)
        mod = ev.did_matched(b * 100.0, a * 100.0, treated=mask, **kw)  # t/(km²·a)
        ero = ev.did_matched(ero0, ero1, treated=mask, **kw)  # share of area
        row = {
            "project_id": gid, "name": name, "area_ha": ha,
            "before_year": int(before_year), "year": int(year),
            "erosion_area_before_ha": float(c0[1:].sum()),
            "erosion_area_after_ha": float(c1[1:].sum()),
            "mean_modulus_before_t_km2_a": float(np.nansum(b[mask] * area[mask]) / ha * 100),
            "mean_modulus_after_t_km2_a": float(np.nansum(a[mask] * area[mask]) / ha * 100),
            "did_modulus_t_km2_a": mod["estimate"],
            "did_modulus_ci_low": mod["ci_low"], "did_modulus_ci_high": mod["ci_high"],
            "did_erosion_area_ha": ero["estimate"] * ha,
            "did_erosion_area_ci_low_ha": ero["ci_low"] * ha,
            "did_erosion_area_ci_high_ha": ero["ci_high"] * ha,
            "control_change_modulus_t_km2_a": mod["control_change"],
            "n_blocks_treated": mod["n_blocks_treated"],
            "treated_unmatched_px": mod["n_treated_unmatched"],
        }  # fmt: skip
        for k in range(6):
            row[f"class{k + 1}_before_ha"] = float(c0[k])
            row[f"class{k + 1}_after_ha"] = float(c1[k])
        rows.append(row)
    table = pd.DataFrame(rows)
    write_csv(table, out_csv, index=False)
    # placebo: as many random discs as projects, of their mean size, on untreated land
    n = max(len(projects), 1)
    radius = float(np.sqrt((pid > 0).sum() / n / np.pi))
    plc = _placebo_mask(control, n, radius, int(ev_cfg.get("seed", 0)) + 1)
    placebo = None
    if plc.any():
        pm = ev.did_matched(b * 100, a * 100, treated=plc, **(kw | {"control": control & ~plc}))
        placebo = {k: pm[k] for k in ("estimate", "ci_low", "ci_high", "n_treated")}
    allrow = table[table["project_id"] == "ALL"].to_dict("records")
    write_text(
        _json(
            {
                "before_year": int(before_year),
                "year": int(year),
                "baseline_year": baseline,
                "before_is_baseline": int(before_year) == baseline,
                "block_size_px": block,
                "block_size_m": block * res,
                "strata": list(ev_cfg.get("strata", ["slope", "landcover"])),
                "n_projects": len(projects),
                "projects": [g[1] for g in groups[:-1]],
                "all": allrow[0] if allrow else None,
                "placebo_modulus_t_km2_a": placebo,
                "attribution": "DiD removes change common to treated and matched control land "
                "(rain, region-wide vegetation); it cannot separate the measures "
                "from other change inside the projects (land-use change).",
            }
        ),  # fmt: skip
        out_json,
    )


# ----------------------------------------------------------------------------- parcels
def make_parcels(
    *,
    parcels_path,
    soil_loss_path,
    intensity_path,
    slope_path,
    landcover_path,
    measures_raster,
    townships_path,
    treatment: Mapping,
    out_gpkg,
    out_xlsx,
    out_top,
) -> None:
    from rasterio.features import rasterize

    from pipeline import stats
    from pipeline.treatment import parcels as pc

    a = open_raster(soil_loss_path)
    intensity = open_raster(intensity_path, masked=False)
    crs = a.rio.crs
    towns = _read_vector(townships_path, what="townships").to_crs(crs)
    cfg = treatment.get("parcels") or {}
    if parcels_path:
        parcels = _read_vector(parcels_path, layer=cfg.get("layer"), what="treatment.parcels")
        parcels = parcels.to_crs(crs)
        vcol, idcol = cfg.get("village_col", "村名"), cfg.get("id_col", "地块编号")
        for col in (vcol, idcol):
            if col not in parcels.columns:
                raise InputDataError(
                    f"treatment.parcels: {parcels_path} has no column {col!r}; "
                    f"has {list(parcels.columns)}"
                )
        parcels = parcels.rename(columns={vcol: "village", idcol: "parcel_id"})
        kind = "parcel layer"
    else:
        zid = rasterize(
            ((g, i + 1) for i, g in enumerate(towns.geometry)),
            out_shape=a.shape, transform=a.rio.transform(), fill=0, dtype="int32",
        )  # fmt: skip
        parcels = pc.parcels_from_intensity(intensity, zid)
        parcels["parcel_id"] = [f"IP{i + 1:05d}" for i in range(len(parcels))]
        parcels["village"] = ""
        kind = "intensity patches"
    st = pc.parcel_statistics(
        parcels,
        soil_loss=np.asarray(a.values),
        intensity=np.asarray(intensity.values),
        slope_deg=np.asarray(open_raster(slope_path).values),
        landcover=np.asarray(open_raster(landcover_path, masked=False).values),
        measures=np.asarray(open_raster(measures_raster, masked=False).values),
        pixel_area_ha=np.asarray(stats.pixel_area_ha(a).values),
        template=a,
    )
    pts = gpd.GeoDataFrame(geometry=parcels.geometry.representative_point(), crs=crs)
    joined = gpd.sjoin(pts, towns[["zone_id", "name", "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]
    base = parcels[["parcel_id", "village", "geometry"]].copy()
    base["township_id"] = joined["zone_id"].reindex(base.index).to_numpy()
    base["township"] = joined["name"].reindex(base.index).to_numpy()
    full = base.join(st)
    max_share = float(treatment.get("treated_share_max", 0.5))
    by_loss = pc.rank_parcels(st, by="soil_loss_t_a", treated_share_max=max_share)
    by_mod = pc.rank_parcels(st, by="moderate_plus_ha", treated_share_max=max_share)
    full["rank_soil_loss"] = by_loss["rank"].reindex(full.index)
    full["rank_moderate_plus"] = by_mod["rank"].reindex(full.index)
    for col in ("suggested_measure_zh", "suggested_measure_en", "suggestion_basis"):
        full[col] = by_loss[col].reindex(full.index)
    full["excluded_treated"] = full["treated_share"] > max_share
    full["parcel_source"] = kind
    _write_gpkg(gpd.GeoDataFrame(full, geometry="geometry", crs=crs), out_gpkg, layer="parcels")
    cols = ["rank_soil_loss", "rank_moderate_plus", "parcel_id", "township", "village",
            "area_ha", "soil_loss_t_a", "mean_modulus_t_km2_a", "moderate_plus_ha",
            "mean_slope_deg", "slope_class_label", "landcover_zh", "treated_share",
            "suggested_measure_zh", "suggested_measure_en", "suggestion_basis"]  # fmt: skip
    ranked = pd.DataFrame(full.drop(columns="geometry"))
    ranked = ranked[ranked["rank_soil_loss"].notna()].sort_values("rank_soil_loss")[cols]
    with atomic_path(out_xlsx, suffix=".xlsx") as tmp:
        with pd.ExcelWriter(tmp) as xw:
            ranked.to_excel(xw, sheet_name="地块_土壤流失量", index=False)
            ranked.sort_values("rank_moderate_plus").to_excel(
                xw, sheet_name="地块_中度及以上", index=False
            )
    top_n = int(treatment.get("parcels_top_n", 20))
    write_csv(ranked.head(top_n), out_top, index=False)


def before_year(years, baseline: int) -> int:
    """The 'before' year of project evaluation: the baseline if assessed, else the first year."""
    ys = sorted(int(y) for y in years)
    if not ys:
        raise ConfigError("years: empty")
    return baseline if baseline in ys else ys[0]


# ----------------------------------------------------------------------------- report
def make_treatment_report(
    *,
    progress_json,
    achieved_csv,
    evaluation_json,
    parcels_gpkg,
    parcels_top,
    zones_township,
    townships_path,
    district_name: str,
    out_zh,
    out_en,
    out_key,
    out_chart,
    out_map,
) -> None:
    from pipeline.report import treatment as rt

    progress = json.loads(Path(progress_json).read_text(encoding="utf-8"))
    evaluation = (
        json.loads(Path(evaluation_json).read_text(encoding="utf-8")) if evaluation_json else None
    )
    from pipeline import stats

    key = rt.key_townships(stats.zone_summary(pd.read_csv(zones_township)), progress)
    write_csv(key, out_key, index=False)
    write_text(
        rt.bulletin_paragraph(progress, evaluation, key, lang="zh", area_name="全区") + "\n", out_zh
    )
    write_text(rt.bulletin_paragraph(progress, evaluation, key, lang="en") + "\n", out_en)
    rt.plot_progress(progress, pd.read_csv(achieved_csv), out_chart)
    parcels = gpd.read_file(parcels_gpkg)
    towns = gpd.read_file(townships_path).to_crs(parcels.crs)
    rt.plot_parcels(parcels, pd.read_csv(parcels_top), out_map, townships=towns)
    log.info("treatment report for %s written", district_name)
