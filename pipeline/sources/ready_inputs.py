"""Readers of ready-made factor inputs: an R or K raster, a soil-class raster with a K
table, and a table of several rain gauges.

Rasters in any CRS are put on the analysis grid with odc-geo (GDAL warp underneath),
lazily in the template's chunks: bilinear for continuous fields (R, K), ``mode``
(majority) for class codes. A file without a CRS, or one that leaves part of the AOI
without data, stops the run naming the file and the config key. Nothing scientific
happens here: the plausibility of the values is checked in
:mod:`pipeline.factors.ready`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from pipeline.errors import InputDataError

__all__ = ["read_k_table", "read_onto_grid", "read_stations"]


def _open(path: Path, *, key: str, band: int | None) -> xr.DataArray:
    import rioxarray

    if not path.exists():
        raise InputDataError(f"{key}: file not found: {path}")
    try:
        da = rioxarray.open_rasterio(path, masked=True, chunks=True)
    except Exception as exc:  # rasterio raises several types for unreadable files
        raise InputDataError(f"{key}: cannot read {path} as a raster: {exc}") from exc
    if "band" in da.dims:
        n = da.sizes["band"]
        if band is None and n > 1:
            raise InputDataError(f"{path} ({key}): {n} bands; set {key}.band")
        b = 1 if band is None else int(band)
        if not 1 <= b <= n:
            raise InputDataError(f"{path} ({key}): band {b} does not exist (the file has {n})")
        da = da.isel(band=b - 1, drop=True)
    if da.rio.crs is None:
        raise InputDataError(
            f"{path} ({key}): the raster has no CRS; assign the right one (e.g. "
            f"gdal_edit.py -a_srs EPSG:4547 {path.name}) and rerun"
        )
    return da


def read_onto_grid(
    path,
    *,
    template: xr.DataArray,
    key: str,
    resampling: str = "bilinear",
    band: int | None = None,
    nodata: float | None = None,
    scale: float = 1.0,
) -> xr.DataArray:
    """A raster on ``template``'s grid (float64, NaN where no data), × ``scale``.

    ``template`` (e.g. the DEM) defines the grid and the AOI footprint: every pixel where
    it is finite must get a value, else :class:`InputDataError` with the share covered.
    """
    from odc.geo.geobox import GeoBox
    from odc.geo.xr import xr_reproject

    path = Path(path)
    da = _open(path, key=key, band=band)
    if nodata is not None:
        da = da.where(da != nodata)
    da = da.astype("float64")
    geobox = GeoBox(template.shape[-2:], template.rio.transform(), template.rio.crs)
    chunks = template.chunks
    out = xr_reproject(
        da,
        geobox,
        resampling=resampling,
        dst_nodata=np.nan,
        chunks=(chunks[-2][0], chunks[-1][0]) if chunks else (1024, 1024),
    )
    out = out.where(np.isfinite(out)).astype("float64") * float(scale)
    out = out.assign_coords(x=template.x.values, y=template.y.values)
    out = out.rio.write_crs(template.rio.crs).rio.write_transform(template.rio.transform())
    inside = np.isfinite(np.asarray(template.values))
    missing = inside & ~np.isfinite(np.asarray(out.values))
    if missing.any():
        pct = 100.0 * (1 - missing.sum() / max(int(inside.sum()), 1))
        raise InputDataError(
            f"{path} ({key}): covers {pct:.1f} % of the AOI ({int(missing.sum())} grid pixels "
            f"without data); use a raster that covers the whole AOI (check its extent, CRS and "
            f"nodata value)"
        )
    out.attrs = {"source_file": str(path)}
    return out.where(inside)


def read_k_table(path, *, code_col: str, k_col: str, key: str) -> dict[int, float]:
    """Soil class → K from a CSV ('#' lines are comments); errors name file, column, row."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{key}: file not found: {path}")
    try:
        df = pd.read_csv(path, comment="#", encoding="utf-8-sig")
    except Exception as exc:  # pandas raises several types for unreadable files
        raise InputDataError(f"{path} ({key}): cannot read CSV: {exc}") from exc
    for col in (code_col, k_col):
        if col not in df.columns:
            raise InputDataError(
                f"{path} ({key}): no column {col!r}; columns are {list(df.columns)}"
            )
    codes = pd.to_numeric(df[code_col], errors="coerce")
    values = pd.to_numeric(df[k_col], errors="coerce")
    for i in range(len(df)):
        if not np.isfinite(codes.iloc[i]) or codes.iloc[i] != int(codes.iloc[i]):
            raise InputDataError(
                f"{path} ({key}): row {i + 2}: class code {df[code_col].iloc[i]!r} in "
                f"{code_col!r} is not an integer"
            )
        if not np.isfinite(values.iloc[i]):
            raise InputDataError(
                f"{path} ({key}): row {i + 2}, class {int(codes.iloc[i])}: K "
                f"{df[k_col].iloc[i]!r} in {k_col!r} is not a number"
            )
    dup = codes[codes.duplicated()]
    if len(dup):
        raise InputDataError(
            f"{path} ({key}): class code(s) {sorted(set(dup.astype(int)))} listed twice"
        )
    return {int(c): float(v) for c, v in zip(codes, values, strict=True)}


