"""Exact grouped sums (pipeline.exactsum): correctly rounded, and the same for any partition
of the values (tiles, dask chunks) — the property the tiled workflow's tables rely on."""

from __future__ import annotations

import math
from fractions import Fraction

import dask.array as dsa
import numpy as np
import pytest

from pipeline import exactsum


def test_ten_tenths_is_one():
    # float(0.1) = 0.1000000000000000055511151231257827…; ten of them = 1.0000000000000000555…,
    # whose nearest float64 is 1.0 (the next float is 1 + 2.2e-16). Left-to-right float
    # addition gives 0.9999999999999999 instead.
    assert sum([0.1] * 10) == 0.9999999999999999
    assert exactsum.grouped_sum(np.full(10, 0.1), np.zeros(10, int), 1).tolist() == [1.0]


def test_cancellation_is_exact():
    # 1e16 + 1 - 1e16: float addition loses the 1 (1e16 + 1 rounds to 1e16); exact gives 1.
    v = np.array([1e16, 1.0, -1e16])
    assert (1e16 + 1.0) - 1e16 == 0.0
    assert exactsum.grouped_sum(v, np.zeros(3, int), 1).tolist() == [1.0]


def test_equals_fsum_per_group_and_skips_nan_and_foreign_groups():
    rng = np.random.default_rng(3)
    v = rng.lognormal(0, 6, 5000) * rng.choice([-1, 1], 5000)
    v[::97] = np.nan
    g = rng.integers(-1, 6, 5000)  # -1 and 5 are outside [0, 5)
    got = exactsum.grouped_sum(v, g, 5)
    for k in range(5):
        sel = (g == k) & np.isfinite(v)
        assert got[k] == math.fsum(v[sel].tolist())  # math.fsum is correctly rounded too


def test_any_partition_merges_to_the_same_bits():
    rng = np.random.default_rng(11)
    v = rng.random(20_000) * 10.0 ** rng.integers(-8, 8, 20_000)
    g = rng.integers(0, 7, 20_000)
    whole = exactsum.finish(exactsum.partial(v, g, 7))
    cuts = np.sort(rng.choice(np.arange(1, v.size), 9, replace=False))
    parts = [
        exactsum.partial(a, b, 7) for a, b in zip(np.split(v, cuts), np.split(g, cuts), strict=True)
    ]
    merged = exactsum.finish(exactsum.merge(parts[::-1]))
    assert merged.tobytes() == whole.tobytes()
    dv = dsa.from_array(v, chunks=1234)
    dg = dsa.from_array(g, chunks=1234)
    assert exactsum.finish(exactsum.blockwise_partial(dv, dg, 7)).tobytes() == whole.tobytes()


def test_partial_round_trips_through_npz(tmp_path):
    p = exactsum.partial(np.array([0.5, 0.25, 3.0]), np.array([0, 1, 1]), 2)
    np.savez(tmp_path / "p.npz", **p.to_arrays("x"))
    with np.load(tmp_path / "p.npz") as z:
        q = exactsum.Partial.from_arrays(z, "x")
    assert exactsum.finish(q).tolist() == [0.5, 3.25]


def test_merge_refuses_different_group_counts():
    with pytest.raises(ValueError, match="group counts"):
        exactsum.merge([exactsum.partial([1.0], [0], 1), exactsum.partial([1.0], [0], 2)])


def test_class_and_zone_areas_do_not_depend_on_the_chunking():
    import geopandas as gpd
    from shapely.geometry import box

    from pipeline import stats
    from pipeline.grid import AnalysisGrid, local_albers_crs

    g = AnalysisGrid.from_bounds(local_albers_crs(110, 25, 111, 26), 0, 0, 530, 470, 10)
    rng = np.random.default_rng(5)
    cls = rng.integers(1, 7, g.shape).astype(float)
    cls[rng.random(g.shape) < 0.1] = np.nan
    da = g.dataarray(cls, name="intensity", units="1")
    zones = gpd.GeoDataFrame(
        {"zone_id": [1, 2], "name": ["甲", "乙"]},
        geometry=[box(0, 0, 263, 470), box(263, 0, 530, 470)],
        crs=g.crs,
    )
    out = []
    for chunks in (None, 7, 16):
        d = da if chunks is None else da.chunk({"y": chunks, "x": chunks})
        area = stats.pixel_area_ha(d)
        t = stats.class_area_table(d, area)
        z = stats.zonal_class_areas(d, area, zones, method="centre")
        out.append((t["area_ha"].to_numpy().tobytes(), z["area_ha"].to_numpy().tobytes()))
    assert out[0] == out[1] == out[2]
    # 0.01 ha pixels: the exact sum of n of them is n × 0.01 correctly rounded
    n1 = int(np.sum(cls == 1))
    assert stats.class_area_table(da, stats.pixel_area_ha(da))["area_ha"].iloc[0] == float(
        Fraction(0.01) * n1
    )
