"""Land-cover classes used by Shuibao: codes and names in one place.

The classes follow the land uses that Chinese soil-erosion monitoring
distinguishes (GB/T 21010 first-level uses, split where erosion differs:
terraced vs sloping cropland, orchards, construction sites). Sources that
deliver another legend (ESA WorldCover, a local map) are recoded to these codes
by a table in the config.
"""

from __future__ import annotations

NODATA = 255

# code: (key, Chinese name, English name, is_cropland)
CLASSES: dict[int, tuple[str, str, str, bool]] = {
    1: ("forest", "林地", "Forest", False),
    2: ("shrub", "灌木林地", "Shrubland", False),
    3: ("grass", "草地", "Grassland", False),
    4: ("orchard", "园地", "Orchard", False),
    5: ("terraced_cropland", "梯田", "Terraced cropland", True),
    6: ("sloping_cropland", "坡耕地", "Sloping cropland", True),
    7: ("paddy", "水田", "Paddy field", True),
    8: ("built_up", "建设用地", "Built-up land", False),
    9: ("water", "水域", "Water", False),
    10: ("bare", "裸地", "Bare land", False),
    11: ("construction", "生产建设扰动地", "Construction site", False),
}

CODE_BY_KEY: dict[str, int] = {v[0]: k for k, v in CLASSES.items()}
CROPLAND_CODES = tuple(k for k, v in CLASSES.items() if v[3])


def name(code: int, lang: str = "en") -> str:
    """Class name in ``"zh"`` or ``"en"``."""
    key, zh, en, _ = CLASSES[int(code)]
    return zh if lang == "zh" else en


def table_by_code(table, *, key: str) -> dict[int, float]:
    """A land-cover-key table from the config (``{"forest": 0.01, …}``) as code → value.

    Raises ConfigError naming the config ``key`` for an unknown land-cover key.
    """
    from pipeline.errors import ConfigError

    out = {}
    for name_, value in table.items():
        if name_ not in CODE_BY_KEY:
            raise ConfigError(f"config key '{key}': unknown land-cover key {name_!r}")
        out[CODE_BY_KEY[name_]] = float(value)
    return out