def read_stations(cfg: Mapping, *, grid_crs, key: str = "rainfall.stations"):
    """Gauges and their daily rain: ``(stations, rain)``.

    ``stations`` is a DataFrame indexed by station id with ``x``, ``y`` in ``grid_crs``;
    ``rain`` a DataArray ``(time, station)`` in mm/day. The rain CSV is wide (a date
    column and one column per station id) or long (``id_col``, date and ``value_col``).
    Every station needs a complete, unique daily record; errors name file, station, date.
    """
    from pyproj import Transformer

    path = Path(cfg["path"])
    if not path.exists():
        raise InputDataError(f"{key}.path: file not found: {path}")
    st = pd.read_csv(path, comment="#", encoding="utf-8-sig")
    id_col, x_col, y_col = cfg["id_col"], cfg["x_col"], cfg["y_col"]
    for col in (id_col, x_col, y_col):
        if col not in st.columns:
            raise InputDataError(
                f"{path} ({key}): no column {col!r}; columns are {list(st.columns)}"
            )
    st[id_col] = st[id_col].astype(str)
    if st[id_col].duplicated().any():
        raise InputDataError(
            f"{path} ({key}): station id(s) {sorted(set(st[id_col][st[id_col].duplicated()]))} "
            "listed twice"
        )
    xy = st[[x_col, y_col]].apply(pd.to_numeric, errors="coerce")
    bad = st[id_col][~np.isfinite(xy).all(axis=1)]
    if len(bad):
        raise InputDataError(
            f"{path} ({key}): station(s) {list(bad)} have no numeric {x_col}/{y_col}"
        )
    crs = cfg.get("crs") or "EPSG:4326"
    tr = Transformer.from_crs(crs, grid_crs, always_xy=True)
    gx, gy = tr.transform(xy[x_col].to_numpy(float), xy[y_col].to_numpy(float))
    stations = pd.DataFrame({"x": gx, "y": gy}, index=pd.Index(st[id_col], name="station"))

    rain_path = Path(cfg["rain_csv"])
    if not rain_path.exists():
        raise InputDataError(f"{key}.rain_csv: file not found: {rain_path}")
    df = pd.read_csv(rain_path, comment="#", encoding="utf-8-sig")
    date_col = cfg["date_col"]
    if date_col not in df.columns:
        raise InputDataError(f"{rain_path} ({key}): no date column {date_col!r}")
    value_col = cfg.get("value_col")
    if value_col:  # long table
        rid = cfg.get("rain_id_col") or id_col
        for col in (rid, value_col):
            if col not in df.columns:
                raise InputDataError(f"{rain_path} ({key}): no column {col!r}")
        df[rid] = df[rid].astype(str)
        if df.duplicated([rid, date_col]).any():
            d = df[df.duplicated([rid, date_col])].iloc[0]
            raise InputDataError(
                f"{rain_path} ({key}): station {d[rid]} has day {d[date_col]} twice"
            )
        wide = df.pivot(index=date_col, columns=rid, values=value_col)
    else:
        wide = df.set_index(date_col)
        wide.columns = [str(c) for c in wide.columns]
    try:
        wide.index = pd.DatetimeIndex(pd.to_datetime(wide.index))
    except (ValueError, TypeError) as exc:
        raise InputDataError(
            f"{rain_path} ({key}): unreadable dates in {date_col!r}: {exc}"
        ) from exc
    if wide.index.duplicated().any():
        raise InputDataError(
            f"{rain_path} ({key}): day {wide.index[wide.index.duplicated()][0].date()} twice"
        )
    wide = wide.sort_index()
    missing = [s for s in stations.index if s not in wide.columns]
    if missing:
        raise InputDataError(
            f"{rain_path} ({key}): no rain for station(s) {missing} of {path.name}; "
            f"rain columns are {list(wide.columns)}"
        )
    wide = wide[list(stations.index)].apply(pd.to_numeric, errors="coerce")
    days = pd.date_range(wide.index[0], wide.index[-1], freq="D")
    if len(days) != len(wide):
        gap = days.difference(wide.index)[0]
        raise InputDataError(f"{rain_path} ({key}): day {gap.date()} is missing (need every day)")
    for s in stations.index:
        col = wide[s]
        if col.isna().any():
            raise InputDataError(
                f"{rain_path} ({key}): station {s}: no value on {col.index[col.isna()][0].date()}"
            )
        if (col < 0).any():
            raise InputDataError(
                f"{rain_path} ({key}): station {s}: negative rain on {col.index[col < 0][0].date()}"
            )
    rain = xr.DataArray(
        wide.to_numpy(float),
        dims=("time", "station"),
        coords={"time": wide.index.values, "station": list(stations.index)},
        name="rain",
        attrs={"units": "mm d-1", "source_file": str(rain_path)},
    )
    return stations, rain
