"""Area units of Chinese treatment statistics, converted exactly.

1 亩 = 10 000/15 m² (市亩: 1 ha = 15 亩), 1 万亩 = 10 000 亩 = 2000/3 ha (666.666… ha),
1 km² = 100 ha = 1 500 亩 (arithmetic on the 市制 definition of the 亩 as 1/15 ha,
《中华人民共和国计量单位使用方法》/ 国务院 1984 统一公制计量单位中文名称, 市亩 = 1/15 公顷).
Conversions go through :class:`fractions.Fraction` so 15 亩 is exactly 1 ha and back.
"""

from __future__ import annotations

from fractions import Fraction

from pipeline.errors import InputDataError

__all__ = ["HA_PER_UNIT", "MU_PER_HA", "WANMU_IN_HA", "from_ha", "normalise_unit", "to_ha"]

MU_PER_HA = Fraction(15)
WANMU_IN_HA = Fraction(10_000) / MU_PER_HA  # 2000/3 ha

# canonical unit → hectares per unit (exact)
HA_PER_UNIT: dict[str, Fraction] = {
    "ha": Fraction(1),
    "mu": 1 / MU_PER_HA,
    "wanmu": WANMU_IN_HA,
    "km2": Fraction(100),
    "m2": Fraction(1, 10_000),
}

_ALIASES = {
    "ha": "ha", "hm2": "ha", "hm²": "ha", "公顷": "ha", "hectare": "ha", "hectares": "ha",
    "亩": "mu", "mu": "mu",
    "万亩": "wanmu", "wanmu": "wanmu", "10^4mu": "wanmu",
    "km2": "km2", "km²": "km2", "平方公里": "km2", "平方千米": "km2",
    "m2": "m2", "m²": "m2", "平方米": "m2",
}  # fmt: skip


def normalise_unit(unit: str, *, where: str = "unit") -> str:
    """Canonical unit key (``ha``, ``mu``, ``wanmu``, ``km2``, ``m2``) of a unit label.

    >>> normalise_unit("万亩"), normalise_unit(" 公顷 ")
    ('wanmu', 'ha')
    """
    key = str(unit).strip().replace(" ", "").lower()
    if key not in _ALIASES:
        raise InputDataError(
            f"{where}: unknown area unit {unit!r}; use one of 公顷/ha, 亩/mu, 万亩/wanmu, km2, m2"
        )
    return _ALIASES[key]


def to_ha(value, unit: str, *, where: str = "unit") -> float:
    """Area in ha of ``value`` in ``unit`` (exact ratio; float result).

    >>> to_ha(1, "万亩"), to_ha(15, "亩")
    (666.6666666666666, 1.0)
    """
    factor = HA_PER_UNIT[normalise_unit(unit, where=where)]
    return float(_exact(value, where) * factor)


def _exact(value, where: str) -> Fraction:
    try:
        return Fraction(str(value).strip()) if isinstance(value, str) else Fraction(value)
    except (ValueError, TypeError, ZeroDivisionError) as err:
        raise InputDataError(f"{where}: area value {value!r} is not a number") from err


def from_ha(value_ha, unit: str) -> float:
    """Area in ``unit`` of ``value_ha`` hectares.

    >>> from_ha(Fraction(2000, 3), "万亩"), from_ha(1, "亩")
    (1.0, 15.0)
    """
    factor = HA_PER_UNIT[normalise_unit(unit)]
    return float(_exact(value_ha, "area") / factor)
