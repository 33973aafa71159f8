"""STAC source: Sentinel-2 L2A, Copernicus DEM and ESA WorldCover via pystac-client + odc-stac.

Catalogues: Element84 Earth Search v1 (no account), Microsoft Planetary Computer
(anonymous, but asset URLs must be signed: the optional ``planetary-computer``
package is imported only for that catalogue), or a static catalogue
(``…/catalog.json``, local path or URL) such as the one the tests serve.

Loading is odc-stac onto the analysis grid (``geobox=`` built from our
AnalysisGrid), lazily with dask when ``chunks`` is given. What is hand-written
and why:

- **Scale/offset.** odc-stac does not apply ``raster:bands`` scale/offset
  (opendatacube/odc-stac#55, #146), so it is applied here per item: from
  ``raster:bands`` when present (Earth Search ``sentinel-2-c1-l2a``:
  DN × 0.0001 − 0.1), else from the processing baseline (Planetary Computer
  ``sentinel-2-l2a``: BOA_ADD_OFFSET −1000 DN when ``s2:processing_baseline`` ≥
  04.00, decided by baseline, not date, because Collection-1 reprocessing gives
  old scenes new baselines; Sentinel-2 L2A product specification, ESA
  S2-PDGS-MPC-L2A-PSD, BOA_ADD_OFFSET). Reflectance is clipped at 0.
- **Cloud mask** from the Scene Classification Layer (keep 4 vegetation,
  5 bare soil, 6 water, 7 unclassified, 11 snow; ESA L2A SCL legend).
- **Half-month composites** (24 periods; median of valid observations) with a
  gap-filling cascade for periods without any, and the valid-observation count.
  No library composites to the half-month calendar of the Chinese erosivity
  method (Zhang Wenbo et al. 2002) with this gap rule.

Examples
--------
>>> from pipeline.sources import stac
>>> items = stac.search_items(stac.EARTH_SEARCH, collection="sentinel-2-c1-l2a",
...                           bbox=(116.3, 25.6, 116.5, 25.8),
...                           datetime="2023-01-01/2023-12-31")  # doctest: +SKIP
>>> ds = stac.load_s2_ndvi_halfmonths(items, grid, 2023, chunks={})  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pystac
import xarray as xr
from pyproj import Transformer

from pipeline import landcover
from pipeline.errors import ConfigError, InputDataError, SourceError
from pipeline.grid import AnalysisGrid
from pipeline.sources.local import (
    N_PERIODS,
    PERIOD_NAMES,
    WORLDCOVER_NODATA,
    WORLDCOVER_TO_SHUIBAO,
    recode_classes,
    write_dem,
    write_landcover,
    write_ndvi,
)

EARTH_SEARCH = "https://earth-search.aws.element84.com/v1"
PLANETARY_COMPUTER = "https://planetarycomputer.microsoft.com/api/stac/v1"
#: SCL classes kept as clear observations (ESA L2A Scene Classification legend).
SCL_KEEP = (4, 5, 6, 7, 11)
#: Planetary Computer / ESA L2A: BOA_ADD_OFFSET for processing baseline >= 04.00, in DN.
BOA_ADD_OFFSET_DN = -1000
S2_QUANTIFICATION = 1e-4
#: Asset keys: Earth Search uses common names, Planetary Computer band IDs.
S2_ASSET_KEYS = (("red", "nir", "scl"), ("B04", "B08", "SCL"))


# ------------------------------------------------------------------ searching
def is_planetary_computer(catalog_url: str) -> bool:
    """True for a Microsoft Planetary Computer STAC API URL."""
    return "planetarycomputer.microsoft.com" in str(catalog_url)


def _pc_modifier():
    try:
        import planetary_computer
    except ImportError as exc:
        raise SourceError(
            "the Planetary Computer catalogue needs its URL-signing package: "
            "pip install planetary-computer (or use Earth Search, which needs none)"
        ) from exc
    return planetary_computer.sign_inplace


def _is_static(catalog_url: str) -> bool:
    return str(catalog_url).endswith(".json") or Path(str(catalog_url)).is_file()


def grid_bbox_lonlat(grid: AnalysisGrid) -> tuple[float, float, float, float]:
    """The grid's bounds in lon/lat (west, south, east, north), densified."""
    tr = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    return tuple(float(v) for v in tr.transform_bounds(*grid.bounds, densify_pts=21))


