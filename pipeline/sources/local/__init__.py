# ruff: noqa: F401  (re-exports: the package keeps the module's import path)
"""Local source: user GeoTIFFs and vector layers, in any CRS, onto the analysis grid.

Also holds the writers of the standard input files (docs/contract.md)
that the STAC and Earth Engine sources reuse, so every source writes the same
bytes for the same arrays.

What is hand-written here and why: reprojection itself is rioxarray/GDAL warp
(bilinear for continuous values, mode for classes); geometry handling is
geopandas/pyproj. The code here only adds what those libraries cannot know: the
Shuibao file contract (dtypes, nodata, band names, scale), the legend recode
(a file's own class codes → Shuibao land-cover codes, refusing codes the table
does not cover), the soil lookup join, and input validation with messages that
name the file, column and offending values.

Examples
--------
>>> from pipeline.sources import local
>>> grid = local.grid_from_aoi("aoi.gpkg", resolution_m=30)                # doctest: +SKIP
>>> local.write_local_dem("dem.tif", grid, "resources/x/dem.tif")           # doctest: +SKIP

Modules (this package re-exports their names, so ``from pipeline.sources.local import X``
keeps working): ``common`` (the contract names and writers re-exported from
``pipeline.layout``, WorldCover recode), ``grid`` (grid and AOI), ``align``
(reprojection, legend recode), ``rasters`` (local rasters → standard inputs),
``vectors`` (zones, survey points) and ``source`` (``source.local`` → files,
``prepare_inputs``).
"""

from pipeline.sources.local.align import (
    _code_of,
    _open_source,
    _reproject,
    _to_float_nan,
    recode_classes,
    reproject_to_grid,
)
from pipeline.sources.local.common import (
    INPUT_NAMES,
    N_PERIODS,
    NDVI_NODATA,
    NDVI_SCALE,
    OM_PER_OC,
    PERIOD_NAMES,
    SOIL_BANDS,
    WORLDCOVER_NODATA,
    WORLDCOVER_TO_SHUIBAO,
    _write_gpkg,
    read_grid_json,
    write_dem,
    write_grid_json,
    write_landcover,
    write_ndvi,
    write_rain_daily,
    write_soil,
    write_survey,
    write_zones,
)
from pipeline.sources.local.grid import (
    RASTER_SUFFIXES,
    _aoi_geoseries,
    _read_vector,
    aoi_from_mask,
    grid_from_aoi,
    write_aoi,
)
from pipeline.sources.local.rasters import (
    _is_number,
    _is_vector,
    _lookup_value,
    landcover_on_grid,
    rain_lattice,
    read_soil_lookup,
    soil_from_classes,
    soil_from_rasters,
    write_landuse_polygons,
    write_local_dem,
    write_local_landcover,
    write_local_ndvi,
    write_local_rain,
)
from pipeline.sources.local.source import (
    PROVIDES,
    _section,
    _write_soil_from_config,
    _write_survey_from_config,
    _write_zones_from_config,
    aoi_pixel_mask,
    load_or_prepare_grid,
    prepare_grid,
    prepare_inputs,
    resolve_path,
    write_aoi_as_zone,
)
from pipeline.sources.local.vectors import (
    _require_columns,
    read_survey,
    read_zones,
)
