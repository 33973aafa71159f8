"""SL 190-2007 water-erosion intensity classes (水力侵蚀强度分级).

Class breaks in t·ha⁻¹·a⁻¹ (= t·km⁻²·a⁻¹ ÷ 100), SL 190-2007 Table (水力侵蚀强度
分级): the lowest break is the type region's tolerable soil loss (容许土壤流失量),
then 25, 50, 80 and 150. Boundary convention: a pixel with lower ≤ A < upper
belongs to the class (the standard does not say which end is inclusive; this
convention is stated in every report).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pipeline.errors import ConfigError

NODATA = 255

# code: (key, Chinese, English)
CLASSES: dict[int, tuple[str, str, str]] = {
    1: ("slight", "微度", "Slight"),
    2: ("light", "轻度", "Light"),
    3: ("moderate", "中度", "Moderate"),
    4: ("intense", "强烈", "Intense"),
    5: ("very_intense", "极强烈", "Very intense"),
    6: ("severe", "剧烈", "Severe"),
}
EROSION_CODES = (2, 3, 4, 5, 6)  # 微度 is not counted as soil-erosion area (水土流失面积)

# Tolerable soil loss by SL 190-2007 type region, t·ha⁻¹·a⁻¹.
TOLERABLE_LOSS_T_HA_YR: dict[str, float] = {
    "northwest_loess": 10.0,  # 西北黄土高原区 1000 t/(km²·a)
    "northeast_black_soil": 2.0,  # 东北黑土区 200
    "north_rocky_mountain": 2.0,  # 北方土石山区 200
    "south_red_soil": 5.0,  # 南方红壤丘陵区 500
    "southwest_rocky_mountain": 5.0,  # 西南土石山区 500
}
UPPER_BREAKS_T_HA_YR = (25.0, 50.0, 80.0, 150.0)


def class_breaks(region: str = "south_red_soil", *, tolerable_loss: float | None = None):
    """The five ascending class breaks (t·ha⁻¹·a⁻¹) for a type region."""
    if tolerable_loss is None:
        if region not in TOLERABLE_LOSS_T_HA_YR:
            raise ConfigError(
                f"unknown type region {region!r}; expected one of {sorted(TOLERABLE_LOSS_T_HA_YR)}"
            )
        tolerable_loss = TOLERABLE_LOSS_T_HA_YR[region]
    breaks = (float(tolerable_loss), *UPPER_BREAKS_T_HA_YR)
    if any(b >= c for b, c in zip(breaks, breaks[1:], strict=False)) or breaks[0] <= 0:
        raise ConfigError(f"class breaks must be positive and strictly ascending, got {breaks}")
    return breaks


def classify_intensity(
    soil_loss_t_ha_yr: xr.DataArray,
    *,
    region: str = "south_red_soil",
    breaks: tuple[float, ...] | None = None,
) -> xr.DataArray:
    """Classify soil loss (t·ha⁻¹·a⁻¹) into SL 190-2007 intensity codes 1–6.

    lower ≤ A < upper; NaN (nodata) stays NaN. Returns float32 codes with NaN
    for nodata (cast to uint8 with nodata 255 when written).
    """
    breaks = tuple(breaks) if breaks is not None else class_breaks(region)
    if len(breaks) != 5:
        raise ConfigError(f"expected 5 class breaks, got {len(breaks)}: {breaks}")
    edges = np.asarray(breaks, dtype="float64")

    def _classify(a):
        codes = (np.digitize(a, edges, right=False) + 1).astype("float32")
        return np.where(np.isnan(a), np.float32(np.nan), codes)

    out = xr.apply_ufunc(
        _classify, soil_loss_t_ha_yr, dask="parallelized", output_dtypes=[np.float32]
    )
    out.name = "intensity_class"
    out.attrs = {
        "units": "1",
        "long_name": "SL 190-2007 water-erosion intensity class (1 微度 … 6 剧烈)",
        "class_breaks_t_ha_yr": list(breaks),
        "convention": "lower <= A < upper",
    }
    return out
