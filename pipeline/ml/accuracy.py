"""Error-adjusted areas and accuracy from a stratified reference sample, and map agreement.

Written by hand:

- :func:`error_adjusted_areas` implements the stratified estimator of Olofsson et al.
  (2013, Remote Sens. Environ. 129: 122-131; 2014, Remote Sens. Environ. 148: 42-57) with the
  map classes as strata. No maintained Python library implements it (the reference
  implementation is the R package mapaccuracy, hagc/mapaccuracy ``R/olofsson.R``), and the
  formulas are a few lines of array algebra, so they are written out here with the equations
  cited. The producer's-accuracy variance follows the paper (Olofsson et al. 2014, eq. for
  V(P̂_j), after Card 1982): the first term uses the *mapped* size N_j· of class j and the sum
  runs over i ≠ j. mapaccuracy's stored code uses N̂_·j and includes i = j, which gives wider
  intervals; it is available here as ``pa_variance="mapaccuracy"`` for comparison only.
- :func:`agreement_matrix` and :func:`class_areas` cross-tabulate class maps with one
  ``bincount`` over combined codes (numpy or dask), the standard trick for a contingency table
  of two label rasters; a library call (flox) would need the same code arithmetic first.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import dask.array as dsa
import numpy as np
import pandas as pd
import xarray as xr

from pipeline.errors import InputDataError

INTENSITY_CLASSES = (1, 2, 3, 4, 5, 6)
_NODATA_CODE = 255

__all__ = [
    "INTENSITY_CLASSES",
    "agreement_matrix",
    "class_areas",
    "confusion_counts",
    "error_adjusted_areas",
]


def confusion_counts(
    map_classes: Sequence[int] | np.ndarray,
    reference_classes: Sequence[int] | np.ndarray,
    *,
    classes: Sequence[int] = INTENSITY_CLASSES,
) -> pd.DataFrame:
    """Sample counts n_ij of map class i (rows) against reference class j (columns).

    Parameters
    ----------
    map_classes, reference_classes : array-like of int
        The map's class and the reference (survey) class at each sample unit, same length.
        Samples where either is NaN or 255 (nodata) are dropped.
    classes : sequence of int
        Class labels, in the order of rows and columns.

    Returns
    -------
    pandas.DataFrame
        Integer counts; index ``map_class``, columns ``reference_class``.

    Raises
    ------
    InputDataError
        If the lengths differ or a value is not one of ``classes``.

    Examples
    --------
    >>> confusion_counts([1, 1, 2], [1, 2, 2], classes=[1, 2]).to_numpy().tolist()
    [[1, 1], [0, 1]]
    """
    m = np.asarray(map_classes, dtype="float64").ravel()
    r = np.asarray(reference_classes, dtype="float64").ravel()
    if m.shape != r.shape:
        raise InputDataError(f"confusion_counts: {m.size} map values but {r.size} reference values")
    keep = np.isfinite(m) & np.isfinite(r) & (m != _NODATA_CODE) & (r != _NODATA_CODE)
    m, r = m[keep], r[keep]
    labels = np.asarray(classes, dtype="float64")
    k = labels.size
    for what, values in (("map", m), ("reference", r)):
        bad = ~np.isin(values, labels)
        if bad.any():
            raise InputDataError(
                f"confusion_counts: {int(bad.sum())} {what} value(s) not in classes "
                f"{list(classes)}, e.g. {sorted(set(values[bad].tolist()))[:5]}"
            )
    mi = _class_index(m, classes)
    ri = _class_index(r, classes)
    counts = np.bincount(mi * k + ri, minlength=k * k).reshape(k, k)
    return pd.DataFrame(
        counts,
        index=pd.Index(list(classes), name="map_class"),
        columns=pd.Index(list(classes), name="reference_class"),
    )


def error_adjusted_areas(
    confusion_counts: np.ndarray | pd.DataFrame,
    mapped_area_by_class: Sequence[float] | Mapping | pd.Series | np.ndarray,
    *,
    classes: Sequence,
    z: float = 1.96,
    area_unit: str = "ha",
    pa_variance: str = "olofsson2014",
) -> pd.DataFrame:
    """Olofsson et al. (2014) stratified estimates of class area and accuracy, with CIs.

    Rows i of the error matrix are map classes (the strata), columns j reference classes.
    With W_i = A_m,i / A_tot the mapped proportion of class i and n_i· its sample count:

    - p̂_ij = W_i n_ij / n_i·, p̂_·j = Σ_i p̂_ij, Â_j = A_tot p̂_·j;
    - S(p̂_·j) = √[Σ_i W_i² (n_ij/n_i·)(1 − n_ij/n_i·)/(n_i· − 1)], S(Â_j) = A_tot S(p̂_·j);
    - Ô = Σ_j p̂_jj, V(Ô) = Σ_i W_i² Û_i (1 − Û_i)/(n_i· − 1);
    - Û_i = n_ii / n_i·, V(Û_i) = Û_i (1 − Û_i)/(n_i· − 1);
    - P̂_j = p̂_jj / p̂_·j, V(P̂_j) = N̂_·j⁻² [N_j·² (1 − P̂_j)² Û_j (1 − Û_j)/(n_j· − 1)
      + P̂_j² Σ_{i≠j} N_i·² (n_ij/n_i·)(1 − n_ij/n_i·)/(n_i· − 1)], N̂_·j = Σ_i N_i· n_ij/n_i·;

    and each confidence interval is estimate ± z·SE.

    Parameters
    ----------
    confusion_counts : (k, k) array-like of int
        Sample counts n_ij, map classes in rows, reference classes in columns, both in the
        order of ``classes``.
    mapped_area_by_class : array-like of float (k,) or mapping class → area
        Mapped area A_m,i (or pixel count) of each map class, in ``area_unit``.
    classes : sequence
        Class labels, the order of rows/columns and of the output rows.
    z : float
        Normal quantile for the confidence intervals (1.96 → 95 %).
    area_unit : str
        Unit of ``mapped_area_by_class``; the area estimates are in the same unit.
    pa_variance : {"olofsson2014", "mapaccuracy"}
        ``"olofsson2014"`` (default) is the published form above. ``"mapaccuracy"``
        reproduces hagc/mapaccuracy ``R/olofsson.R``, which uses N̂_·j² in the first term
        and includes i = j in the sum (wider intervals); for comparison only.

    Returns
    -------
    pandas.DataFrame
        Indexed by class: ``n_samples``, ``mapped_area``, ``mapped_proportion``,
        ``adjusted_proportion``, ``adjusted_area``, ``adjusted_area_se``,
        ``adjusted_area_ci_low``, ``adjusted_area_ci_high``, ``adjusted_area_ci_halfwidth``,
        ``users_accuracy``, ``users_accuracy_se``, ``users_accuracy_ci_halfwidth``,
        ``producers_accuracy``, ``producers_accuracy_se``, ``producers_accuracy_ci_halfwidth``.
        ``attrs`` holds ``overall_accuracy``, ``overall_accuracy_se``,
        ``overall_accuracy_ci_halfwidth``, ``z``, ``area_unit``, ``units`` (per column),
        ``pa_variance`` and the ``reference``.

    Raises
    ------
    InputDataError
        If shapes disagree, counts are negative, areas are negative or zero in total, or a
        map class with mapped area has no reference sample (the stratum cannot be estimated).

    References
    ----------
    Olofsson, P., Foody, G. M., Herold, M., Stehman, S. V., Woodcock, C. E., Wulder, M. A.
    (2014). Good practices for estimating area and assessing accuracy of land change.
    Remote Sensing of Environment 148: 42-57. Olofsson, P., Foody, G. M., Stehman, S. V.,
    Woodcock, C. E. (2013). Remote Sensing of Environment 129: 122-131.

    Examples
    --------
    The Olofsson et al. (2014) Table 8 example (30 m pixels, 0.09 ha):

    >>> n = [[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]]
    >>> area_ha = [200000 * 0.09, 150000 * 0.09, 3200000 * 0.09, 6450000 * 0.09]
    >>> t = error_adjusted_areas(n, area_ha, classes=["defor", "gain", "forest", "nonforest"])
    >>> round(t.loc["defor", "adjusted_area"]), round(t.loc["defor", "adjusted_area_ci_halfwidth"])
    (21158, 6158)
    >>> round(t.attrs["overall_accuracy"], 3), round(t.attrs["overall_accuracy_ci_halfwidth"], 3)
    (0.947, 0.018)
    """
    classes = list(classes)
    k = len(classes)
    if isinstance(confusion_counts, pd.DataFrame):
        confusion_counts = confusion_counts.loc[classes, classes].to_numpy()
    n = np.asarray(confusion_counts, dtype="float64")
    if n.shape != (k, k):
        raise InputDataError(
            f"error matrix has shape {n.shape} but {k} classes were given ({classes})"
        )
    if (n < 0).any() or not np.isfinite(n).all():
        raise InputDataError("error matrix counts must be finite and non-negative")
    if isinstance(mapped_area_by_class, Mapping | pd.Series):
        missing = [c for c in classes if c not in mapped_area_by_class]
        if missing:
            raise InputDataError(f"mapped_area_by_class has no area for class(es) {missing}")
        area = np.array([float(mapped_area_by_class[c]) for c in classes])
    else:
        area = np.asarray(mapped_area_by_class, dtype="float64").ravel()
    if area.shape != (k,):
        raise InputDataError(f"mapped_area_by_class has {area.size} values for {k} classes")
    if (area < 0).any() or not np.isfinite(area).all() or area.sum() <= 0:
        raise InputDataError(
            f"mapped areas must be finite, non-negative and not all zero, got {area.tolist()}"
        )
    if pa_variance not in ("olofsson2014", "mapaccuracy"):
        raise InputDataError(
            f"pa_variance must be 'olofsson2014' or 'mapaccuracy', got {pa_variance!r}"
        )

    n_i = n.sum(axis=1)
    unsampled = (n_i == 0) & (area > 0)
    if unsampled.any():
        bad = [classes[i] for i in np.flatnonzero(unsampled)]
        raise InputDataError(
            f"map class(es) {bad} have mapped area but no reference sample: the stratified "
            "estimator needs at least 2 samples in every mapped class"
        )
    if ((n_i == 1) & (area > 0)).any():
        warnings.warn(
            "a map class has a single reference sample: its variance terms are undefined "
            "and reported as NaN",
            RuntimeWarning,
            stacklevel=2,
        )

    a_tot = area.sum()
    w = area / a_tot
    with np.errstate(divide="ignore", invalid="ignore"):
        row_share = np.where(n_i[:, None] > 0, n / n_i[:, None], 0.0)  # n_ij / n_i·
        p = w[:, None] * row_share  # p̂_ij
        p_col = p.sum(axis=0)  # p̂_·j
        adjusted_area = a_tot * p_col
        # per-stratum variance term (n_ij/n_i·)(1 − n_ij/n_i·)/(n_i· − 1), zero for W_i = 0
        denom = (n_i - 1.0)[:, None]
        term = np.where(
            w[:, None] > 0, row_share * (1.0 - row_share) / denom, 0.0
        )  # NaN if n_i· = 1
        var_p_col = (w[:, None] ** 2 * term).sum(axis=0)
        area_se = a_tot * np.sqrt(var_p_col)

        ua = np.where(n_i > 0, np.diag(n) / n_i, np.nan)
        var_ua = ua * (1.0 - ua) / (n_i - 1.0)
        oa = float(np.trace(p))
        var_oa = float(np.nansum(np.where(w > 0, w**2 * var_ua, 0.0)))
        if (np.isnan(var_ua) & (w > 0)).any():
            var_oa = float("nan")

        pa = np.where(p_col > 0, np.diag(p) / p_col, np.nan)
        n_hat_col = (area[:, None] * row_share).sum(axis=0)  # N̂_·j
        cell_terms = area[:, None] ** 2 * term  # N_i·² (n_ij/n_i·)(1 − n_ij/n_i·)/(n_i· − 1)
        if pa_variance == "olofsson2014":
            first = area**2 * (1.0 - pa) ** 2 * var_ua
            second = cell_terms.sum(axis=0) - np.diag(cell_terms)  # i ≠ j
        else:  # hagc/mapaccuracy R/olofsson.R
            first = n_hat_col**2 * (1.0 - pa) ** 2 * var_ua
            second = cell_terms.sum(axis=0)
        var_pa = (first + pa**2 * second) / n_hat_col**2

    out = pd.DataFrame(
        {
            "n_samples": n_i.astype("int64"),
            "mapped_area": area,
            "mapped_proportion": w,
            "adjusted_proportion": p_col,
            "adjusted_area": adjusted_area,
            "adjusted_area_se": area_se,
            "adjusted_area_ci_low": adjusted_area - z * area_se,
            "adjusted_area_ci_high": adjusted_area + z * area_se,
            "adjusted_area_ci_halfwidth": z * area_se,
            "users_accuracy": ua,
            "users_accuracy_se": np.sqrt(var_ua),
            "users_accuracy_ci_halfwidth": z * np.sqrt(var_ua),
            "producers_accuracy": pa,
            "producers_accuracy_se": np.sqrt(var_pa),
            "producers_accuracy_ci_halfwidth": z * np.sqrt(var_pa),
        },
        index=pd.Index(classes, name="class"),
    )
    oa_se = float(np.sqrt(var_oa))
    out.attrs.update(
        {
            "overall_accuracy": oa,
            "overall_accuracy_se": oa_se,
            "overall_accuracy_ci_halfwidth": z * oa_se,
            "z": z,
            "area_unit": area_unit,
            "units": {
                c: (area_unit if "area" in c and "proportion" not in c else "1")
                for c in out.columns
            },
            "pa_variance": pa_variance,
            "reference": "Olofsson et al. (2014) Remote Sens. Environ. 148: 42-57",
        }
    )
    return out


# --------------------------------------------------------------------------- map tables
def _class_index(data, classes: Sequence[int]):
    """Map class values to 0..k-1, nodata (NaN/255) to k, other values to k+1."""
    labels = np.asarray(classes, dtype="float64")
    k = labels.size
    lut_sorted = np.sort(labels)
    order = np.argsort(labels)

    def _index(block):
        b = np.asarray(block, dtype="float64")
        pos = np.clip(np.searchsorted(lut_sorted, b), 0, k - 1)
        found = lut_sorted[pos] == b
        idx = np.where(found, order[pos], k + 1)
        nodata = ~np.isfinite(b) | (b == _NODATA_CODE)
        return np.where(nodata, k, idx).astype("int64")

    if isinstance(data, dsa.Array):
        return data.map_blocks(_index, dtype="int64")
    return _index(data)


def _bincount(codes, weights, minlength: int) -> np.ndarray:
    if isinstance(codes, dsa.Array) or isinstance(weights, dsa.Array):
        codes = dsa.asarray(codes).ravel()
        w = None if weights is None else dsa.asarray(weights).ravel()
        return np.asarray(dsa.bincount(codes, weights=w, minlength=minlength).compute())
    w = None if weights is None else np.asarray(weights).ravel()
    return np.bincount(np.asarray(codes).ravel(), weights=w, minlength=minlength)


def _pixel_weights(pixel_area_ha, shape) -> tuple[object, float]:
    """(weights array or None, scalar factor)."""
    if isinstance(pixel_area_ha, xr.DataArray):
        if pixel_area_ha.shape != shape:
            raise InputDataError(
                f"pixel_area_ha has shape {pixel_area_ha.shape}, the maps have {shape}"
            )
        return pixel_area_ha.data, 1.0
    value = float(pixel_area_ha)
    if not np.isfinite(value) or value <= 0:
        raise InputDataError(f"pixel_area_ha must be a positive number, got {pixel_area_ha!r}")
    return None, value


def class_areas(
    class_map: xr.DataArray,
    *,
    pixel_area_ha: float | xr.DataArray,
    classes: Sequence[int] = INTENSITY_CLASSES,
) -> pd.Series:
    """Mapped area (ha) of each class of a class map, e.g. the input of the Olofsson estimator.

    Parameters
    ----------
    class_map : xarray.DataArray (y, x)
        Class codes; NaN or 255 is nodata.
    pixel_area_ha : float or DataArray
        Area of one pixel in ha (equal-area grid), or per-pixel true areas in ha.
    classes : sequence of int
        Classes to report.

    Returns
    -------
    pandas.Series
        Area in ha per class (``attrs["units"] = "ha"``). Computes a dask input (global sum).

    Raises
    ------
    InputDataError
        If the map holds a value that is not a class nor nodata.

    Examples
    --------
    >>> m = xr.DataArray(np.array([[1, 1], [2, np.nan]]), dims=("y", "x"))
    >>> class_areas(m, pixel_area_ha=0.09, classes=[1, 2]).round(2).tolist()
    [0.18, 0.09]
    """
    k = len(classes)
    idx = _class_index(class_map.data, classes)
    weights, factor = _pixel_weights(pixel_area_ha, class_map.shape)
    sums = _bincount(idx, weights, k + 2) * factor
    _check_other(sums[k + 1] / factor, class_map.name, classes)
    out = pd.Series(sums[:k], index=pd.Index(list(classes), name="class"), name="area_ha")
    out.attrs["units"] = "ha"
    return out


def _check_other(count: float, name, classes) -> None:
    if count > 0:
        raise InputDataError(
            f"class map {name!r} has pixels whose value is neither one of {list(classes)} nor "
            "nodata (NaN/255)"
        )


def agreement_matrix(
    map_a: xr.DataArray,
    map_b: xr.DataArray,
    pixel_area_ha: float | xr.DataArray,
    *,
    classes: Sequence[int] = INTENSITY_CLASSES,
    names: tuple[str, str] = ("rusle", "ml"),
) -> pd.DataFrame:
    """Area (ha) of each pair of classes of two class maps, e.g. the RUSLE map vs the ML map.

    Each pixel's pair of classes is turned into one code ``i·k + j`` and all codes are counted
    in a single (weighted) ``bincount``: no Python loop over pixels, one pass over a dask map.
    Pixels that are nodata (NaN or 255) in either map are left out.

    Parameters
    ----------
    map_a, map_b : xarray.DataArray (y, x)
        Class maps on the same grid (numpy or dask).
    pixel_area_ha : float or DataArray
        Area of one pixel in ha, or per-pixel true areas in ha (same grid).
    classes : sequence of int
        Class codes, rows/columns in this order (default SL 190-2007 codes 1..6).
    names : (str, str)
        Names of the two maps, used for the index and column names.

    Returns
    -------
    pandas.DataFrame
        Hectares, rows = classes of ``map_a``, columns = classes of ``map_b``;
        ``attrs``: ``units`` ("ha"), ``agreement_ha``, ``total_ha`` and ``overall_agreement``
        (share of the compared area on the diagonal). Computes a dask input (global sum).

    Raises
    ------
    InputDataError / GridError
        If the maps are on different grids or hold values other than classes/nodata.

    Examples
    --------
    >>> a = xr.DataArray(np.array([[1.0, 2.0], [2.0, np.nan]]), dims=("y", "x"))
    >>> b = xr.DataArray(np.array([[1.0, 1.0], [2.0, 2.0]]), dims=("y", "x"))
    >>> agreement_matrix(a, b, 0.09, classes=[1, 2]).round(2).to_numpy().tolist()
    [[0.09, 0.0], [0.09, 0.09]]
    """
    from pipeline.grid import check_same_grid

    check_same_grid(**{names[0]: map_a, names[1]: map_b})
    if map_a.shape != map_b.shape:
        raise InputDataError(f"maps have shapes {map_a.shape} and {map_b.shape}")
    k = len(classes)
    data_a, data_b = map_a.data, map_b.data
    if isinstance(data_a, dsa.Array) != isinstance(data_b, dsa.Array):
        data_a, data_b = dsa.asarray(data_a), dsa.asarray(data_b)
        data_b = data_b.rechunk(data_a.chunks)
    elif isinstance(data_a, dsa.Array):
        data_b = data_b.rechunk(data_a.chunks)
    ia = _class_index(data_a, classes)
    ib = _class_index(data_b, classes)
    kk = k + 2  # classes, nodata, other
    codes = ia * kk + ib
    weights, factor = _pixel_weights(pixel_area_ha, map_a.shape)
    counts = (_bincount(codes, weights, kk * kk) * factor).reshape(kk, kk)
    # anything in row/column k+1 is a value that is neither a class nor nodata
    if counts[k + 1, :].sum() > 0:
        _check_other(1.0, map_a.name or names[0], classes)
    if counts[:, k + 1].sum() > 0:
        _check_other(1.0, map_b.name or names[1], classes)
    table = pd.DataFrame(
        counts[:k, :k],
        index=pd.Index(list(classes), name=names[0]),
        columns=pd.Index(list(classes), name=names[1]),
    )
    total = float(table.to_numpy().sum())
    diag = float(np.trace(table.to_numpy()))
    table.attrs.update(
        {
            "units": "ha",
            "agreement_ha": diag,
            "total_ha": total,
            "overall_agreement": diag / total if total > 0 else float("nan"),
        }
    )
    return table
