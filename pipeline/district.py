"""District headline figures: mean soil-loss modulus, total soil loss, the district's intensity
class, and the area bookkeeping (AOI true area, unassessed pixels, 面积平差).

- SL 190-2007 grades water erosion by the *mean annual soil-loss modulus* (t·km⁻²·a⁻¹); a
  district "属于X流失区" is graded by its area-weighted mean modulus (total loss ÷ area), not
  by its largest class (SL 190-2007 §4.1; Ministry of Water Resources 2008).
- Land area is the AOI's true (ellipsoidal) area; pixels inside the AOI with any missing
  factor are "unassessed" and reported, not silently dropped from the denominator.

Written by hand: area-weighted sums (one dask reduction) and bulletin bookkeeping specific to
SL 190-2007 and the 水土保持公报, which no library provides. The AOI's ellipsoidal area is
pyproj's ``Geod.geometry_area_perimeter`` (Karney 2013, J. Geodesy 87: 43-55).
"""

from __future__ import annotations

from collections.abc import Mapping

import dask
import numpy as np
import pandas as pd
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.sl190 import CLASSES, _check_breaks

T_HA_TO_T_KM2 = 100.0  # 1 km² = 100 ha

__all__ = [
    "aoi_true_area_ha",
    "area_bookkeeping",
    "change_split",
    "district_intensity_class",
    "missing_factor_areas",
    "scale_to_official_area",
    "soil_loss_totals",
]


def aoi_true_area_ha(aoi) -> float:
    """Ellipsoidal area of the AOI polygons, ha (pyproj Geod on the CRS's ellipsoid).

    Parameters
    ----------
    aoi : geopandas.GeoDataFrame or GeoSeries
        AOI polygons with a CRS.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> a = gpd.GeoSeries([box(116.0, 25.0, 116.01, 25.01)], crs=4326)
    >>> round(aoi_true_area_ha(a), 1)  # sphere: R²·Δλ·Δ(sin φ) = 112.1 ha with R = 6371 km
    111.8
    """
    from pyproj import CRS, Geod

    geoms = getattr(aoi, "geometry", aoi)
    if geoms.crs is None:
        raise InputDataError("AOI has no CRS: its true area cannot be computed")
    crs = CRS.from_user_input(geoms.crs)
    geographic = geoms.to_crs(crs.geodetic_crs)
    ell = crs.ellipsoid
    geod = Geod(a=ell.semi_major_metre, b=ell.semi_minor_metre)
    total = 0.0
    for geom in (
        geographic.union_all().geoms
        if hasattr(geographic.union_all(), "geoms")
        else [geographic.union_all()]
    ):
        area, _ = geod.geometry_area_perimeter(geom)
        total += abs(area)
    return total / 10_000.0


def totals_terms(soil_loss_t_ha_yr, pixel_area_ha, inside, erosion_threshold_t_ha_yr):
    """(values, groups) whose exact grouped sums (5 groups) are the sums of
    :func:`soil_loss_totals`: Σ A·a and Σ a over the assessed pixels, Σ a inside the AOI,
    Σ A·a and Σ a over the erosion area. Arrays stacked on a leading axis of 5 (numpy or
    dask), for :func:`pipeline.exactsum.blockwise_partial`."""
    lib = np
    a = xr.DataArray(soil_loss_t_ha_yr).reset_coords(drop=True).data
    w = xr.DataArray(pixel_area_ha).reset_coords(drop=True).data
    inside = xr.DataArray(inside).reset_coords(drop=True).data
    if any(hasattr(x, "dask") for x in (a, w, inside)):
        import dask.array as dsa

        lib = dsa
        ref = next(x for x in (a, inside, w) if hasattr(x, "dask"))
        a, w, inside = (dsa.asarray(x).rechunk(ref.chunks) for x in (a, w, inside))
    a = a.astype("float64")
    w = lib.broadcast_to(w, a.shape).astype("float64")
    inside = lib.broadcast_to(inside, a.shape).astype(bool)
    ok = inside & ~lib.isnan(a)
    ero = ok & (a >= float(erosion_threshold_t_ha_yr))
    aw = a * w
    values = lib.stack([aw, w, w, aw, w])
    groups = lib.stack([lib.where(m, k, -1) for k, m in enumerate((ok, ok, inside, ero, ero))])
    return values, groups


