"""Per-pixel feature stacks, survey-layer validation and sampling at survey points.

Written by hand: stacking named layers into one ``(feature, y, x)`` array with units kept,
one-hot land cover, and nearest-pixel sampling are a few xarray calls; the checks on a field
survey layer (classes, CRS, extent) are Shuibao's own input contract
(docs/contract.md: ``survey_{year}.gpkg``), so no library does them. Geometry work is
geopandas/shapely, reprojection pyproj.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import dask.array as dsa
import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from pyproj import CRS

from pipeline import landcover as lc
from pipeline.errors import GridError, InputDataError
from pipeline.grid import check_same_grid

log = logging.getLogger(__name__)

SURVEY_CLASSES = (1, 2, 3, 4, 5, 6)  # SL 190-2007 intensity codes (pipeline/classify.py)

__all__ = [
    "SURVEY_CLASSES",
    "build_feature_stack",
    "read_survey",
    "sample_at_points",
    "validate_survey",
]


# --------------------------------------------------------------------------- feature stack
def build_feature_stack(
    layers: Mapping[str, xr.DataArray],
    *,
    landcover: xr.DataArray | None = None,
    landcover_codes: Sequence[int] | None = None,
) -> xr.DataArray:
    """Stack per-pixel layers into one float32 ``(feature, y, x)`` array, with units.

    Parameters
    ----------
    layers : mapping name → DataArray (y, x)
        Continuous features on the analysis grid, e.g. ``r`` (MJ·mm·ha⁻¹·h⁻¹·a⁻¹), ``k``
        (t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹), ``ls``, ``c``, ``p`` (or ``b``, ``e``, ``t``; dimensionless),
        ``slope_deg`` (degree), ``ndvi_mean``/``ndvi_min``/``ndvi_max``/``ndvi_amplitude``
        (1), optionally ``soil_loss_t_ha_yr`` (t·ha⁻¹·a⁻¹). Every layer must carry
        ``attrs["units"]``; NaN is nodata.
    landcover : DataArray (y, x), optional
        Shuibao land-cover codes (pipeline/landcover.py), nodata 255 or NaN. Added as one
        0/1 feature per code, named ``lc_<key>`` (NaN where land cover is nodata).
    landcover_codes : sequence of int, optional
        Codes to one-hot encode (default: every code in pipeline.landcover.CLASSES).

    Returns
    -------
    xarray.DataArray
        float32, dims ``("feature", "y", "x")``, coordinate ``feature`` (names, in the order
        given, land cover last) and non-index coordinate ``feature_units``;
        ``attrs["feature_units"]`` repeats the units as a list and ``attrs["units"]`` says they
        vary by feature. Dask-backed (lazy, one chunk along ``feature``) if any input is dask.

    Raises
    ------
    InputDataError
        If no layer is given, a layer is not 2-D or has no units, a name repeats, or a land-
        cover code is unknown. GridError if the layers are not on one grid.

    Examples
    --------
    >>> y = xr.DataArray(np.ones((2, 3)), dims=("y", "x"), attrs={"units": "degree"})
    >>> lcover = xr.DataArray(np.array([[1, 1, 3], [3, 255, 1]]), dims=("y", "x"))
    >>> s = build_feature_stack({"slope_deg": y}, landcover=lcover, landcover_codes=[1, 3])
    >>> s["feature"].values.tolist(), s.attrs["feature_units"]
    (['slope_deg', 'lc_forest', 'lc_grass'], ['degree', '1', '1'])
    """
    if not layers and landcover is None:
        raise InputDataError("build_feature_stack: no layers given")
    names: list[str] = []
    units: list[str] = []
    arrays: list[xr.DataArray] = []
    for name, da in layers.items():
        if not isinstance(da, xr.DataArray) or da.dims != ("y", "x"):
            dims = getattr(da, "dims", type(da).__name__)
            raise InputDataError(f"feature layer {name!r} must be a (y, x) DataArray, got {dims}")
        if "units" not in da.attrs:
            raise InputDataError(
                f"feature layer {name!r} has no attrs['units']; every feature records its units"
            )
        names.append(str(name))
        units.append(str(da.attrs["units"]))
        arrays.append(da.astype("float32"))
    if landcover is not None:
        if landcover.dims != ("y", "x"):
            raise InputDataError(f"landcover must be (y, x), got {landcover.dims}")
        codes = list(landcover_codes) if landcover_codes is not None else sorted(lc.CLASSES)
        unknown = [c for c in codes if int(c) not in lc.CLASSES]
        if unknown:
            raise InputDataError(
                f"landcover_codes {unknown} are not Shuibao land-cover codes {sorted(lc.CLASSES)}"
            )
        valid = landcover.notnull() & (landcover != lc.NODATA)
        for code in codes:
            onehot = xr.where(landcover == code, np.float32(1), np.float32(0))
            arrays.append(onehot.where(valid).astype("float32"))
            names.append(f"lc_{lc.CLASSES[int(code)][0]}")
            units.append("1")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputDataError(f"feature names repeat: {dup}")
    all_layers = dict(zip(names, arrays, strict=True))
    if landcover is not None:
        all_layers = {**all_layers, "landcover": landcover}
    check_same_grid(**all_layers)

    # use the first layer's coordinates everywhere (check_same_grid allowed tiny float noise)
    template = arrays[0]
    arrays = [a.assign_coords(y=template["y"], x=template["x"]) for a in arrays]
    stack = xr.concat(arrays, dim="feature", coords="minimal", compat="override", join="override")
    stack = stack.assign_coords(
        feature=("feature", names), feature_units=("feature", units)
    ).transpose("feature", "y", "x")
    if isinstance(stack.data, dsa.Array):
        stack = stack.chunk({"feature": -1})
    stack.name = "features"
    stack.attrs = {
        "units": "per feature, see feature_units",
        "feature_units": list(units),
        "long_name": "per-pixel feature stack for the erosion-intensity classifier",
    }
    crs = _crs_of(template)
    if crs is not None:
        stack = stack.rio.write_crs(crs)
    return stack


def _crs_of(da: xr.DataArray) -> CRS | None:
    try:
        crs = da.rio.crs
    except Exception:  # noqa: BLE001 - no rio metadata at all
        return None
    return CRS.from_user_input(crs) if crs is not None else None


# --------------------------------------------------------------------------- survey layer
def read_survey(
    path: str | os.PathLike,
    *,
    aoi_geom,
    grid_crs,
    class_col: str = "intensity_class",
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a survey layer (GeoPackage/shapefile) and validate it with :func:`validate_survey`.

    Errors name ``path``. See :func:`validate_survey` for the parameters and checks.

    Examples
    --------
    >>> read_survey("survey_2023.gpkg", aoi_geom=aoi, grid_crs=grid.crs)  # doctest: +SKIP
    """
    if not os.path.exists(path):
        raise InputDataError(f"survey layer not found: {path}")
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputDataError(f"cannot read survey layer {path}: {exc}") from exc
    return validate_survey(
        gdf, aoi_geom=aoi_geom, grid_crs=grid_crs, class_col=class_col, source=str(path)
    )


