"""C and P keyed by the user's own land-cover codes: an InVEST-style biophysical table.

InVEST SDR reads a CSV with one row per land-cover code (``lucode``) and the USLE cover and
support factors ``usle_c`` and ``usle_p`` (Sharp et al. 2018, *InVEST User's Guide*, SDR
model, "Biophysical table"; the factors are those of the USLE/RUSLE: Wischmeier & Smith 1978,
*Predicting rainfall erosion losses*, USDA Agriculture Handbook 537; Renard et al. 1997,
USDA Agriculture Handbook 703). With such a table the cover and support factors of those
pixels are the table's constants, whatever Shuibao class the codes are recoded to: C from the
table has the semantics of ``cover.method: table`` (a constant per class, no NDVI), and it
overrides the class tables and the NDVI-based C for those codes only.

Written by hand: validating a small table and looking codes up is a few lines of pandas and
xarray; no library does it for this layout. Pure functions (no file access): the stages read
the CSV and the codes raster (pipeline/stages/biophysical.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from pipeline.errors import InputDataError

__all__ = ["COLUMNS", "apply_code_table", "validate_biophysical_table"]

#: factor → its column in the table (InVEST SDR's names)
COLUMNS = {"C": "usle_c", "B": "usle_c", "P": "usle_p"}


def validate_biophysical_table(
    table: pd.DataFrame,
    *,
    source: str,
    columns: Iterable[str],
    codes_present: Iterable[int] = (),
) -> dict[str, dict[int, float]]:
    """Check a biophysical table and return ``{column: {lucode: value}}``.

    Parameters
    ----------
    table : pandas.DataFrame
        The CSV as read (column names are matched case-insensitively, as InVEST does).
    source : str
        The file, named in every error.
    columns : iterable of str
        Factor columns needed (e.g. ``["usle_c", "usle_p"]``); values must be numbers in [0, 1]
        (both factors are ratios to the bare, up-and-down-slope unit plot, dimensionless).
    codes_present : iterable of int
        Codes found in the land-cover raster; each must have a row.

    Raises
    ------
    InputDataError
        Naming the file, the column and the code(s): a missing column, a non-integer or
        repeated ``lucode``, a non-numeric value, a value outside [0, 1], or a code of the
        raster without a row.

    Examples
    --------
    >>> df = pd.DataFrame({"lucode": [1, 2], "usle_c": [0.003, 0.2], "usle_p": [1, 0.5]})
    >>> validate_biophysical_table(df, source="bio.csv", columns=["usle_c"], codes_present=[2])
    {'usle_c': {1: 0.003, 2: 0.2}}
    """
    df = table.rename(columns={c: str(c).strip().lower() for c in table.columns})
    columns = [c.lower() for c in columns]
    missing = [c for c in ["lucode", *columns] if c not in df.columns]
    if missing:
        raise InputDataError(
            f"biophysical table {source}: missing column(s) {missing}; it has "
            f"{list(df.columns)} (InVEST SDR format: lucode, usle_c, usle_p)"
        )
    codes = pd.to_numeric(df["lucode"], errors="coerce")
    bad = df["lucode"][codes.isna() | (codes != codes.round())].tolist()
    if bad:
        raise InputDataError(
            f"biophysical table {source}, column 'lucode': {bad} are not integer codes"
        )
    codes = codes.astype("int64")
    repeated = sorted(set(codes[codes.duplicated()].tolist()))
    if repeated:
        raise InputDataError(
            f"biophysical table {source}, column 'lucode': codes {repeated} repeat"
        )
    out: dict[str, dict[int, float]] = {}
    for col in columns:
        values = pd.to_numeric(df[col], errors="coerce")
        nonnum = [int(c) for c in codes[values.isna()]]
        if nonnum:
            raise InputDataError(
                f"biophysical table {source}, column {col!r}: lucode {nonnum} "
                f"{df[col][values.isna()].tolist()} are not numbers"
            )
        outside = [int(c) for c in codes[(values < 0) | (values > 1)]]
        if outside:
            raise InputDataError(
                f"biophysical table {source}, column {col!r}: lucode {outside} have values "
                f"{values[(values < 0) | (values > 1)].tolist()} outside [0, 1]"
            )
        out[col] = dict(zip(codes.tolist(), values.astype(float).tolist(), strict=True))
    absent = sorted(set(int(c) for c in codes_present) - set(codes.tolist()))
    if absent:
        raise InputDataError(
            f"biophysical table {source}, column 'lucode': codes {absent} of the land-cover "
            f"raster have no row; add them (or map them in source.local.landcover.recode and "
            f"leave them out of the raster)"
        )
    return out


def apply_code_table(
    factor: xr.DataArray, *, codes: xr.DataArray, table: Mapping[int, float], name: str
) -> xr.DataArray:
    """``factor`` with the table's value wherever ``codes`` is one of its keys (dimensionless).

    Numpy- or dask-backed, same answer; pixels whose code is not in ``table`` (or is nodata)
    keep ``factor``. C and P are dimensionless (``attrs["units"] = "1"``).

    >>> f = xr.DataArray(np.array([[0.5, 0.5]]), dims=("y", "x"))
    >>> c = xr.DataArray(np.array([[7, 9]]), dims=("y", "x"))
    >>> apply_code_table(f, codes=c, table={7: 0.25}, name="C").values.tolist()
    [[0.25, 0.5]]
    """
    if codes.shape != factor.shape:
        raise InputDataError(
            f"{name}: land-cover codes raster shape {codes.shape} differs from {factor.shape}"
        )
    out = factor
    codes = codes.assign_coords(factor.coords) if set(codes.dims) == set(factor.dims) else codes
    for code, value in table.items():
        out = xr.where(codes == code, np.float32(value), out)
    out = out.astype("float32")
    out.attrs = {**factor.attrs, "units": "1"}
    out.name = name
    return out