def totals_from_sums(sums) -> tuple[float, float, float, float, float]:
    """The five sums of :func:`totals_terms` as floats (total, assessed, inside, erosion
    total, erosion area)."""
    return tuple(float(v) for v in sums)


def soil_loss_totals(
    soil_loss_t_ha_yr: xr.DataArray,
    pixel_area_ha: xr.DataArray,
    *,
    inside: xr.DataArray | None = None,
    erosion_threshold_t_ha_yr: float,
) -> dict:
    """Total soil loss, assessed area and area-weighted mean modulus over the AOI.

    total = Σ A·a (t/a) over assessed pixels (A finite, inside the AOI), with A in t·ha⁻¹·a⁻¹
    and a the true pixel area in ha; mean modulus = total / (assessed area / 100) in
    t·km⁻²·a⁻¹ (SL 190-2007 unit). The mean over the erosion area only (A ≥ the tolerable
    loss, i.e. 轻度 and above) is given beside it, since bulletins use either (both
    are computed and labelled).

    Parameters
    ----------
    soil_loss_t_ha_yr : DataArray (y, x)
        Soil loss A, t·ha⁻¹·a⁻¹; NaN = not assessed.
    pixel_area_ha : DataArray (y, x)
        True pixel area, ha.
    inside : DataArray (y, x) of bool, optional
        AOI mask (pixel centres); default: every pixel.
    erosion_threshold_t_ha_yr : float
        Lower bound of 轻度 (the tolerable loss), t·ha⁻¹·a⁻¹.

    Returns
    -------
    dict
        ``total_soil_loss_t_a``, ``assessed_area_ha``, ``inside_area_ha`` (Σ a of pixels
        inside the AOI), ``unassessed_pixel_area_ha`` (inside, A missing),
        ``mean_modulus_t_km2_a`` (over the assessed land), ``erosion_total_soil_loss_t_a``,
        ``erosion_mean_modulus_t_km2_a`` (over the erosion area).

    Examples
    --------
    >>> a = xr.DataArray(np.array([[1.0, 30.0], [np.nan, 4.0]]), dims=("y", "x"))
    >>> area = xr.full_like(a, 0.01).fillna(0.01)
    >>> t = soil_loss_totals(a, area, erosion_threshold_t_ha_yr=5.0)
    >>> round(t["total_soil_loss_t_a"], 2), round(t["mean_modulus_t_km2_a"], 1)
    (0.35, 1166.7)
    """
    from pipeline import exactsum

    a = soil_loss_t_ha_yr
    w = pixel_area_ha
    if inside is None:
        inside = xr.ones_like(a, dtype=bool)
    parts = exactsum.blockwise_partial(*totals_terms(a, w, inside, erosion_threshold_t_ha_yr), 5)
    total, assessed, inside_area, ero_total, ero_area = totals_from_sums(exactsum.finish(parts))
    return totals_dict(total, assessed, inside_area, ero_total, ero_area)


