"""Compliance of disturbance patches with the approved projects, human-induced soil loss, fee.

**Compliance** (合规性分析) follows from the topology of a patch and the approved
prevention-responsibility boundaries (防治责任范围) of the projects (尹斌, 姜德文 et al.,
生产建设项目扰动范围合规性判别与预警技术; vocabulary of the provincial supervision systems).
Imagery alone gives *suspected* (疑似) categories, to be settled by the field check:

- **合规** — the patch lies inside the boundaries of projects approved before the
  disturbance, up to a tolerance;
- **疑似超出防治责任范围** — it overlaps an approved project but the part outside every
  approved boundary exceeds both ``tolerance_fraction`` of the patch and ``tolerance_ha``;
- **疑似未批先建** — no approved project overlaps it, or every overlapping project was approved
  after the disturbance was first seen.

A boundary overlapping a patch by no more than the tolerance (both the fraction and the area)
does not count as an overlap: it is the neighbouring project's edge, not this patch's project.

The tolerance absorbs the misregistration of 10 m imagery against boundaries digitised
from plans: a one-pixel shift of a 1 ha square patch moves ≈ 4 % of it, a two-pixel
shift ≈ 8 %; 10 % and the minimum mapping unit (0.1 ha) are therefore the defaults.

**Human-induced soil loss** per patch: A = R·K·LS·C·P with bare-soil C = 1 (the RUSLE unit
plot is continuous clean-tilled fallow, for which C = 1: Wischmeier, W.H. & Smith, D.D.
(1978) Predicting rainfall erosion losses — a guide to conservation planning. USDA
Agriculture Handbook 537) and no support practice (P = 1), summed over the patch's
pixels with their true areas: t/a.

**水土保持补偿费**: area × rate (yuan/m²), charged once on the occupied land area
(财综〔2014〕8号; 发改价格〔2014〕886号 ceilings 1.4/1.7/2.0 yuan/m² east/centre/west;
provinces set the actual rate). There is no default rate.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from scipy import ndimage

from pipeline.disturbance.indices import SEASON_MONTHS
from pipeline.errors import InputDataError

COMPLIANT = "合规"
OUTSIDE = "疑似超出防治责任范围"
UNAPPROVED = "疑似未批先建"
COMPLIANCE_CATEGORIES = (UNAPPROVED, OUTSIDE, COMPLIANT)  # field-check priority order
COMPLIANCE_EN = {
    COMPLIANT: "compliant",
    OUTSIDE: "suspected beyond the approved boundary",
    UNAPPROVED: "suspected built before approval",
}
PROJECT_COLUMNS = ("name", "approval_no", "approval_date")
TOLERANCE_FRACTION = 0.10
TOLERANCE_HA = 0.10


def change_date(year: int, *, season: str | None = None, period: int | None = None) -> dt.date:
    """Latest date by which a change seen in ``year`` (and its season or half-month) existed.

    The end of the half-month period, else the end of the season (winter = Jan, Feb, Dec:
    31 Dec), else 31 Dec. Using the *end* errs towards 合规: a project approved during
    the period in which its site appeared is not flagged.
    """
    if period is not None:
        month = (int(period) + 1) // 2
        if period % 2:
            return dt.date(year, month, 15)
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        return nxt - dt.timedelta(days=1)
    if season is not None:
        last = max(SEASON_MONTHS[season])
        nxt = dt.date(year + (last == 12), last % 12 + 1, 1)
        return nxt - dt.timedelta(days=1)
    return dt.date(year, 12, 31)


def _as_date(value) -> dt.date | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    ts = pd.Timestamp(value)
    return None if pd.isna(ts) else ts.date()


def assess_compliance(
    patches: gpd.GeoDataFrame,
    projects: gpd.GeoDataFrame | None,
    *,
    tolerance_fraction: float = TOLERANCE_FRACTION,
    tolerance_ha: float = TOLERANCE_HA,
    date_column: str = "change_date",
) -> pd.DataFrame:
    """Compliance category of each patch against the approved projects (see module docstring).

    Parameters
    ----------
    patches : geopandas.GeoDataFrame
        Patch polygons with ``area_ha`` (true area, ha) and optionally ``date_column``
        (date by which the disturbance existed; missing = no date check).
    projects : geopandas.GeoDataFrame or None
        防治责任范围 polygons with ``name``, ``approval_no`` and ``approval_date``; None or
        empty = no approved project.
    tolerance_fraction : float
        Share of the patch (0–1) that may lie outside the approved boundaries.
    tolerance_ha : float
        Area (ha) that may lie outside; a patch is 疑似超出 only when both are exceeded.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``patches``: ``compliance``, ``project_name``, ``approval_no``
        (the approved project overlapping most of the patch; for 疑似未批先建 the
        later-approved project if one overlaps), ``outside_ha`` (ha outside every
        boundary approved in time) and ``outside_share`` (0–1).
    """
    if not 0 <= tolerance_fraction <= 1:
        raise ValueError(f"tolerance_fraction must be within 0–1, got {tolerance_fraction!r}")
    if tolerance_ha < 0:
        raise ValueError(f"tolerance_ha must be >= 0, got {tolerance_ha!r}")
    rows = []
    if projects is not None and len(projects):
        missing = [c for c in PROJECT_COLUMNS if c not in projects.columns]
        if missing:
            raise InputDataError(
                f"approved-projects layer lacks columns {missing}; it needs {list(PROJECT_COLUMNS)}"
            )
        projects = projects.to_crs(patches.crs).reset_index(drop=True)
        geoms = shapely.make_valid(projects.geometry.values)
        tree = shapely.STRtree(geoms)
        approved = [_as_date(v) for v in projects["approval_date"]]
    else:
        geoms, tree, approved = None, None, []
    for _, row in patches.iterrows():
        geom = row.geometry
        when = _as_date(row.get(date_column)) if date_column in patches.columns else None
        cand = [] if tree is None else list(tree.query(geom, predicate="intersects"))
        overlaps = shapely.area(shapely.intersection(geoms[cand], geom)) if cand else []
        # a boundary touching the patch by less than the tolerance is a registration artefact
        geom_ha = geom.area / 1e4
        keep = [
            a > 0 and (a / 1e4 > tolerance_ha or a / 1e4 > tolerance_fraction * geom_ha)
            for a in overlaps
        ]
        cand = [c for c, k in zip(cand, keep, strict=True) if k]
        overlaps = [a for a, k in zip(overlaps, keep, strict=True) if k]
        in_time = [
            (c, a)
            for c, a in zip(cand, overlaps, strict=True)
            if when is None or approved[c] is None or approved[c] <= when
        ]
        scale = float(row["area_ha"]) / (geom.area / 1e4) if geom.area > 0 else 0.0
        if not in_time:
            best = cand[int(np.argmax(overlaps))] if cand else None
            outside = float(row["area_ha"])
            category = UNAPPROVED
        else:
            best = max(in_time, key=lambda ca: ca[1])[0]
            inside = shapely.union_all(geoms[[c for c, _ in in_time]])
            outside = geom.difference(inside).area / 1e4 * scale
            share = outside / float(row["area_ha"]) if row["area_ha"] > 0 else 0.0
            exceeded = share > tolerance_fraction and outside > tolerance_ha
            category = OUTSIDE if exceeded else COMPLIANT
        rows.append(
            {
                "compliance": category,
                "project_name": None if best is None else str(projects["name"].iloc[best]),
                "approval_no": None if best is None else str(projects["approval_no"].iloc[best]),
                "outside_ha": outside,
                "outside_share": outside / float(row["area_ha"]) if row["area_ha"] > 0 else 0.0,
            }
        )
    cols = ["compliance", "project_name", "approval_no", "outside_ha", "outside_share"]
    out = pd.DataFrame(rows, index=patches.index, columns=cols)
    for col in ("project_name", "approval_no"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def patch_soil_loss_t(
    labels: xr.DataArray,
    *,
    R: xr.DataArray,
    K: xr.DataArray,
    LS: xr.DataArray,
    pixel_area: xr.DataArray,
    c_bare: float = 1.0,
    p: float = 1.0,
) -> pd.DataFrame:
    """Human-induced soil loss of each patch on bare soil, t/a (RUSLE with C = c_bare, P = p).

    A = R·K·LS·C·P per pixel [t·ha⁻¹·a⁻¹] with R in MJ·mm·ha⁻¹·h⁻¹·a⁻¹, K in
    t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹, LS unitless; the patch total is Σ A·(pixel area, ha) [t/a] and
    its modulus the total over the patch area [t·ha⁻¹·a⁻¹]. C = 1 is bare, continuously
    fallow soil (Wischmeier & Smith 1978, USDA Agriculture Handbook 537).

    Examples
    --------
    >>> lab = xr.DataArray(np.array([[1, 1], [0, 2]], np.int32), dims=("y", "x"))
    >>> one = xr.ones_like(lab, dtype=float)
    >>> t = patch_soil_loss_t(lab, R=one * 4000, K=one * 0.005, LS=one * 2, pixel_area=one * 0.01)
    >>> t["soil_loss_t"].round(3).tolist()  # 4000·0.005·2 = 40 t/ha/a × 0.02 ha and × 0.01 ha
    [0.8, 0.4]
    """
    lab = np.asarray(labels.values)
    idx = np.unique(lab[lab > 0])
    a = np.asarray((R * K * LS).values, np.float64) * c_bare * p
    area = np.broadcast_to(np.asarray(pixel_area.values, np.float64), lab.shape)
    ok = np.isfinite(a)
    total = ndimage.sum_labels(np.where(ok, a * area, 0.0), lab, idx) if idx.size else []
    area_ok = ndimage.sum_labels(np.where(ok, area, 0.0), lab, idx) if idx.size else []
    with np.errstate(invalid="ignore", divide="ignore"):
        modulus = np.where(np.asarray(area_ok) > 0, np.asarray(total) / np.asarray(area_ok), np.nan)
    return pd.DataFrame(
        {"label": idx.astype(np.int32), "soil_loss_t": total, "modulus_t_ha": modulus}
    )


def compensation_fee_yuan(area_ha, rate_yuan_per_m2: float | None):
    """水土保持补偿费 estimate = area (ha → m²) × rate (yuan/m²); None when no rate is configured.

    Examples
    --------
    >>> compensation_fee_yuan(2.5, 1.2)  # 25 000 m² × 1.2 yuan/m²
    30000.0
    >>> compensation_fee_yuan(2.5, None) is None
    True
    """
    if rate_yuan_per_m2 is None:
        return None
    if rate_yuan_per_m2 < 0:
        raise ValueError(f"compensation rate must be >= 0 yuan/m², got {rate_yuan_per_m2!r}")
    fee = np.asarray(area_ha, np.float64) * 1e4 * float(rate_yuan_per_m2)
    return float(fee) if fee.ndim == 0 else fee


def patch_change_dates(
    patches: pd.DataFrame, *, first_periods: dict | None = None, year: int | None = None
) -> list[dt.date | None]:
    """Date by which each patch's change existed (:func:`change_date`).

    From ``first_periods`` ({label: half-month period of ``year``}, for 新增 patches) when
    known, else from ``first_visible`` (``"{year}-{season}"``), else None (no date check).
    """
    out = []
    for label, ctype, visible in zip(
        patches["label"],
        patches["change_type"],
        patches.get("first_visible", [None] * len(patches)),
        strict=True,
    ):
        period = (first_periods or {}).get(int(label)) if ctype == "新增" else None
        if period is not None and year is not None:
            out.append(change_date(year, period=period))
        elif isinstance(visible, str) and "-" in visible:
            y, season = visible.split("-", 1)
            out.append(change_date(int(y), season=season))
        else:
            out.append(None)
    return out
