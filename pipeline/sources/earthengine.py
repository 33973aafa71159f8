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
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import ee
import numpy as np
import rasterio
import shapely
import xarray as xr
from affine import Affine
from pyproj import CRS, Transformer

from pipeline import landcover
from pipeline.errors import (
    AuthenticationError,
    ConfigError,
    GridError,
    InputDataError,
    QuotaError,
    SourceError,
)
from pipeline.grid import AnalysisGrid
from pipeline.io import atomic_path
from pipeline.sources import _cache
from pipeline.sources.local import (
    N_PERIODS,
    NDVI_NODATA,
    NDVI_SCALE,
    PERIOD_NAMES,
    SOIL_BANDS,
    WORLDCOVER_TO_SHUIBAO,
    landcover_on_grid,
    rain_lattice,
    reproject_to_grid,
    write_dem,
    write_landcover,
    write_ndvi,
    write_rain_daily,
    write_soil,
)

S2_COLLECTION = "COPERNICUS/S2_SR_HARMONIZED"
CLOUD_SCORE_PLUS = "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED"
CHIRPS_DAILY = "UCSB-CHG/CHIRPS/DAILY"
CHIRPS_RES_DEG = 0.05
SOILGRIDS_ASSET = "projects/soilgrids-isric/{var}_mean"
#: DEM datasets: id → (is an ImageCollection, elevation band).
DEM_DATASETS = {
    "COPERNICUS/DEM/GLO30": (True, "DEM"),
    "NASA/NASADEM_HGT/001": (False, "elevation"),
}
WORLDCOVER_VERSIONS = {"v100": 2020, "v200": 2021}
#: computePixels limits (Earth Engine REST reference, projects.image.computePixels).
MAX_REQUEST_BYTES = 48e6
MAX_GRID_DIM = 32768
MAX_BANDS = 1024
#: numpy's default max_header_size for np.load (numpy >= 1.24.1).
NPY_HEADER_LIMIT = 10000
#: dtype → (ee.Image cast method, bytes per pixel, default fill for masked pixels).
DTYPES = {
    "uint8": ("toUint8", 1, 255),
    "int16": ("toInt16", 2, -32768),
    "uint16": ("toUint16", 2, 65535),
    "int32": ("toInt32", 4, -2147483648),
    "float32": ("toFloat", 4, -9999.0),
}
HIGH_VOLUME_URL = ee.data.HIGH_VOLUME_API_BASE_URL
#: Default environment variable holding the service-account JSON key.
KEY_ENV = "EE_SERVICE_ACCOUNT_KEY"


# ====================================================================== builders
def _ee_geometry(aoi_geom) -> ee.Geometry:
    """ee.Geometry from an ee.Geometry, shapely geometry or GeoJSON mapping (lon/lat)."""
    if isinstance(aoi_geom, ee.Geometry):
        return aoi_geom
    if isinstance(aoi_geom, shapely.Geometry):
        aoi_geom = shapely.geometry.mapping(aoi_geom)
    if isinstance(aoi_geom, Mapping):
        geojson = json.loads(json.dumps(aoi_geom))  # tuples → lists
        return ee.Geometry(geojson, "EPSG:4326", False)
    raise InputDataError(
        f"AOI for Earth Engine must be an ee.Geometry, shapely geometry or GeoJSON, "
        f"not {type(aoi_geom).__name__}"
    )


def grid_lonlat_polygon(grid: AnalysisGrid) -> shapely.Polygon:
    """The analysis grid's outline in lon/lat (densified), e.g. as an AOI for filterBounds."""
    tr = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    ring = shapely.segmentize(shapely.box(*grid.bounds), max(grid.res) * 50)
    xs, ys = tr.transform(*np.asarray(ring.exterior.coords).T)
    return shapely.Polygon(
        [(round(float(x), 7), round(float(y), 7)) for x, y in zip(xs, ys, strict=True)]
    )


def build_dem(aoi_geom, *, dataset: str = "COPERNICUS/DEM/GLO30") -> ee.Image:
    """Elevation (m) as one float image, band ``elevation``, bilinear when resampled.

    Copernicus GLO-30 is a tiled ImageCollection: its mosaic gets the tiles'
    projection back with ``setDefaultProjection`` (a bare mosaic has a 1° WGS84
    default projection). Heights: GLO-30 EGM2008; NASADEM EGM96 — do not mix.

    Examples
    --------
    >>> img = build_dem(shapely.box(116.3, 25.6, 116.5, 25.8))  # doctest: +SKIP
    """
    if dataset not in DEM_DATASETS:
        raise ConfigError(
            f"DEM dataset {dataset!r} is not supported; use one of {list(DEM_DATASETS)}"
        )
    is_collection, band = DEM_DATASETS[dataset]
    if is_collection:
        tiles = ee.ImageCollection(dataset).filterBounds(_ee_geometry(aoi_geom)).select(band)
        image = tiles.mosaic().setDefaultProjection(tiles.first().projection())
    else:
        image = ee.Image(dataset).select(band)
    return image.rename("elevation").toFloat().resample("bilinear")


def halfmonth_periods(year: int) -> list[tuple[int, dt.date, dt.date]]:
    """(period, first day, day after the last) of the 24 half-months of ``year``."""
    out = []
    for month in range(1, 13):
        first = dt.date(year, month, 1)
        mid = dt.date(year, month, 16)
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        out += [(2 * month - 1, first, mid), (2 * month, mid, nxt)]
    return out


