"""Checks of the inputs where they enter: bad input stops the run before any bulletin.

Base layer (numpy, shapely; no science, no stages). Each check raises
:class:`~pipeline.errors.InputDataError` (or :class:`~pipeline.errors.ConfigError`)
with a message that names the file, the config key to change and what to do; the
inputs stage (``pipeline/stages/inputs.py``) and the local source call them. The
thresholds are the ``checks`` section of ``configs/schema.yaml``.

What is checked (each a test in ``tests/test_checks.py``):

- coverage: the share of the AOI's cells with valid data, per input (a NaN hole, a
  file that covers part of the AOI, a wrong CRS or no overlap at all);
- plausible values: elevation in −500…8 900 m (an undeclared −9999 block, 1e30), the
  slopes a DEM in feet would give, rain ≥ 0 and < 2 000 mm/day, soil texture in %;
- integer class codes in a land-cover raster;
- geometries: a valid AOI (repaired with ``make_valid`` only when asked), zones that
  do not overlap and that cover the AOI (a gap becomes an "unassigned" zone up to a
  tolerance);
- whole calendar years of daily rain;
- the size of the grid before anything is allocated.

Written by hand: these are this project's rules for its inputs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from pipeline.errors import ConfigError, InputDataError

#: Plausible elevations on Earth, m (Dead Sea shore to above Everest).
ELEVATION_RANGE_M = (-500.0, 8900.0)
#: Largest plausible daily rainfall, mm (world record ≈ 1 825 mm).
MAX_DAILY_RAIN_MM = 2000.0
#: Slopes above this are cliffs; a DEM where many cells are this steep is suspect.
STEEP_SLOPE_DEG = 60.0
FEET = ("ft", "feet", "foot", "us-ft", "us survey foot", "ft_us", "international foot")


def coverage_share(valid: np.ndarray, inside: np.ndarray) -> float:
    """Share of the cells ``inside`` the AOI where ``valid`` is True (1.0 with an empty AOI)."""
    n = int(np.count_nonzero(inside))
    return 1.0 if n == 0 else float(np.count_nonzero(valid & inside)) / n


def check_coverage(
    valid: np.ndarray, inside: np.ndarray, *, what: str, path, min_share: float
) -> float:
    """Stop when ``what`` has valid data on less than ``min_share`` of the AOI's cells.

    >>> inside = np.ones((4, 4), bool)
    >>> valid = inside.copy(); valid[0, :2] = False
    >>> check_coverage(valid, inside, what="DEM", path="d.tif", min_share=0.8)
    0.875
    """
    share = coverage_share(valid, inside)
    if share >= min_share:
        return share
    missing = int(np.count_nonzero(inside & ~valid))
    if share == 0.0:
        why = (
            "no valid cell inside the AOI at all: the file does not overlap the AOI (check "
            "its CRS and extent)"
        )
    else:
        rows, cols = np.nonzero(inside & ~valid)
        why = (
            f"{missing} AOI cells have no data (rows {rows.min()}–{rows.max()}, columns "
            f"{cols.min()}–{cols.max()} of the grid): a hole (NaN or nodata), or a file that "
            "covers only part of the AOI"
        )
    raise InputDataError(
        f"{what} {path}: valid data on only {share:.1%} of the AOI; {why}. At least "
        f"{min_share:.0%} is required (config key 'checks.min_coverage_share'); fix or "
        "replace the file"
    )


def check_range(
    values: np.ndarray,
    inside: np.ndarray,
    *,
    what: str,
    path,
    lo: float,
    hi: float,
    units: str,
    hint: str = "",
) -> None:
    """Stop when finite values inside the AOI lie outside ``[lo, hi]``.

    >>> check_range(np.array([1.0, 5.0]), np.array([True, True]), what="x", path="p",
    ...             lo=0, hi=10, units="m")
    """
    v = values[inside & np.isfinite(values)]
    bad = v[(v < lo) | (v > hi)]
    if bad.size:
        raise InputDataError(
            f"{what} {path}: {bad.size} cell(s) inside the AOI outside the plausible "
            f"{lo:g}…{hi:g} {units} (min {float(bad.min()):.6g}, max {float(bad.max()):.6g})"
            f"{'; ' + hint if hint else ''}"
        )


def slope_steep_share(dem_m: np.ndarray, res_m: float, *, steep_deg: float = STEEP_SLOPE_DEG):
    """Share of the valid cells steeper than ``steep_deg`` (central differences)."""
    gy, gx = np.gradient(np.asarray(dem_m, np.float64), res_m)
    tan = np.hypot(gx, gy)
    ok = np.isfinite(tan)
    if not ok.any():
        return 0.0
    return float(np.count_nonzero(tan[ok] > np.tan(np.radians(steep_deg)))) / int(ok.sum())


def check_dem(
    dem_m: np.ndarray,
    inside: np.ndarray,
    *,
    res_m: float,
    path,
    min_share: float,
    max_steep_share: float,
) -> None:
    """Coverage, plausible elevations and plausible slopes of a DEM on the grid (m)."""
    check_coverage(np.isfinite(dem_m), inside, what="DEM", path=path, min_share=min_share)
    check_range(
        dem_m, inside, what="DEM", path=path, lo=ELEVATION_RANGE_M[0], hi=ELEVATION_RANGE_M[1],
        units="m",
        hint="an undeclared nodata value (e.g. −9999: set source.local.dem.nodata) or a "
        "fill value such as 1e30 in the file",
    )  # fmt: skip
    share = slope_steep_share(dem_m, res_m)
    if share > max_steep_share:
        raise InputDataError(
            f"DEM {path}: {share:.1%} of the cells are steeper than {STEEP_SLOPE_DEG:g}° "
            f"(at most {max_steep_share:.0%} expected, config key 'checks.max_steep_share'): "
            "is the DEM in feet (set checks.dem_units: ft) or in another unit than metres, "
            "or does it have spikes?"
        )


def check_units_tag(units: str | None, *, path, expected: str) -> None:
    """Stop when a raster's ``units`` tag contradicts the configured DEM units."""
    if not units:
        return
    u = units.strip().lower()
    is_feet = u in FEET
    if is_feet and expected != "ft":
        raise InputDataError(
            f"DEM {path}: its units tag says {units!r}; elevations must be in metres. Set "
            "config key 'checks.dem_units: ft' to convert, or give a DEM in metres"
        )
    if u in ("m", "metre", "meter", "metres", "meters") and expected == "ft":
        raise ConfigError(
            f"config key 'checks.dem_units' is ft, but DEM {path} says its units are {units!r}"
        )


