"""Area units of the printed outputs: 公顷, km², 亩, 万亩 (config key ``report.units``).

Statistics are computed and stored in hectares (machine tables, JSON, GeoPackage);
the bulletin, the XLSX workbook and the HTML report print areas in the unit the user
chooses. Conversions are exact by definition:

- 1 km² = 100 ha;
- 1 亩 = 10 000 / 15 m² = 666.67 m², so 1 ha = 15 亩 (市制, as in 第三次全国国土调查
  tables and the 十四五 水土保持 targets);
- 1 万亩 = 10 000 亩 = 666.67 ha, so 1 ha = 0.0015 万亩.

Shares (%) are ratios of areas and do not depend on the unit. Written by hand: a
four-entry table; a units library (pint) does not know 亩.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from pipeline.errors import ConfigError


@dataclass(frozen=True)
class AreaUnit:
    key: str
    per_ha: float  # how many of this unit make one hectare
    zh: str
    en: str


AREA_UNITS: dict[str, AreaUnit] = {
    "ha": AreaUnit("ha", 1.0, "公顷", "ha"),
    "km2": AreaUnit("km2", 0.01, "平方千米", "km²"),
    "mu": AreaUnit("mu", 15.0, "亩", "mu"),
    "wanmu": AreaUnit("wanmu", 15.0 / 10_000.0, "万亩", "10⁴ mu"),
}


def area_unit(key: str | None) -> AreaUnit:
    """The unit for a ``report.units`` value (``None`` → hectares)."""
    unit = AREA_UNITS.get(key or "ha")
    if unit is None:
        raise ConfigError(
            f"config key 'report.units': unknown unit {key!r}; expected one of {sorted(AREA_UNITS)}"
        )
    return unit


def from_ha(value_ha, key: str | None):
    """Convert hectares (scalar, array or Series) to the unit ``key``.

    >>> round(from_ha(666.67, "wanmu"), 6), from_ha(1.0, "mu"), from_ha(250.0, "km2")
    (1.000005, 15.0, 2.5)
    """
    return value_ha * area_unit(key).per_ha


def _is_area_key(name: str) -> bool:
    return str(name).endswith("_ha")


def table_from_ha(df: pd.DataFrame, key: str | None) -> pd.DataFrame:
    """Copy of ``df`` with every ``*_ha`` column converted (names kept; shares unchanged)."""
    out = df.copy()
    f = area_unit(key).per_ha
    for col in out.columns:
        if _is_area_key(col) and pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col] * f
    out.attrs = dict(df.attrs)
    return out


def mapping_from_ha(obj, key: str | None):
    """Copy of a summary / change dict with ``*_ha`` values converted, recursively
    (lists of dicts, a ``matrix`` DataFrame of hectares)."""
    f = area_unit(key).per_ha
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if k == "matrix" and isinstance(v, pd.DataFrame):
                out[k] = v * f
            elif _is_area_key(k) and isinstance(v, int | float) and not isinstance(v, bool):
                out[k] = v * f
            else:
                out[k] = mapping_from_ha(v, key)
        return out
    if isinstance(obj, list):
        return [mapping_from_ha(v, key) for v in obj]
    return obj


_EN_HA = re.compile(r"(?<=\d) ha\b")


def relabel_text(text: str, key: str | None, lang: str) -> str:
    """Replace the hectare unit words of a generated text by the chosen unit.

    Chinese: 公顷 → the unit's name; English: "<number> ha" and "(ha)". Rates in
    t·ha⁻¹·a⁻¹ or t/(ha·a) are not areas and are left alone.
    """
    unit = area_unit(key)
    if unit.key == "ha":
        return text
    if lang == "zh":
        return text.replace("公顷", unit.zh).replace("(ha)", f"({unit.en})")
    return _EN_HA.sub(f" {unit.en}", text).replace("(ha)", f"({unit.en})")


__all__ = [
    "AREA_UNITS",
    "AreaUnit",
    "area_unit",
    "from_ha",
    "mapping_from_ha",
    "relabel_text",
    "table_from_ha",
]
