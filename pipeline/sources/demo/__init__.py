# ruff: noqa: F401  (re-exports: the package keeps the module's import path)
"""Embedded demo district: a SYNTHETIC red-soil hilly district, generated from a seed.

Nothing here is real data. The generator makes, offline and in seconds, a district
in the style of southern China's red-soil hilly region (红壤丘陵区; e.g. Changting,
Fujian, about 116.4°E 25.7°N) and writes exactly the files of the inputs contract
(``docs/contract.md``), so the whole workflow can run without any account or
download. Every file carries a ``SYNTHETIC`` note (raster tag, NetCDF attribute,
``note`` column of ``aoi.gpkg``).

What it contains and how it is made (all knobs are the constants below):

- **grid / AOI**: an AOI-local Albers grid (``pipeline.grid.local_albers_crs``) over a
  ``size_km`` square; the district is a smooth random blob covering ~75 % of it. Like
  real sources, the rasters cover the whole grid box, not only the district: mask
  with ``aoi.gpkg`` for district statistics.
- **DEM**: basin shape (rim towards the grid edge, one outlet on an edge) + fractal
  noise, carved by implicit stream-power steps between pyflwdir depression fillings,
  rebuilt as a steady-state landscape on that network (S = ks·A^-0.5, ks set by
  ``MEDIAN_SLOPE_DEG``), flat valley floors (``demo._terrain``); shaped on ≤ 400²
  coarse cells, upsampled (cubic) to the grid with fine noise.
- **land cover**: classes placed by terrain suitability (slope, height above the
  nearest drain, distance to streams and towns) plus patchy noise, allocated by rank so
  that shares hit ``LANDCOVER_SHARES``. The second and later years apply plausible
  changes (construction finished to built-up, new sites, sloping cropland terraced or
  planted to orchards, orchards and bare land returned to forest/grass).
- **NDVI**: 24 half-month periods from a seasonal profile per class + persistent
  per-pixel vigour (degraded vegetation recovering year by year) + regional per-period
  noise + pixel noise + occasional haze-contaminated lows; three decimals.
- **daily rain**: 0.05° EPSG:4326 grid (CHIRPS-like) with a pre-monsoon (Apr–Jun) peak,
  Jul–Sep typhoon storms and a dry winter; annual totals are rescaled to bounded targets.
- **soil**: smooth sand/silt/clay/organic-carbon fields (red soil), OC higher under forest.
- **townships**: Voronoi cells of the town sites clipped to the AOI (they tile it).
- **small watersheds**: pyflwdir sub-basins of the DEM, polygonised and clipped.
- **field survey**: stratified points whose observed SL 190-2007 class comes from a
  HIDDEN TRUTH that is *not* the pipeline's RUSLE (see ``hidden_soil_loss``):
  R from the same rain with a different daily model (10 mm threshold, seasonal α,
  β = 1.7265), K = EPIC × 0.75 with lognormal noise, LS with a
  capped slope length and m = 0.35, C from a per-class table (not from NDVI) with
  lognormal noise and a weak NDVI term, P from another table, gully/rill hot spots
  (×4) on erodible classes, then 10 % of points recorded one class off.

Written by hand because no library makes such a district; the noise, D8 routing
(pyflwdir), polygon operations (shapely) and writers (``pipeline.io``) are libraries.

Modules (this package re-exports their names, so ``from pipeline.sources.demo import X``
keeps working): ``common`` (SYNTHETIC note, random streams, tags, grid and AOI),
``terrain`` (DEM and flow routing; pieces in ``_terrain``), ``landscape`` (land cover,
NDVI, soil), ``climate`` (daily rain), ``zones`` (town sites, townships, watersheds),
``survey`` (field survey and its hidden truth), ``generate`` (the driver,
``generate_demo``) and ``inputs`` (the demo as the source of single inputs of another AOI).
"""

from pipeline.sources.demo.climate import (
    RAIN_ANNUAL_MM,
    RAIN_CELL_DEG,
    RAIN_GAMMA_SHAPE,
    RAIN_MONTHLY_MM,
    RAIN_TYPHOONS_PER_YEAR,
    RAIN_WET_DAYS,
    RAIN_YEAR_CV,
    make_rain_daily,
    rain_grid_bounds,
)
from pipeline.sources.demo.common import (
    _COMPONENT,
    _LC,
    LC_NODATA,
    PERIODS,
    SYNTHETIC_NOTE,
    _aoi_mask,
    _cell_xy,
    _on_grid,
    _rng,
    _tags,
    make_aoi,
    make_grid,
)
from pipeline.sources.demo.generate import (
    encode_ndvi,
    generate_demo,
    write_gpkg,
)
from pipeline.sources.demo.landscape import (
    _T,
    CHANGE_FRACTIONS,
    CLOUD_FRACTION,
    LANDCOVER_SHARES,
    NDVI_PERIOD_SD,
    NDVI_PIXEL_SD,
    NDVI_PROFILES,
    NDVI_RECOVERY_PER_YEAR,
    NDVI_VIGOUR_SD,
    SOIL_BANDS,
    SOIL_OC_RANGE,
    SOIL_SAND_RANGE,
    SOIL_SILT_SHARE,
    _components,
    _cycle,
    _first_year_landcover,
    _flow_path_cells,
    _next_year_landcover,
    _noise,
    _pick_components,
    _top,
    make_landcover,
    make_ndvi,
    make_soil,
)
from pipeline.sources.demo.survey import (
    SURVEY_WEIGHTS,
    TRUTH_C,
    TRUTH_C_LOG_SD,
    TRUTH_HOTSPOT_FACTOR,
    TRUTH_HOTSPOT_SHARE,
    TRUTH_K_LOG_SD,
    TRUTH_M,
    TRUTH_MAX_SLOPE_LENGTH_M,
    TRUTH_OBSERVATION_ERROR,
    TRUTH_P,
    _k_epic_si,
    _r_daily_10mm,
    _slope_factor_liu,
    hidden_soil_loss,
    make_survey,
)
from pipeline.sources.demo.terrain import (
    CARVE_COEFFICIENT,
    CARVE_ITERATIONS,
    COARSE_CELLS,
    FINE_NOISE_M,
    HILL_WAVELENGTH_M,
    MEDIAN_SLOPE_DEG,
    NOISE_BETA,
    NOISE_RELIEF_M,
    OUTLET_ELEVATION_M,
    RIM_HEIGHT_M,
    SMOOTH_PX,
    STREAM_AREA_KM2,
    TILT_M,
    VALLEY_FLOOR_SCALE_M,
    main_outlet_share,
    make_dem,
    terrain,
)
from pipeline.sources.demo.zones import (
    _WATERSHED_FIRST,
    _WATERSHED_SECOND,
    TOWNSHIP_NAMES,
    _pinyin_title,
    make_townships,
    make_watersheds,
    town_sites,
)