def validate_survey(
    gdf: gpd.GeoDataFrame,
    *,
    aoi_geom,
    grid_crs,
    class_col: str = "intensity_class",
    classes: Sequence[int] = SURVEY_CLASSES,
    source: str = "survey layer",
) -> gpd.GeoDataFrame:
    """Check a field-survey layer and bring it to the grid CRS (the validation used by ML).

    Checks, in order: the layer is not empty; it has a CRS (missing → error; different from
    the grid → reprojected); ``class_col`` exists and every value is an integer in
    ``classes``; no geometry is empty; every unit lies in the district (``aoi_geom``; points
    on the boundary count as inside, polygons must intersect it).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Survey units (points, or polygons: see :func:`sample_at_points`).
    aoi_geom : shapely geometry, GeoSeries or GeoDataFrame
        The district outline. A bare shapely geometry is taken to be in ``grid_crs``.
    grid_crs : pyproj CRS or anything pyproj accepts
        CRS of the analysis grid.
    class_col : str
        Column holding the observed SL 190-2007 class (codes 1..6 by default).
    classes : sequence of int
        Allowed class codes.
    source : str
        File name used in error messages.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy in ``grid_crs`` with ``class_col`` as int64.

    Raises
    ------
    InputDataError
        Empty layer, missing column, classes outside ``classes`` (count and examples), empty
        geometries, units outside the district (count and ids). GridError if the layer has no
        CRS.

    Examples
    --------
    >>> from shapely.geometry import Point, box
    >>> g = gpd.GeoDataFrame({"intensity_class": [2]}, geometry=[Point(5, 5)], crs=3857)
    >>> validate_survey(g, aoi_geom=box(0, 0, 10, 10), grid_crs=3857)["intensity_class"].tolist()
    [2]
    """
    grid_crs = CRS.from_user_input(grid_crs)
    if len(gdf) == 0:
        raise InputDataError(f"{source}: the survey layer has no features")
    if gdf.crs is None:
        raise GridError(
            f"{source}: the survey layer has no CRS; set it (e.g. in QGIS or with "
            "GeoDataFrame.set_crs) to the CRS its coordinates are in"
        )
    out = gdf if CRS.from_user_input(gdf.crs) == grid_crs else gdf.to_crs(grid_crs)
    out = out.copy()
    if class_col not in out.columns:
        raise InputDataError(
            f"{source}: class column {class_col!r} not found; columns are "
            f"{[c for c in out.columns if c != out.geometry.name]}"
        )
    values = pd.to_numeric(out[class_col], errors="coerce")
    finite = np.isfinite(values.to_numpy(dtype="float64", na_value=np.nan))
    integral = finite & (np.mod(np.where(finite, values, 0), 1) == 0)
    allowed = integral & np.isin(np.where(finite, values, -1), list(classes))
    if not allowed.all():
        bad = out.loc[~allowed, class_col]
        examples = sorted({repr(v) for v in bad.tolist()})[:5]
        raise InputDataError(
            f"{source}: column {class_col!r} has {int((~allowed).sum())} value(s) outside the "
            f"classes {list(classes)} (SL 190-2007 codes), e.g. {', '.join(examples)}"
        )
    out[class_col] = values.astype("int64")
    empty = out.geometry.is_empty | out.geometry.isna()
    if empty.any():
        raise InputDataError(f"{source}: {int(empty.sum())} survey unit(s) have no geometry")

    aoi = _aoi_in_crs(aoi_geom, grid_crs, source)
    inside = out.geometry.intersects(aoi)
    if not inside.all():
        ids = _ids(out, ~inside)
        raise InputDataError(
            f"{source}: {int((~inside).sum())} of {len(out)} survey unit(s) lie outside the "
            f"district (AOI), e.g. {ids}; check the file's CRS and extent"
        )
    return out