def check_integer_codes(values: np.ndarray, *, path, what: str = "land-cover raster") -> None:
    """Stop when a class raster stored as floats holds non-integer values.

    >>> check_integer_codes(np.array([1.0, 2.0, np.nan]), path="lc.tif")
    """
    v = np.asarray(values)
    if not np.issubdtype(v.dtype, np.floating):
        return
    finite = v[np.isfinite(v)]
    frac = finite[finite != np.round(finite)]
    if frac.size:
        examples = sorted({float(x) for x in frac[:1000]})[:5]
        raise InputDataError(
            f"{what} {path}: {frac.size} cell(s) hold non-integer class codes (e.g. "
            f"{examples}); a class map must hold whole codes: was it resampled bilinearly? "
            "Give the original class raster"
        )


def check_texture_row(
    values: dict[str, float], *, path, code, normalized: bool, tol: float = 2.0
) -> None:
    """Sand + silt + clay of one soil class: 100 % (± ``tol``), or at most 100 % of the
    total mass when the table is rescaled to the fine earth (``normalized``)."""
    total = sum(values[k] for k in ("sand_pct", "silt_pct", "clay_pct"))
    for key, v in values.items():
        if not np.isfinite(v) or v < 0 or v > 100:
            raise InputDataError(
                f"soil lookup table {path}, class {code}: {key} = {v!r} is not a percentage (0–100)"
            )
    ok = (0 < total <= 100 + tol) if normalized else abs(total - 100) <= tol
    if not ok:
        keys = "source.local.soil.columns (sand_pct, silt_pct, clay_pct)"
        raise InputDataError(
            f"soil lookup table {path}, class {code}: sand + silt + clay = {total:.2f} %, "
            f"expected {'at most 100' if normalized else '100'} %; check the columns mapped "
            f"by config key {keys} and their units"
        )


def partial_years(dates) -> dict[int, tuple[int, int]]:
    """``{year: (days present, days in the year)}`` for incomplete calendar years."""
    import pandas as pd

    t = pd.DatetimeIndex(dates)
    out = {}
    for year in np.unique(t.year):
        n = int((t.year == year).sum())
        expected = 366 if pd.Timestamp(year=int(year), month=1, day=1).is_leap_year else 365
        if n != expected:
            out[int(year)] = (n, expected)
    return out