def build_s2_ndvi_halfmonths(
    aoi_geom,
    year: int,
    *,
    cs_threshold: float = 0.6,
    cs_band: str = "cs_cdf",
    max_cloud_pct: float | None = 80.0,
    gap_fill: bool = True,
    windows: Sequence[int] = (1, 3),
) -> ee.ImageCollection:
    """24 half-month NDVI composites of Sentinel-2 SR (harmonized), Cloud Score+ masked.

    Parameters
    ----------
    aoi_geom : ee.Geometry, shapely geometry or GeoJSON (lon/lat)
        Scenes are filtered to those intersecting it.
    year : int
        Calendar year; period 1 = Jan 1–15, 2 = Jan 16–31, …
    cs_threshold : float
        Keep pixels with Cloud Score+ ``cs_band`` ≥ this (0–1; 0.6 is the
        value geedim defaults to).
    cs_band : {"cs_cdf", "cs"}
        Cloud Score+ band.
    max_cloud_pct : float or None
        Drop scenes with ``CLOUDY_PIXEL_PERCENTAGE`` ≥ this, %.
    gap_fill : bool
        Fill pixels with no clear observation in their period by the median of
        observations within ±w periods for each w in ``windows``, then by the
        annual median (the same cascade as ``pipeline.sources.stac``).
    windows : sequence of int
        Half-widths of the filling windows, in periods.

    Returns
    -------
    ee.ImageCollection
        24 images (``ImageCollection.fromImages``) with bands ``ndvi`` (float,
        −1…1), ``valid_obs`` (uint16 clear observations in the period) and
        ``fill_level`` (uint8: 0 own period, i the i-th window,
        len(windows)+1 annual, 255 none); properties ``period`` and
        ``system:time_start`` (period start, UTC ms).
    """
    if not 0.0 <= cs_threshold <= 1.0:
        raise ConfigError(f"cs_threshold must be within 0–1, got {cs_threshold!r}")
    if cs_band not in ("cs", "cs_cdf"):
        raise ConfigError(f"cs_band must be 'cs' or 'cs_cdf', got {cs_band!r}")
    aoi = _ee_geometry(aoi_geom)
    periods = halfmonth_periods(year)
    scenes = (
        ee.ImageCollection(S2_COLLECTION)
        .filterBounds(aoi)
        .filterDate(periods[0][1].isoformat(), periods[-1][2].isoformat())
    )
    if max_cloud_pct is not None:
        scenes = scenes.filter(ee.Filter.lt("CLOUDY_PIXEL_PERCENTAGE", max_cloud_pct))
    linked = scenes.linkCollection(ee.ImageCollection(CLOUD_SCORE_PLUS), [cs_band])

    def _masked_ndvi(image):
        image = ee.Image(image)
        clear = image.select(cs_band).gte(cs_threshold)
        ndvi = image.normalizedDifference(["B8", "B4"]).rename("ndvi").updateMask(clear)
        return ndvi.set("system:time_start", image.get("system:time_start"))

    obs = linked.map(_masked_ndvi)
    empty = ee.Image.constant(0).toFloat().rename("ndvi").updateMask(ee.Image.constant(0))

    def _window(lo: int, hi: int) -> ee.ImageCollection:
        lo, hi = max(lo, 1), min(hi, N_PERIODS)
        start, end = periods[lo - 1][1], periods[hi - 1][2]
        chosen = obs.filterDate(start.isoformat(), end.isoformat())
        return ee.ImageCollection.fromImages([empty]).merge(chosen)

    annual = _window(1, N_PERIODS).median()
    images = []
    for p, start, _end in periods:
        own_obs = _window(p, p)
        own = own_obs.median()
        filled, level = own, ee.Image.constant(255)
        if gap_fill:
            candidates = [_window(p - w, p + w).median() for w in windows] + [annual]
            for cand in candidates:
                filled = filled.unmask(cand, False)
            for i in range(len(candidates), 0, -1):
                level = level.where(candidates[i - 1].mask(), i)
        level = level.where(own.mask(), 0)
        image = ee.Image.cat(
            [
                filled.rename("ndvi"),
                own_obs.count().unmask(0).toUint16().rename("valid_obs"),
                level.toUint8().rename("fill_level"),
            ]
        ).set(
            {
                "period": p,
                "system:time_start": int(
                    dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp()
                    * 1000
                ),
            }
        )
        images.append(image)
    return ee.ImageCollection.fromImages(images)


def ndvi_period_stack(collection: ee.ImageCollection, *, band: str = "ndvi") -> ee.Image:
    """One image with bands P01..P24 from the collection of build_s2_ndvi_halfmonths."""
    return collection.select([band]).toBands().rename(PERIOD_NAMES)


def build_chirps_daily(aoi_geom, years: Sequence[int]) -> ee.ImageCollection:
    """CHIRPS daily precipitation (mm/day, 0.05°) for consecutive ``years``.

    ``aoi_geom`` is accepted for symmetry; CHIRPS images are global (50°S–50°N),
    so the request grid (:func:`chirps_request_grid`) does the spatial cut.
    """
    years = sorted(int(y) for y in years)
    if not years or years != list(range(years[0], years[-1] + 1)):
        raise ConfigError(f"rainfall years must be consecutive, got {years}")
    _ee_geometry(aoi_geom)  # validate the AOI type
    return (
        ee.ImageCollection(CHIRPS_DAILY)
        .filterDate(f"{years[0]}-01-01", f"{years[-1] + 1}-01-01")
        .select("precipitation")
    )


