"""SL 190-2007 water-erosion intensity tables (水力侵蚀强度分级): base layer.

Class codes, names and breaks only (no xarray): sources (e.g. the demo's hidden truth),
science (:mod:`pipeline.classify`) and reports all import these tables from here.

Class breaks in t·ha⁻¹·a⁻¹ (= t·km⁻²·a⁻¹ ÷ 100), SL 190-2007 Table (水力侵蚀强度
分级): the lowest break is the type region's tolerable soil loss (容许土壤流失量),
then 25, 50, 80 and 150. Boundary convention: a pixel with lower ≤ A < upper
belongs to the class (the standard does not say which end is inclusive; this
convention is stated in every report).

Written by hand because the classification is a five-break lookup (numpy's
``digitize`` does the work); no library carries the SL 190-2007 tables. The
class codes and their Chinese/English names live only here (``CLASSES``);
:mod:`pipeline.classify` re-exports them.
"""

from __future__ import annotations

import numpy as np

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
CLASS_CODES = tuple(CLASSES)  # (1, 2, 3, 4, 5, 6)
EROSION_CODES = (2, 3, 4, 5, 6)  # 微度 is not counted as soil-erosion area (水土流失面积)
BOUNDARY_CONVENTION = "lower <= A < upper"
BOUNDARY_CONVENTION_ZH = "下限 ≤ A < 上限"

# Tolerable soil loss by SL 190-2007 type region, t·ha⁻¹·a⁻¹.
TOLERABLE_LOSS_T_HA_YR: dict[str, float] = {
    "northwest_loess": 10.0,  # 西北黄土高原区 1000 t/(km²·a)
    "northeast_black_soil": 2.0,  # 东北黑土区 200
    "north_rocky_mountain": 2.0,  # 北方土石山区 200
    "south_red_soil": 5.0,  # 南方红壤丘陵区 500
    "southwest_rocky_mountain": 5.0,  # 西南土石山区 500
}
REGION_NAMES: dict[str, tuple[str, str]] = {
    "northwest_loess": ("西北黄土高原区", "north-west Loess Plateau region"),
    "northeast_black_soil": ("东北黑土区", "north-east black-soil region"),
    "north_rocky_mountain": ("北方土石山区", "northern rocky-mountain region"),
    "south_red_soil": ("南方红壤丘陵区", "southern red-soil hilly region"),
    "southwest_rocky_mountain": ("西南土石山区", "south-west rocky-mountain region"),
}
UPPER_BREAKS_T_HA_YR = (25.0, 50.0, 80.0, 150.0)


def class_key(code: int) -> str:
    """Machine key of a class code, e.g. ``2 -> "light"``."""
    return CLASSES[_check_code(code)][0]


def class_zh(code: int) -> str:
    """Chinese name of a class code, e.g. ``2 -> "轻度"``."""
    return CLASSES[_check_code(code)][1]


def class_en(code: int) -> str:
    """English name of a class code, e.g. ``2 -> "Light"``."""
    return CLASSES[_check_code(code)][2]


def _check_code(code) -> int:
    try:
        icode = int(code)
    except (TypeError, ValueError):
        icode = None
    if icode is None or icode != code or icode not in CLASSES:
        raise ConfigError(
            f"unknown SL 190-2007 class code {code!r}; expected one of {list(CLASSES)}"
        )
    return icode


def class_breaks(region: str = "south_red_soil", *, tolerable_loss: float | None = None):
    """The five ascending class breaks (t·ha⁻¹·a⁻¹) for a type region.

    Parameters
    ----------
    region : str
        SL 190-2007 type region key (see ``TOLERABLE_LOSS_T_HA_YR``).
    tolerable_loss : float, optional
        Researcher override of the 微度/轻度 break, t·ha⁻¹·a⁻¹ (must be < 25).

    Returns
    -------
    tuple of float
        ``(tolerable, 25, 50, 80, 150)`` in t·ha⁻¹·a⁻¹ (SL 190-2007; Ministry of
        Water Resources 2008).

    Examples
    --------
    >>> class_breaks("northwest_loess")
    (10.0, 25.0, 50.0, 80.0, 150.0)
    """
    if tolerable_loss is None:
        if region not in TOLERABLE_LOSS_T_HA_YR:
            raise ConfigError(
                f"unknown type region {region!r}; expected one of {sorted(TOLERABLE_LOSS_T_HA_YR)}"
            )
        tolerable_loss = TOLERABLE_LOSS_T_HA_YR[region]
    return _check_breaks((float(tolerable_loss), *UPPER_BREAKS_T_HA_YR))


def _check_breaks(breaks) -> tuple[float, ...]:
    try:
        breaks = tuple(float(b) for b in breaks)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"class breaks must be numbers, got {breaks!r}") from exc
    if len(breaks) != 5:
        raise ConfigError(f"expected 5 class breaks, got {len(breaks)}: {breaks}")
    if (
        not all(np.isfinite(breaks))
        or any(b >= c for b, c in zip(breaks, breaks[1:], strict=False))
        or breaks[0] <= 0
    ):
        raise ConfigError(f"class breaks must be positive and strictly ascending, got {breaks}")
    return breaks
