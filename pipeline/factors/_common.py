"""Helpers shared by the factor modules: value checks, lookup-table joins, output tidying.

Written by hand because the job is project-specific: a lookup join must refuse
codes missing from the table (a silent NaN or 0 would become "no erosion" in the
bulletin), and every check must stay lazy on dask input. Each check is applied
block by block with :func:`xarray.apply_ufunc` (``dask="parallelized"``), so a
numpy array is checked at once and a dask array is checked when its blocks are
computed; both raise the same :class:`~pipeline.errors.InputDataError`. A
function must use the array returned by a check, or the check never runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used by nodata_of)
import xarray as xr

from pipeline.errors import InputDataError
from pipeline.grid import check_same_grid

__all__ = [
    "as_dataarray",
    "check_range",
    "check_same_grid_if_spatial",
    "finish",
    "is_dask",
    "lookup_table",
    "nodata_of",
    "validate_table",
]


def is_dask(da: xr.DataArray) -> bool:
    """True when ``da`` is backed by a dask array."""
    return hasattr(da.data, "dask")


def as_dataarray(value, *, name: str) -> xr.DataArray:
    """``value`` as a DataArray: DataArrays pass through, numbers become 0-d arrays."""
    if isinstance(value, xr.DataArray):
        return value
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputDataError(
            f"{name}: expected a number or an xarray.DataArray, got {value!r}"
        ) from exc
    if arr.ndim != 0:
        raise InputDataError(
            f"{name}: expected a number or an xarray.DataArray (with named dims), "
            f"got an array of shape {arr.shape}"
        )
    return xr.DataArray(arr, name=name)


def finish(
    da: xr.DataArray, *, name: str, units: str, attrs: Mapping | None = None
) -> xr.DataArray:
    """Name the result, set ``attrs["units"]`` and any extra attrs (returns a new object)."""
    out = da.rename(name)
    out.attrs = dict(attrs or {})
    out.attrs["units"] = units
    return out


def _fmt(values: Iterable, limit: int = 10) -> str:
    vals = list(values)
    text = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in vals[:limit])
    return f"[{text}{', …' if len(vals) > limit else ''}]"


def _range_block(
    block: np.ndarray, *, name: str, lo, hi, lo_open: bool, hi_open: bool, hint: str
) -> np.ndarray:
    finite = block[np.isfinite(block)] if block.dtype.kind == "f" else block.ravel()
    if finite.size:
        if lo is not None:
            bad = finite[finite <= lo] if lo_open else finite[finite < lo]
            if bad.size:
                sym = ">" if lo_open else "≥"
                raise InputDataError(
                    f"{name}: value {float(bad.min()):g} is out of range; expected {sym} {lo:g}"
                    + (f" ({hint})" if hint else "")
                )
        if hi is not None:
            bad = finite[finite >= hi] if hi_open else finite[finite > hi]
            if bad.size:
                sym = "<" if hi_open else "≤"
                raise InputDataError(
                    f"{name}: value {float(bad.max()):g} is out of range; expected {sym} {hi:g}"
                    + (f" ({hint})" if hint else "")
                )
    if block.dtype.kind == "f" and np.isinf(block).any():
        raise InputDataError(f"{name}: contains ±inf; mark nodata as NaN")
    return block


def check_range(
    da: xr.DataArray,
    *,
    name: str,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    hint: str = "",
) -> xr.DataArray:
    """Return ``da`` with a check that every finite value lies in [lo, hi] (NaN allowed).

    Numpy input is checked now; dask input is checked lazily, block by block, when
    computed. Both raise :class:`InputDataError` naming ``name`` and the offending
    value. Use the returned array, not ``da``.
    """
    da = as_dataarray(da, name=name)
    kwargs = dict(name=name, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open, hint=hint)
    if not is_dask(da):
        _range_block(np.asarray(da.values), **kwargs)
        return da
    return xr.apply_ufunc(
        _range_block,
        da,
        kwargs=kwargs,
        dask="parallelized",
        output_dtypes=[da.dtype],
        keep_attrs=True,
    )


def nodata_of(da: xr.DataArray, nodata: float | None = None) -> float | None:
    """The nodata value of a code raster: ``nodata`` if given, else rioxarray's, else attrs.

    NaN is always treated as nodata by the joins in addition to this value.
    """
    if nodata is not None:
        return nodata
    for getter in (
        lambda: da.rio.nodata,  # rioxarray accessor (registered by pipeline.io / grid)
        lambda: da.attrs.get("_FillValue"),
        lambda: da.attrs.get("nodata"),
        lambda: da.encoding.get("_FillValue"),
    ):
        try:
            value = getter()
        except Exception:  # accessor missing or no spatial dims
            value = None
        if value is not None and not (isinstance(value, float) and np.isnan(value)):
            return float(value)
    return None


def validate_table(
    table: Mapping, *, table_name: str, value_range: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Check a ``{code: value}`` table; return sorted integer codes and float values."""
    if not isinstance(table, Mapping) or len(table) == 0:
        raise InputDataError(
            f"{table_name}: expected a non-empty {{code: value}} mapping, got {table!r}"
        )
    codes, values = [], []
    for code, value in table.items():
        try:
            icode = int(code)
            fval = float(value)
        except (TypeError, ValueError) as exc:
            raise InputDataError(
                f"{table_name}: entry {code!r}: {value!r} is not an integer code with a number"
            ) from exc
        if icode != code and not (isinstance(code, str) and str(icode) == code.strip()):
            raise InputDataError(f"{table_name}: code {code!r} is not an integer")
        if not np.isfinite(fval):
            raise InputDataError(f"{table_name}: code {icode} has a non-finite value {value!r}")
        if value_range is not None and not (value_range[0] <= fval <= value_range[1]):
            raise InputDataError(
                f"{table_name}: code {icode} has value {fval:g}; expected a value in "
                f"[{value_range[0]:g}, {value_range[1]:g}]"
            )
        codes.append(icode)
        values.append(fval)
    order = np.argsort(codes)
    codes_arr = np.asarray(codes, dtype=np.int64)[order]
    if np.unique(codes_arr).size != codes_arr.size:
        raise InputDataError(f"{table_name}: duplicate codes in {sorted(codes)}")
    return codes_arr, np.asarray(values, dtype=np.float64)[order]


