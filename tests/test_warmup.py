"""The install-time warm-up compiles the numba kernels that the demo's jobs call.

numba compiles (and caches) one machine-code version per argument type *and memory
layout*: a kernel reached with a Fortran-ordered array or on a path the warm-up never
takes is compiled again inside a workflow job (seconds of CPU each).
"""

from __future__ import annotations

import numpy as np
import pyflwdir
from affine import Affine

from pipeline.factors._routing import BAND_MIN_ROWS
from pipeline.sources.demo import make_grid
from pipeline.sources.demo._terrain import analyse_terrain
from pipeline.stages import warmup


def test_warm_up_district_takes_the_two_band_filling_path():
    grid = make_grid(size_km=warmup.SIZE_KM, resolution_m=warmup.RESOLUTION_M)
    assert grid.height >= 2 * BAND_MIN_ROWS


def test_demo_terrain_hands_pyflwdir_c_ordered_arrays():
    rng = np.random.default_rng(0)
    z = np.asfortranarray(rng.random((40, 30)) * 10 + np.arange(30)[None, :])
    assert not z.flags.c_contiguous
    t = analyse_terrain(z, Affine(10, 0, 0, 0, -10, 400), stream_km2=0.001)
    layouts = {
        arg.layout
        for sig in pyflwdir.dem.fill_depressions.signatures
        for arg in sig
        if hasattr(arg, "layout")
    }
    assert layouts == {"C"}
    c = analyse_terrain(np.ascontiguousarray(z), Affine(10, 0, 0, 0, -10, 400), stream_km2=0.001)
    np.testing.assert_array_equal(t.flwdir.to_array(), c.flwdir.to_array())
