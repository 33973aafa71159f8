"""File contract of the seasonal Sentinel-2 band composites used by the disturbance workflow.

One GeoTIFF per year on the analysis grid, ``resources/{aoi}/disturbance/{year}/…``:
16 bands named ``{season}_{band}`` (seasons winter, spring, summer, autumn; bands B2, B4,
B8, B11), int16 surface reflectance × 10 000 (GDAL scale 1e-4), nodata −32768 (= no clear
observation in the season). Read back as float32 reflectance (0–1) with dims
``(band, season, y, x)``. Every source (demo, local files, STAC, Earth Engine) writes this.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.io import open_raster, write_cog

BANDS = ("B2", "B4", "B8", "B11")
SEASONS = ("winter", "spring", "summer", "autumn")
# Calendar months of each season within one calendar year (winter = Jan, Feb and Dec).
SEASON_MONTHS = {
    "winter": (1, 2, 12),
    "spring": (3, 4, 5),
    "summer": (6, 7, 8),
    "autumn": (9, 10, 11),
}
SCALE = 1e-4
NODATA = -32768


def band_names() -> list[str]:
    return [f"{s}_{b}" for s in SEASONS for b in BANDS]


def write_composite(composite: xr.DataArray, path, *, tags: dict | None = None) -> Path:
    """Write a ``(band, season, y, x)`` reflectance composite (0–1, NaN = gap) as the contract file."""
    c = composite.transpose("season", "band", "y", "x")
    seasons = [str(s) for s in c["season"].values]
    bands = [str(b) for b in c["band"].values]
    if seasons != list(SEASONS) or bands != list(BANDS):
        c = c.sel(season=list(SEASONS), band=list(BANDS))
    data = np.asarray(c.values, np.float32).reshape(len(SEASONS) * len(BANDS), *c.shape[-2:])
    scaled = np.round(np.clip(data, -3.0, 3.0) / SCALE)
    scaled = np.where(np.isfinite(scaled), scaled, NODATA).astype(np.int16)
    flat = xr.DataArray(scaled, dims=("band", "y", "x"), coords={"y": c["y"], "x": c["x"]})
    flat = flat.rio.write_crs(composite.rio.crs).rio.write_transform(composite.rio.transform())
    flat.attrs["units"] = "1"
    return write_cog(
        flat,
        path,
        dtype="int16",
        nodata=NODATA,
        scale=SCALE,
        offset=0.0,
        band_names=band_names(),
        tags={"content": "seasonal Sentinel-2 reflectance composites", **(tags or {})},
        for_pipeline=True,
    )


def read_composite(path, *, chunks=None) -> xr.DataArray:
    """Read a contract file as float32 reflectance ``(band, season, y, x)``, NaN = gap."""
    da = open_raster(path, chunks=chunks)
    names = [str(b) for b in da["band"].values] if "band" in da.dims else []
    if names != band_names():
        raise InputDataError(
            f"{path}: bands {names} are not the seasonal-composite contract {band_names()}"
        )
    da = da.astype(np.float32)
    parts = [
        da.isel(band=slice(i * len(BANDS), (i + 1) * len(BANDS))).assign_coords(band=list(BANDS))
        for i in range(len(SEASONS))
    ]
    out = xr.concat(parts, dim="season").assign_coords(season=list(SEASONS))
    out = out.transpose("band", "season", "y", "x").rename("reflectance")
    out.attrs["units"] = "1"
    return out


def raw_scale_offset(path) -> tuple[float, float]:
    """GDAL scale/offset of band 1 of a file (1, 0 when unset)."""
    with rasterio.open(path) as src:
        return float(src.scales[0] or 1.0), float(src.offsets[0] or 0.0)