def totals_dict(total, assessed, inside_area, ero_total, ero_area) -> dict:
    """The :func:`soil_loss_totals` dict from its five sums (t/a, ha)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / (assessed / T_HA_TO_T_KM2) if assessed > 0 else float("nan")
        ero_mean = ero_total / (ero_area / T_HA_TO_T_KM2) if ero_area > 0 else float("nan")
    return {
        "total_soil_loss_t_a": total,
        "assessed_area_ha": assessed,
        "inside_area_ha": inside_area,
        "unassessed_pixel_area_ha": inside_area - assessed,
        "mean_modulus_t_km2_a": mean,
        "erosion_total_soil_loss_t_a": ero_total,
        "erosion_mean_modulus_t_km2_a": ero_mean,
    }


def district_intensity_class(mean_modulus_t_km2_a: float, *, breaks_t_ha_yr) -> int:
    """SL 190-2007 class code (1-6) of a district's mean modulus (lower ≤ M < upper).

    Parameters
    ----------
    mean_modulus_t_km2_a : float
        Area-weighted mean soil-loss modulus, t·km⁻²·a⁻¹.
    breaks_t_ha_yr : sequence of 5 floats
        Class breaks in t·ha⁻¹·a⁻¹ (× 100 → t·km⁻²·a⁻¹).

    Examples
    --------
    >>> district_intensity_class(4440.0, breaks_t_ha_yr=(5, 25, 50, 80, 150))  # 中度
    3
    >>> district_intensity_class(500.0, breaks_t_ha_yr=(5, 25, 50, 80, 150))  # at the break
    2
    """
    b = np.asarray(_check_breaks(breaks_t_ha_yr)) * T_HA_TO_T_KM2
    m = float(mean_modulus_t_km2_a)
    if not np.isfinite(m) or m < 0:
        raise InputDataError(f"mean soil-loss modulus must be finite and ≥ 0, got {m!r}")
    return int(np.searchsorted(b, m, side="right")) + 1


def missing_factor_areas(
    factors: Mapping[str, xr.DataArray],
    pixel_area_ha: xr.DataArray,
    *,
    inside: xr.DataArray,
) -> pd.DataFrame:
    """Area (ha) inside the AOI where each factor is missing, and where (bounding box).

    Parameters
    ----------
    factors : mapping name → DataArray (y, x)
        Factor rasters on the analysis grid (NaN = missing).
    pixel_area_ha : DataArray (y, x)
        True pixel area, ha.
    inside : DataArray (y, x) of bool
        AOI mask.

    Returns
    -------
    pandas.DataFrame
        Index factor; ``missing_ha``, ``x_min``, ``y_min``, ``x_max``, ``y_max`` (grid CRS
        coordinates of the missing pixel centres; NaN when none is missing).

    Examples
    --------
    >>> f = xr.DataArray(np.array([[1.0, np.nan]]), dims=("y", "x"),
    ...                  coords={"y": [0.5], "x": [0.5, 1.5]})
    >>> t = missing_factor_areas({"C": f}, xr.ones_like(f).fillna(1.0), inside=f.notnull() | True)
    >>> float(t.loc["C", "missing_ha"]), float(t.loc["C", "x_min"])
    (1.0, 1.5)
    """
    inside = inside.astype(bool)
    lazy = []
    for da in factors.values():
        miss = inside & da.isnull()
        xs = da["x"].where(miss) if "x" in da.coords else None
        ys = da["y"].where(miss) if "y" in da.coords else None
        lazy.append(pixel_area_ha.where(miss).sum())
        lazy += [xs.min(), ys.min(), xs.max(), ys.max()] if xs is not None else [np.nan] * 4
    values = dask.compute(*lazy)
    rows = []
    for i, name in enumerate(factors):
        v = [float(x) for x in values[5 * i : 5 * i + 5]]
        rows.append({"factor": name, "missing_ha": v[0], "x_min": v[1], "y_min": v[2],
                     "x_max": v[3], "y_max": v[4]})  # fmt: skip
    out = pd.DataFrame(rows).set_index("factor")
    out.attrs["units"] = "ha, grid CRS units"
    return out


def area_bookkeeping(
    *,
    aoi_area_ha: float,
    assessed_area_ha: float,
    inside_area_ha: float,
    max_unassessed_pct: float,
    missing: pd.DataFrame | None = None,
) -> dict:
    """Land area (the AOI's true area), unassessed area, and the boundary's rasterisation.

    The land area is the AOI polygon's true area. Pixels inside the AOI (pixel centres) with
    a missing factor are *unassessed*; the classified pixels plus the unassessed ones differ
    from the polygon's area only by the rasterisation of its boundary, reported as
    ``boundary_difference_ha`` (class areas are not rescaled, so that district, zone and
    change tables keep adding up).

    Parameters
    ----------
    aoi_area_ha, assessed_area_ha, inside_area_ha : float
        AOI true area; true area of the pixels inside with every factor; of all pixels
        inside, ha.
    max_unassessed_pct : float
        Stop above this share of unassessed land, % of the AOI.
    missing : DataFrame, optional
        :func:`missing_factor_areas` output, named in the error.

    Returns
    -------
    dict
        ``land_area_ha`` (= AOI area), ``assessed_area_ha``, ``unassessed_area_ha``,
        ``unassessed_pct``, ``boundary_difference_ha`` (AOI − pixels inside),
        ``max_unassessed_pct``.

    Raises
    ------
    InputDataError
        When the unassessed share exceeds ``max_unassessed_pct``; the message names each
        factor with missing pixels, its area and bounding box.

    Examples
    --------
    >>> b = area_bookkeeping(aoi_area_ha=1000.0, assessed_area_ha=997.0, inside_area_ha=1001.0,
    ...                      max_unassessed_pct=0.5)
    >>> b["unassessed_area_ha"], b["unassessed_pct"], b["boundary_difference_ha"]
    (4.0, 0.4, -1.0)
    """
    if inside_area_ha <= 0 or aoi_area_ha <= 0:
        raise InputDataError(
            f"AOI area {aoi_area_ha} ha / pixels inside {inside_area_ha} ha: the AOI does not "
            "cover any pixel of the analysis grid"
        )
    unassessed = float(inside_area_ha - assessed_area_ha)
    pct = unassessed / aoi_area_ha * 100.0
    if pct > max_unassessed_pct:
        where = ""
        if missing is not None:
            bad = missing[missing["missing_ha"] > 0]
            where = "; ".join(
                f"{name}: {row.missing_ha:.2f} ha missing within x {row.x_min:.0f}…"
                f"{row.x_max:.0f}, y {row.y_min:.0f}…{row.y_max:.0f}"
                for name, row in bad.iterrows()
            )
        raise InputDataError(
            f"{unassessed:.2f} ha ({pct:.2f} %) of the AOI is unassessed (a factor is missing), "
            f"above statistics.max_unassessed_pct = {max_unassessed_pct}: "
            f"{where or 'no factor named'}. Fill the gaps in that input or raise the limit."
        )
    return {
        "land_area_ha": float(aoi_area_ha),
        "assessed_area_ha": float(assessed_area_ha),
        "unassessed_area_ha": unassessed,
        "unassessed_pct": float(pct),
        "boundary_difference_ha": float(aoi_area_ha - inside_area_ha),
        "max_unassessed_pct": float(max_unassessed_pct),
    }


def scale_to_official_area(areas_ha, *, land_area_ha: float, official_area_ha: float):
    """面积平差: scale class areas proportionally so the land area equals the official one.

    Every area is multiplied by official / land; shares are unchanged.

    Examples
    --------
    >>> scale_to_official_area(np.array([60.0, 40.0]), land_area_ha=100.0,
    ...                        official_area_ha=110.0).tolist()
    [66.0, 44.0]
    """
    if not (official_area_ha > 0 and np.isfinite(official_area_ha)):
        raise InputDataError(
            f"statistics.official_area_ha must be a positive area in ha, got {official_area_ha!r}"
        )
    return np.asarray(areas_ha, dtype="float64") * (official_area_ha / land_area_ha)


def district_summary(
    table: pd.DataFrame,
    *,
    totals: Mapping,
    bookkeeping: Mapping,
    breaks_t_ha_yr,
    official_area_ha: float | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Class table and headline figures over the AOI's true area, with the district's class.

    Shares of the district (占总面积, 水土保持率) are taken of the land area (the AOI's true
    area), so unassessed land is not silently dropped from the denominator. The district's
    intensity is the SL 190-2007 class of its mean modulus. With ``official_area_ha``
    (面积平差), every area (classes, unassessed, land, total soil loss) is scaled by
    official / land; shares and the mean modulus are unchanged.

    Parameters
    ----------
    table : DataFrame
        ``pipeline.stats.class_area_table`` output (pixel true areas, ha).
    totals : mapping
        :func:`soil_loss_totals` output.
    bookkeeping : mapping
        :func:`area_bookkeeping` output.
    breaks_t_ha_yr : sequence of 5 floats
        The class breaks in use.
    official_area_ha : float, optional
        Official land area (国土面积) to scale to, ha.

    Returns
    -------
    (DataFrame, dict)
        The table with ``area_ha`` (scaled if asked) and ``share_of_district_pct`` of the
        land area; and the summary: ``pipeline.stats.summarize`` keys (land area = AOI) plus
        ``mean_modulus_t_km2_a``, ``erosion_mean_modulus_t_km2_a``, ``total_soil_loss_t_a``,
        ``district_class_code``/``_zh``/``_en``, ``district_class_rule``,
        ``unassessed_area_ha``, ``unassessed_pct``, ``classified_area_ha``,
        ``boundary_difference_ha``, ``aoi_true_area_ha``, ``official_area_ha``,
        ``area_scale_factor``.

    Examples
    --------
    >>> from pipeline.stats import _class_table
    >>> t = _class_table(np.array([60.0, 30.0, 10.0, 0.0, 0.0, 0.0]))
    >>> tot = {"mean_modulus_t_km2_a": 900.0, "erosion_mean_modulus_t_km2_a": 1800.0,
    ...        "total_soil_loss_t_a": 900.0}
    >>> bk = area_bookkeeping(aoi_area_ha=101.0, assessed_area_ha=100.0, inside_area_ha=101.0,
    ...                       max_unassessed_pct=1.0)
    >>> _, s = district_summary(t, totals=tot, bookkeeping=bk, breaks_t_ha_yr=(5, 25, 50, 80, 150))
    >>> s["land_area_ha"], round(s["erosion_share_pct"], 2), s["district_class_zh"]
    (101.0, 39.6, '轻度')
    """
    from pipeline.stats import summarize

    land = float(bookkeeping["land_area_ha"])
    scale = 1.0
    if official_area_ha is not None:
        scale = float(official_area_ha) / land
        scale_to_official_area([1.0], land_area_ha=land, official_area_ha=official_area_ha)
    out = table.copy()
    out["area_ha"] = out["area_ha"].astype("float64") * scale
    out["share_of_district_pct"] = out["area_ha"] / (land * scale) * 100.0
    s = summarize(out)
    classified = float(out["area_ha"].sum())
    land_s = land * scale
    erosion = s["erosion_area_ha"]
    s["land_area_ha"] = land_s
    s["classified_area_ha"] = classified
    s["erosion_share_pct"] = erosion / land_s * 100.0
    s["soil_conservation_rate_pct"] = 100.0 - s["erosion_share_pct"]
    code = district_intensity_class(totals["mean_modulus_t_km2_a"], breaks_t_ha_yr=breaks_t_ha_yr)
    zh, en = intensity_label(code)
    s.update(
        {
            "mean_modulus_t_km2_a": float(totals["mean_modulus_t_km2_a"]),
            "erosion_mean_modulus_t_km2_a": float(totals["erosion_mean_modulus_t_km2_a"]),
            "total_soil_loss_t_a": float(totals["total_soil_loss_t_a"]) * scale,
            "district_class_code": code,
            "district_class_zh": zh,
            "district_class_en": en,
            "district_class_rule": "SL 190-2007: class of the area-weighted mean soil-loss "
            "modulus (total soil loss / assessed land area)",
            "unassessed_area_ha": float(bookkeeping["unassessed_area_ha"]) * scale,
            "unassessed_pct": float(bookkeeping["unassessed_pct"]),
            "boundary_difference_ha": float(bookkeeping["boundary_difference_ha"]) * scale,
            "aoi_true_area_ha": land,
            "official_area_ha": None if official_area_ha is None else float(official_area_ha),
            "area_scale_factor": scale,
        }
    )
    return out, s


def intensity_label(code: int) -> tuple[str, str]:
    """(Chinese, English) name of a class code, e.g. for "属于中度流失区"."""
    return CLASSES[int(code)][1], CLASSES[int(code)][2]


def change_split(
    soil_loss_y0: xr.DataArray,
    soil_loss_y1: xr.DataArray,
    *,
    r_y0: xr.DataArray,
    r_y1: xr.DataArray,
    pixel_area_ha: float,
    erosion_threshold_t_ha_yr: float,
) -> dict:
    """Split the change of erosion area and mean modulus into a rain part and a land part.

    The later year is recomputed with the earlier year's R. A = R·K·LS·C·P (or CSLE's
    R·K·L·S·B·E·T) is linear in R, so A₁' = A₁·R₀/R₁ pixel by pixel, exactly. Then

    - land part = X(A₁') − X(A₀)   (same rain, the land changed: C/B, P/E/T, land cover),
    - rain part = X(A₁) − X(A₁')   (same land, the rain changed),

    and land + rain = X(A₁) − X(A₀) exactly, for X = erosion area (A ≥ the 微度 break) and
    for the mean modulus. With R the same in both years (``rainfall.mode:
    reference_mean``) the rain part is 0 by construction.

    Parameters
    ----------
    soil_loss_y0, soil_loss_y1 : xarray.DataArray
        Soil loss A, t·ha⁻¹·a⁻¹, on the same grid (NaN = outside / unassessed).
    r_y0, r_y1 : xarray.DataArray
        R of each year on that grid, MJ·mm·ha⁻¹·h⁻¹·a⁻¹.
    pixel_area_ha : float or xarray.DataArray
        Area of each pixel, ha (a constant on an equal-area grid).
    erosion_threshold_t_ha_yr : float
        Lower bound of 轻度 (the type region's tolerable loss), t·ha⁻¹·a⁻¹.

    Returns
    -------
    dict
        ``erosion_area_ha`` {y0, y1, y1_at_r0}, ``erosion_change_ha`` {total, land, rain},
        ``mean_modulus_t_km2_a`` {y0, y1, y1_at_r0}, ``mean_modulus_change`` {total, land,
        rain}; pixels unassessed in either year are left out of all of them.

    Examples
    --------
    >>> import xarray as xr
    >>> a0 = xr.DataArray([[4.0, 6.0]], dims=("y", "x"))
    >>> a1 = 2 * a0  # same land, rain doubled
    >>> r0 = xr.DataArray([[100.0, 100.0]], dims=("y", "x"))
    >>> s = change_split(a0, a1, r_y0=r0, r_y1=2 * r0, pixel_area_ha=1.0,
    ...                  erosion_threshold_t_ha_yr=5.0)
    >>> s["erosion_change_ha"]
    {'total': 1.0, 'land': 0.0, 'rain': 1.0}
    """
    a0 = np.asarray(soil_loss_y0.values, dtype=np.float64)
    a1 = np.asarray(soil_loss_y1.values, dtype=np.float64)
    r0 = np.asarray(r_y0.values, dtype=np.float64)
    r1 = np.asarray(r_y1.values, dtype=np.float64)
    if not (a0.shape == a1.shape == r0.shape == r1.shape):
        raise InputDataError(
            f"change_split: grids differ (A {a0.shape} / {a1.shape}, R {r0.shape} / {r1.shape})"
        )
    ok = np.isfinite(a0) & np.isfinite(a1) & np.isfinite(r0) & np.isfinite(r1)
    with np.errstate(invalid="ignore", divide="ignore"):
        a1_r0 = np.where(r1 > 0, a1 * r0 / r1, 0.0)
    t = float(erosion_threshold_t_ha_yr)
    n = int(ok.sum())

    px = np.broadcast_to(
        np.asarray(getattr(pixel_area_ha, "values", pixel_area_ha), dtype=np.float64), a0.shape
    )
    w = px[ok]

    def area(a):
        return round(float(w[a[ok] >= t].sum()), 6)

    def modulus(a):  # area-weighted mean, t/(km²·a)
        return round(float((a[ok] * w).sum() / w.sum()) * T_HA_TO_T_KM2, 6) if n else float("nan")

    e0, e1, e1p = area(a0), area(a1), area(a1_r0)
    m0, m1, m1p = modulus(a0), modulus(a1), modulus(a1_r0)
    return {
        "erosion_area_ha": {"y0": e0, "y1": e1, "y1_at_r0": e1p},
        "erosion_change_ha": {
            "total": round(e1 - e0, 6),
            "land": round(e1p - e0, 6),
            "rain": round(e1 - e1p, 6),
        },
        "mean_modulus_t_km2_a": {"y0": m0, "y1": m1, "y1_at_r0": m1p},
        "mean_modulus_change": {
            "total": round(m1 - m0, 6),
            "land": round(m1p - m0, 6),
            "rain": round(m1 - m1p, 6),
        },
        "method": "later year recomputed with the earlier year's R (A is linear in R)",
    }