def _aoi_in_crs(aoi_geom, crs: CRS, source: str):
    if isinstance(aoi_geom, gpd.GeoDataFrame | gpd.GeoSeries):
        if aoi_geom.crs is None:
            raise GridError(f"{source}: the AOI outline has no CRS")
        aoi = aoi_geom.to_crs(crs) if CRS.from_user_input(aoi_geom.crs) != crs else aoi_geom
        return aoi.geometry.union_all() if isinstance(aoi, gpd.GeoDataFrame) else aoi.union_all()
    return aoi_geom


def _ids(gdf: pd.DataFrame, mask, id_col: str = "survey_id", n: int = 5) -> list:
    sel = gdf.loc[mask]
    values = sel[id_col] if id_col in sel.columns else sel.index
    return [v.item() if hasattr(v, "item") else v for v in list(values[:n])]


# --------------------------------------------------------------------------- sampling
def sample_at_points(
    stack: xr.DataArray,
    points_gdf: gpd.GeoDataFrame,
    *,
    id_col: str = "survey_id",
) -> pd.DataFrame:
    """Feature values at the pixel nearest each survey point (the pixel containing it).

    Polygon units are sampled at their representative point (a point guaranteed inside the
    polygon, ``shapely.point_on_surface``). Computes the sampled values (a global operation on
    a dask stack, reading only the chunks that hold points).

    Parameters
    ----------
    stack : xarray.DataArray (feature, y, x)
        From :func:`build_feature_stack`; regular grid with ``x``/``y`` pixel-centre coords.
    points_gdf : geopandas.GeoDataFrame
        Survey units, in the stack's CRS (reprojected if both CRSs are known and differ).
    id_col : str
        Column used to name points in messages.

    Returns
    -------
    pandas.DataFrame
        Same index as ``points_gdf``: one column per feature (float32 values), plus ``row``,
        ``col`` (pixel indices), ``x``, ``y`` (sample coordinates, CRS units) and ``valid``
        (False where any feature is NaN; those rows are also logged as a warning and counted
        in ``attrs["n_nodata_rows"]``).

    Raises
    ------
    InputDataError
        If a point falls outside the grid (count and ids). GridError if the points have no
        CRS while the stack has one.

    Examples
    --------
    >>> s = build_feature_stack({"a": xr.DataArray(np.arange(4.).reshape(2, 2), dims=("y", "x"),
    ...     coords={"y": [1.5, 0.5], "x": [0.5, 1.5]}, attrs={"units": "1"})})
    >>> from shapely.geometry import Point
    >>> sample_at_points(s, gpd.GeoDataFrame(geometry=[Point(1.2, 0.2)]))["a"].tolist()
    [3.0]
    """
    if stack.dims != ("feature", "y", "x"):
        raise InputDataError(f"stack must have dims (feature, y, x), got {stack.dims}")
    stack_crs = _crs_of(stack)
    if stack_crs is not None:
        if points_gdf.crs is None:
            raise GridError("survey points have no CRS; validate them with validate_survey")
        if CRS.from_user_input(points_gdf.crs) != stack_crs:
            points_gdf = points_gdf.to_crs(stack_crs)
    geom = points_gdf.geometry
    pts = geom.where(geom.geom_type == "Point", geom.representative_point())
    px = pts.x.to_numpy()
    py = pts.y.to_numpy()

    xs = stack["x"].to_numpy()
    ys = stack["y"].to_numpy()
    col = _pixel_index(xs, px)
    row = _pixel_index(ys, py)
    outside = (col < 0) | (row < 0)
    if outside.any():
        raise InputDataError(
            f"{int(outside.sum())} of {len(points_gdf)} survey point(s) fall outside the "
            f"feature grid, e.g. {_ids(points_gdf, outside, id_col)}"
        )
    values = stack.isel(
        y=xr.DataArray(row, dims="point"), x=xr.DataArray(col, dims="point")
    ).transpose("point", "feature")
    values = np.asarray(values.values)
    names = [str(f) for f in stack["feature"].to_numpy()]
    df = pd.DataFrame(values, columns=names, index=points_gdf.index)
    df["row"] = row
    df["col"] = col
    df["x"] = px
    df["y"] = py
    df["valid"] = ~np.isnan(values).any(axis=1)
    n_bad = int((~df["valid"]).sum())
    df.attrs["n_nodata_rows"] = n_bad
    if n_bad:
        bad_feats = [n for n, b in zip(names, np.isnan(values).any(axis=0), strict=True) if b]
        log.warning(
            "%d of %d survey point(s) sample nodata in feature(s) %s, e.g. %s; they are marked "
            "valid=False",
            n_bad,
            len(df),
            bad_feats,
            _ids(points_gdf, ~df["valid"].to_numpy(), id_col),
        )
    return df