def build_soilgrids(
    aoi_geom, *, depths: Sequence[str] = ("0-5cm", "5-15cm", "15-30cm")
) -> ee.Image:
    """SoilGrids 2.0 topsoil texture and organic carbon in %, thickness-weighted over ``depths``.

    Bands ``sand_pct``, ``silt_pct``, ``clay_pct`` (g/kg ÷ 10) and
    ``organic_carbon_pct`` (soc dg/kg ÷ 100), float, bilinear when resampled.
    Default depths average the top 30 cm by layer thickness (5, 10, 15 cm).
    """
    _ee_geometry(aoi_geom)
    thickness = {}
    for d in depths:
        try:
            top, bottom = (int(v) for v in d.removesuffix("cm").split("-"))
        except ValueError as exc:
            raise ConfigError(f"SoilGrids depth {d!r} is not like '0-5cm'") from exc
        thickness[d] = bottom - top
    total = sum(thickness.values())
    bands = []
    for var, name, divisor in (
        ("sand", "sand_pct", 10.0),
        ("silt", "silt_pct", 10.0),
        ("clay", "clay_pct", 10.0),
        ("soc", "organic_carbon_pct", 100.0),
    ):
        stored = ee.Image(SOILGRIDS_ASSET.format(var=var))
        acc = None
        for d in depths:
            term = stored.select(f"{var}_{d}_mean").multiply(thickness[d] / total / divisor)
            acc = term if acc is None else acc.add(term)
        bands.append(acc.rename(name))
    return ee.Image.cat(bands).toFloat().resample("bilinear")


def build_worldcover(aoi_geom, *, version: str = "v200", recode: Mapping | None = None) -> ee.Image:
    """ESA WorldCover (band ``Map``) recoded to Shuibao land-cover codes, uint8.

    ``recode`` maps WorldCover codes to Shuibao codes (default
    ``WORLDCOVER_TO_SHUIBAO``). Codes not in the table become 255 (nodata);
    v100 (2020) and v200 (2021) use different algorithms — do not difference them.
    """
    if version not in WORLDCOVER_VERSIONS:
        raise ConfigError(f"WorldCover version {version!r}: use one of {list(WORLDCOVER_VERSIONS)}")
    _ee_geometry(aoi_geom)
    table = recode or WORLDCOVER_TO_SHUIBAO
    src = sorted(int(k) for k in table)
    dst = [int(landcover.CODE_BY_KEY.get(table[k], table[k])) for k in src]
    image = ee.ImageCollection(f"ESA/WorldCover/{version}").first().select("Map")
    return image.remap(src, dst, landcover.NODATA).toUint8().rename("landcover")


# ------------------------------------------------------------------ request grids
def _pixel_grid(crs_code: str, transform: Affine, width: int, height: int) -> dict:
    return {
        "dimensions": {"width": int(width), "height": int(height)},
        "affineTransform": {
            "scaleX": float(transform.a),
            "shearX": float(transform.b),
            "translateX": float(transform.c),
            "shearY": float(transform.d),
            "scaleY": float(transform.e),
            "translateY": float(transform.f),
        },
        "crsCode": crs_code,
    }


def grid_affine(pixel_grid: Mapping) -> Affine:
    """The Affine of a PixelGrid dict."""
    t = pixel_grid["affineTransform"]
    return Affine(
        t["scaleX"],
        t.get("shearX", 0.0),
        t["translateX"],
        t.get("shearY", 0.0),
        t["scaleY"],
        t["translateY"],
    )


def utm_crs_code(lon: float, lat: float) -> str:
    """EPSG code of the WGS84 UTM zone containing (lon, lat), e.g. ``"EPSG:32650"``."""
    zone = int((lon + 180) // 6) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def ee_request_grid(
    grid: AnalysisGrid, *, scale_m: float | None = None, crs_code: str | None = None
) -> dict:
    """A PixelGrid (EPSG ``crsCode``) that covers ``grid`` with a 2-pixel margin.

    When ``grid`` already has an EPSG code and ``scale_m``/``crs_code`` are not
    given, its own transform is used, exactly. Otherwise the UTM zone of the
    grid centre (or ``crs_code``) at ``scale_m`` (default: the grid's pixel
    size), origin snapped to multiples of the scale.

    Examples
    --------
    >>> g = AnalysisGrid.from_bounds("EPSG:32650", 0, 0, 300, 200, 10)
    >>> ee_request_grid(g)["crsCode"], ee_request_grid(g)["dimensions"]
    ('EPSG:32650', {'width': 30, 'height': 20})
    """
    epsg = grid.crs.to_epsg()
    if epsg is not None and scale_m is None and crs_code in (None, f"EPSG:{epsg}"):
        return _pixel_grid(f"EPSG:{epsg}", grid.transform, grid.width, grid.height)
    scale = float(scale_m or max(grid.res))
    if crs_code is None:
        lon0, lat0, lon1, lat1 = Transformer.from_crs(
            grid.crs, "EPSG:4326", always_xy=True
        ).transform_bounds(*grid.bounds, densify_pts=21)
        crs_code = utm_crs_code(0.5 * (lon0 + lon1), 0.5 * (lat0 + lat1))
    target = CRS.from_user_input(crs_code)
    if target.is_geographic:
        raise GridError(f"request CRS {crs_code} is geographic; scale_m needs metres")
    left, bottom, right, top = Transformer.from_crs(
        grid.crs, target, always_xy=True
    ).transform_bounds(*grid.bounds, densify_pts=21)
    left = math.floor(left / scale - 2) * scale
    top = math.ceil(top / scale + 2) * scale
    width = math.ceil((right - left) / scale + 2)
    height = math.ceil((top - bottom) / scale + 2)
    return _pixel_grid(crs_code, Affine(scale, 0, left, 0, -scale, top), width, height)


def chirps_request_grid(grid: AnalysisGrid, *, res_deg: float = CHIRPS_RES_DEG) -> dict:
    """EPSG:4326 PixelGrid on CHIRPS' native 0.05° lattice covering ``grid`` plus one cell."""
    transform, width, height = rain_lattice(grid, res_deg=res_deg)
    return _pixel_grid("EPSG:4326", transform, width, height)


