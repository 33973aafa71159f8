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
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.errors import ConfigError, InputDataError
from pipeline.layout import INPUT_NAMES, OPTIONAL_INPUTS
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
        registry.get(src).load().prepare_inputs(out_dir, source, years=years, only=names)
    missing = [str(p) for p in expected if not Path(p).exists()]
    if missing:
        raise InputDataError(f"source {kind!r} did not write the expected input file(s): {missing}")
