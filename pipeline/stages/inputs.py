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
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline import checks as chk
from pipeline.config import with_defaults
from pipeline.errors import ConfigError, InputDataError
from pipeline.layout import FILES, INPUT_NAMES, OPTIONAL_INPUTS
from pipeline.sources import registry

log = logging.getLogger("shuibao.inputs")

#: What each source can write (the registry holds module names, so parsing a config
#: imports no client library).
PROVIDES = registry.provides()
#: Optional inputs: a district may have none (then ``cover.method: table`` /
#: ``ml.enabled: false``); the others are required.
OPTIONAL = OPTIONAL_INPUTS


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
    # a ready K (soil.method raster/constant/table) needs no texture; gauges need no record
    unused = {"soil"} if (config.get("soil") or {}).get("method", "epic") != "epic" else set()
    if (config.get("rainfall") or {}).get("stations"):
        unused.add("rain")
    for name in ("dem", "landcover", "rain", "soil"):
        if plan[name] == "local" and not local_cfg.get(name) and name not in unused:
            raise ConfigError(
                f"config key 'source.local.{name}' is not set, but {name} is taken from local "
                f"files; give its file(s) or choose another source in source.inputs.{name}"
            )
    if "demo" in plan.values() or source.get("kind", "demo") == "demo":
        years = sorted(int(y) for y in config.get("years") or [])
        demo = source.get("demo") or {}
        last = demo_rain_last_year(source, years) if years else None
        first = last - int(demo.get("rain_record_years") or 10) + 1 if last else None
        if years and (years[0] < first or years[-1] > last):
            raise ConfigError(
                f"config keys 'source.demo.rain_last_year' ({last}) and "
                f"'source.demo.rain_record_years': the synthetic rain record {first}–{last} "
                f"does not cover the years {years}; widen it"
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


def stale_outputs_message(workdir: str | Path = ".") -> str:
    """The outputs in ``workdir`` made by another Shuibao version or other code (one line
    each), or ``""``: see :func:`pipeline.codehash.stale_outputs`."""
    import pipeline
    from pipeline import codehash

    return codehash.describe_stale(
        codehash.stale_outputs(version=pipeline.__version__, workdir=workdir)
    )


# ------------------------------------------------------------------------ parts
#: The inputs jobs (pipeline/rules/inputs.smk), so that a change reruns only what depends
#: on it: the analysis grid and AOI, each year-independent input (DEM, soil, zones), the
#: rainfall record (R of every year depends on the whole record) and one job per year
#: (land cover, NDVI, survey points).
PARTS = ("grid", "dem", "soil", "zones", "rain", "year")
PART_INPUTS: dict[str, tuple[str, ...]] = {
    "grid": (),
    "dem": ("dem",),
    "soil": ("soil",),
    "zones": ("zones",),
    "rain": ("rain",),
    "year": ("landcover", "ndvi", "survey"),
}
#: Contract files the demo generator writes for each part (``{year}`` filled in).
_DEMO_FILES = {
    "grid": ("grid", "aoi"),
    "dem": ("dem",),
    "soil": ("soil",),
    "zones": ("townships", "watersheds"),
    "rain": ("rain_daily",),
    "year": ("landcover_{year}", "ndvi_{year}", "survey_{year}"),
}
#: ``source.local`` keys each part reads.
_LOCAL_KEYS = {
    "grid": ("aoi", "aoi_layer", "aoi_name", "aoi_name_en", "resolution_m", "grid_crs"),
    "dem": ("dem",),
    "soil": ("soil",),
    "zones": ("townships", "watersheds"),
    "rain": ("rain",),
    "year": ("landcover", "ndvi", "survey"),
}


def demo_rain_last_year(source: Mapping, years: Sequence[int]) -> int:
    """The last year of the synthetic rain record: ``source.demo.rain_last_year`` or,
    when null, the last assessment year (then adding a year changes the record)."""
    last = (source.get("demo") or {}).get("rain_last_year")
    return int(last) if last is not None else max(int(y) for y in years)


def _demo_params(source: Mapping, years: Sequence[int]) -> dict:
    params = {k: v for k, v in dict(source.get("demo") or {}).items() if v is not None}
    params["rain_last_year"] = demo_rain_last_year(source, years)
    return params


def _years_upto(years: Sequence[int], year: int | None) -> list[int]:
    """The assessment years up to ``year`` (and ``year`` itself, e.g. a year whose NDVI only
    serves the end-members, ``cover.endmember_years``)."""
    years = sorted(int(y) for y in years)
    if year is None:
        return years
    return sorted({y for y in years if y <= int(year)} | {int(year)})


#: ``checks`` keys that change what a part writes (others only stop a run).
_CHECK_KEYS = {
    "grid": ("repair_geometry",),
    "dem": ("dem_units",),
    "zones": ("zone_gap_tolerance_share",),
    "rain": ("rain_partial_years",),
}


def request(
    source: Mapping,
    part: str,
    *,
    years: Sequence[int],
    year: int | None = None,
    checks: Mapping | None = None,
) -> dict:
    """What the inputs job ``part`` (``year``) is asked to produce, as plain data.

    The workflow passes it as the job's ``params``, so Snakemake reruns the job (and
    only its dependants) when the request changes: a source, a local path, an Earth
    Engine or STAC setting, or, for the demo, the seed, the size or the years whose
    land-cover history a year builds on. Local files themselves are declared as the
    job's inputs (:func:`local_files`), so replacing one reruns what depends on it.

    Examples
    --------
    >>> r = request({"kind": "demo", "demo": {"seed": 1}}, "year", years=[2023, 2024], year=2023)
    >>> r["history"], r["demo"]["rain_last_year"]
    ([2023], 2024)
    """
    if part not in PARTS:
        raise ValueError(f"unknown inputs part {part!r}; expected one of {PARTS}")
    kind = source.get("kind", "demo")
    plan = resolve_inputs(source)
    names = [n for n in PART_INPUTS[part] if n in plan]
    used = {plan[n] for n in names} | ({"local"} if kind != "demo" else {"demo"})
    local_keys = _LOCAL_KEYS[part]
    local_cfg = source.get("local") or {}
    out: dict = {"kind": kind, "part": part, "inputs": {n: plan[n] for n in names}}
    if "local" in used or kind != "demo":
        out["local"] = {k: local_cfg.get(k) for k in local_keys if local_cfg.get(k) is not None}
    if "demo" in used:
        out["demo"] = _demo_params(source, years)
    for remote in ("stac", "earthengine"):
        if remote in used:
            out[remote] = source.get(remote)
    if checks and _CHECK_KEYS.get(part):
        out["checks"] = {k: checks.get(k) for k in _CHECK_KEYS[part]}
    if part == "year":
        out["year"] = int(year)
        # the demo's land cover of a year applies the changes of every earlier year
        out["history"] = _years_upto(years, year) if "demo" in used else [int(year)]
    elif part == "rain" and used & {"earthengine", "stac"}:
        out["years"] = sorted(int(y) for y in years)  # the record window follows the years
    elif part == "soil" and "demo" in used:
        out["first_year"] = min(int(y) for y in years)  # demo soil follows its land cover
    return out


def _resolve(path, year=None) -> str:
    text = str(path)
    if "{year}" in text and year is not None:
        text = text.replace("{year}", str(int(year)))
    return os.path.expanduser(text)


_SIDECARS = (".dbf", ".shx", ".prj", ".cpg", ".qmd")


def local_files(source: Mapping, part: str, *, year: int | None = None) -> list[str]:
    """The user's local files that the inputs job ``part`` (``year``) reads.

    Declared as the job's Snakemake inputs, so replacing one in place reruns exactly
    that job and its dependants. A shapefile brings its sidecar files.

    Examples
    --------
    >>> cfg = {"kind": "local", "local": {"aoi": "a.gpkg", "dem": {"path": "d.tif"},
    ...     "landcover": {"path": "lc_{year}.tif"}}}
    >>> local_files(cfg, "year", year=2020), local_files(cfg, "grid")
    (['lc_2020.tif'], ['a.gpkg'])
    """
    kind = source.get("kind", "demo")
    plan = resolve_inputs(source)
    cfg = source.get("local") or {}
    files: list[str] = []

    def add(path):
        if path:
            files.append(_resolve(path, year))

    def section(name):
        return cfg.get(name) or {}

    local_here = [n for n in PART_INPUTS[part] if plan.get(n) == "local"]
    if part == "grid" and kind != "demo":
        add(cfg.get("aoi"))
    for name in local_here:
        if name == "dem":
            add(section("dem").get("path"))
        elif name == "soil":
            soil = section("soil")
            for p in (soil.get("rasters") or {}).values():
                add(p)
            add(soil.get("classes"))
            add(soil.get("lookup"))
        elif name == "zones":
            for layer in ("townships", "watersheds"):
                add(section(layer).get("path"))
        elif name == "rain":
            add(section("rain").get("gauge_csv"))
        elif name == "landcover":
            add(section("landcover").get("path"))
        elif name == "ndvi":
            ndvi = section("ndvi")
            add(ndvi.get("path"))
            for p in ndvi.get("periods") or ():
                add(p)
        elif name == "survey":
            add(section("survey").get("path"))
    out: list[str] = []
    for f in files:
        out.append(f)
        if f.lower().endswith(".shp"):
            stem = os.path.splitext(f)[0]
            out += [stem + ext for ext in _SIDECARS if os.path.exists(stem + ext)]
    return list(dict.fromkeys(out))


def check_local_files(config: Mapping, years: Sequence[int]) -> None:
    """Parse-time check that every local file the config names exists.

    Raises
    ------
    ConfigError
        Naming the file, saying that relative paths are relative to the working
        directory (and which one that is).
    """
    source = config.get("source") or {}
    for part in PARTS:
        for year in years if part == "year" else [None]:
            for f in local_files(source, part, year=year):
                if not os.path.exists(f):
                    where = (
                        ""
                        if os.path.isabs(f)
                        else f" (relative paths are relative to the working directory, {os.getcwd()})"
                    )
                    raise ConfigError(f"config key 'source.local': file not found: {f}{where}")


# ------------------------------------------------------------------------ stage
def _prepare_part(
    out_dir: Path, source: Mapping, part: str, *, years: Sequence[int], year: int | None
) -> None:
    kind = source.get("kind", "demo")
    plan = resolve_inputs(source)
    history = _years_upto(years, year)
    if kind == "demo":
        from pipeline.sources.demo import generate_demo

        params = _demo_params(source, years)
        write = {k.format(year=year) for k in _DEMO_FILES[part]}
        gen_years = history if part in ("rain", "year") else history[:1]
        write = {k for k in write if plan.get(_input_of(k), "demo") == "demo"}
        log.info("synthetic demo district, %s part %s: %s", part, year or "", sorted(write))
        # the DEM, its routing and the land cover are memoised for the other inputs jobs
        cache = Path(out_dir) / FILES["demo_cache"].pattern
        generate_demo(
            out_dir, years=tuple(gen_years), progress=True, write=write, cache_dir=cache, **params
        )
    elif part == "grid":
        from pipeline.sources import local

        local.prepare_grid(out_dir, source.get("local") or {})
    by_source: dict[str, list[str]] = {}
    for name in PART_INPUTS[part]:
        src = plan[name]
        if src != "demo" or kind != "demo":
            by_source.setdefault(src, []).append(name)
    part_years = {"rain": sorted(int(y) for y in years), "year": [int(year or 0)]}.get(part, [])
    for src, names in by_source.items():
        log.info("inputs %s from source %r (%s)", names, src, part_years or "year-independent")
        module = registry.get(src).load()
        kwargs = {"history": history} if src == "demo" else {}
        module.prepare_inputs(out_dir, source, years=part_years, only=names, **kwargs)


def _input_of(key: str) -> str:
    """Input name of a demo file key: ``landcover_2024`` → landcover, ``townships`` → zones."""
    name = key.rsplit("_", 1)[0] if key[-4:].isdigit() else key
    return {"rain_daily": "rain", "townships": "zones", "watersheds": "zones"}.get(name, name)


def prepare_part(
    *,
    out_dir: str | Path,
    source: Mapping,
    part: str,
    years: Sequence[int],
    year: int | None = None,
    expected: Sequence[str | Path] = (),
    checks: Mapping | None = None,
) -> None:
    """Write and check the inputs contract files of one inputs job (:data:`PART_INPUTS`).

    The files are checked where they enter (:func:`validate_part`, config ``checks``):
    a bad input stops here, naming the file, and the part's files are removed, so
    nothing downstream (no bulletin, no report) is made from it.

    Parameters
    ----------
    out_dir : path
        ``resources/{aoi}/``.
    source : mapping
        The validated ``source`` section of the configuration.
    part : {"grid", "dem", "soil", "zones", "rain", "year"}
        Which job: the analysis grid and AOI, one year-independent input, the rain
        record, or the inputs of ``year``.
    years : sequence of int
        All assessment years (the rain record window and the demo's land-cover
        history depend on them).
    year : int, optional
        The year of a ``year`` part.
    expected : sequence of path
        Files the workflow's rule declares; a missing one is an error.
    checks : mapping, optional
        The ``checks`` section of the configuration (schema defaults otherwise).
    """
    import time

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if part not in PARTS:
        raise ValueError(f"unknown inputs part {part!r}; expected one of {PARTS}")
    if part == "year" and year is None:
        raise ValueError("the 'year' part needs a year")
    started = time.perf_counter()
    checks = with_defaults("checks", checks)
    try:
        if part == "grid":
            source = _checked_grid_source(out_dir, source, checks)
        _prepare_part(out_dir, source, part, years=years, year=year)
        validate_part(out_dir, source, part, year=year, checks=checks)
    except BaseException:
        for path in part_files(out_dir, part, year=year):
            path.unlink(missing_ok=True)
        raise
    missing = [str(p) for p in expected if not Path(p).exists()]
    if missing:
        raise InputDataError(
            f"source {source.get('kind', 'demo')!r} did not write the expected input file(s): "
            f"{missing}"
        )
    log.info(
        "inputs (%s%s) written in %.1f s: %s",
        part,
        f" {year}" if year is not None else "",
        time.perf_counter() - started,
        [Path(p).name for p in expected],
    )


def prepare_inputs(
    *,
    out_dir: str | Path,
    source: Mapping,
    years: Sequence[int],
    expected: Sequence[str | Path] = (),
    checks: Mapping | None = None,
) -> None:
    """Write the inputs contract files for ``years`` into ``out_dir`` (every part).

    The workflow runs the parts as separate jobs (:func:`prepare_part`); this runs
    them one after the other, for notebooks and tests.

    Parameters
    ----------
    out_dir : path
        ``resources/{aoi}/``.
    source : mapping
        The validated ``source`` section of the configuration.
    years : sequence of int
        Assessment years.
    expected : sequence of path
        Files that must exist afterwards (optional inputs the district does not have,
        NDVI or survey points, are not declared and not written).
    """
    years = sorted(int(y) for y in years)
    for part in PARTS:
        for year in years if part == "year" else [None]:
            prepare_part(
                out_dir=out_dir, source=source, part=part, years=years, year=year, checks=checks
            )
    missing = [str(p) for p in expected if not Path(p).exists()]
    if missing:
        raise InputDataError(
            f"source {source.get('kind', 'demo')!r} did not write the expected input file(s): "
            f"{missing}"
        )


# ------------------------------------------------------------------------ checks
#: Contract keys of each part.
_PART_KEYS = {
    "grid": ("grid", "aoi"),
    "dem": ("dem",),
    "soil": ("soil",),
    "zones": ("townships", "watersheds"),
    "rain": ("rain",),
    "year": ("landcover", "ndvi", "survey"),
}


def part_files(out_dir, part: str, *, year: int | None = None) -> list[Path]:
    """The contract files of an inputs part in ``out_dir`` (``resources/{aoi}/``)."""
    out = []
    for key in _PART_KEYS[part]:
        pattern = FILES[key].pattern
        if "{year}" in pattern and year is None:
            continue
        out.append(Path(out_dir) / pattern.replace("{year}", str(year)))
    return out


def _checked_grid_source(out_dir: Path, source: Mapping, checks: Mapping) -> Mapping:
    """Before the grid is made: the AOI polygon is valid (or repaired when the user asks,
    ``checks.repair_geometry``) and the grid fits in memory (``checks.max_memory_gib``)."""
    kind = source.get("kind", "demo")
    if kind == "demo":
        from pipeline.sources.demo import make_grid

        demo = {k: v for k, v in dict(source.get("demo") or {}).items() if v is not None}
        grid = make_grid(
            **{k: demo[k] for k in ("size_km", "resolution_m", "center_lon", "center_lat")
               if k in demo}
        )  # fmt: skip
        chk.check_grid_size(
            *grid.shape, res_m=grid.res[0], key="source.demo.resolution_m",
            max_memory_gib=checks.get("max_memory_gib"),
        )  # fmt: skip
        return source
    import geopandas as gpd

    from pipeline.sources import local

    local_cfg = dict(source.get("local") or {})
    aoi_path = local.resolve_path(local_cfg.get("aoi") or "", key="source.local.aoi")
    if aoi_path.suffix.lower() not in local.RASTER_SUFFIXES and aoi_path.exists():
        aoi = local._read_vector(aoi_path, layer=local_cfg.get("aoi_layer"), what="AOI file")
        parts = [g for g in aoi.geometry if g is not None]
        if not all(g.is_valid for g in parts):
            import shapely

            repair = bool(checks.get("repair_geometry"))
            fixed = [chk.check_valid_polygon(g, path=aoi_path, repair=repair) for g in parts]
            repaired = out_dir / ".aoi_repaired.gpkg"
            gpd.GeoDataFrame(geometry=[shapely.union_all(fixed)], crs=aoi.crs).to_file(
                repaired, layer="aoi"
            )
            log.warning("AOI %s repaired with make_valid (checks.repair_geometry)", aoi_path)
            local_cfg.update(aoi=str(repaired), aoi_layer="aoi")
            local_cfg["aoi_name"] = local_cfg.get("aoi_name") or aoi_path.stem
            source = {**source, "local": local_cfg}
    grid = local.grid_from_aoi(
        local.resolve_path(local_cfg["aoi"], key="source.local.aoi"),
        resolution_m=float(local_cfg.get("resolution_m") or 30.0),
        crs=local_cfg.get("grid_crs"),
        layer=local_cfg.get("aoi_layer"),
    )
    chk.check_grid_size(
        *grid.shape, res_m=grid.res[0], key="source.local.resolution_m",
        max_memory_gib=checks.get("max_memory_gib"),
    )  # fmt: skip
    return source


def _aoi_inside(out_dir: Path):
    from pipeline.sources import local

    grid = local.read_grid_json(out_dir / "grid.json")
    return grid, local.aoi_pixel_mask(out_dir / "aoi.gpkg", grid)


def _source_name(source: Mapping, name: str) -> str:
    """How a message names an input: the user's file for a local input, else the source."""
    plan = resolve_inputs(source)
    if plan.get(name) == "local":
        cfg = (source.get("local") or {}).get(name) or {}
        path = cfg.get("path") or cfg.get("classes") or cfg.get("gauge_csv")
        if path:
            return f"{path} (config key 'source.local.{name}')"
    return f"from source {plan.get(name)!r}"


def validate_part(out_dir, source: Mapping, part: str, *, year=None, checks=None) -> None:
    """Check the contract files an inputs part wrote (config ``checks``); raise
    InputDataError naming the input's file (and the written contract file)."""
    import numpy as np

    from pipeline import layout
    from pipeline.io import open_raster

    out_dir = Path(out_dir)
    checks = with_defaults("checks", checks)
    min_share = float(checks["min_coverage_share"])
    if part == "dem":
        path = out_dir / "dem.tif"
        grid, inside = _aoi_inside(out_dir)
        what = _source_name(source, "dem")
        _check_dem_units(source, checks)
        dem = np.asarray(open_raster(path).values, np.float64)
        if checks["dem_units"] == "ft":
            dem = dem * 0.3048
            da = grid.dataarray(dem.astype("float32"), name="elevation", units="m")
            layout.write_dem(da, path, grid=grid, tags={"converted": "feet to metres"})
            log.info("DEM converted from feet to metres (checks.dem_units: ft)")
        chk.check_dem(
            dem, inside, res_m=grid.res[0], path=what, min_share=min_share,
            max_steep_share=float(checks["max_steep_share"]),
        )  # fmt: skip
    elif part == "soil":
        grid, inside = _aoi_inside(out_dir)
        what = _source_name(source, "soil")
        soil = layout.read_soil(out_dir / "soil.tif")
        arrays = {k: np.asarray(v.values, np.float64) for k, v in soil.items()}
        valid = np.logical_and.reduce([np.isfinite(a) for a in arrays.values()])
        chk.check_coverage(valid, inside, what="soil", path=what, min_share=min_share)
        for key, a in arrays.items():
            chk.check_range(a, inside, what=f"soil ({key})", path=what, lo=0, hi=100, units="%")
        total = arrays["sand_pct"] + arrays["silt_pct"] + arrays["clay_pct"]
        chk.check_range(
            total, inside, what="soil (sand + silt + clay)", path=what, lo=98, hi=102,
            units="%", hint="the texture fractions must add up to 100 % of the fine earth",
        )  # fmt: skip
    elif part == "zones":
        _check_zone_layers(out_dir, source, checks)
    elif part == "rain":
        _check_rain(out_dir, source, checks)
    elif part == "year":
        grid, inside = _aoi_inside(out_dir)
        lc = np.asarray(open_raster(out_dir / f"landcover_{year}.tif").values)
        chk.check_coverage(
            np.isfinite(lc), inside, what=f"land cover {year}",
            path=_source_name(source, "landcover"), min_share=min_share,
        )  # fmt: skip


def _check_dem_units(source: Mapping, checks: Mapping) -> None:
    plan = resolve_inputs(source)
    if plan.get("dem") != "local":
        return
    import rasterio

    from pipeline.sources import local

    cfg = (source.get("local") or {}).get("dem") or {}
    src = local.resolve_path(cfg.get("path") or "", key="source.local.dem.path")
    with rasterio.open(src) as ds:
        band = int(cfg.get("band") or 1)
        units = ds.units[band - 1] if ds.units else None
        units = units or ds.tags().get("units") or ds.tags(band).get("units")
    chk.check_units_tag(units, path=src, expected=checks["dem_units"])


def _check_zone_layers(out_dir: Path, source: Mapping, checks: Mapping) -> None:
    import geopandas as gpd
    import pandas as pd

    from pipeline import layout

    aoi = layout.read_aoi(out_dir / "aoi.gpkg")
    aoi_geom = aoi.geometry.union_all()
    grid, inside = _aoi_inside(out_dir)
    for layer in ("townships", "watersheds"):
        path = out_dir / f"{layer}.gpkg"
        zones = layout.read_zones(path, crs=aoi.crs)
        cfg = (source.get("local") or {}).get(layer) or {}
        what = f"{cfg['path']} (config key 'source.local.{layer}')" if cfg.get("path") else path
        tolerance = float(checks["zone_gap_tolerance_share"])
        if layer == "watersheds":
            tolerance = 1.0  # small watersheds cover the district at most once
        gap = chk.check_zones(
            list(zones.geometry), [str(n) for n in zones["name"]], aoi_geom, inside=inside,
            transform=grid.transform, path=what, gap_tolerance=tolerance,
        )  # fmt: skip
        if gap is not None and layer == "townships":
            row = {"zone_id": "unassigned", "name": "未划定", "name_en": "unassigned"}
            extra = gpd.GeoDataFrame(
                {k: [v] for k, v in row.items() if k in zones.columns}, geometry=[gap],
                crs=zones.crs,
            )  # fmt: skip
            zones = gpd.GeoDataFrame(pd.concat([zones, extra], ignore_index=True), crs=zones.crs)
            layout.write_vector(zones, path, key=layer)
            log.warning(
                "%s: %.2f ha of the AOI in no township: reported as an 'unassigned' zone",
                what, gap.area / 1e4,
            )  # fmt: skip


def _check_rain(out_dir: Path, source: Mapping, checks: Mapping) -> None:
    import numpy as np

    from pipeline import layout

    path = out_dir / "rain_daily.nc"
    rain = layout.read_rain(path).load()
    what = _source_name(source, "rain")
    if rain.sizes.get("time", 0) == 0:
        raise InputDataError(f"rain {what}: the daily record is empty")
    values = np.asarray(rain.values, np.float64)
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < 0 or finite.max() > chk.MAX_DAILY_RAIN_MM):
        raise InputDataError(
            f"rain {what}: daily values from {finite.min():g} to {finite.max():g} mm; expected "
            f"0…{chk.MAX_DAILY_RAIN_MM:g} mm/day (a fill value, or another unit than mm?)"
        )
    partial = chk.partial_years(rain["time"].values)
    if not partial:
        return
    desc = ", ".join(f"{y} has {n} of {m} days" for y, (n, m) in partial.items())
    if checks["rain_partial_years"] != "drop":
        raise InputDataError(
            f"rain {what}: the record has incomplete calendar years ({desc}); the rain "
            "factor needs whole years. Extend the record, or set config key "
            "'checks.rain_partial_years: drop' to leave those years out"
        )
    keep = ~np.isin(rain["time"].dt.year.values, list(partial))
    if not keep.any():
        raise InputDataError(f"rain {what}: no complete calendar year in the record ({desc})")
    kept = rain.isel(time=np.flatnonzero(keep))
    layout.write_rain_daily(kept, path, attrs=dict(rain.attrs))
    log.warning("rain %s: incomplete years left out (%s)", what, desc)
