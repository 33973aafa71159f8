# ruff: noqa: F401  (re-exports: the package keeps the module's import path)
"""Earth Engine source: pure expression builders, tiled ``computePixels`` fetchers.

Two halves, so the exact requests can be checked offline
(``ee.apitestcase.ApiTestCase``):

- **Builders** (``build_*``, ``compute_pixels_requests``, ``ee_request_grid``)
  make ``ee`` objects and request bodies with no I/O: no ``getInfo``, no
  ``ee.Initialize``.
- **Fetchers** (``initialize``, ``fetch_image``, ``fetch_*``) authenticate, run
  the requests with retries and exponential backoff on HTTP 429/5xx, show
  progress (tqdm), cache every download with provenance (asset IDs, dates,
  request hash; ``pipeline.sources._cache``) so a rerun does not download
  again, and write the standard inputs (docs/contract.md).

Requests are made on an EPSG grid (UTM zone of the AOI centre, or the analysis
grid itself when it has an EPSG code), because Xee and ``PixelGrid.crsCode``
take EPSG codes and a custom WKT (our AOI-local Albers) is not known to be
accepted; the result is reprojected once, locally, onto the analysis grid
(``pipeline.sources.local.reproject_to_grid``: bilinear for continuous data,
mode for classes).

What is hand-written and why: request tiling under the ``computePixels`` limits
(48 MB per request, 32 768 px per side, 1 024 bands; Earth Engine REST reference,
projects.image.computePixels) — Xee tiles only collections it opens itself and
geedim's tiler drives ``getDownloadURL``, neither exposes the request bodies for
offline tests; the half-month compositing with gap filling (the calendar of the
Zhang Wenbo et al. 2002 erosivity model), and the unit conversions below.

Unit conversions applied by the builders:

- SoilGrids 2.0 (Poggio et al. 2021, SOIL 7:217–240; ISRIC FAQ "conversion
  factors"): sand/silt/clay are stored in g/kg → ÷10 gives %; soil organic
  carbon in dg/kg → ÷10 gives g/kg, ÷10 again gives % (so ÷100 in all).
- Sentinel-2 ``S2_SR_HARMONIZED`` is already shifted back to the pre-04.00 DN
  range, so no BOA offset is removed here (unlike the STAC source).
- CHIRPS daily ``precipitation`` is mm/day (Funk et al. 2015, Sci. Data 2:150066).

Modules (this package re-exports their names, so ``from pipeline.sources.earthengine
import X`` keeps working): ``builders`` (pure: expressions, request grids and bodies),
``transport`` (authentication, retries, tiled downloads, cache) and ``fetchers``
(``fetch_*`` and ``prepare_inputs``).
"""

from pipeline.sources.earthengine.builders import (
    CHIRPS_DAILY,
    CHIRPS_RES_DEG,
    CLOUD_SCORE_PLUS,
    DEM_DATASETS,
    DTYPES,
    MAX_BANDS,
    MAX_GRID_DIM,
    MAX_REQUEST_BYTES,
    NPY_HEADER_LIMIT,
    S2_COLLECTION,
    SOILGRIDS_ASSET,
    WORLDCOVER_VERSIONS,
    _ee_geometry,
    _pixel_grid,
    _split,
    build_chirps_daily,
    build_dem,
    build_s2_ndvi_halfmonths,
    build_soilgrids,
    build_worldcover,
    chirps_request_grid,
    compute_pixels_requests,
    ee_request_grid,
    grid_affine,
    grid_lonlat_polygon,
    halfmonth_periods,
    ndvi_period_stack,
    prepare_for_download,
    utm_crs_code,
)
from pipeline.sources.earthengine.fetchers import (
    PROVIDES,
    RAIN_RECORD_YEARS,
    _tags,
    fetch_chirps,
    fetch_dem,
    fetch_landcover,
    fetch_ndvi,
    fetch_soil,
    prepare_inputs,
)
from pipeline.sources.earthengine.transport import (
    _QUOTA_WORDS,
    _SERVER_WORDS,
    HIGH_VOLUME_URL,
    KEY_ENV,
    _asset_ids,
    _cache_path,
    _ensure_initialized,
    _http_status,
    _write_download,
    call_with_retries,
    fetch_image,
    initialize,
)

__all__ = [
    "build_chirps_daily",
    "build_dem",
    "build_s2_ndvi_halfmonths",
    "build_soilgrids",
    "build_worldcover",
    "call_with_retries",
    "chirps_request_grid",
    "compute_pixels_requests",
    "ee_request_grid",
    "fetch_chirps",
    "fetch_dem",
    "fetch_image",
    "fetch_landcover",
    "fetch_ndvi",
    "fetch_soil",
    "grid_lonlat_polygon",
    "halfmonth_periods",
    "initialize",
    "ndvi_period_stack",
    "prepare_for_download",
    "prepare_inputs",
    "utm_crs_code",
]