def _split(total: int, max_len: int) -> list[tuple[int, int]]:
    n = math.ceil(total / max_len)
    size = math.ceil(total / n)
    return [(off, min(size, total - off)) for off in range(0, total, size)]


def compute_pixels_requests(
    image: ee.Image,
    grid: Mapping,
    *,
    band_ids: Sequence[str],
    dtype_bytes: int,
    max_bytes: float = MAX_REQUEST_BYTES,
    max_dim: int = MAX_GRID_DIM,
    max_bands: int = MAX_BANDS,
    file_format: str = "NUMPY_NDARRAY",
) -> list[dict]:
    """Split a download into ``ee.data.computePixels`` request bodies under the limits.

    Parameters
    ----------
    image : ee.Image
        The expression (bands ``band_ids``, already cast to the output type).
    grid : mapping
        PixelGrid: ``dimensions`` {width, height}, ``affineTransform`` {scaleX,
        shearX, translateX, shearY, scaleY, translateY}, ``crsCode``
        (e.g. from :func:`ee_request_grid`).
    band_ids : sequence of str
        Bands to fetch.
    dtype_bytes : int
        Bytes per pixel and band of the output type.
    max_bytes : float
        Uncompressed payload limit per request, bytes (EE: 48 MB).
    max_dim : int
        Maximum width or height per request, px (EE: 32 768).
    max_bands : int
        Maximum bands per request (EE: 1 024). For ``NUMPY_NDARRAY`` the band
        groups are also kept small enough for the .npy header to stay under
        numpy's 10 000-byte ``max_header_size`` (about 260 bands with CHIRPS
        names like ``20200101_precipitation``), which ``np.load`` otherwise refuses.
    file_format : str
        ``"NUMPY_NDARRAY"`` (structured array, one field per band) or ``"GEO_TIFF"``.

    Returns
    -------
    list of dict
        Request bodies ``{"expression", "fileFormat", "bandIds", "grid"}`` in
        row-major tile order (band groups outermost); each tile's grid is the
        full grid's transform shifted to the tile origin. Every body satisfies
        width·height·len(bandIds)·dtype_bytes ≤ max_bytes and sides ≤ max_dim.

    Examples
    --------
    >>> reqs = compute_pixels_requests(img, grid, band_ids=["elevation"], dtype_bytes=4)  # doctest: +SKIP
    """
    band_ids = list(band_ids)
    if not band_ids:
        raise ConfigError("compute_pixels_requests: no band_ids")
    width, height = int(grid["dimensions"]["width"]), int(grid["dimensions"]["height"])
    transform = grid_affine(grid)
    per_group = min(len(band_ids), max_bands)
    if file_format == "NUMPY_NDARRAY":
        # numpy.load (used by earthengine-api's NPY converter) refuses .npy headers
        # over 10,000 bytes; each band field adds len(name) + 13 bytes to the header.
        longest = max(len(b) for b in band_ids)
        per_group = max(1, min(per_group, (NPY_HEADER_LIMIT - 400) // (longest + 13)))
    while per_group > 1 and per_group * dtype_bytes > max_bytes:
        per_group //= 2
    if per_group * dtype_bytes > max_bytes:
        raise ConfigError(f"one pixel of {dtype_bytes} bytes exceeds max_bytes={max_bytes}")
    # Near-square tiles that fill the byte limit: side = sqrt(max pixels per request).
    max_pixels = int(max_bytes // (per_group * dtype_bytes))
    tile_w = max(1, min(width, max_dim, math.isqrt(max_pixels)))
    tile_h = max(1, min(height, max_dim, max_pixels // tile_w))
    if tile_h == height:  # short grid: give the spare pixels to the width
        tile_w = max(1, min(width, max_dim, max_pixels // tile_h))
    bodies = []
    for b0 in range(0, len(band_ids), per_group):
        group = band_ids[b0 : b0 + per_group]
        for row_off, h in _split(height, tile_h):
            for col_off, w in _split(width, tile_w):
                tile_t = transform @ Affine.translation(col_off, row_off)
                bodies.append(
                    {
                        "expression": image,
                        "fileFormat": file_format,
                        "bandIds": list(group),
                        "grid": _pixel_grid(grid["crsCode"], tile_t, w, h),
                    }
                )
    return bodies


def prepare_for_download(
    image: ee.Image, *, band_ids: Sequence[str], dtype: str, fill_value=None
) -> ee.Image:
    """Select ``band_ids``, cast to ``dtype`` and fill masked pixels with ``fill_value``."""
    if dtype not in DTYPES:
        raise ConfigError(f"dtype {dtype!r} not supported; use one of {list(DTYPES)}")
    cast, _, default_fill = DTYPES[dtype]
    fill = default_fill if fill_value is None else fill_value
    return getattr(image.select(list(band_ids)), cast)().unmask(fill, False)


# ===================================================================== fetchers
def initialize(
    *,
    project: str | None = None,
    key_env: str = "EE_SERVICE_ACCOUNT_KEY",
    high_volume: bool = True,
) -> str:
    """Authenticate and initialise Earth Engine; return the project used.

    Credentials, in order: the service-account JSON key in environment variable
    ``key_env`` (the key's content, or a path to the key file); else Google
    application-default credentials (``GOOGLE_APPLICATION_CREDENTIALS`` or
    ``gcloud auth application-default login``). The project defaults to the
    key's ``project_id`` / the ADC project. ``high_volume`` uses the
    high-volume endpoint (for stored collections; Earth Engine "Usage" guide).

    Raises
    ------
    AuthenticationError
        No or unusable credentials, naming what to set.
    """
    scopes = [
        "https://www.googleapis.com/auth/cloud-platform",
        "https://www.googleapis.com/auth/earthengine",
    ]
    raw = os.environ.get(key_env, "").strip()
    if raw:
        text = raw
        if not raw.startswith("{"):
            try:
                text = Path(raw).read_text(encoding="utf-8")
            except OSError as exc:
                raise AuthenticationError(
                    f"environment variable {key_env} is neither a JSON service-account key nor "
                    f"a readable key file path ({raw[:80]!r}): {exc}"
                ) from exc
        try:
            info = json.loads(text)
            email = info["client_email"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthenticationError(
                f"environment variable {key_env} does not hold a service-account JSON key "
                "(expected fields client_email, private_key, project_id)"
            ) from exc
        try:
            credentials = ee.ServiceAccountCredentials(email, key_data=text)
        except Exception as exc:
            raise AuthenticationError(
                f"service-account key in {key_env} was refused: {exc}"
            ) from exc
        project = project or info.get("project_id")
    else:
        import google.auth
        import google.auth.exceptions

        try:
            credentials, adc_project = google.auth.default(scopes=scopes)
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise AuthenticationError(
                f"no Earth Engine credentials: set {key_env} to a service-account JSON key "
                "(its content or a file path), or configure application-default credentials "
                "(GOOGLE_APPLICATION_CREDENTIALS=/path/key.json or "
                "`gcloud auth application-default login`)"
            ) from exc
        project = project or adc_project
    if not project:
        raise AuthenticationError(
            "no Google Cloud project for Earth Engine: set source.earthengine.project in the "
            "config (a project registered for Earth Engine)"
        )
    try:
        ee.Initialize(credentials, project=project, url=HIGH_VOLUME_URL if high_volume else None)
    except ee.EEException as exc:
        raise AuthenticationError(
            f"Earth Engine refused the credentials for project {project!r}: {exc}"
        ) from exc
    return project


def _ensure_initialized(project, key_env) -> None:
    if not ee.data.is_initialized():
        initialize(project=project, key_env=key_env)


_QUOTA_WORDS = ("too many", "quota", "rate limit", "capacity exceeded", "concurrent")
_SERVER_WORDS = ("internal error", "backend error", "service unavailable", "deadline", "timed out")


def _http_status(exc: BaseException) -> int | None:
    """HTTP status behind an EEException (429, 5xx) or None if not retryable."""
    for cause in (exc, exc.__cause__, exc.__context__):
        status = getattr(getattr(cause, "resp", None), "status", None)
        if status is not None:
            status = int(status)
            return status if status == 429 or status >= 500 else None
    msg = str(exc).lower()
    if "429" in msg or any(w in msg for w in _QUOTA_WORDS):
        return 429
    if any(code in msg for code in ("500", "502", "503", "504")) or any(
        w in msg for w in _SERVER_WORDS
    ):
        return 503
    return None


def call_with_retries(
    fn: Callable[[], object],
    *,
    what: str,
    max_retries: int = 5,
    backoff_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
):
    """Call ``fn``; on HTTP 429/5xx wait ``backoff_s · 2**attempt`` s and retry.

    After ``max_retries`` retries a 429 raises QuotaError, a 5xx SourceError;
    any other Earth Engine error raises SourceError at once. ``sleep`` is
    injectable so tests do not wait.
    """
    for attempt in range(max_retries + 1):
        try:
            return fn()
        except ee.EEException as exc:
            status = _http_status(exc)
            if status is None:
                raise SourceError(f"Earth Engine request failed ({what}): {exc}") from exc
            if attempt == max_retries:
                if status == 429:
                    raise QuotaError(
                        f"Earth Engine quota or rate limit hit ({what}) after {max_retries} "
                        f"retries: {exc}. Wait, lower the request rate, or check the project's "
                        "EECU quota (https://developers.google.com/earth-engine/guides/usage)"
                    ) from exc
                raise SourceError(
                    f"Earth Engine server error {status} ({what}) after {max_retries} retries: {exc}"
                ) from exc
            sleep(backoff_s * 2**attempt)
    raise AssertionError("unreachable")


def _asset_ids(serialized: str) -> list[str]:
    ids: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("functionName") in ("ImageCollection.load", "Image.load"):
                value = node.get("arguments", {}).get("id", {}).get("constantValue")
                if isinstance(value, str):
                    ids.add(value)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(serialized))
    return sorted(ids)


def fetch_image(
    image: ee.Image,
    out_path,
    grid: Mapping,
    *,
    band_ids: Sequence[str],
    dtype: str = "float32",
    fill_value=None,
    provenance: Mapping | None = None,
    max_bytes: float = MAX_REQUEST_BYTES,
    max_dim: int = MAX_GRID_DIM,
    max_retries: int = 5,
    backoff_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool = True,
    project: str | None = None,
    key_env: str = KEY_ENV,
) -> Path:
    """Download ``image`` on the request ``grid`` to a GeoTIFF, tiled, retried and cached.

    Parameters
    ----------
    image : ee.Image
        Expression to download.
    out_path : path
        GeoTIFF written (atomically) on ``grid``, bands ``band_ids`` (band
        descriptions), masked pixels = ``fill_value`` (its nodata). A sidecar
        ``<out_path>.provenance.json`` records request hash, asset IDs,
        ``provenance`` (e.g. dates) and the number of requests; when it matches,
        nothing is downloaded.
    grid : mapping
        PixelGrid with an EPSG ``crsCode`` (see :func:`ee_request_grid`).
    band_ids, dtype, fill_value
        Bands, output type (``DTYPES``) and fill for masked pixels (default per type).
    max_bytes, max_dim
        Per-request limits (see :func:`compute_pixels_requests`).
    max_retries, backoff_s, sleep
        Retry policy for HTTP 429/5xx (see :func:`call_with_retries`).
    progress : bool
        Show a tqdm progress bar over the requests.
    project, key_env
        Used to initialise Earth Engine if it is not yet initialised.

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    from tqdm.auto import tqdm

    _, nbytes, default_fill = DTYPES.get(dtype, (None, None, None))
    if nbytes is None:
        raise ConfigError(f"dtype {dtype!r} not supported; use one of {list(DTYPES)}")
    fill = default_fill if fill_value is None else fill_value
    band_ids = list(band_ids)
    _ensure_initialized(project, key_env)
    prepared = prepare_for_download(image, band_ids=band_ids, dtype=dtype, fill_value=fill)
    serialized = prepared.serialize(for_cloud_api=True)
    key = _cache.request_hash(
        {
            "expression": serialized,
            "grid": dict(grid),
            "band_ids": band_ids,
            "dtype": dtype,
            "fill": fill,
        }
    )
    out_path = Path(out_path)
    if _cache.is_cached(out_path, key):
        return out_path
    requests = compute_pixels_requests(
        prepared, grid, band_ids=band_ids, dtype_bytes=nbytes, max_bytes=max_bytes, max_dim=max_dim
    )
    width, height = grid["dimensions"]["width"], grid["dimensions"]["height"]
    full = np.full((len(band_ids), height, width), fill, dtype=dtype)
    transform = grid_affine(grid)
    for body in tqdm(
        requests, desc=f"Earth Engine → {out_path.name}", unit="tile", disable=not progress
    ):
        t = grid_affine(body["grid"])
        col0, row0 = (int(round(v)) for v in ~transform @ (t.c, t.f))
        h, w = body["grid"]["dimensions"]["height"], body["grid"]["dimensions"]["width"]
        pixels = call_with_retries(
            lambda body=body: ee.data.computePixels(body),
            what=f"computePixels {out_path.name} rows {row0}–{row0 + h} cols {col0}–{col0 + w}",
            max_retries=max_retries,
            backoff_s=backoff_s,
            sleep=sleep,
        )
        for band in body["bandIds"]:
            full[band_ids.index(band), row0 : row0 + h, col0 : col0 + w] = pixels[band]
    _write_download(
        full, out_path, crs=grid["crsCode"], transform=transform, nodata=fill, band_names=band_ids
    )
    _cache.write_provenance(
        out_path,
        key,
        asset_ids=_asset_ids(serialized),
        grid=dict(grid),
        band_ids=band_ids,
        dtype=dtype,
        fill_value=fill,
        n_requests=len(requests),
        earthengine_api=ee.__version__,
        **dict(provenance or {}),
    )
    return out_path


def _write_download(data, path, *, crs, transform, nodata, band_names) -> Path:
    """A plain tiled GeoTIFF (atomic): the raw download on the request grid.

    Not a COG: it is an intermediate, and building overviews for hundreds of
    CHIRPS bands would cost more than the download.
    """
    path = Path(path)
    profile = dict(
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
        interleave="band",
    )
    if data.shape[1] < 256 or data.shape[2] < 256:
        profile.update(tiled=False)
        profile.pop("blockxsize")
        profile.pop("blockysize")
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = tuple(band_names)
    return path


def _cache_path(out_path, cache_dir, name: str) -> Path:
    """Where a raw download goes (``<out dir>/.ee_cache/`` unless ``cache_dir``).

    The ``fetch_*`` functions build ``ee`` objects, which needs an initialised
    client, so they call :func:`initialize` first when needed (with
    ``project``/``key_env`` from their keyword arguments).
    """
    folder = Path(cache_dir) if cache_dir else Path(out_path).parent / ".ee_cache"
    return folder / name


def _tags(path: Path) -> dict:
    record = _cache.read_provenance(path) or {}
    return {
        "source": "earthengine",
        "ee_assets": ",".join(record.get("asset_ids", [])),
        "ee_request_hash": record.get("request_hash", ""),
    }


def fetch_dem(
    grid: AnalysisGrid,
    out_path,
    *,
    aoi_geom=None,
    dataset: str = "COPERNICUS/DEM/GLO30",
    request_res_m: float = 30.0,
    cache_dir=None,
    **fetch_kw,
) -> Path:
    """Download the DEM around ``grid`` and write ``dem.tif`` (bilinear onto the grid)."""
    _ensure_initialized(fetch_kw.get("project"), fetch_kw.get("key_env", KEY_ENV))
    image = build_dem(aoi_geom or grid_lonlat_polygon(grid), dataset=dataset)
    raw = fetch_image(
        image,
        _cache_path(out_path, cache_dir, "dem_raw.tif"),
        ee_request_grid(grid, scale_m=request_res_m),
        band_ids=["elevation"],
        dtype="float32",
        provenance={"dataset": dataset},
        **fetch_kw,
    )
    dem = reproject_to_grid(raw, grid, kind="continuous")
    return write_dem(dem, out_path, grid=grid, tags=_tags(raw))


def fetch_ndvi(
    grid: AnalysisGrid,
    year: int,
    out_path,
    *,
    aoi_geom=None,
    cs_threshold: float = 0.6,
    max_cloud_pct: float | None = 80.0,
    gap_fill: bool = True,
    request_res_m: float = 10.0,
    cache_dir=None,
    valid_obs_path=None,
    **fetch_kw,
) -> Path:
    """Download the 24 half-month NDVI composites of ``year``; write ``ndvi_{year}.tif``.

    Fetched as int16 NDVI × 10000 (half the bytes of float), reprojected
    bilinearly onto the grid. ``valid_obs_path`` optionally also writes the
    valid-observation counts (uint16, 24 bands) on the request grid.
    """
    _ensure_initialized(fetch_kw.get("project"), fetch_kw.get("key_env", KEY_ENV))
    collection = build_s2_ndvi_halfmonths(
        aoi_geom or grid_lonlat_polygon(grid),
        year,
        cs_threshold=cs_threshold,
        max_cloud_pct=max_cloud_pct,
        gap_fill=gap_fill,
    )
    stack = ndvi_period_stack(collection).multiply(1 / NDVI_SCALE).round()
    request_grid = ee_request_grid(grid, scale_m=request_res_m)
    prov = {"year": year, "dates": f"{year}-01-01/{year}-12-31", "cs_threshold": cs_threshold}
    raw = fetch_image(
        stack,
        _cache_path(out_path, cache_dir, f"ndvi_{year}_raw.tif"),
        request_grid,
        band_ids=PERIOD_NAMES,
        dtype="int16",
        fill_value=NDVI_NODATA,
        provenance=prov,
        **fetch_kw,
    )
    if valid_obs_path is not None:
        fetch_image(
            ndvi_period_stack(collection, band="valid_obs"),
            valid_obs_path,
            request_grid,
            band_ids=PERIOD_NAMES,
            dtype="uint16",
            fill_value=0,
            provenance=prov,
            **fetch_kw,
        )
    scaled = reproject_to_grid(raw, grid, kind="continuous")
    ndvi = (scaled * NDVI_SCALE).rename({"band": "period"})
    return write_ndvi(ndvi, out_path, grid=grid, tags=_tags(raw))


def fetch_landcover(
    grid: AnalysisGrid,
    out_path,
    *,
    aoi_geom=None,
    version: str = "v200",
    recode: Mapping | None = None,
    request_res_m: float = 10.0,
    cache_dir=None,
    **fetch_kw,
) -> Path:
    """Download ESA WorldCover recoded to Shuibao codes; write ``landcover_{year}.tif`` (mode)."""
    _ensure_initialized(fetch_kw.get("project"), fetch_kw.get("key_env", KEY_ENV))
    image = build_worldcover(aoi_geom or grid_lonlat_polygon(grid), version=version, recode=recode)
    raw = fetch_image(
        image,
        _cache_path(out_path, cache_dir, f"worldcover_{version}_raw.tif"),
        ee_request_grid(grid, scale_m=request_res_m),
        band_ids=["landcover"],
        dtype="uint8",
        fill_value=landcover.NODATA,
        provenance={"version": version, "year": WORLDCOVER_VERSIONS[version]},
        **fetch_kw,
    )
    identity = {c: c for c in landcover.CLASSES}
    lc = landcover_on_grid(raw, grid, recode=identity)
    return write_landcover(lc, out_path, grid=grid, tags=_tags(raw))


def fetch_soil(
    grid: AnalysisGrid,
    out_path,
    *,
    aoi_geom=None,
    depths: Sequence[str] = ("0-5cm", "5-15cm", "15-30cm"),
    request_res_m: float = 250.0,
    cache_dir=None,
    **fetch_kw,
) -> Path:
    """Download SoilGrids texture and organic carbon (%); write ``soil.tif`` (bilinear)."""
    _ensure_initialized(fetch_kw.get("project"), fetch_kw.get("key_env", KEY_ENV))
    image = build_soilgrids(aoi_geom or grid_lonlat_polygon(grid), depths=depths)
    raw = fetch_image(
        image,
        _cache_path(out_path, cache_dir, "soilgrids_raw.tif"),
        ee_request_grid(grid, scale_m=request_res_m),
        band_ids=list(SOIL_BANDS),
        dtype="float32",
        provenance={"depths": list(depths)},
        **fetch_kw,
    )
    soil = reproject_to_grid(raw, grid, kind="continuous").assign_coords(band=list(SOIL_BANDS))
    return write_soil(soil, out_path, grid=grid, tags=_tags(raw))


def fetch_chirps(
    grid: AnalysisGrid,
    years: Sequence[int],
    out_path,
    *,
    aoi_geom=None,
    cache_dir=None,
    **fetch_kw,
) -> Path:
    """Download CHIRPS daily rainfall for consecutive ``years``; write ``rain_daily.nc``.

    One request set per year (366 bands at most, split into band groups, see
    :func:`compute_pixels_requests`) on
    the native 0.05° lattice covering the grid plus one cell. Output: variable
    ``precipitation`` (time, y, x), float32 mm/day, EPSG:4326 (rioxarray).
    """
    _ensure_initialized(fetch_kw.get("project"), fetch_kw.get("key_env", KEY_ENV))
    collection = build_chirps_daily(aoi_geom or grid_lonlat_polygon(grid), years)
    request_grid = chirps_request_grid(grid)
    transform = grid_affine(request_grid)
    arrays, times = [], []
    for year in sorted(years):
        days = [dt.date(year, 1, 1) + dt.timedelta(d) for d in range(365 + calendar.isleap(year))]
        band_ids = [f"{d:%Y%m%d}_precipitation" for d in days]
        image = collection.filterDate(f"{year}-01-01", f"{year + 1}-01-01").toBands()
        raw = fetch_image(
            image,
            _cache_path(out_path, cache_dir, f"chirps_{year}_raw.tif"),
            request_grid,
            band_ids=band_ids,
            dtype="float32",
            provenance={"year": year, "dates": f"{year}-01-01/{year}-12-31"},
            **fetch_kw,
        )
        with rasterio.open(raw) as src:
            data = src.read().astype("float32")
            nodata = src.nodata
        data[data == nodata] = np.nan
        arrays.append(data)
        times += days
    w, h = request_grid["dimensions"]["width"], request_grid["dimensions"]["height"]
    x = transform.c + (np.arange(w) + 0.5) * transform.a
    y = transform.f + (np.arange(h) + 0.5) * transform.e
    rain = xr.DataArray(
        np.concatenate(arrays),
        dims=("time", "y", "x"),
        coords={"time": np.array(times, dtype="datetime64[ns]"), "y": y, "x": x},
        name="precipitation",
        attrs={
            "units": "mm/day",
            "long_name": "CHIRPS daily precipitation",
            "source": CHIRPS_DAILY,
        },
    )
    rain = rain.rio.write_crs("EPSG:4326").rio.write_transform(transform)
    return write_rain_daily(rain, out_path)


# ------------------------------------------------------- configuration → inputs
#: Inputs the Earth Engine source can write (zones and survey are always local).
PROVIDES = frozenset({"dem", "landcover", "ndvi", "rain", "soil"})
#: Default length of the CHIRPS record, years ending with the last assessment year.
RAIN_RECORD_YEARS = 10


def prepare_inputs(
    out_dir,
    cfg: Mapping,
    *,
    years: Sequence[int],
    only: Sequence[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Path]:
    """Write the raster inputs and ``rain_daily.nc`` from Google Earth Engine.

    Parameters
    ----------
    out_dir : path
        ``resources/{aoi}/``; ``grid.json`` and ``aoi.gpkg`` are written first
        from ``cfg["local"]`` (the AOI is always a local file) unless present.
        Raw downloads and their provenance go to ``earthengine.cache_dir``
        (default ``out_dir/.ee_cache``), so a rerun downloads nothing.
    cfg : mapping
        The ``source`` section; its ``earthengine`` part holds the settings
        (configs/schema.yaml, ``source.earthengine``).
    years : sequence of int
        Assessment years. CHIRPS covers ``rain_first_year`` (default: 10 years
        before the last assessment year) … the last year; WorldCover is one
        edition (``worldcover_version``) written as every year's land cover.
    only : sequence of str, optional
        Subset of ``PROVIDES`` (default all five).
    sleep : callable
        Used between retries (injected by tests).

    Returns
    -------
    dict
        File key → path written.

    Raises
    ------
    AuthenticationError
        No credentials (``key_env`` or application-default credentials).
    QuotaError
        A 429 that persists after ``max_retries`` retries.
    """
    from pipeline.sources import local

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(PROVIDES if only is None else set(only))
    unsupported = sorted(set(names) - PROVIDES)
    if unsupported:
        raise ConfigError(
            f"the Earth Engine source cannot provide {unsupported}: township/watershed layers "
            "and survey points come from local files (source.inputs)"
        )
    ee_cfg = dict(cfg.get("earthengine") or {})
    years = sorted(int(y) for y in years)
    grid = local.load_or_prepare_grid(out_dir, cfg)
    key_env = ee_cfg.get("key_env") or KEY_ENV
    project = ee_cfg.get("project")
    if names and not ee.data.is_initialized():
        initialize(project=project, key_env=key_env, high_volume=ee_cfg.get("high_volume", True))
    fetch_kw = dict(
        cache_dir=ee_cfg.get("cache_dir"),
        max_bytes=float(ee_cfg.get("max_bytes") or MAX_REQUEST_BYTES),
        max_retries=int(ee_cfg.get("max_retries", 5)),
        backoff_s=float(ee_cfg.get("backoff_s", 2.0)),
        sleep=sleep,
        project=project,
        key_env=key_env,
    )
    written: dict[str, Path] = {}
    if "dem" in names:
        written["dem"] = fetch_dem(
            grid,
            out_dir / "dem.tif",
            dataset=ee_cfg.get("dem_dataset") or "COPERNICUS/DEM/GLO30",
            request_res_m=float(ee_cfg.get("dem_request_res_m") or 30.0),
            **fetch_kw,
        )
    if "landcover" in names:
        first = out_dir / f"landcover_{years[0]}.tif"
        fetch_landcover(
            grid,
            first,
            version=ee_cfg.get("worldcover_version") or "v200",
            recode=ee_cfg.get("worldcover_recode") or None,
            request_res_m=float(ee_cfg.get("landcover_request_res_m") or 10.0),
            **fetch_kw,
        )
        written[f"landcover_{years[0]}"] = first
        for year in years[1:]:  # one WorldCover edition: the same map every year
            path = out_dir / f"landcover_{year}.tif"
            with atomic_path(path) as tmp:
                tmp.write_bytes(first.read_bytes())
            written[f"landcover_{year}"] = path
    if "ndvi" in names:
        for year in years:
            written[f"ndvi_{year}"] = fetch_ndvi(
                grid,
                year,
                out_dir / f"ndvi_{year}.tif",
                cs_threshold=float(ee_cfg.get("cs_threshold", 0.6)),
                max_cloud_pct=ee_cfg.get("max_cloud_pct", 80.0),
                gap_fill=bool(ee_cfg.get("gap_fill", True)),
                request_res_m=float(ee_cfg.get("ndvi_request_res_m") or 10.0),
                **fetch_kw,
            )
    if "soil" in names:
        written["soil"] = fetch_soil(
            grid,
            out_dir / "soil.tif",
            depths=tuple(ee_cfg.get("soil_depths") or ("0-5cm", "5-15cm", "15-30cm")),
            request_res_m=float(ee_cfg.get("soil_request_res_m") or 250.0),
            **fetch_kw,
        )
    if "rain" in names:
        first_year = ee_cfg.get("rain_first_year")
        first_year = int(first_year) if first_year else years[-1] - RAIN_RECORD_YEARS + 1
        if first_year > years[0]:
            raise ConfigError(
                f"config key 'source.earthengine.rain_first_year': {first_year} is after the "
                f"first assessment year {years[0]}; the rain record must cover every year"
            )
        written["rain_daily"] = fetch_chirps(
            grid, list(range(first_year, years[-1] + 1)), out_dir / "rain_daily.nc", **fetch_kw
        )
    return written


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