def _pixel_index(centres: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the pixel (given by its centre coords, regular spacing) containing each value.

    -1 for values outside the outer pixel edges.
    """
    if centres.size == 1:
        raise InputDataError("feature grid needs at least 2 pixels along each axis")
    step = (centres[-1] - centres[0]) / (centres.size - 1)
    edge0 = centres[0] - step / 2.0
    with np.errstate(invalid="ignore"):
        pos = np.floor((values - edge0) / step)
    idx = np.where(np.isfinite(pos), pos, -1).astype("int64")
    idx[(idx < 0) | (idx >= centres.size) | ~np.isfinite(values)] = -1
    return idx


def ndvi_statistics(ndvi: xr.DataArray, *, dim: str = "band") -> dict[str, xr.DataArray]:
    """Annual NDVI statistics (dimensionless) from the half-month NDVI periods.

    Returns ``ndvi_mean``, ``ndvi_min``, ``ndvi_max`` and ``ndvi_amplitude``
    (max − min) over ``dim``; lazy for dask input. These are ML features.
    """
    out = {
        "ndvi_mean": ndvi.mean(dim),
        "ndvi_min": ndvi.min(dim),
        "ndvi_max": ndvi.max(dim),
    }
    out["ndvi_amplitude"] = out["ndvi_max"] - out["ndvi_min"]
    for da in out.values():
        da.attrs["units"] = "1"
    return out
