"""The contract names and writers the sources have always imported from
``pipeline.sources.local`` (re-exported from :mod:`pipeline.layout`), the vector writers,
and the WorldCover recode.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

#: Number of half-month periods in a year (period 1 = Jan 1–15, 2 = Jan 16–31, …).
# The contract's formats, readers and writers live in pipeline/layout.py (re-exported
# here under the names the sources have always used).
from pipeline.layout import (  # noqa: E402
    INPUT_NAMES as INPUT_NAMES,
)
from pipeline.layout import (
    N_PERIODS as N_PERIODS,
)
from pipeline.layout import (
    NDVI_NODATA as NDVI_NODATA,
)
from pipeline.layout import (
    NDVI_SCALE as NDVI_SCALE,
)
from pipeline.layout import (
    PERIOD_NAMES as PERIOD_NAMES,
)
from pipeline.layout import (
    SOIL_BANDS as SOIL_BANDS,
)
from pipeline.layout import read_grid as read_grid_json  # noqa: F401  (re-export)
from pipeline.layout import (
    write_dem as write_dem,
)
from pipeline.layout import write_grid as write_grid_json  # noqa: F401  (re-export)
from pipeline.layout import (
    write_landcover as write_landcover,
)
from pipeline.layout import (
    write_ndvi as write_ndvi,
)
from pipeline.layout import (
    write_rain_daily as write_rain_daily,
)
from pipeline.layout import (
    write_soil as write_soil,
)


def _write_gpkg(gdf, out_path, *, layer: str) -> Path:
    from pipeline.layout import write_vector

    return write_vector(gdf, out_path, key=layer)


def write_zones(zones: gpd.GeoDataFrame, out_path) -> Path:
    """Write ``townships.gpkg`` / ``watersheds.gpkg`` (layer = file stem)."""
    return _write_gpkg(zones, out_path, layer=Path(out_path).stem)


def write_survey(points: gpd.GeoDataFrame, out_path) -> Path:
    """Write ``survey_{year}.gpkg`` (layer ``survey``)."""
    return _write_gpkg(points, out_path, layer="survey")


#: van Bemmelen factor: organic matter = 1.724 × organic carbon (the usual OM/OC ratio).
OM_PER_OC = 1.724

#: ESA WorldCover (v100/v200, band ``Map``) → Shuibao land-cover codes (pipeline/landcover.py).
#: WorldCover has a single cropland class (40); it is recoded to sloping cropland (6), the
#: conservative choice for erosion — override in the config (e.g. to paddy, 7) where the
#: district's cropland is mostly paddy or terraced. Snow/ice (70) → bare; herbaceous
#: wetland (90) → water; mangroves (95) → forest; moss/lichen (100) → grass. 0 = nodata.
WORLDCOVER_TO_SHUIBAO: dict[int, int] = {
    10: 1,
    20: 2,
    30: 3,
    40: 6,
    50: 8,
    60: 10,
    70: 10,
    80: 9,
    90: 9,
    95: 1,
    100: 3,
}
WORLDCOVER_NODATA = 0
