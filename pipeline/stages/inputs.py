"""Stage: fetch or generate the standard inputs (the inputs contract) for an AOI.

Whatever the source (embedded demo, local files, STAC, Earth Engine), the same
files come out under ``resources/{aoi}/``; nothing downstream knows the source.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.errors import ConfigError, InputDataError

log = logging.getLogger("shuibao.inputs")


def prepare_inputs(
    *,
    out_dir: str | Path,
    source: Mapping,
    years: Sequence[int],
    expected: Sequence[str | Path] = (),
) -> None:
    """Write the inputs contract files for ``years`` into ``out_dir``."""
    out_dir = Path(out_dir)
    kind = source.get("kind", "demo")
    if kind == "demo":
        from pipeline.sources.demo import generate_demo

        params = dict(source.get("demo", {}))
        log.info("generating the embedded (synthetic) demo district in %s: %s", out_dir, params)
        generate_demo(out_dir, years=tuple(int(y) for y in years), progress=True, **params)
    elif kind == "local":
        from pipeline.sources import local

        local.prepare_inputs(out_dir, source.get("local", {}), years=list(years))
    elif kind == "stac":
        from pipeline.sources import stac

        stac.prepare_inputs(out_dir, source.get("stac", {}), years=list(years))
    elif kind == "earthengine":
        from pipeline.sources import earthengine

        earthengine.prepare_inputs(out_dir, source.get("earthengine", {}), years=list(years))
    else:  # the schema forbids this; kept for calls from Python
        raise ConfigError(f"config key 'source.kind': unknown source {kind!r}")
    missing = [str(p) for p in expected if not Path(p).exists()]
    if missing:
        raise InputDataError(f"source {kind!r} did not write the expected input file(s): {missing}")
