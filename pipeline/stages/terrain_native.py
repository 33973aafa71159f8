"""Stage: terrain (slope, L, S, LS) on the DEM's own grid when it is projected in metres.

Which grid the terrain is routed on (``terrain.grid``, decided at parse time by
:func:`terrain_grid_plan`, see pipeline/rules/terrain_native.smk):

- ``native`` (default) with a local DEM whose CRS is projected in metres: the job
  ``inputs_dem_native`` writes the DEM's own pixels over the analysis grid plus a margin
  (``dem_native.tif``, :func:`make_dem_native`); the terrain job fills, routes and computes
  slope, L, S and LS on those pixels and resamples the four results onto the analysis grid
  by area average (:func:`make_terrain_native`; why average:
  :mod:`pipeline.factors.terrain_native`).
- ``native`` with a local DEM that is geographic (degrees) or not in metres: the terrain job
  routes the DEM as reprojected onto the analysis grid (``dem.tif``), as with
  ``terrain.grid: analysis``, and says why in its log and in the files' tags
  (``shuibao_terrain_grid``).
- ``analysis``, or a DEM from the demo, STAC or Earth Engine (already delivered on the
  analysis grid): the ``terrain`` rule of pipeline/rules/factors.smk, unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from pipeline.config import with_defaults
from pipeline.errors import ShuibaoError
from pipeline.io import open_raster

log = logging.getLogger("shuibao.terrain")

__all__ = ["make_dem_native", "make_terrain_native", "native_margin_m", "terrain_grid_plan"]


def terrain_grid_plan(config: Mapping) -> dict:
    """Where the terrain is routed, decided from the config (and the DEM file's header).

    Returns
    -------
    dict
        ``{"rule": bool, "grid": "native" | "analysis", "reason": str}``: ``rule`` says
        whether the terrain_native rule replaces the ``terrain`` rule (a local DEM and
        ``terrain.grid: native``); ``grid`` where it routes; ``reason`` a sentence for the
        log and provenance.

    Examples
    --------
    >>> terrain_grid_plan({"source": {"kind": "demo"}, "terrain": {"grid": "native"}})["rule"]
    False
    >>> terrain_grid_plan({"compute": {"tiles": {"size": 2048}}})["reason"]
    'compute.tiles is set: the tiled terrain routes the analysis grid'
    """
    from pipeline.stages.inputs import resolve_inputs

    source = config.get("source") or {}
    wanted = with_defaults("terrain", config.get("terrain"))["grid"]
    plan = resolve_inputs(source)
    if wanted != "native":
        return {"rule": False, "grid": "analysis", "reason": "terrain.grid: analysis"}
    if ((config.get("compute") or {}).get("tiles") or {}).get("size"):
        # the tiled terrain (compute.tiles) routes the analysis grid tile by tile
        reason = "compute.tiles is set: the tiled terrain routes the analysis grid"
        return {"rule": False, "grid": "analysis", "reason": reason}
    if plan.get("dem") != "local":
        reason = f"the DEM from source {plan.get('dem')!r} is delivered on the analysis grid"
        return {"rule": False, "grid": "analysis", "reason": reason}
    from pipeline.sources.local_dem import dem_grid_kind

    path = _dem_path(source)
    try:
        kind, why = dem_grid_kind(path)
    except ShuibaoError as exc:
        # not readable yet (or not at all): plan the analysis-grid terrain; the inputs_dem
        # job reads the file and stops with the file's own error if it is still unreadable
        reason = f"DEM {path} could not be read when the workflow was planned ({exc})"
        return {"rule": False, "grid": "analysis", "reason": reason}
    if kind == "projected_m":
        return {"rule": True, "grid": "native", "reason": f"DEM {path}: {why}"}
    return {
        "rule": True,
        "grid": "analysis",
        "reason": f"DEM {path}: {why}, so it is reprojected (bilinear) onto the analysis grid "
        "before routing",
    }


def _dem_path(source: Mapping) -> Path:
    import os

    cfg = (source.get("local") or {}).get("dem") or {}
    return Path(os.path.expanduser(str(cfg.get("path") or "")))


def native_margin_m(terrain: Mapping, dem_path) -> float:
    """Margin around the analysis grid for ``dem_native.tif`` (m), from the slope-length cap
    and the DEM's cell size (:func:`pipeline.factors.terrain_native.routing_margin_m`)."""
    import rasterio

    from pipeline.factors.terrain_native import routing_margin_m

    with rasterio.open(dem_path) as ds:
        cell = max(abs(ds.transform.a), abs(ds.transform.e))
    cap = terrain.get("max_slope_length_m")
    return routing_margin_m(max_slope_length_m=None if cap is None else float(cap), cell_m=cell)


def make_dem_native(
    *, grid_path, out_path, source: Mapping, terrain: Mapping, checks: Mapping | None = None
) -> Path:
    """Write ``dem_native.tif``: the local DEM's own pixels over the analysis grid plus the
    routing margin (feet converted to metres with ``checks.dem_units: ft``)."""
    from pipeline.layout import read_grid
    from pipeline.sources.local_dem import write_native_dem

    terrain = with_defaults("terrain", terrain)
    checks = with_defaults("checks", checks)
    cfg = (source.get("local") or {}).get("dem") or {}
    src = _dem_path(source)
    grid = read_grid(grid_path)
    margin = native_margin_m(terrain, src)
    scale = 0.3048 if checks.get("dem_units") == "ft" else 1.0
    out = write_native_dem(
        src, grid, out_path, margin_m=margin, band=cfg.get("band"), nodata=cfg.get("nodata"),
        scale=scale, tags={"margin_m": f"{margin:.1f}"},
    )  # fmt: skip
    log.info(
        "DEM %s kept on its own grid (CRS %s), clipped to the analysis grid plus %.0f m%s",
        src, open_raster(out).rio.crs, margin, " (feet → metres)" if scale != 1.0 else "",
    )  # fmt: skip
    return out


def make_terrain_native(
    *,
    dem_path,
    grid_path,
    out_slope,
    out_l,
    out_s,
    out_ls,
    terrain: Mapping,
    plan: Mapping,
    compute: Mapping | None = None,
) -> None:
    """Slope (°), L, S and LS on the analysis grid, routed where ``plan`` says.

    ``plan["grid"] == "native"``: ``dem_path`` is ``dem_native.tif``; routed on its cells,
    results resampled by area average (:func:`pipeline.factors.terrain_native.
    terrain_factors_on_grid`). ``"analysis"``: ``dem_path`` is ``dem.tif``, routed as the
    ``terrain`` rule does. Both record the grid and the reason in the log and the tags.
    """
    from pipeline.factors import terrain as tf
    from pipeline.factors import terrain_native as tn
    from pipeline.io import write_cog
    from pipeline.layout import read_grid
    from pipeline.stages.common import chunks_2d, provenance

    terrain = with_defaults("terrain", terrain)
    grid = read_grid(grid_path)
    kwargs = {
        "routing": terrain["routing"],
        "m_method": terrain["m_method"],
        "s_method": terrain["s_method"],
        "max_slope_length_m": terrain["max_slope_length_m"],
        "channel_threshold_m2": terrain["channel_threshold_m2"],
    }
    if kwargs["max_slope_length_m"] is not None:
        kwargs["max_slope_length_m"] = float(kwargs["max_slope_length_m"])
    dem = open_raster(dem_path, chunks=chunks_2d(compute))
    where = plan.get("grid", "analysis")
    log.info("terrain on the %s grid: %s", where, plan.get("reason", ""))
    if where == "native":
        log.info(
            "native grid %s×%s cells of %.3g m (CRS %s) → analysis grid %s×%s of %.3g m, "
            "results resampled by %s",
            dem.sizes["y"], dem.sizes["x"], abs(dem.rio.transform().a), dem.rio.crs,
            grid.height, grid.width, grid.res[0], tn.RESAMPLING,
        )  # fmt: skip
        ds = tn.terrain_factors_on_grid(dem, grid=grid, **kwargs)
        method = f"routed on the DEM's own grid ({dem.rio.crs}), resampled by {tn.RESAMPLING}"
    else:
        ds = tf.terrain_factors(dem, variables=tn.TERRAIN_LAYERS, **kwargs)
        if dem.size <= 200_000_000:
            ds = ds.persist()
        ds = ds.rio.write_crs(dem.rio.crs).rio.write_transform(dem.rio.transform())
        method = "routed on the analysis grid"
    tags = provenance("terrain", terrain=terrain)
    tags["shuibao_terrain_grid"] = f"{where}: {method}; {plan.get('reason', '')}"
    for var, path in zip(tn.TERRAIN_LAYERS, (out_slope, out_l, out_s, out_ls), strict=True):
        da = ds[var]
        if where == "analysis":
            da = da.rio.write_crs(dem.rio.crs).rio.write_transform(dem.rio.transform())
        write_cog(da, path, tags=tags)