def _parse_bound(text: str, *, end: bool) -> dt.datetime | None:
    """One side of an ISO 8601 interval; "2021", "2021-06" and dates cover whole periods."""
    text = text.strip()
    if text in ("", ".."):
        return None
    if len(text) == 4:  # a year
        year = int(text)
        return (
            dt.datetime(year + 1, 1, 1) - dt.timedelta(microseconds=1)
            if end
            else dt.datetime(year, 1, 1)
        )
    if len(text) == 7:  # a month
        year, month = (int(v) for v in text.split("-"))
        first = dt.datetime(year, month, 1)
        nxt = dt.datetime(year + month // 12, month % 12 + 1, 1)
        return nxt - dt.timedelta(microseconds=1) if end else first
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    if end and len(text) <= 10:  # a date: include the whole day
        value = value + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return value


def _parse_interval(datetime: str | None):
    if not datetime:
        return None, None
    parts = str(datetime).split("/")
    return _parse_bound(parts[0], end=False), _parse_bound(parts[-1], end=True)


def items_from_static_catalog(
    catalog_url: str,
    *,
    collection: str | None = None,
    bbox: Sequence[float] | None = None,
    datetime: str | None = None,
) -> list[pystac.Item]:
    """Items of a static catalogue (path or URL of ``catalog.json``), filtered client-side.

    Filters: collection ID, lon/lat ``bbox`` intersection, and a
    ``"start/end"`` datetime interval (dates include their whole day).
    """
    try:
        root = pystac.Catalog.from_file(str(catalog_url))
        items = list(root.get_items(recursive=True))
    except Exception as exc:
        raise SourceError(f"cannot read static STAC catalogue {catalog_url}: {exc}") from exc
    start, end = _parse_interval(datetime)
    out = []
    for item in items:
        if collection and item.collection_id != collection:
            continue
        if bbox is not None and item.bbox is not None:
            w, s, e, n = item.bbox
            if w > bbox[2] or e < bbox[0] or s > bbox[3] or n < bbox[1]:
                continue
        when = item.datetime or item.common_metadata.start_datetime
        if when is not None:
            naive = when.replace(tzinfo=None)
            if (start and naive < start) or (end and naive > end):
                continue
        item.make_asset_hrefs_absolute()
        out.append(item)
    return sorted(out, key=lambda it: (it.datetime or dt.datetime.min, it.id))


def search_items(
    catalog_url: str,
    *,
    collection: str,
    bbox: Sequence[float],
    datetime: str | None,
    query: Mapping | None = None,
    max_items: int | None = None,
) -> list[pystac.Item]:
    """Search a STAC API (or read a static catalogue) for items over a lon/lat bbox.

    Parameters
    ----------
    catalog_url : str
        STAC API root (``EARTH_SEARCH``, ``PLANETARY_COMPUTER``, …) or a static
        ``catalog.json`` path/URL.
    collection : str
        Collection ID, e.g. ``"sentinel-2-c1-l2a"``, ``"cop-dem-glo-30"``.
    bbox : (west, south, east, north)
        Degrees.
    datetime : str or None
        ISO 8601 interval ``"2023-01-01/2023-12-31"``.
    query : mapping, optional
        STAC API query extension, e.g. ``{"eo:cloud_cover": {"lt": 80}}``
        (ignored for static catalogues).
    max_items : int, optional
        Upper bound on returned items.

    Returns
    -------
    list of pystac.Item
        Signed (Planetary Computer) and with absolute asset hrefs.
    """
    if _is_static(catalog_url):
        items = items_from_static_catalog(
            catalog_url, collection=collection, bbox=bbox, datetime=datetime
        )
        return items[:max_items] if max_items else items
    import pystac_client

    modifier = _pc_modifier() if is_planetary_computer(catalog_url) else None
    try:
        client = pystac_client.Client.open(catalog_url, modifier=modifier)
        search = client.search(
            collections=[collection],
            bbox=list(bbox),
            datetime=datetime,
            query=dict(query) if query else None,
            max_items=max_items,
        )
        items = list(search.item_collection())
    except Exception as exc:
        raise SourceError(
            f"STAC search failed on {catalog_url} (collection {collection!r}, bbox {bbox}, "
            f"datetime {datetime!r}): {exc}"
        ) from exc
    return sorted(items, key=lambda it: (it.datetime or dt.datetime.min, it.id))


# ---------------------------------------------------------------------- loading
def grid_geobox(grid: AnalysisGrid):
    """The odc.geo GeoBox of an AnalysisGrid (same CRS, transform and shape)."""
    from odc.geo.geobox import GeoBox

    return GeoBox(grid.shape, grid.transform, grid.crs.to_wkt())


def _odc_load(items, grid, *, bands, resampling, chunks, dtype=None, groupby="solar_day"):
    import odc.stac

    if not items:
        raise InputDataError(f"no STAC items to load for bands {list(bands)}")
    try:
        ds = odc.stac.load(
            items,
            bands=list(bands),
            geobox=grid_geobox(grid),
            groupby=groupby,
            resampling=resampling,
            chunks=chunks,
            dtype=dtype,
            fail_on_error=True,
        )
    except Exception as exc:
        hrefs = sorted({a.href for it in items for k, a in it.assets.items() if k in bands})
        raise SourceError(
            f"odc-stac could not load {list(bands)} from {hrefs[:3]}…: {exc}"
        ) from exc
    coords = grid.coords()
    return ds.assign_coords(y=coords["y"], x=coords["x"])


def s2_asset_keys(item: pystac.Item) -> tuple[str, str, str]:
    """(red, nir, scl) asset keys of a Sentinel-2 L2A item (Earth Search or PC naming)."""
    for keys in S2_ASSET_KEYS:
        if all(k in item.assets for k in keys):
            return keys
    raise InputDataError(
        f"STAC item {item.id}: no red/NIR/SCL assets; expected one of {S2_ASSET_KEYS}, "
        f"found {sorted(item.assets)}"
    )


def s2_scale_offset(item: pystac.Item, asset_key: str) -> tuple[float, float]:
    """Reflectance = DN × scale + offset for one Sentinel-2 L2A asset.

    ``raster:bands`` scale/offset when the asset has them (Earth Search
    ``sentinel-2-c1-l2a``: 0.0001, −0.1); otherwise 0.0001 and, when
    ``s2:processing_baseline`` ≥ 04.00, the BOA offset −1000 DN (−0.1).

    Examples
    --------
    >>> import pystac, datetime
    >>> it = pystac.Item("x", None, None, datetime.datetime(2019, 1, 1),
    ...                  {"s2:processing_baseline": "05.00"})
    >>> it.add_asset("B04", pystac.Asset("b04.tif"))
    >>> s2_scale_offset(it, "B04")
    (0.0001, -0.1)
    """
    asset = item.assets[asset_key]
    bands = asset.extra_fields.get("raster:bands") or []
    if bands and ("scale" in bands[0] or "offset" in bands[0]):
        return float(bands[0].get("scale", 1.0)), float(bands[0].get("offset", 0.0))
    baseline = item.properties.get("s2:processing_baseline")
    if baseline is None:
        raise InputDataError(
            f"STAC item {item.id}: asset {asset_key!r} has no raster:bands scale/offset and "
            "the item has no s2:processing_baseline, so the BOA offset cannot be decided"
        )
    major, _, minor = str(baseline).partition(".")
    offset = BOA_ADD_OFFSET_DN if (int(major), int(minor or 0)) >= (4, 0) else 0
    return S2_QUANTIFICATION, offset * S2_QUANTIFICATION


def _solar_date(time: np.datetime64, lon: float) -> dt.date:
    t = time.astype("datetime64[s]").astype(dt.datetime)
    return (t + dt.timedelta(hours=lon / 15.0)).date()


def halfmonth_period(date: dt.date) -> int:
    """Half-month period 1..24 of a date (1 = Jan 1–15, 2 = Jan 16–31, …).

    Examples
    --------
    >>> halfmonth_period(dt.date(2023, 2, 16))
    4
    """
    return (date.month - 1) * 2 + (2 if date.day > 15 else 1)


def load_s2_observations(
    items: Iterable[pystac.Item],
    grid: AnalysisGrid,
    *,
    keep_scl: Sequence[int] = SCL_KEEP,
    chunks: Mapping | None = None,
) -> xr.DataArray:
    """Cloud-masked NDVI of every Sentinel-2 solar day on the grid.

    Items are grouped by (asset keys, scale, offset) so each group's DN are
    converted with its own harmonisation, then loaded with odc-stac
    (``groupby="solar_day"``; bilinear for reflectance, nearest for SCL).

    Returns
    -------
    xarray.DataArray
        NDVI (−1…1, NaN = no clear observation), dims (time, y, x), time = the
        observation's solar date at the grid centre, ``attrs["units"] = "1"``.
    """
    items = list(items)
    if not items:
        raise InputDataError("no Sentinel-2 items to composite (check the search dates/bbox)")
    groups: dict[tuple, list[pystac.Item]] = {}
    for item in items:
        red, nir, scl = s2_asset_keys(item)
        key = (red, nir, scl, s2_scale_offset(item, red), s2_scale_offset(item, nir))
        groups.setdefault(key, []).append(item)
    lon_c = (lambda b: 0.5 * (b[0] + b[2]))(grid_bbox_lonlat(grid))
    keep = list(keep_scl)
    parts = []
    for (red, nir, scl, (rs, ro), (ns, no)), group in sorted(groups.items(), key=str):
        ds = _odc_load(
            group,
            grid,
            bands=[red, nir, scl],
            resampling={scl: "nearest", "*": "bilinear"},
            chunks=chunks,
        )
        red_nd = ds[red].attrs.get("nodata", 0)
        nir_nd = ds[nir].attrs.get("nodata", 0)
        red_r = (ds[red].astype("float32") * rs + ro).clip(min=0.0)
        nir_r = (ds[nir].astype("float32") * ns + no).clip(min=0.0)
        total = nir_r + red_r
        clear = ds[scl].isin(keep) & (ds[red] != red_nd) & (ds[nir] != nir_nd) & (total > 0)
        ndvi = ((nir_r - red_r) / total.where(total > 0)).where(clear)
        parts.append(ndvi.astype("float32"))
    obs = xr.concat(parts, dim="time") if len(parts) > 1 else parts[0]
    days = [_solar_date(t, lon_c) for t in obs["time"].values]
    obs = obs.assign_coords(time=np.array(days, dtype="datetime64[ns]"))
    if len(set(days)) < len(days):  # one solar day in two harmonisation groups: fuse
        fused = []
        for day in sorted(set(days)):
            idx = [i for i, d in enumerate(days) if d == day]
            fused.append(obs.isel(time=idx).mean("time", skipna=True).expand_dims(time=[day]))
        obs = xr.concat(fused, dim="time")
        obs = obs.assign_coords(time=np.array(sorted(set(days)), dtype="datetime64[ns]"))
    obs = obs.sortby("time")
    obs.name = "ndvi"
    obs.attrs = {"units": "1", "long_name": "NDVI, SCL-masked observations"}
    return obs


def _window_median(
    obs: xr.DataArray, periods: np.ndarray, lo: int, hi: int, like, cache: dict | None = None
) -> xr.DataArray:
    sel = np.flatnonzero((periods >= lo) & (periods <= hi))
    key = tuple(sel.tolist())
    if cache is not None and key in cache:  # windows holding the same scenes: same median
        return cache[key]
    if sel.size == 0:
        out = xr.full_like(like, np.nan, dtype="float32")
        if cache is not None:
            cache[key] = out
        return out
    sub = obs.isel(time=sel)
    if sub.chunks is not None:
        sub = sub.chunk({"time": -1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        out = sub.median("time", skipna=True).astype("float32")
    if cache is not None:
        cache[key] = out
    return out


def composite_halfmonths(
    obs: xr.DataArray, year: int, *, gap_fill: bool = True, windows: Sequence[int] = (1, 3)
) -> xr.Dataset:
    """Median NDVI per half-month period, gaps filled from neighbouring periods.

    Parameters
    ----------
    obs : xarray.DataArray
        NDVI observations (time, y, x), NaN where cloudy; times in ``year``.
    year : int
        Calendar year of the 24 periods; observations outside it are ignored.
    gap_fill : bool
        Fill pixels with no clear observation in their period by the median of
        the observations within ±w periods, for each w in ``windows`` in turn
        (default ±1, i.e. about a month, then ±3, a season), then by the annual
        median. Pixels never observed stay NaN.
    windows : sequence of int
        Half-widths of the filling windows, in periods.

    Returns
    -------
    xarray.Dataset
        ``ndvi`` (period, y, x) float32 (units 1), ``valid_obs`` (period, y, x)
        uint16 count of clear observations in the period itself, ``fill_level``
        (period, y, x) uint8: 0 own period, i+1 the i-th window, len(windows)+1
        annual median, 255 none.

    Examples
    --------
    >>> ds = composite_halfmonths(obs, 2023)  # doctest: +SKIP
    """
    dates = [dt.date.fromisoformat(str(t)[:10]) for t in obs["time"].values]
    in_year = np.array([d.year == year for d in dates])
    obs = obs.isel(time=np.flatnonzero(in_year))
    periods = np.array([halfmonth_period(d) for d in dates if d.year == year], dtype=int)
    like = obs.isel(time=0, drop=True) if obs.sizes["time"] else None
    if like is None:
        raise InputDataError(f"no Sentinel-2 observations in {year}")
    ndvi, count, level = [], [], []
    cache: dict = {}
    annual = _window_median(obs, periods, 1, N_PERIODS, like, cache) if gap_fill else None
    for p in range(1, N_PERIODS + 1):
        own = _window_median(obs, periods, p, p, like, cache)
        sel = np.flatnonzero(periods == p)
        n = obs.isel(time=sel).count("time") if sel.size else xr.zeros_like(like, dtype="int64")
        filled = own
        lev = xr.where(own.notnull(), 0, 255)
        if gap_fill:
            for i, w in enumerate(windows, start=1):
                cand = _window_median(obs, periods, p - w, p + w, like, cache)
                lev = xr.where(filled.isnull() & cand.notnull(), i, lev)
                filled = filled.fillna(cand)
            lev = xr.where(filled.isnull() & annual.notnull(), len(windows) + 1, lev)
            filled = filled.fillna(annual)
        ndvi.append(filled)
        count.append(n.astype("uint16"))
        level.append(lev.astype("uint8"))
    period = xr.IndexVariable("period", np.arange(1, N_PERIODS + 1))
    out = xr.Dataset(
        {
            "ndvi": xr.concat(ndvi, dim=period),
            "valid_obs": xr.concat(count, dim=period),
            "fill_level": xr.concat(level, dim=period),
        }
    ).assign_coords(period_name=("period", PERIOD_NAMES))
    out["ndvi"].attrs = {"units": "1", "long_name": "half-month median NDVI"}
    out["valid_obs"].attrs = {"units": "count", "long_name": "clear observations in the period"}
    out["fill_level"].attrs = {"units": "1", "long_name": "gap-fill level (0 = own period)"}
    for name in out.data_vars:
        out[name] = out[name].rio.write_crs(obs.rio.crs) if obs.rio.crs else out[name]
    return out


def load_s2_ndvi_halfmonths(
    items: Iterable[pystac.Item],
    grid: AnalysisGrid,
    year: int,
    *,
    keep_scl: Sequence[int] = SCL_KEEP,
    gap_fill: bool = True,
    chunks: Mapping | None = None,
    out_path=None,
) -> xr.Dataset:
    """Half-month NDVI composites of ``year`` from Sentinel-2 L2A items, on ``grid``.

    See :func:`load_s2_observations` (harmonisation, SCL mask) and
    :func:`composite_halfmonths` (median, gap filling). With ``out_path`` the
    NDVI is also written as the standard ``ndvi_{year}.tif``.
    """
    obs = load_s2_observations(items, grid, keep_scl=keep_scl, chunks=chunks)
    obs = obs.rio.write_crs(grid.crs)
    ds = composite_halfmonths(obs, year, gap_fill=gap_fill)
    if out_path is not None:
        write_ndvi(ds["ndvi"], out_path, grid=grid, tags=_provenance_tags(items, "s2-ndvi"))
    return ds


def load_dem(
    items: Iterable[pystac.Item], grid: AnalysisGrid, *, asset: str = "data", chunks=None
) -> xr.DataArray:
    """Copernicus GLO-30 (or any DEM collection) elevation in m on ``grid``, bilinear.

    Copernicus DEM heights are EGM2008; ocean tiles are absent and come out NaN.
    """
    items = list(items)
    ds = _odc_load(
        items, grid, bands=[asset], resampling="bilinear", chunks=chunks, dtype="float32"
    )
    dem = ds[asset].max("time", skipna=True) if ds.sizes["time"] > 1 else ds[asset].isel(time=0)
    nd = ds[asset].attrs.get("nodata")
    if nd is not None and not np.isnan(nd):
        dem = dem.where(dem != nd)
    dem = dem.drop_vars([c for c in ("time", "spatial_ref") if c in dem.coords], errors="ignore")
    dem.name = "elevation"
    dem.attrs = {"units": "m"}
    return dem.rio.write_crs(grid.crs).rio.write_transform(grid.transform)


def load_worldcover(
    items: Iterable[pystac.Item],
    grid: AnalysisGrid,
    *,
    asset: str = "map",
    recode: Mapping | None = None,
    chunks=None,
) -> xr.DataArray:
    """ESA WorldCover on ``grid`` (mode resampling), recoded to Shuibao land-cover codes.

    ``recode`` maps WorldCover codes to Shuibao codes/keys (default
    ``WORLDCOVER_TO_SHUIBAO``); a code present but not in the table is an
    InputDataError. Output uint8, nodata 255.
    """
    items = list(items)
    ds = _odc_load(items, grid, bands=[asset], resampling="mode", chunks=chunks, dtype="uint8")
    if ds.sizes["time"] > 1:
        dates = [str(t)[:10] for t in ds["time"].values]
        raise InputDataError(
            f"WorldCover items of several editions ({dates}): choose one with datetime, "
            "e.g. '2021' for v200 (v100 and v200 differ in method; do not mix them)"
        )
    raw = ds[asset].isel(time=0)
    codes = recode_classes(
        np.asarray(raw.values),
        recode or WORLDCOVER_TO_SHUIBAO,
        src_nodata=WORLDCOVER_NODATA,
        source=f"WorldCover items {[it.id for it in items][:3]}",
        table_name="WorldCover recode table",
    )
    out = grid.dataarray(codes, name="landcover", units="class", nodata=landcover.NODATA)
    return out


def _provenance_tags(items, what: str) -> dict:
    items = list(items)
    return {
        "source": f"stac:{what}",
        "stac_items": ",".join(sorted(it.id for it in items))[:4000],
        "stac_collections": ",".join(sorted({str(it.collection_id) for it in items})),
    }


# --------------------------------------------------------------------- fetchers
def fetch_dem(
    catalog_url: str, grid: AnalysisGrid, out_path, *, collection="cop-dem-glo-30", asset="data"
) -> Path:
    """Search the DEM collection over the grid and write ``dem.tif``."""
    items = search_items(
        catalog_url, collection=collection, bbox=grid_bbox_lonlat(grid), datetime=None
    )
    dem = load_dem(items, grid, asset=asset)
    return write_dem(dem, out_path, grid=grid, tags=_provenance_tags(items, collection))


def fetch_landcover(
    catalog_url: str,
    grid: AnalysisGrid,
    out_path,
    *,
    collection="esa-worldcover",
    asset="map",
    datetime: str | None = None,
    recode: Mapping | None = None,
) -> Path:
    """Search WorldCover (``datetime`` selects the edition, e.g. ``"2021"``) and write
    ``landcover_{year}.tif``."""
    items = search_items(
        catalog_url, collection=collection, bbox=grid_bbox_lonlat(grid), datetime=datetime
    )
    lc = load_worldcover(items, grid, asset=asset, recode=recode)
    return write_landcover(lc, out_path, grid=grid, tags=_provenance_tags(items, collection))


def fetch_ndvi(
    catalog_url: str,
    grid: AnalysisGrid,
    year: int,
    out_path,
    *,
    collection: str = "sentinel-2-c1-l2a",
    max_cloud_pct: float | None = 80.0,
    keep_scl: Sequence[int] = SCL_KEEP,
    gap_fill: bool = True,
    chunks: Mapping | None = None,
) -> Path:
    """Search Sentinel-2 L2A for ``year`` and write ``ndvi_{year}.tif``."""
    if not 0 <= (max_cloud_pct if max_cloud_pct is not None else 0) <= 100:
        raise ConfigError(f"max_cloud_pct must be within 0–100 %, got {max_cloud_pct!r}")
    query = {"eo:cloud_cover": {"lt": max_cloud_pct}} if max_cloud_pct is not None else None
    items = search_items(
        catalog_url,
        collection=collection,
        bbox=grid_bbox_lonlat(grid),
        datetime=f"{year}-01-01/{year}-12-31",
        query=query,
    )
    ds = load_s2_ndvi_halfmonths(
        items, grid, year, keep_scl=keep_scl, gap_fill=gap_fill, chunks=chunks
    )
    return write_ndvi(ds["ndvi"], out_path, grid=grid, tags=_provenance_tags(items, collection))


# ------------------------------------------------------- configuration → inputs
#: Inputs the STAC source can write (no rain or soil in these catalogues).
PROVIDES = frozenset({"dem", "landcover", "ndvi"})


def _chunks(side) -> dict | None:
    return None if side in (None, 0) else {"x": int(side), "y": int(side)}


def prepare_inputs(
    out_dir, cfg: Mapping, *, years: Sequence[int], only: Sequence[str] | None = None
) -> dict[str, Path]:
    """Write ``dem.tif``, ``landcover_{year}.tif`` and ``ndvi_{year}.tif`` from STAC.

    Parameters
    ----------
    out_dir : path
        ``resources/{aoi}/``; ``grid.json`` and ``aoi.gpkg`` are written first
        from ``cfg["local"]`` (the AOI is always a local file) unless present.
    cfg : mapping
        The ``source`` section; its ``stac`` part holds the catalogue settings
        (configs/schema.yaml, ``source.stac``).
    years : sequence of int
        Assessment years: one NDVI search per year. WorldCover is one edition
        (``worldcover_datetime``), written as the land cover of every year.
    only : sequence of str, optional
        Subset of ``PROVIDES`` (default all three).

    Returns
    -------
    dict
        File key → path written.

    Examples
    --------
    >>> prepare_inputs("resources/changting", config["source"], years=[2023])  # doctest: +SKIP
    """
    from pipeline.sources.base import begin

    req = begin(
        out_dir,
        cfg,
        years=years,
        only=only,
        provides=PROVIDES,
        refuse="the STAC source cannot provide {unsupported} (it has DEM, land cover and "
        "NDVI): choose another source for them in source.inputs",
    )
    out_dir, names, grid = req.out_dir, req.names, req.grid
    st = dict(cfg.get("stac") or {})
    catalog_url = st.get("catalog_url") or EARTH_SEARCH
    written: dict[str, Path] = {}
    if "dem" in names:
        written["dem"] = fetch_dem(
            st.get("dem_catalog_url") or catalog_url,
            grid,
            out_dir / "dem.tif",
            collection=st.get("dem_collection") or "cop-dem-glo-30",
            asset=st.get("dem_asset") or "data",
        )
    if "landcover" in names:
        wc_url = st.get("worldcover_catalog_url") or catalog_url
        collection = st.get("worldcover_collection") or "esa-worldcover"
        items = search_items(
            wc_url,
            collection=collection,
            bbox=grid_bbox_lonlat(grid),
            datetime=st.get("worldcover_datetime"),
        )
        lc = load_worldcover(
            items,
            grid,
            asset=st.get("worldcover_asset") or "map",
            recode=st.get("worldcover_recode") or None,
        )
        tags = _provenance_tags(items, collection)
        for year in sorted(int(y) for y in years):
            path = out_dir / f"landcover_{year}.tif"
            written[f"landcover_{year}"] = write_landcover(lc, path, grid=grid, tags=tags)
    if "ndvi" in names:
        for year in sorted(int(y) for y in years):
            written[f"ndvi_{year}"] = fetch_ndvi(
                catalog_url,
                grid,
                year,
                out_dir / f"ndvi_{year}.tif",
                collection=st.get("s2_collection") or "sentinel-2-c1-l2a",
                max_cloud_pct=st.get("max_cloud_pct", 80.0),
                keep_scl=tuple(st.get("scl_keep") or SCL_KEEP),
                gap_fill=bool(st.get("gap_fill", True)),
                chunks=_chunks(st.get("chunks")),
            )
    return written


__all__ = [
    "EARTH_SEARCH",
    "PLANETARY_COMPUTER",
    "SCL_KEEP",
    "composite_halfmonths",
    "fetch_dem",
    "fetch_landcover",
    "fetch_ndvi",
    "grid_bbox_lonlat",
    "grid_geobox",
    "halfmonth_period",
    "is_planetary_computer",
    "items_from_static_catalog",
    "load_dem",
    "load_s2_ndvi_halfmonths",
    "load_s2_observations",
    "load_worldcover",
    "prepare_inputs",
    "s2_asset_keys",
    "s2_scale_offset",
    "search_items",
]
