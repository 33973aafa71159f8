"""Pure builders of Earth Engine expressions and ``computePixels`` request bodies (no I/O: no
``getInfo``, no ``ee.Initialize``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence

import ee
import numpy as np
import shapely
from affine import Affine
from pyproj import CRS, Transformer

from pipeline import landcover
from pipeline.errors import (
    ConfigError,
    GridError,
    InputDataError,
)
from pipeline.grid import AnalysisGrid
from pipeline.sources.local import (
    N_PERIODS,
    PERIOD_NAMES,
    WORLDCOVER_TO_SHUIBAO,
    rain_lattice,
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
