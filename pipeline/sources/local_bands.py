"""Local files: per-season band GeoTIFFs → seasonal composites for the disturbance workflow.

``disturbance.local.path`` is a template with ``{year}`` and ``{season}`` (winter, spring,
summer, autumn) naming one 4-band GeoTIFF per season in any CRS, band order
``disturbance.local.bands``; values become reflectance = value × ``scale`` + ``offset``
(clipped at 0) and are resampled bilinearly onto the analysis grid
(:func:`pipeline.sources.local.reproject_to_grid`). A missing season file is a gap (NaN:
it never raises a patch); a year with no file at all is an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.sources.seasonal_bands import BANDS, SEASONS

log = logging.getLogger(__name__)


def load_local_composite(
    grid: AnalysisGrid,
    year: int,
    *,
    path: str,
    bands: Sequence[str] = BANDS,
    scale: float = 1e-4,
    offset: float = 0.0,
    nodata: float | None = None,
) -> xr.DataArray:
    """Float32 reflectance ``(band, season, y, x)`` of ``year`` from the season files."""
    from pipeline.sources.local import reproject_to_grid

    if sorted(bands) != sorted(BANDS):
        raise InputDataError(f"disturbance.local.bands must name {list(BANDS)}, got {bands!r}")
    data = np.full((len(BANDS), len(SEASONS), *grid.shape), np.nan, np.float32)
    found = 0
    for j, season in enumerate(SEASONS):
        file = Path(str(path).format(year=year, season=season))
        if not file.exists():
            log.warning("no %s composite for %s (%s): treated as a gap", season, year, file)
            continue
        found += 1
        for i, band in enumerate(BANDS):
            layer = reproject_to_grid(
                file, grid, kind="continuous", band=list(bands).index(band) + 1, nodata=nodata
            )
            values = np.asarray(layer.values, np.float32) * np.float32(scale) + np.float32(offset)
            data[i, j] = np.where(np.isfinite(values), np.maximum(values, 0.0), np.nan)
    if not found:
        raise InputDataError(
            f"no seasonal composite for {year}: none of "
            f"{[str(path).format(year=year, season=s) for s in SEASONS]} exists "
            "(config key 'disturbance.local.path')"
        )
    da = xr.DataArray(
        data,
        dims=("band", "season", "y", "x"),
        coords={"band": list(BANDS), "season": list(SEASONS), **grid.coords()},
        name="reflectance",
        attrs={"units": "1"},
    )
    return da.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
