"""Parcels to treat (到地块): per-parcel soil loss, ranking, suggested measure.

Each parcel (a 三调 land-use polygon, a cadastral parcel, or — without a parcel
layer — an intensity patch) gets, from the rasters on the analysis grid: area (ha),
total soil loss (t/a = Σ A·pixel area), mean modulus (t·km⁻²·a⁻¹ = total / area
× 100), 中度及以上 area (SL 190 classes 3–6, ha), mean slope and its SL 190 slope
class, majority land cover and the share covered by measures. Parcels mostly
covered by measures (share > ``treated_share_max``, default 0.5) are already
treated and are excluded from the ranking.

Slope classes (the slope axis of SL 190-2007's sheet-erosion grading table):
≤5°, 5–8°, 8–15°, 15–25°, 25–35°, >35° (upper bound inclusive).

Suggested measure (``SUGGESTION_RULES``, first match wins):

- sloping cropland steeper than 25° → 退耕还林还草: 《中华人民共和国水土保持法》
  (2010 修订) 第二十条 forbids cultivating crops on slopes steeper than 25°
  (the law's own text);
- sloping cropland 5–25° → 坡改梯 / 保土耕作; orchards on slopes > 5° → 梯田 /
  植物篱; bare land → 水土保持林; degraded grass/shrub → 封禁治理 (the usual measure types of
  treatment statistics; these are usual practice, not legal rules — adapt them);
- construction sites → 生产建设项目监管 (no treatment measure: the builder's duty).

Why written by hand: per-parcel sums are ``numpy.bincount`` over parcel ids burnt
with ``rasterio.features.rasterize``; polygonising uses ``rasterio.features.shapes``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.landcover import CLASSES as LC_CLASSES

__all__ = [
    "SLOPE_CLASSES",
    "SUGGESTION_RULES",
    "parcel_statistics",
    "parcels_from_intensity",
    "rank_parcels",
    "slope_class",
    "suggest_measure",
]

# code: (label, upper bound °, inclusive)
SLOPE_CLASSES: dict[int, tuple[str, float]] = {
    1: ("≤5°", 5.0),
    2: ("5–8°", 8.0),
    3: ("8–15°", 15.0),
    4: ("15–25°", 25.0),
    5: ("25–35°", 35.0),
    6: (">35°", np.inf),
}


def slope_class(slope_deg) -> np.ndarray:
    """SL 190 slope class 1–6 (upper bound inclusive: 5° → 1, 5.01° → 2).

    >>> slope_class(np.array([0.0, 5.0, 5.1, 25.0, 25.1, 40.0])).tolist()
    [1, 1, 2, 4, 5, 6]
    """
    s = np.asarray(slope_deg, dtype=np.float64)
    return (np.digitize(s, [5.0, 8.0, 15.0, 25.0, 35.0], right=True) + 1).astype(np.int8)


# (land-cover keys, min slope exclusive, max slope inclusive, 措施, measure, basis)
SUGGESTION_RULES: list[tuple[tuple[str, ...], float, float, str, str, str]] = [
    (("sloping_cropland",), 25.0, np.inf, "退耕还林还草", "return to forest/grass",
     "水土保持法(2010)第二十条: 禁止在二十五度以上陡坡地开垦种植农作物"),
    (("sloping_cropland",), 5.0, 25.0, "坡改梯/保土耕作", "terracing / soil-conserving tillage",
     "常用措施(practice)"),
    (("sloping_cropland",), -np.inf, 5.0, "保土耕作", "soil-conserving tillage",
     "常用措施(practice)"),
    (("orchard",), 5.0, np.inf, "梯田/植物篱", "terraces / hedgerows", "常用措施(practice)"),
    (("orchard",), -np.inf, 5.0, "林下种草", "cover grass under trees", "常用措施(practice)"),
    (("bare",), -np.inf, np.inf, "水土保持林", "soil-conservation forest", "常用措施(practice)"),
    (("grass", "shrub", "forest"), -np.inf, np.inf, "封禁治理", "closure",
     "常用措施(practice)"),
    (("construction",), -np.inf, np.inf, "生产建设项目监管", "construction-site supervision",
     "生产建设单位防治责任(不计入治理)"),
]  # fmt: skip


def suggest_measure(landcover_key: str, slope_deg: float) -> tuple[str, str, str]:
    """(措施, measure, basis) for a parcel's land-cover key and mean slope (°).

    >>> suggest_measure("sloping_cropland", 30.0)[0], suggest_measure("orchard", 12.0)[0]
    ('退耕还林还草', '梯田/植物篱')
    """
    for keys, lo, hi, zh, en, basis in SUGGESTION_RULES:
        if landcover_key in keys and lo < slope_deg <= hi:
            return zh, en, basis
    return "", "", ""


def _burn_ids(parcels: gpd.GeoDataFrame, template: xr.DataArray) -> np.ndarray:
    from rasterio.features import rasterize

    return rasterize(
        ((g, i + 1) for i, g in enumerate(parcels.geometry)),
        out_shape=template.shape[-2:],
        transform=template.rio.transform(),
        fill=0,
        dtype="int32",
    )


def parcel_statistics(
    parcels: gpd.GeoDataFrame,
    *,
    soil_loss,
    intensity,
    slope_deg,
    landcover,
    measures,
    pixel_area_ha,
    template: xr.DataArray,
) -> pd.DataFrame:
    """Per-parcel figures (one row per parcel, in the layer's order).

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        In the template's CRS.
    soil_loss : 2-D array, t·ha⁻¹·a⁻¹
    intensity : 2-D array, SL 190 class codes 1–6 (0/255 = none)
    slope_deg, landcover, measures : 2-D arrays (measures: codes, 0 = none)
    pixel_area_ha : 2-D array or float
    template : xarray.DataArray
        Grid (CRS and transform) the arrays are on.

    Returns
    -------
    pandas.DataFrame
        ``area_ha, soil_loss_t_a, mean_modulus_t_km2_a, moderate_plus_ha,
        mean_slope_deg, slope_class, slope_class_label, landcover_code,
        landcover_zh, treated_share, n_pixels``.
    """
    ids = _burn_ids(parcels, template)
    a = np.asarray(soil_loss, np.float64)
    shape = ids.shape
    area = np.broadcast_to(np.asarray(pixel_area_ha, np.float64), shape)
    valid = (ids > 0) & np.isfinite(a)
    n = len(parcels) + 1
    idv = ids[valid]
    ar = area[valid]

    def s(w):
        return np.bincount(idv, weights=w, minlength=n)[1:]

    area_ha = s(ar)
    loss = s(a[valid] * ar)
    cls = np.asarray(intensity)[valid].astype(np.int64)
    mod_plus = s(ar * ((cls >= 3) & (cls <= 6)))
    slope = np.asarray(slope_deg, np.float64)[valid]
    slope_sum = s(ar * np.nan_to_num(slope))
    treated = s(ar * (np.asarray(measures)[valid] > 0))
    lc = np.asarray(landcover)[valid].astype(np.int64).clip(0, 255)
    lc_area = np.bincount(idv * 256 + lc, weights=ar, minlength=n * 256).reshape(n, 256)[1:]
    lc_major = lc_area.argmax(axis=1)
    npx = np.bincount(idv, minlength=n)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_mod = np.where(area_ha > 0, loss / area_ha * 100.0, np.nan)
        mean_slope = np.where(area_ha > 0, slope_sum / area_ha, np.nan)
        tshare = np.where(area_ha > 0, treated / area_ha, np.nan)
    sc = slope_class(np.nan_to_num(mean_slope))
    return pd.DataFrame({
        "area_ha": area_ha, "soil_loss_t_a": loss, "mean_modulus_t_km2_a": mean_mod,
        "moderate_plus_ha": mod_plus, "mean_slope_deg": mean_slope,
        "slope_class": sc, "slope_class_label": [SLOPE_CLASSES[int(k)][0] for k in sc],
        "landcover_code": lc_major,
        "landcover_zh": [LC_CLASSES[int(k)][1] if int(k) in LC_CLASSES else "" for k in lc_major],
        "treated_share": tshare, "n_pixels": npx,
    }, index=parcels.index)  # fmt: skip


def rank_parcels(
    stats: pd.DataFrame, *, by: str = "soil_loss_t_a", treated_share_max: float = 0.5
) -> pd.DataFrame:
    """Untreated parcels ranked (1 = first) by ``by``, descending; adds ``suggested_*``.

    Parcels with ``treated_share > treated_share_max`` or no pixel are dropped.

    >>> st = pd.DataFrame({"soil_loss_t_a": [5.0, 9.0, 7.0], "treated_share": [0.0, 0.9, 0.1],
    ...                    "n_pixels": [3, 3, 3], "landcover_code": [6, 6, 10],
    ...                    "mean_slope_deg": [30.0, 10.0, 3.0]})
    >>> rank_parcels(st)[["rank", "suggested_measure_zh"]].values.tolist()
    [[1, '水土保持林'], [2, '退耕还林还草']]
    """
    if by not in stats.columns:
        raise InputDataError(f"rank_parcels: no column {by!r}")
    keep = stats[(stats["treated_share"] <= treated_share_max) & (stats["n_pixels"] > 0)]
    out = keep.sort_values(by, ascending=False, kind="stable").copy()
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    sugg = [
        suggest_measure(LC_CLASSES.get(int(c), ("",))[0], float(s))
        for c, s in zip(out["landcover_code"], out["mean_slope_deg"], strict=True)
    ]
    out["suggested_measure_zh"] = [x[0] for x in sugg]
    out["suggested_measure_en"] = [x[1] for x in sugg]
    out["suggestion_basis"] = [x[2] for x in sugg]
    return out


def parcels_from_intensity(
    intensity: xr.DataArray, zone_ids: np.ndarray, *, min_class: int = 2
) -> gpd.GeoDataFrame:
    """Intensity patches as parcels: polygons of equal (zone, class ≥ ``min_class``).

    Returns columns ``zone_code``, ``intensity_class`` and geometry in the raster's CRS.
    """
    import shapely.geometry
    from rasterio.features import shapes

    cls = np.asarray(intensity.values).astype(np.int64)
    z = np.asarray(zone_ids).astype(np.int64)
    keep = (cls >= min_class) & (cls <= 6) & (z > 0)
    code = np.where(keep, z * 10 + cls, 0).astype(np.int32)
    geoms, zs, cs = [], [], []
    for geom, val in shapes(code, mask=keep, transform=intensity.rio.transform(), connectivity=4):
        v = int(val)
        geoms.append(shapely.geometry.shape(geom))
        zs.append(v // 10)
        cs.append(v % 10)
    return gpd.GeoDataFrame(
        {"zone_code": zs, "intensity_class": cs}, geometry=geoms, crs=intensity.rio.crs
    )
