"""Stage: fetch or generate the standard inputs (the inputs contract) for an AOI.

Whatever the source (embedded demo, local files, STAC, Earth Engine), the same
files come out under ``resources/{aoi}/``; nothing downstream knows the source.
Each input can come from its own source (config ``source.inputs``), e.g. STAC
imagery with rain and soil from local files. The AOI, the analysis grid,
township/watershed layers and survey points come from ``source.local`` (or all
from the demo generator when ``source.kind`` is ``demo``).

:func:`check_source_config` runs at parse time (pipeline/rules/common.smk), so an
impossible choice (rain from STAC, ML without survey points, C from NDVI without
NDVI) stops the run before any job, naming the key.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.errors import ConfigError, InputDataError

log = logging.getLogger("shuibao.inputs")

#: Inputs whose source can be chosen one by one (``source.inputs``).
INPUT_NAMES = ("dem", "landcover", "ndvi", "rain", "soil", "zones", "survey")
#: What each source can write (kept here so parsing a config imports no client library).
PROVIDES = {
    "demo": frozenset(INPUT_NAMES),
    "local": frozenset(INPUT_NAMES),
    "stac": frozenset({"dem", "landcover", "ndvi"}),
    "earthengine": frozenset({"dem", "landcover", "ndvi", "rain", "soil"}),
}
#: Optional inputs: a district may have none (then ``cover.method: table`` /
#: ``ml.enabled: false``); the others are required.
OPTIONAL = ("ndvi", "survey")


def resolve_inputs(source: Mapping) -> dict[str, str]:
    """The source of each input: ``source.inputs`` overrides, else ``source.kind``.

    Zones and survey points default to ``local`` for the STAC and Earth Engine
    sources (those catalogues hold no administrative layers or field surveys).

    Raises
    ------
    ConfigError
        A source chosen for an input it cannot provide (e.g. rain from STAC),
        naming the ``source.inputs`` key to set.

    Examples
    --------
    >>> resolve_inputs({"kind": "stac", "inputs": {"rain": "local", "soil": "local"}})["rain"]
    'local'
    """
    kind = source.get("kind", "demo")
    overrides = {k: v for k, v in dict(source.get("inputs") or {}).items() if v}
    unknown = sorted(set(overrides) - set(INPUT_NAMES))
    if unknown:
        raise ConfigError(f"config key 'source.inputs': unknown inputs {unknown}")
    plan = {}
    for name in INPUT_NAMES:
        src = overrides.get(name)
        if src is None:
            if name in PROVIDES.get(kind, ()):
                src = kind
            elif name in ("zones", "survey"):
                src = "local"
            else:
                raise ConfigError(
                    f"config key 'source.inputs.{name}': the {kind} source has no {name} data; "
                    f"set source.inputs.{name} to one of "
                    f"{sorted(s for s, p in PROVIDES.items() if name in p)}"
                )
        if src not in PROVIDES:
            raise ConfigError(f"config key 'source.inputs.{name}': unknown source {src!r}")
        if name not in PROVIDES[src]:
            raise ConfigError(
                f"config key 'source.inputs.{name}': the {src} source cannot provide {name}; "
                f"choose one of {sorted(s for s, p in PROVIDES.items() if name in p)}"
            )
        plan[name] = src
    return plan


def available_inputs(source: Mapping) -> dict[str, bool]:
    """Whether the optional inputs (NDVI, survey points) exist for this configuration.

    A local optional input exists when its ``source.local`` key is set; from
    the other sources it always exists.
    """
    plan = resolve_inputs(source)
    local_cfg = source.get("local") or {}
    return {name: plan[name] != "local" or bool(local_cfg.get(name)) for name in OPTIONAL}


def check_source_config(config: Mapping) -> dict[str, bool]:
    """Parse-time checks of the ``source`` section against the rest of the config.

    Returns the availability of the optional inputs (``{"ndvi": bool, "survey": bool}``).

    Raises
    ------
    ConfigError
        No ``source.local.aoi`` for a non-demo source; a required local input
        (DEM, land cover, rain, soil) not set; no NDVI while ``cover.method`` needs
        it; ML enabled without survey points or NDVI.
    """
    source = config.get("source") or {}
    plan = resolve_inputs(source)
    local_cfg = source.get("local") or {}
    if source.get("kind", "demo") != "demo" and not local_cfg.get("aoi"):
        raise ConfigError(
            "config key 'source.local.aoi' is not set: every non-demo source needs the AOI "
            "(a polygon file or a raster mask, any CRS) to build the analysis grid"
        )
    for name in ("dem", "landcover", "rain", "soil"):
        if plan[name] == "local" and not local_cfg.get(name):
            raise ConfigError(
                f"config key 'source.local.{name}' is not set, but {name} is taken from local "
                f"files; give its file(s) or choose another source in source.inputs.{name}"
            )
    have = available_inputs(source)
    method = (config.get("cover") or {}).get("method", "cai2000")
    if not have["ndvi"] and method != "table":
        raise ConfigError(
            f"config key 'cover.method': {method!r} needs NDVI, but source.local.ndvi is not "
            "set; use cover.method: table (with a cover.table value for every land-cover "
            "class present) or give NDVI"
        )
    if (config.get("ml") or {}).get("enabled", True):
        for name, what in (("survey", "field-survey points"), ("ndvi", "NDVI (a feature)")):
            if not have[name]:
                raise ConfigError(
                    f"config key 'ml.enabled': the ML classifier needs {what}, but "
                    f"source.local.{name} is not set; set ml.enabled: false or give {name}"
                )
    return have


# ----------------------------------------------------------------- demo inputs
def _demo_inputs(out_dir: Path, source: Mapping, years: Sequence[int], names) -> None:
    """Inputs taken from the synthetic demo district, resampled onto the analysis grid.

    The demo district is generated in ``out_dir/.demo`` with ``source.demo``
    (centre, size, seed …), which must cover the AOI's grid.
    """
    import geopandas as gpd

    from pipeline.sources import local
    from pipeline.sources.demo import generate_demo

    grid = local.read_grid_json(out_dir / "grid.json")
    scratch = out_dir / ".demo"
    params = dict(source.get("demo") or {})
    log.info("inputs %s from the synthetic demo district (%s)", sorted(names), params)
    generate_demo(scratch, years=tuple(years), progress=False, **params)
    demo_grid = local.read_grid_json(scratch / "grid.json")
    from pyproj import Transformer

    w, s, e, n = Transformer.from_crs(grid.crs, demo_grid.crs, always_xy=True).transform_bounds(
        *grid.bounds, densify_pts=21
    )
    dw, ds, de, dn = demo_grid.bounds
    if w < dw or s < ds or e > de or n > dn:
        raise ConfigError(
            "config key 'source.demo': the demo district does not cover the AOI's grid; set "
            "source.demo.center_lon/center_lat/size_km around the AOI"
        )
    tags = {"source": "demo (synthetic)"}
    if "dem" in names:
        dem = local.reproject_to_grid(scratch / "dem.tif", grid, kind="continuous")
        local.write_dem(dem, out_dir / "dem.tif", grid=grid, tags=tags)
    for year in years:
        if "landcover" in names:
            lc = local.reproject_to_grid(
                scratch / f"landcover_{year}.tif", grid, kind="categorical"
            )
            local.write_landcover(lc, out_dir / f"landcover_{year}.tif", grid=grid, tags=tags)
        if "ndvi" in names:
            local.write_local_ndvi(
                scratch / f"ndvi_{year}.tif", grid, out_dir / f"ndvi_{year}.tif", scale=1e-4
            )
    if "soil" in names:
        soil = local.reproject_to_grid(scratch / "soil.tif", grid, kind="continuous")
        soil = soil.assign_coords(band=list(local.SOIL_BANDS))
        local.write_soil(soil, out_dir / "soil.tif", grid=grid, tags=tags)
    if "rain" in names:  # already on its own coarse lon/lat lattice
        shutil.copyfile(scratch / "rain_daily.nc", out_dir / "rain_daily.nc")
    aoi = gpd.read_file(out_dir / "aoi.gpkg", layer="aoi")
    if "zones" in names:
        for layer in ("townships", "watersheds"):
            zones = gpd.read_file(scratch / f"{layer}.gpkg").to_crs(grid.crs)
            zones = gpd.clip(zones, aoi).explode(index_parts=False).dissolve("zone_id")
            zones = zones.reset_index()[["zone_id", "name", "name_en", "geometry"]]
            if zones.empty:
                local.write_aoi_as_zone(out_dir / "aoi.gpkg", out_dir / f"{layer}.gpkg", grid=grid)
            else:
                local.write_zones(zones, out_dir / f"{layer}.gpkg")
    if "survey" in names:
        for year in years:
            pts = gpd.read_file(scratch / f"survey_{year}.gpkg").to_crs(grid.crs)
            pts = pts[pts.within(aoi.geometry.union_all())]
            keep = ["survey_id", "year", "intensity_class"]
            keep += [c for c in ("stratum", "inclusion_probability") if c in pts.columns]
            local.write_survey(
                pts[[*keep, "geometry"]].reset_index(drop=True),
                out_dir / f"survey_{year}.gpkg",
            )


# ------------------------------------------------------------------------ stage
def prepare_inputs(
    *,
    out_dir: str | Path,
    source: Mapping,
    years: Sequence[int],
    expected: Sequence[str | Path] = (),
) -> None:
    """Write the inputs contract files for ``years`` into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        ``resources/{aoi}/``.
    source : mapping
        The validated ``source`` section of the configuration.
    years : sequence of int
        Assessment years.
    expected : sequence of path
        Files the workflow's ``inputs`` rule declares (optional inputs the district
        does not have, NDVI or survey points, are not declared and not written).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    years = sorted(int(y) for y in years)
    kind = source.get("kind", "demo")
    plan = resolve_inputs(source)
    if kind == "demo":
        from pipeline.sources.demo import generate_demo

        params = dict(source.get("demo", {}))
        log.info("generating the embedded (synthetic) demo district in %s: %s", out_dir, params)
        generate_demo(out_dir, years=tuple(years), progress=True, **params)
    else:
        from pipeline.sources import local

        local.prepare_grid(out_dir, source.get("local") or {})
    by_source: dict[str, list[str]] = {}
    for name, src in plan.items():
        if src != "demo" or kind != "demo":
            by_source.setdefault(src, []).append(name)
    for src, names in by_source.items():
        log.info("inputs %s from source %r", names, src)
        if src == "demo":
            _demo_inputs(out_dir, source, years, names)
        elif src == "local":
            from pipeline.sources import local

            local.prepare_inputs(out_dir, source, years=years, only=names)
        elif src == "stac":
            from pipeline.sources import stac

            stac.prepare_inputs(out_dir, source, years=years, only=names)
        elif src == "earthengine":
            from pipeline.sources import earthengine

            earthengine.prepare_inputs(out_dir, source, years=years, only=names)
        else:  # resolve_inputs forbids this
            raise ConfigError(f"config key 'source.kind': unknown source {src!r}")
    missing = [str(p) for p in expected if not Path(p).exists()]
    if missing:
        raise InputDataError(f"source {kind!r} did not write the expected input file(s): {missing}")
