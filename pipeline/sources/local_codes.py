"""Local source: the land-cover file's own codes on the analysis grid
(``landcover_codes_{year}.tif``, for ``source.local.landcover.biophysical_table``).

The codes are majority-resampled with the same rule as the land cover
(:func:`pipeline.sources.local.landcover_on_grid`: nodata votes like a class, AOI pixels that
lose the vote at the edge take their valid majority), but without the recode, so the
cover and support stages can look the user's codes up in the table. Base layer only.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.layout import LANDCOVER_CODES_NODATA, write_landcover_codes


def write_local_landcover_codes(
    src_path, grid: AnalysisGrid, out_path, *, band=None, nodata=None, fill_mask=None
) -> Path:
    """Write ``landcover_codes_{year}.tif`` from a local land-cover raster (int32 codes)."""
    from pipeline.sources.local import _open_source, _reproject

    da = _open_source(src_path, band=band, nodata=nodata)
    if da.ndim != 2:
        raise InputDataError(f"land-cover raster {src_path}: choose one band (band=…)")
    # nodata (and NaN) become the codes' nodata before the cast: casting a float nodata
    # such as -3.4e38 to int32 is undefined (numpy warns "invalid value encountered in cast")
    src_nd = da.rio.nodata
    valid = da.notnull() if src_nd is None else (da != src_nd) & da.notnull()
    codes = da.where(valid, LANDCOVER_CODES_NODATA).astype("int32")
    codes.attrs.pop("_FillValue", None)
    codes = codes.rio.write_nodata(LANDCOVER_CODES_NODATA, encoded=False)
    out = _reproject(
        codes, grid, kind="categorical", dst_nodata=LANDCOVER_CODES_NODATA, fill_mask=fill_mask
    )
    out = out.rio.write_nodata(LANDCOVER_CODES_NODATA, encoded=False)
    tags = {"source": f"local:{Path(src_path).name}", "codes": "the file's own (lucode)"}
    return write_landcover_codes(out, out_path, grid=grid, tags=tags)
