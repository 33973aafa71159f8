"""Stage helpers: C and P from an InVEST-style biophysical table keyed by the user's own
land-cover codes (``source.local.landcover.biophysical_table``; science in
:mod:`pipeline.factors.biophysical`).

The local source writes ``landcover_codes_{year}.tif`` (the file's own codes, majority-resampled
like the land cover) when the table is set; the cover and support stages then set C (or B) and
P of the pixels whose code has a row to the table's ``usle_c`` / ``usle_p``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.factors.biophysical import COLUMNS, apply_code_table, validate_biophysical_table
from pipeline.io import open_raster
from pipeline.layout import LANDCOVER_CODES_NODATA

log = logging.getLogger("shuibao.biophysical")


def biophysical_table_path(config: Mapping) -> str | None:
    """The biophysical table of the run: set, and land cover comes from local files."""
    src = config.get("source") or {}
    kind = (src.get("inputs") or {}).get("landcover") or src.get("kind")
    if kind != "local":
        return None
    return ((src.get("local") or {}).get("landcover") or {}).get("biophysical_table")


def read_biophysical_table(path, *, columns, codes_present=()) -> dict[str, dict[int, float]]:
    """Read and validate the CSV (UTF-8, BOM allowed); errors name the file."""
    import pandas as pd

    try:
        df = pd.read_csv(path, encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputDataError(f"biophysical table not found: {path}") from exc
    except Exception as exc:  # pandas raises several types for unreadable files
        raise InputDataError(f"cannot read biophysical table {path}: {exc}") from exc
    return validate_biophysical_table(
        df, source=str(path), columns=columns, codes_present=codes_present
    )


def apply_biophysical(factor: xr.DataArray, *, what: str, table_path, codes_path) -> xr.DataArray:
    """``factor`` (C, B or P) with the table's value on the pixels whose code has a row."""
    codes = open_raster(codes_path).load()
    values = np.asarray(codes.values)
    valid = np.isfinite(values) & (values != LANDCOVER_CODES_NODATA)
    present = sorted(int(c) for c in np.unique(values[valid]))
    column = COLUMNS[what]
    table = read_biophysical_table(table_path, columns=[column], codes_present=present)[column]
    codes = codes.where(valid).assign_coords(y=factor["y"], x=factor["x"])
    out = apply_code_table(factor, codes=codes, table=table, name=what)
    log.info("%s from %s (%s) for codes %s", what, table_path, column, present)
    return out