def _lookup_block(
    block: np.ndarray,
    *,
    keys: np.ndarray,
    values: np.ndarray,
    nodata: float | None,
    only_codes: np.ndarray | None,
    other_value: float,
    input_name: str,
    table_name: str,
) -> np.ndarray:
    codes = np.asarray(block)
    out = np.full(codes.shape, np.nan, dtype=np.float64)
    valid = np.isfinite(codes) if codes.dtype.kind == "f" else np.ones(codes.shape, bool)
    if nodata is not None:
        valid &= codes != nodata
    if only_codes is not None:
        in_scope = valid & np.isin(codes, only_codes)
        out[valid & ~in_scope] = other_value
        valid = in_scope
    c = codes[valid]
    if c.size:
        nonint = c[c != np.round(c)] if codes.dtype.kind == "f" else c[:0]
        if nonint.size:
            raise InputDataError(
                f"{input_name}: non-integer code(s) {_fmt(np.unique(nonint).tolist())}; "
                "expected integer class codes (was the raster resampled bilinearly?)"
            )
        c = c.astype(np.int64)
        pos = np.clip(np.searchsorted(keys, c), 0, keys.size - 1)
        found = keys[pos] == c
        if not found.all():
            missing = np.unique(c[~found]).tolist()
            raise InputDataError(
                f"{input_name}: code(s) {_fmt(missing)} not found in {table_name} "
                f"(table has codes {_fmt(keys.tolist(), 30)}); add them to the table"
            )
        out[valid] = values[pos]
    return out


def lookup_table(
    codes: xr.DataArray,
    table: Mapping,
    *,
    input_name: str,
    table_name: str,
    nodata: float | None = None,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    only_codes: Iterable[int] | None = None,
    other_value: float = 1.0,
    extra: Mapping[int, float] | None = None,
) -> xr.DataArray:
    """Join a code raster to a ``{code: value}`` table; float result, NaN at nodata.

    Parameters
    ----------
    codes : xarray.DataArray
        Integer class codes (any dims). NaN and ``nodata`` (see :func:`nodata_of`)
        give NaN.
    table : mapping of int to float
        Code → value. Every code present in ``codes`` (excluding nodata, and
        outside ``only_codes`` when that is given) must be in the table, else
        :class:`InputDataError` naming the codes, ``input_name`` and ``table_name``.
    value_range : (lo, hi) or None
        Table values outside this closed range raise :class:`InputDataError`.
    only_codes : iterable of int, optional
        Join only these codes; every other valid code gets ``other_value``.
    extra : mapping, optional
        Entries used only where the table lacks the code (e.g. "no measure" → 1).
    """
    keys, values = validate_table(table, table_name=table_name, value_range=value_range)
    if extra:
        merged = {int(k): float(v) for k, v in extra.items()}
        merged.update(dict(zip(keys.tolist(), values.tolist(), strict=True)))
        keys, values = validate_table(merged, table_name=table_name, value_range=value_range)
    if not isinstance(codes, xr.DataArray):
        raise InputDataError(f"{input_name}: expected an xarray.DataArray of class codes")
    if codes.dtype.kind not in "iuf":
        raise InputDataError(f"{input_name}: expected numeric class codes, got dtype {codes.dtype}")
    kwargs = dict(
        keys=keys,
        values=values,
        nodata=nodata_of(codes, nodata),
        only_codes=None if only_codes is None else np.asarray(sorted(set(only_codes)), dtype=float),
        other_value=float(other_value),
        input_name=input_name,
        table_name=table_name,
    )
    out = xr.apply_ufunc(
        _lookup_block,
        codes,
        kwargs=kwargs,
        dask="parallelized",
        output_dtypes=[np.float64],
    )
    # keep spatial reference written by rioxarray (spatial_ref coord is kept by apply_ufunc)
    return out


def check_same_grid_if_spatial(**arrays) -> None:
    """:func:`pipeline.grid.check_same_grid` on those inputs that have ``y`` and ``x`` dims.

    Scalars and arrays without spatial dims (e.g. a station's R) broadcast and are
    not checked.
    """
    spatial = {
        k: v
        for k, v in arrays.items()
        if isinstance(v, xr.DataArray) and "y" in v.dims and "x" in v.dims
    }
    check_same_grid(**spatial)
