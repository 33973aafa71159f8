"""Compile the numba kernels once at installation, so that no workflow job pays for it.

    python -m pipeline.stages.warmup        (``make env`` runs it after installing)

The terrain kernels (``pipeline.factors._routing``, ``_tiled_kernels``), the demo
generator's (``pipeline.sources._demo_terrain``), the patch labelling
(``pipeline.regions``) and pyflwdir's are ``numba.njit(cache=True)``:
the first process that calls one compiles it (tens of seconds of CPU for the whole set)
and writes the machine code to ``__pycache__``; every later process loads it in
milliseconds. Without this step the first ``make demo`` compiles them inside its jobs,
several jobs at once. Here a tiny synthetic district (``SIZE_KM`` at ``RESOLUTION_M``)
goes through the demo generator and the LS step with D8 and MFD routing, which calls
every kernel with the argument types and memory layouts of a real run (numba compiles
one version per layout). Nothing is written outside a temporary folder and the numba
caches; a second run takes a few seconds.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger("shuibao.warmup")

# the warm-up district: 133 × 133 cells, enough rows for two bands of depression filling
# (``_routing.BAND_MIN_ROWS`` each), so that the band kernels are compiled too
SIZE_KM = 4.0
RESOLUTION_M = 30.0


def warm_up() -> float:
    """Run the numba kernels once on a tiny district; returns the CPU seconds it took."""
    from pipeline.config import with_defaults
    from pipeline.sources.demo import generate_demo
    from pipeline.stages.factors import make_terrain

    cpu = time.process_time()
    with tempfile.TemporaryDirectory(prefix="shuibao-warmup-") as tmp:
        out = Path(tmp)
        generate_demo(
            out,
            size_km=SIZE_KM,
            resolution_m=RESOLUTION_M,
            years=(2023, 2024),
            rain_record_years=2,
            n_survey_points=20,
            progress=False,
        )
        for routing in ("mfd", "d8"):
            make_terrain(
                dem_path=out / "dem.tif",
                out_slope=out / f"slope_{routing}.tif",
                out_l=out / f"l_{routing}.tif",
                out_s=out / f"s_{routing}.tif",
                out_ls=out / f"ls_{routing}.tif",
                terrain=with_defaults("terrain", {"routing": routing}),
            )
    # the GeoPackage's patch labelling (int64 class codes, bool mask: the types it is called with)
    import numpy as np

    from pipeline.regions import label_equal_regions

    label_equal_regions(np.zeros((2, 2), dtype=np.int64), np.ones((2, 2), dtype=bool))
    return time.process_time() - cpu


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    seconds = warm_up()
    print(f"numba kernels compiled and cached ({seconds:.1f} s of CPU)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