# ------------------------------------------------------------------ geometries
def check_valid_polygon(geom, *, path, repair: bool):
    """The AOI polygon, repaired with ``make_valid`` only when ``repair`` (config key
    ``checks.repair_geometry``); otherwise an invalid one stops the run."""
    import shapely

    if geom is None or geom.is_empty:
        raise InputDataError(f"AOI {path}: no polygon")
    if shapely.is_valid(geom):
        return geom
    reason = shapely.is_valid_reason(geom)
    if not repair:
        raise InputDataError(
            f"AOI {path}: the polygon is not valid ({reason}); fix it in a GIS, or set "
            "config key 'checks.repair_geometry: true' to repair it with make_valid"
        )
    fixed = shapely.make_valid(geom)
    polys = [g for g in shapely.get_parts(fixed) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(polys)


def check_zones(
    geoms: Sequence, names: Sequence[str], aoi, *, inside: np.ndarray, transform, path,
    gap_tolerance: float,
):  # fmt: skip
    """Zones that do not overlap and cover the AOI, counted as the statistics count them
    (grid cells by their centre, ``inside`` = the AOI's cells); returns the part of the
    AOI in no zone (a polygon) or None.

    Raises InputDataError naming the first overlapping pair and its area (ha), or the
    AOI share in no zone when it exceeds ``gap_tolerance``
    (config key ``checks.zone_gap_tolerance_share``).
    """
    import shapely
    from rasterio.features import geometry_mask

    geoms = list(geoms)
    cell_ha = abs(transform.a * transform.e) / 1e4
    masks = [
        ~geometry_mask([g], out_shape=inside.shape, transform=transform)
        if g is not None and not g.is_empty
        else np.zeros(inside.shape, bool)
        for g in geoms
    ]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i < j:
            cells = int(np.count_nonzero(masks[i] & masks[j] & inside))
            if cells:
                raise InputDataError(
                    f"zone layer {path}: zones {names[i]!r} and {names[j]!r} overlap by "
                    f"{cells * cell_ha:.2f} ha ({cells} cells); each place must belong to one "
                    "zone, fix the layer"
                )
    covered = np.logical_or.reduce(masks) if masks else np.zeros(inside.shape, bool)
    gap_cells = int(np.count_nonzero(inside & ~covered))
    share = gap_cells / max(int(np.count_nonzero(inside)), 1)
    if share > gap_tolerance:
        raise InputDataError(
            f"zone layer {path}: the zones leave {gap_cells * cell_ha:.2f} ha ({share:.1%}) of "
            f"the AOI unassigned, more than config key 'checks.zone_gap_tolerance_share' "
            f"({gap_tolerance:.1%}); complete the layer or raise the tolerance (the gap is "
            "then reported as an 'unassigned' zone)"
        )
    if not gap_cells:
        return None
    gap = shapely.difference(aoi, shapely.union_all(geoms))
    return None if gap.is_empty else gap


# ------------------------------------------------------------------ resources
def memory_bytes_available() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


#: Peak memory per grid cell of the largest job, bytes: the demo's inputs job measured
#: 2 173 MB for 4 million cells (≈ 540 B), terrain 690 MB (≈ 170 B); a round 300.
BYTES_PER_CELL = 300


def check_grid_size(
    height: int, width: int, *, res_m: float, key: str, max_memory_gib: float | None
) -> None:
    """Stop before allocating a grid whose largest step needs more memory than allowed.

    ``max_memory_gib`` (config key ``checks.max_memory_gib``); null = the machine's RAM.

    >>> check_grid_size(1000, 1000, res_m=10, key="resolution_m", max_memory_gib=1)
    """
    cells = int(height) * int(width)
    need = cells * BYTES_PER_CELL
    limit = max_memory_gib * 2**30 if max_memory_gib is not None else memory_bytes_available()
    if limit is None or need <= limit:
        return
    factor = np.sqrt(need / limit)
    raise ConfigError(
        f"config key '{key}': {res_m:g} m gives a grid of {height} × {width} = {cells:,} cells; "
        f"the workflow would need about {need / 2**30:.1f} GiB of memory but "
        f"{limit / 2**30:.1f} GiB is available (config key 'checks.max_memory_gib'); use a "
        f"resolution of at least {res_m * factor:.0f} m, or a machine with more memory"
    )
