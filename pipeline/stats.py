"""True-area statistics of SL 190-2007 intensity classes: district, zones, change.

Areas are true areas in hectares, never pixel counts: on an equal-area grid every
pixel has the same exact area; on a geographic (lon/lat) grid each row of pixels
gets its ellipsoidal area from the closed form of an ellipsoidal lat/lon cell
(Snyder 1987, eq. 3-12); on any other projected grid (UTM, Gauss-Krüger) each
pixel's map area is divided by the projection's areal scale factor from PROJ
(``pyproj.Proj.get_factors``). Pixel counting on a geographic grid over-weights
the low-latitude rows by 1/cos(latitude); xarray-spatial's ``crosstab``
percentages do exactly that.

What is written by hand here and why:

- the cell-area formula and its broadcast (a one-line closed form; no library
  returns a lazy per-pixel area raster for an arbitrary grid);
- the bulletin bookkeeping (which classes are 水土流失面积, shares of the land
  area and of the erosion area, 水土保持率, the transition summary), which is
  specific to SL 190-2007 and the 水土保持公报 and exists in no library.

The sums themselves are delegated: flox groupby-reductions (bounded memory on
dask arrays) for district tables and change matrices, exactextract coverage
fractions (partial pixels at zone borders) for zone tables.
"""

from __future__ import annotations

import warnings

import dask
import dask.array as dsa
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import CRS, Proj

from pipeline.classify import CLASS_CODES, CLASSES, EROSION_CODES
from pipeline.errors import GridError, InputDataError
from pipeline.grid import AnalysisGrid, check_same_grid

M2_PER_HA = 10_000.0

CLASS_TABLE_COLUMNS = [
    "class_code",
    "class_key",
    "class_zh",
    "class_en",
    "area_ha",
    "share_of_district_pct",
    "share_of_erosion_pct",
]
ZONE_TABLE_COLUMNS = [
    "zone_layer",
    "zone_id",
    "zone_name",
    "class_code",
    "class_zh",
    "class_en",
    "area_ha",
    "share_of_zone_pct",
    "share_of_zone_erosion_pct",
]
ZONE_SUMMARY_COLUMNS = [
    "zone_layer",
    "zone_id",
    "zone_name",
    "land_area_ha",
    "erosion_area_ha",
    "erosion_share_pct",
    "light_area_ha",
    "moderate_area_ha",
    "intense_area_ha",
    "very_intense_area_ha",
    "severe_area_ha",
]
SOIL_CONSERVATION_RATE_DEFINITION = "水土保持率 = (1 − 水土流失面积 / 土地总面积) × 100 %"
SOIL_CONSERVATION_RATE_DEFINITION_EN = (
    "soil-conservation rate = (1 − soil-erosion area / total land area) × 100 %"
)


# --------------------------------------------------------------------------- pixel area
def _grid_of(template: xr.DataArray, what: str = "template") -> AnalysisGrid:
    if "y" not in template.dims or "x" not in template.dims:
        raise GridError(f"{what} must have dims ('y', 'x'), got {template.dims}")
    try:
        grid = AnalysisGrid.from_dataarray(template)
    except GridError:
        raise
    except Exception as exc:  # rioxarray raises its own errors for missing transforms
        raise GridError(f"{what} {template.name!r} has no usable georeference: {exc}") from exc
    t = grid.transform
    if t.b != 0 or t.d != 0:
        raise GridError(f"{what} {template.name!r} has a rotated transform {tuple(t)[:6]}")
    return grid


def _ellipsoid(crs: CRS) -> tuple[float, float]:
    """Semi-major axis (m) and first eccentricity squared of a CRS's ellipsoid."""
    ell = crs.ellipsoid
    if ell is None:
        raise GridError(f"CRS {crs.name!r} has no ellipsoid; cannot compute true areas")
    a = float(ell.semi_major_metre)
    inv_f = float(ell.inverse_flattening)
    f = 0.0 if not np.isfinite(inv_f) or inv_f == 0 else 1.0 / inv_f
    return a, f * (2.0 - f)


def _authalic_q(phi: np.ndarray, e2: float) -> np.ndarray:
    """Snyder (1987) eq. 3-12 q(φ); for a sphere (e = 0) q = 2 sin φ."""
    s = np.sin(phi)
    if e2 == 0.0:
        return 2.0 * s
    e = np.sqrt(e2)
    return (1.0 - e2) * (
        s / (1.0 - e2 * s * s) - (1.0 / (2.0 * e)) * np.log((1.0 - e * s) / (1.0 + e * s))
    )


def geographic_row_areas_m2(grid: AnalysisGrid) -> np.ndarray:
    """Ellipsoidal area (m²) of one pixel in each row of a lon/lat grid.

    The area of the cell between latitudes φ₁, φ₂ and a longitude span Δλ on an
    ellipsoid (a, e) is ``a²·Δλ·|q(φ₂) − q(φ₁)| / 2`` with q from Snyder (1987),
    Map Projections — A Working Manual, USGS Prof. Paper 1395, eq. 3-12. Exact
    for cells bounded by meridians and parallels.
    """
    crs = grid.crs
    rad_per_unit = float(crs.axis_info[0].unit_conversion_factor)
    a, e2 = _ellipsoid(crs)
    t = grid.transform
    lat_edges = t.f + np.arange(grid.height + 1) * t.e
    if lat_edges.min() < -90.0 - 1e-9 or lat_edges.max() > 90.0 + 1e-9:
        raise GridError(
            f"geographic grid rows span latitudes {lat_edges.min()}..{lat_edges.max()}, "
            "outside -90..90"
        )
    phi = np.clip(lat_edges, -90.0, 90.0) * rad_per_unit
    q = _authalic_q(phi, e2)
    dlambda = abs(t.a) * rad_per_unit
    return 0.5 * a * a * dlambda * np.abs(np.diff(q))


def _linear_unit_m(crs: CRS) -> float:
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else None
    if not factor:
        raise GridError(f"projected CRS {crs.name!r} has no linear unit")
    return float(factor)


def _projected_pixel_area_m2(y: np.ndarray, x: np.ndarray, *, crs_wkt: str, map_area_m2: float):
    """True area of pixels centred at (x, y): map area / PROJ areal scale factor."""
    proj = Proj(CRS.from_wkt(crs_wkt))
    yy, xx = np.broadcast_arrays(y, x)
    lon, lat = proj(xx, yy, inverse=True)
    factors = proj.get_factors(lon, lat)
    scale = np.asarray(factors.areal_scale, dtype="float64").reshape(yy.shape)
    if not np.all(np.isfinite(scale)):
        raise GridError(
            f"PROJ returned no scale factor for some pixels of the {CRS.from_wkt(crs_wkt).name} "
            "grid (outside the projection's domain?)"
        )
    return map_area_m2 / scale


def _method_name(crs: CRS) -> str:
    op = crs.coordinate_operation
    return op.method_name if op is not None else crs.name


def _yx_chunks(template: xr.DataArray):
    if template.chunks is None:
        return None
    sizes = template.chunksizes
    return (sizes["y"], sizes["x"])


def pixel_area_ha(template: xr.DataArray) -> xr.DataArray:
    """True area of every pixel of ``template``'s grid, in hectares.

    - Equal-area projection (``AnalysisGrid.is_equal_area``): the constant
      ``|Δx·Δy|`` (exact).
    - Geographic (lon/lat) grid: ellipsoidal cell area per row, closed form of
      Snyder (1987, USGS Prof. Paper 1395, eq. 3-12) on the CRS's ellipsoid.
    - Other projected grids (UTM, Gauss-Krüger, …): ``|Δx·Δy| / s_a`` with the
      areal scale factor ``s_a = h·k·sin θ'`` at the pixel centre from PROJ
      (``pyproj.Proj.get_factors``; Snyder 1987 eq. 4-12). The error of using
      the centre's factor is of order (pixel size / Earth radius)², < 1e-9.

    Parameters
    ----------
    template : xarray.DataArray
        Any array on the grid, dims (…, "y", "x"), with a CRS and transform
        (rioxarray). Only its grid is used; leading dims are ignored.

    Returns
    -------
    xarray.DataArray
        float64 (y, x) pixel areas, ``attrs["units"] = "ha"`` and
        ``attrs["area_method"]``. Dask-backed with the template's (y, x) chunks
        when the template is dask-backed (lazy: rows or blocks are computed on
        demand), otherwise a numpy broadcast view.

    Examples
    --------
    >>> from pipeline.grid import AnalysisGrid
    >>> g = AnalysisGrid.from_bounds("EPSG:4326", 110.0, 25.0, 110.02, 25.01, 0.01)
    >>> t = g.dataarray(np.zeros(g.shape), name="t", units="1")
    >>> np.round(pixel_area_ha(t).values, 2).tolist()
    [[111.82, 111.82]]
    """
    grid = _grid_of(template)
    crs = grid.crs
    chunks = _yx_chunks(template)
    shape = grid.shape
    t = grid.transform

    if crs.is_geographic:
        row = geographic_row_areas_m2(grid) / M2_PER_HA
        data = _broadcast_rows(row, shape, chunks)
        name = crs.ellipsoid.name if crs.ellipsoid is not None else "?"
        method = f"ellipsoidal lon/lat cell area per row (Snyder 1987 eq. 3-12), ellipsoid {name}"
    elif crs.is_projected:
        unit = _linear_unit_m(crs)
        map_area_m2 = abs(t.a * t.e) * unit * unit
        if grid.is_equal_area:
            data = _broadcast_rows(np.full(grid.height, map_area_m2 / M2_PER_HA), shape, chunks)
            method = f"equal-area projection ({_method_name(crs)}): constant pixel area"
        else:
            coords = grid.coords()
            y = xr.DataArray(coords["y"], dims="y")
            x = xr.DataArray(coords["x"], dims="x")
            if chunks is not None:
                y = y.chunk({"y": chunks[0]})
                x = x.chunk({"x": chunks[1]})
            data = xr.apply_ufunc(
                _projected_pixel_area_m2,
                y,
                x,
                kwargs={"crs_wkt": crs.to_wkt(), "map_area_m2": map_area_m2},
                dask="parallelized",
                output_dtypes=[np.float64],
            ).transpose("y", "x")
            data = (data / M2_PER_HA).data
            method = (
                f"projected grid ({_method_name(crs)}): map area / PROJ areal scale "
                "factor at each pixel centre"
            )
    else:
        raise GridError(f"CRS {crs.name!r} is neither geographic nor projected")

    out = xr.DataArray(
        data,
        dims=("y", "x"),
        coords={"y": template["y"].values, "x": template["x"].values},
        name="pixel_area_ha",
    )
    out = out.rio.write_crs(crs).rio.write_transform(t)
    out.attrs.update({"units": "ha", "area_method": method})
    return out


def _broadcast_rows(row: np.ndarray, shape, chunks):
    if chunks is None:
        return np.broadcast_to(row[:, None], shape)
    col = dsa.from_array(row[:, None], chunks=(chunks[0], 1))
    return dsa.broadcast_to(col, shape, chunks=chunks)


# --------------------------------------------------------------------------- district table
def _check_class_grid(intensity, pixel_area, extra: dict | None = None):
    for name, arr in {"intensity": intensity, "pixel_area_ha": pixel_area, **(extra or {})}.items():
        if arr.dims != ("y", "x"):
            raise InputDataError(f"{name} must be a 2-D ('y', 'x') array, got dims {arr.dims}")
    check_same_grid(intensity=intensity, pixel_area_ha=pixel_area, **(extra or {}))
    units = pixel_area.attrs.get("units")
    if units not in (None, "ha"):
        raise InputDataError(f"pixel_area_ha has units {units!r}; expected 'ha'")


def _on_grid_of(ref: xr.DataArray, arr: xr.DataArray) -> xr.DataArray:
    """``arr`` with ``ref``'s exact y/x labels (check_same_grid allows float noise, and
    xarray's inner join on nearly-equal labels would silently drop pixels)."""
    return _strip(arr).assign_coords(y=ref["y"].values, x=ref["x"].values)


def _weights(pixel_area: xr.DataArray, mask: xr.DataArray | None) -> xr.DataArray:
    w = _strip(pixel_area).astype("float64")
    if mask is not None:
        w = w * _on_grid_of(pixel_area, mask).astype("float64").fillna(0.0)
    return w


def _strip(da: xr.DataArray) -> xr.DataArray:
    """Drop non-index coords (e.g. spatial_ref) so arrays from different sources align."""
    return da.reset_coords(drop=True)


def _class_group(intensity: xr.DataArray, zone=None):
    """Group number per pixel for exact sums: class index 0-5 (codes 1-6), or
    zone · 6 + class index with a zone index (−1 outside); −1 for NaN or other codes."""
    data = _strip(intensity).data
    lib = _array_lib(data, zone)
    code = lib.where(lib.isnan(data), -1, data).astype("int64")
    ok = (code >= CLASS_CODES[0]) & (code <= CLASS_CODES[-1])
    group = lib.where(ok, code - CLASS_CODES[0], -1)
    if zone is not None:
        group = lib.where(ok & (zone >= 0), zone * len(CLASS_CODES) + group, -1)
    return group


def _array_lib(*arrays):
    if any(hasattr(a, "dask") for a in arrays if a is not None):
        import dask.array as dsa

        return dsa
    return np


def _class_sums(weights: xr.DataArray, intensity: xr.DataArray) -> np.ndarray:
    """Σ weights by class (ha), exact and independent of chunking or tiling
    (:mod:`pipeline.exactsum`)."""
    from pipeline import exactsum

    w = _strip(weights).data
    return exactsum.finish(exactsum.blockwise_partial(w, _class_group(intensity), len(CLASS_CODES)))


def class_area_table(
    intensity: xr.DataArray,
    pixel_area_ha: xr.DataArray,
    *,
    mask: xr.DataArray | None = None,
) -> pd.DataFrame:
    """Area and shares of each SL 190-2007 class, all six classes (ha, %).

    ``area_ha`` of class k = Σ pixel area × mask over pixels of class k (flox
    groupby-sum; bounded memory on dask). The district land area is the area of
    all classified pixels (valid intensity) inside the mask. The soil-erosion
    area (水土流失面积) is 轻度 + 中度 + 强烈 + 极强烈 + 剧烈; 微度 is excluded
    (SL 190-2007 §4 intensity grades; the 中国水土保持公报 convention).

    Global: computes the (dask) inputs once.

    Parameters
    ----------
    intensity : xarray.DataArray
        (y, x) class codes 1–6, NaN for nodata (``classify_intensity``).
    pixel_area_ha : xarray.DataArray
        (y, x) true pixel area in ha on the same grid (``pixel_area_ha``).
    mask : xarray.DataArray, optional
        (y, x) district mask on the same grid: bool, or the fraction (0–1) of
        each pixel inside the district; NaN counts as 0.

    Returns
    -------
    pandas.DataFrame
        Columns ``class_code, class_key, class_zh, class_en, area_ha,
        share_of_district_pct, share_of_erosion_pct`` (the last NaN for 微度 and
        when there is no erosion area). ``attrs`` carries the class breaks,
        boundary convention and area method.

    Examples
    --------
    >>> from pipeline.grid import AnalysisGrid, local_albers_crs
    >>> g = AnalysisGrid.from_bounds(local_albers_crs(110, 25, 111, 26), 0, 0, 30, 10, 10)
    >>> cls = g.dataarray(np.array([[1.0, 2.0, 2.0]]), name="c", units="1")
    >>> class_area_table(cls, pixel_area_ha(cls))["area_ha"].round(2).tolist()
    [0.01, 0.02, 0.0, 0.0, 0.0, 0.0]
    """
    _check_class_grid(intensity, pixel_area_ha, {"mask": mask} if mask is not None else None)
    area = _on_grid_of(intensity, pixel_area_ha)
    if mask is not None:
        mask = _on_grid_of(intensity, mask)
    weights = _weights(area, mask)
    areas = _class_sums(weights, intensity)
    valid_total = _strip(weights).where(_strip(intensity).notnull()).sum()
    lazy = [valid_total]
    if mask is not None:
        m = mask.astype("float64")
        lazy += [m.min(), m.max()]
    computed = dask.compute(*lazy)
    total_valid = float(computed[0])
    if mask is not None:
        mmin, mmax = float(computed[1]), float(computed[2])
        if mmin < 0 or mmax > 1:
            raise InputDataError(
                f"mask values must be booleans or fractions in 0..1, got {mmin}..{mmax}"
            )
    _check_codes(areas, total_valid, intensity)
    table = _class_table(areas)
    table.attrs.update(_table_attrs(intensity, pixel_area_ha))
    return table


def _check_codes(areas: np.ndarray, total_valid: float, intensity: xr.DataArray) -> None:
    if not np.isclose(areas.sum(), total_valid, rtol=1e-9, atol=1e-9):
        raise InputDataError(
            f"intensity {intensity.name!r} has values other than the class codes 1..6 over "
            f"{total_valid - areas.sum():.4f} ha (is nodata 255 still unmasked? open the raster "
            "with masked=True so nodata becomes NaN)"
        )


def _table_attrs(intensity: xr.DataArray, pixel_area: xr.DataArray) -> dict:
    attrs = {"units": "ha, %", "area_method": pixel_area.attrs.get("area_method", "")}
    for key in ("class_breaks_t_ha_yr", "convention", "type_region"):
        if key in intensity.attrs:
            attrs[key] = intensity.attrs[key]
    return attrs


def _class_table(areas: np.ndarray) -> pd.DataFrame:
    areas = np.asarray(areas, dtype="float64")
    land = areas.sum()
    erosion = areas[1:].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        share_land = areas / land * 100.0 if land > 0 else np.full(6, np.nan)
        share_erosion = areas / erosion * 100.0 if erosion > 0 else np.full(6, np.nan)
    share_erosion = np.asarray(share_erosion, dtype="float64").copy()
    share_erosion[0] = np.nan
    return pd.DataFrame(
        {
            "class_code": np.asarray(CLASS_CODES, dtype="int64"),
            "class_key": [CLASSES[c][0] for c in CLASS_CODES],
            "class_zh": [CLASSES[c][1] for c in CLASS_CODES],
            "class_en": [CLASSES[c][2] for c in CLASS_CODES],
            "area_ha": areas,
            "share_of_district_pct": share_land,
            "share_of_erosion_pct": share_erosion,
        },
        columns=CLASS_TABLE_COLUMNS,
    )


def _check_table(table: pd.DataFrame, what: str = "district_table") -> pd.DataFrame:
    missing = [c for c in ("class_code", "area_ha") if c not in table.columns]
    if missing:
        raise InputDataError(f"{what} lacks columns {missing}; expected {CLASS_TABLE_COLUMNS}")
    codes = sorted(int(c) for c in table["class_code"])
    if codes != list(CLASS_CODES):
        raise InputDataError(f"{what} must have one row per class code 1..6, got {codes}")
    return table.set_index("class_code").loc[list(CLASS_CODES)]


def summarize(table: pd.DataFrame) -> dict:
    """Headline figures of a class-area table, as the bulletins report them.

    ``erosion_area_ha`` = 轻度 + … + 剧烈 (微度 excluded);
    ``soil_conservation_rate_pct`` = (1 − erosion area / land area) × 100, the
    definition consistent with the national 水土保持率 of the 中国水土保持公报
    (their figures match it; the bulletins do not print the formula);
    ``*_share_pct`` of moderate/intense and above are shares of the erosion area,
    ``erosion_share_pct`` of the land area. ``dominant_class_code`` is the erosion
    class (2–6) with the largest area (ties → the lower class), or 1 (微度) when
    there is no erosion area.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of ``class_area_table`` (areas in ha).

    Returns
    -------
    dict
        Keys ``land_area_ha, erosion_area_ha, erosion_share_pct,
        soil_conservation_rate_pct, slight_area_ha, moderate_and_above_area_ha,
        moderate_and_above_share_pct, intense_and_above_area_ha,
        intense_and_above_share_pct, dominant_class_code, dominant_class_zh``
        (ha and %; shares NaN when their denominator is 0).

    Examples
    --------
    >>> t = _class_table(np.array([60.0, 30.0, 10.0, 0.0, 0.0, 0.0]))
    >>> s = summarize(t)
    >>> s["erosion_area_ha"], s["soil_conservation_rate_pct"], s["dominant_class_zh"]
    (40.0, 60.0, '轻度')
    """
    areas = _check_table(table)["area_ha"].astype("float64")
    land = float(areas.sum())
    erosion = float(areas.loc[list(EROSION_CODES)].sum())
    moderate_up = float(areas.loc[[3, 4, 5, 6]].sum())
    intense_up = float(areas.loc[[4, 5, 6]].sum())

    def pct(num, den):
        return float(num / den * 100.0) if den > 0 else float("nan")

    if erosion > 0:
        erosion_areas = areas.loc[list(EROSION_CODES)]
        dominant = int(erosion_areas.index[int(np.argmax(erosion_areas.to_numpy()))])
    else:
        dominant = 1
    return {
        "land_area_ha": land,
        "erosion_area_ha": erosion,
        "erosion_share_pct": pct(erosion, land),
        "soil_conservation_rate_pct": 100.0 - pct(erosion, land) if land > 0 else float("nan"),
        "slight_area_ha": float(areas.loc[1]),
        "moderate_and_above_area_ha": moderate_up,
        "moderate_and_above_share_pct": pct(moderate_up, erosion),
        "intense_and_above_area_ha": intense_up,
        "intense_and_above_share_pct": pct(intense_up, erosion),
        "dominant_class_code": dominant,
        "dominant_class_zh": CLASSES[dominant][1],
    }


# --------------------------------------------------------------------------- zones
class _WindowCache:
    """Reads (and for dask, computes) one window of intensity and area at a time."""

    def __init__(self, intensity: xr.DataArray, pixel_area: xr.DataArray):
        self.intensity = _strip(intensity)
        self.area = _on_grid_of(intensity, pixel_area)
        self.key = None
        self.value = None

    def get(self, x0, y0, nx, ny):
        key = (x0, y0, nx, ny)
        if key != self.key:
            win = {"y": slice(y0, y0 + ny), "x": slice(x0, x0 + nx)}
            cls, area = dask.compute(self.intensity.isel(win).data, self.area.isel(win).data)
            self.key, self.value = key, (np.asarray(cls, "float64"), np.asarray(area, "float64"))
        return self.value


def _raster_source_class():
    from exactextract.raster import RasterSource

    class _GridSource(RasterSource):
        """exactextract source for one derived band of an in-memory or dask grid."""

        def __init__(self, grid: AnalysisGrid, cache: _WindowCache | None, code, name: str):
            super().__init__()
            self.grid, self.cache, self.code = grid, cache, code
            self.set_name(name)

        def res(self):
            # consistent with extent(): exactextract derives the row/col count from both
            left, bottom, right, top = self.grid.bounds
            return ((right - left) / self.grid.width, (top - bottom) / self.grid.height)

        def extent(self):
            return self.grid.bounds

        def srs_wkt(self):
            return self.grid.crs.to_wkt()

        def nodata_value(self):
            return None

        def read_window(self, x0, y0, nx, ny):
            if self.cache is None:  # coverage check band: ones everywhere
                return np.ones((ny, nx), dtype="float64")
            cls, area = self.cache.get(x0, y0, nx, ny)
            return np.where(cls == self.code, area, 0.0)

    return _GridSource


def _prepare_zones(zones, grid: AnalysisGrid, id_col: str, name_col: str, layer_name: str):
    import geopandas as gpd
    import shapely
    from shapely.geometry import box

    if not isinstance(zones, gpd.GeoDataFrame):
        raise InputDataError(f"zones ({layer_name}) must be a GeoDataFrame, got {type(zones)}")
    for col in (id_col, name_col):
        if col not in zones.columns:
            raise InputDataError(
                f"zones ({layer_name}) lack column {col!r}; columns are {list(zones.columns)}"
            )
    if len(zones) == 0:
        raise InputDataError(f"zones ({layer_name}) are empty")
    if zones[id_col].duplicated().any():
        dup = zones.loc[zones[id_col].duplicated(), id_col].tolist()
        raise InputDataError(f"zones ({layer_name}) have duplicate {id_col!r} values {dup}")
    if zones.crs is None:
        raise GridError(f"zones ({layer_name}) have no CRS; set it (e.g. .set_crs('EPSG:4490'))")
    z = zones[[id_col, name_col, zones.geometry.name]].copy()
    if CRS.from_user_input(z.crs) != grid.crs:
        z = z.to_crs(grid.crs)
    geoms = z.geometry.values
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        warnings.warn(
            f"zones ({layer_name}) {z.loc[invalid, id_col].tolist()} have invalid geometries; "
            "repaired with shapely.make_valid",
            stacklevel=3,
        )
        z.loc[invalid, z.geometry.name] = shapely.make_valid(geoms[invalid])
    bounds_box = box(*grid.bounds)
    # planar areas in the raster's CRS units, the plane exactextract works in
    inside = shapely.intersection(z.geometry.values, bounds_box)
    planar = shapely.area(inside)
    outside = np.asarray(shapely.is_empty(inside) | (planar <= 0))
    if outside.any():
        raise InputDataError(
            f"zones ({layer_name}) {z.loc[outside, id_col].tolist()} lie outside the raster "
            f"(raster bounds {tuple(round(b, 6) for b in grid.bounds)} in {grid.crs.name}; "
            f"zone bounds {tuple(np.round(z.total_bounds, 6))})"
        )
    full = np.asarray(shapely.area(z.geometry.values), dtype="float64")
    partial = np.asarray(planar < full * (1.0 - 1e-6))
    if partial.any():
        warnings.warn(
            f"zones ({layer_name}) {z.loc[partial, id_col].tolist()} extend beyond the raster; "
            "only their part inside the raster is counted",
            stacklevel=3,
        )
    z = z.reset_index(drop=True)
    z["_row"] = np.arange(len(z))
    return z, np.asarray(planar, dtype="float64")


def zonal_class_areas(
    intensity: xr.DataArray,
    pixel_area_ha: xr.DataArray,
    zones,
    *,
    id_col: str = "zone_id",
    name_col: str = "name",
    layer_name: str = "township",
    method: str = "coverage",
) -> pd.DataFrame:
    """Class areas (ha) and shares per zone (township, small watershed, village).

    Partial pixels at zone borders count with their coverage fraction from
    exactextract (Baston 2022, exactextract, ISciences): area of class k in
    zone z = Σ_pixels coverage(z, pixel) × pixel area × [class = k]. Zones that
    tile the district therefore sum to the district table. Zones in another CRS
    are reprojected to the raster's CRS; invalid geometries are repaired
    (with a warning). As a guard against numerical failures of the coverage
    computation, Σ coverage × planar cell size must equal each zone's planar
    area inside the raster to within half a pixel.

    Global: reads the (dask) inputs window by window (bounded by each zone's
    bounding box, as exactextract's feature-sequential strategy does).

    Parameters
    ----------
    intensity : xarray.DataArray
        (y, x) class codes 1–6, NaN for nodata.
    pixel_area_ha : xarray.DataArray
        (y, x) true pixel area in ha on the same grid.
    zones : geopandas.GeoDataFrame
        Zone polygons with an id column and a name column.
    id_col, name_col : str
        Column names of the zone id and name.
    layer_name : str
        Written to the ``zone_layer`` column (``"township"``, ``"watershed"``…).
    method : {"coverage", "centre"}
        ``"coverage"`` (default): partial pixels at zone borders are split by their
        exact coverage fractions (exactextract). ``"centre"``: each pixel belongs
        wholly to the zone containing its centre (rasterio rasterisation) — the same
        rule as the district mask of the workflow, so zones that tile the district sum
        to the district table exactly; the error of either rule in a zone's area is
        a fraction of a pixel along its outline.

    Returns
    -------
    pandas.DataFrame
        Long format, six rows per zone in input order: ``zone_layer, zone_id,
        zone_name, class_code, class_zh, class_en, area_ha, share_of_zone_pct,
        share_of_zone_erosion_pct`` (ha, %; erosion share NaN for 微度 and when the
        zone has no erosion area).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from pipeline.grid import AnalysisGrid, local_albers_crs
    >>> g = AnalysisGrid.from_bounds(local_albers_crs(110, 25, 111, 26), 0, 0, 40, 10, 10)
    >>> cls = g.dataarray(np.array([[1.0, 1.0, 2.0, 2.0]]), name="c", units="1")
    >>> z = gpd.GeoDataFrame({"zone_id": [1], "name": ["甲"]}, geometry=[box(0, 0, 25, 10)],
    ...                      crs=g.crs)
    >>> zonal_class_areas(cls, pixel_area_ha(cls), z)["area_ha"].round(4).tolist()
    [0.02, 0.005, 0.0, 0.0, 0.0, 0.0]
    """
    from exactextract import exact_extract

    _check_class_grid(intensity, pixel_area_ha)
    grid = _grid_of(intensity, "intensity")
    z, planar_area_inside = _prepare_zones(zones, grid, id_col, name_col, layer_name)
    if method == "centre":
        areas = _centre_zone_class_areas(intensity, pixel_area_ha, z, grid)
        out = _zone_frames(z, areas, id_col=id_col, name_col=name_col, layer_name=layer_name)
        out.attrs.update(_table_attrs(intensity, pixel_area_ha))
        out.attrs["coverage"] = "pixel centres (rasterio.features.rasterize)"
        return out
    if method != "coverage":
        raise InputDataError(f"zonal method must be 'coverage' or 'centre', got {method!r}")

    Source = _raster_source_class()
    cache = _WindowCache(intensity, pixel_area_ha)
    sources = [Source(grid, cache, float(code), f"c{code}") for code in CLASS_CODES]
    sources.append(Source(grid, None, None, "cover"))
    result = exact_extract(
        sources,
        z[["_row", z.geometry.name]],
        ["sum"],
        include_cols=["_row"],
        output="pandas",
        strategy="feature-sequential",
    )
    result = result.set_index("_row").loc[z["_row"]]

    cell = (
        (grid.bounds[2] - grid.bounds[0])
        / grid.width
        * ((grid.bounds[3] - grid.bounds[1]) / grid.height)
    )
    covered = result["cover_sum"].to_numpy() * cell
    bad = np.abs(covered - planar_area_inside) > 0.5 * cell + 1e-9 * planar_area_inside
    if bad.any():
        raise InputDataError(
            f"zones ({layer_name}) {z.loc[bad, id_col].tolist()}: exactextract coverage "
            f"({covered[bad] / cell} px) differs from the zone area inside the raster "
            f"({planar_area_inside[bad] / cell} px); a boundary passing exactly through pixel "
            "corners can trigger this; shift the zones by a fraction of a pixel"
        )

    areas = result[[f"c{code}_sum" for code in CLASS_CODES]].to_numpy(dtype="float64")
    out = _zone_frames(z, areas, id_col=id_col, name_col=name_col, layer_name=layer_name)
    out.attrs.update(_table_attrs(intensity, pixel_area_ha))
    out.attrs["coverage"] = "exactextract coverage fractions"
    return out


def _zone_frames(z, areas: np.ndarray, *, id_col, name_col, layer_name) -> pd.DataFrame:
    """Long zone table (six rows per zone) from a (zone, class) area array in ha."""
    frames = []
    for i, row in z.iterrows():
        t = _class_table(areas[i])
        frames.append(
            pd.DataFrame(
                {
                    "zone_layer": layer_name,
                    "zone_id": [row[id_col]] * len(t),
                    "zone_name": [row[name_col]] * len(t),
                    "class_code": t["class_code"],
                    "class_zh": t["class_zh"],
                    "class_en": t["class_en"],
                    "area_ha": t["area_ha"],
                    "share_of_zone_pct": t["share_of_district_pct"],
                    "share_of_zone_erosion_pct": t["share_of_erosion_pct"],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[ZONE_TABLE_COLUMNS]


def _centre_zone_index(z, grid: AnalysisGrid, template: xr.DataArray):
    """Zone number (0, 1, …; −1 outside) of each pixel whose centre lies in a zone of ``z``,
    on ``template``'s grid: numpy, or dask block by block (rasterio.features.rasterize)."""
    from rasterio.features import rasterize

    shapes = [(geom, i) for i, geom in enumerate(z.geometry.values)]
    transform = grid.transform

    def _block(shape, r0, c0):
        return rasterize(
            shapes,
            out_shape=shape,
            transform=transform * transform.translation(c0, r0),
            fill=-1,
            dtype="int32",
            all_touched=False,
        )

    data = template.data
    if hasattr(data, "dask"):
        import dask.array as dsa

        def _fn(block, block_info=None):
            (r0, r1), (c0, c1) = block_info[0]["array-location"][-2:]
            return _block((r1 - r0, c1 - c0), r0, c0)

        return dsa.map_blocks(_fn, data if data.ndim == 2 else data[0], dtype="int32")
    return _block(template.shape[-2:], 0, 0)


def _centre_zone_class_areas(intensity, pixel_area_ha, z, grid: AnalysisGrid) -> np.ndarray:
    """(zone, class) areas in ha with each pixel in the zone holding its centre.

    The zone index raster is rasterised block by block (bounded memory on dask); the pixel
    areas are summed by (zone, class) exactly (:mod:`pipeline.exactsum`), so tiles or
    chunks give the same figures.
    """
    from pipeline import exactsum

    zone_idx = _centre_zone_index(z, grid, intensity)
    area = _on_grid_of(intensity, _strip(pixel_area_ha).astype("float64")).data
    n = len(z) * len(CLASS_CODES)
    sums = exactsum.finish(exactsum.blockwise_partial(area, _class_group(intensity, zone_idx), n))
    return sums.reshape(len(z), len(CLASS_CODES))


def zone_summary(long_df: pd.DataFrame) -> pd.DataFrame:
    """One row per zone: land and erosion area (ha), erosion share (%), class areas (ha).

    Parameters
    ----------
    long_df : pandas.DataFrame
        Output of ``zonal_class_areas``.

    Returns
    -------
    pandas.DataFrame
        Columns ``zone_layer, zone_id, zone_name, land_area_ha, erosion_area_ha,
        erosion_share_pct, light_area_ha, moderate_area_ha, intense_area_ha,
        very_intense_area_ha, severe_area_ha`` in the zones' input order;
        erosion area excludes 微度.

    Examples
    --------
    >>> long = pd.DataFrame({"zone_layer": "township", "zone_id": 1, "zone_name": "甲",
    ...                      "class_code": range(1, 7), "area_ha": [3.0, 1.0, 0, 0, 0, 0]})
    >>> zone_summary(long)[["land_area_ha", "erosion_share_pct"]].values.tolist()
    [[4.0, 25.0]]
    """
    missing = [
        c
        for c in ("zone_layer", "zone_id", "zone_name", "class_code", "area_ha")
        if c not in long_df
    ]
    if missing:
        raise InputDataError(f"zone table lacks columns {missing}")
    keys = ["zone_layer", "zone_id", "zone_name"]
    wide = long_df.pivot_table(
        index=keys, columns="class_code", values="area_ha", aggfunc="sum", sort=False
    ).reindex(columns=list(CLASS_CODES), fill_value=0.0)
    wide = wide.fillna(0.0)
    out = wide.reset_index()[keys]
    land = wide.sum(axis=1).to_numpy()
    erosion = wide[list(EROSION_CODES)].sum(axis=1).to_numpy()
    out["land_area_ha"] = land
    out["erosion_area_ha"] = erosion
    with np.errstate(invalid="ignore", divide="ignore"):
        out["erosion_share_pct"] = np.where(
            land > 0, erosion / np.where(land > 0, land, 1) * 100, np.nan
        )
    for code in EROSION_CODES:
        out[f"{CLASSES[code][0]}_area_ha"] = wide[code].to_numpy()
    return out[ZONE_SUMMARY_COLUMNS]


# --------------------------------------------------------------------------- change
def change_matrix(
    intensity_y0: xr.DataArray,
    intensity_y1: xr.DataArray,
    pixel_area_ha: xr.DataArray,
    *,
    mask: xr.DataArray | None = None,
) -> pd.DataFrame:
    """Class transition matrix between two years, in hectares.

    Cell (i, j) = area classified i in year 0 and j in year 1 (flox
    groupby-sum over both class rasters). Only pixels valid in both years
    count; the area valid in only one year is in ``attrs["valid_in_one_year_only_ha"]``.
    Row sums are year-0 class areas, column sums year-1 class areas over that
    common valid area. Global: computes the (dask) inputs once.

    Parameters
    ----------
    intensity_y0, intensity_y1 : xarray.DataArray
        (y, x) class codes 1–6 (NaN nodata) of the earlier and the later year.
    pixel_area_ha : xarray.DataArray
        (y, x) true pixel area in ha on the same grid.
    mask : xarray.DataArray, optional
        District mask or fractions 0–1 as in ``class_area_table``.

    Returns
    -------
    pandas.DataFrame
        6×6, index ``from_class`` 1..6, columns ``to_class`` 1..6, values in ha.

    Examples
    --------
    >>> from pipeline.grid import AnalysisGrid, local_albers_crs
    >>> g = AnalysisGrid.from_bounds(local_albers_crs(110, 25, 111, 26), 0, 0, 20, 10, 10)
    >>> y0 = g.dataarray(np.array([[2.0, 3.0]]), name="y0", units="1")
    >>> y1 = g.dataarray(np.array([[1.0, 3.0]]), name="y1", units="1")
    >>> m = change_matrix(y0, y1, pixel_area_ha(y0))
    >>> float(m.loc[2, 1]), float(m.loc[3, 3])
    (0.01, 0.01)
    """
    from flox.xarray import xarray_reduce

    extra = {"intensity_y1": intensity_y1}
    if mask is not None:
        extra["mask"] = mask
    _check_class_grid(intensity_y0, pixel_area_ha, extra)
    y0 = _strip(intensity_y0)
    y1 = _on_grid_of(y0, intensity_y1)
    weights = _weights(
        _on_grid_of(y0, pixel_area_ha), None if mask is None else _on_grid_of(y0, mask)
    )
    codes0 = np.asarray(CLASS_CODES, dtype=y0.dtype)
    codes1 = np.asarray(CLASS_CODES, dtype=y1.dtype)
    sums = xarray_reduce(
        weights,
        y0.rename("from_class"),
        y1.rename("to_class"),
        func="sum",
        expected_groups=(codes0, codes1),
        fill_value=0.0,
    )
    both = y0.notnull() & y1.notnull()
    either = y0.notnull() | y1.notnull()
    both_total = weights.where(both).sum()
    one_only = weights.where(either & ~both).sum()
    sums, both_total, one_only = dask.compute(sums, both_total, one_only)
    values = np.asarray(sums.transpose("from_class", "to_class").values, dtype="float64")
    if not np.isclose(values.sum(), float(both_total), rtol=1e-9, atol=1e-9):
        raise InputDataError(
            "intensity rasters have values other than the class codes 1..6 over "
            f"{float(both_total) - values.sum():.4f} ha (unmasked nodata 255?)"
        )
    out = pd.DataFrame(
        values,
        index=pd.Index(list(CLASS_CODES), name="from_class"),
        columns=pd.Index(list(CLASS_CODES), name="to_class"),
    )
    out.attrs.update(
        {
            "units": "ha",
            "valid_in_one_year_only_ha": float(one_only),
            "area_method": pixel_area_ha.attrs.get("area_method", ""),
        }
    )
    return out


def change_summary(matrix: pd.DataFrame, *, year0: int, year1: int) -> dict:
    """Change between two years from a transition matrix (ha, %).

    Erosion area = classes 2–6 (微度 excluded). ``improved_ha`` is the area that
    moved to a lower class (below the diagonal), ``deteriorated_ha`` to a higher
    one, ``unchanged_ha`` the diagonal. ``erosion_area_change_pct`` =
    change / year-0 erosion area × 100 (NaN if that is 0), as the bulletins
    print "较上年减少 ΔX (ΔX/X₀ %)" (中国水土保持公报, e.g. 2024: −2.57 万 km², −0.98 %).

    Parameters
    ----------
    matrix : pandas.DataFrame
        Output of ``change_matrix`` (ha).
    year0, year1 : int
        The two years.

    Returns
    -------
    dict
        ``year0, year1, erosion_area_y0_ha, erosion_area_y1_ha,
        erosion_area_change_ha, erosion_area_change_pct, improved_ha,
        deteriorated_ha, unchanged_ha``, ``per_class`` (list of dicts
        ``class_code, class_zh, class_en, area_y0_ha, area_y1_ha, net_change_ha,
        net_change_pct``) and ``matrix`` (the input, for writers).

    Examples
    --------
    >>> m = pd.DataFrame(np.diag([5.0, 2, 0, 0, 0, 0]), index=range(1, 7), columns=range(1, 7))
    >>> m.loc[2, 1] = 1.0
    >>> s = change_summary(m, year0=2023, year1=2024)
    >>> s["erosion_area_change_ha"], s["improved_ha"]
    (-1.0, 1.0)
    """
    if int(year1) <= int(year0):
        raise InputDataError(f"year1 ({year1}) must be after year0 ({year0})")
    try:
        m = matrix.loc[list(CLASS_CODES), list(CLASS_CODES)].to_numpy(dtype="float64")
    except KeyError as exc:
        raise InputDataError(
            f"change matrix must have from_class and to_class 1..6, got index "
            f"{list(matrix.index)} and columns {list(matrix.columns)}"
        ) from exc
    y0 = m.sum(axis=1)
    y1 = m.sum(axis=0)
    e0 = float(y0[1:].sum())
    e1 = float(y1[1:].sum())
    per_class = []
    for i, code in enumerate(CLASS_CODES):
        per_class.append(
            {
                "class_code": code,
                "class_zh": CLASSES[code][1],
                "class_en": CLASSES[code][2],
                "area_y0_ha": float(y0[i]),
                "area_y1_ha": float(y1[i]),
                "net_change_ha": float(y1[i] - y0[i]),
                "net_change_pct": float((y1[i] - y0[i]) / y0[i] * 100) if y0[i] > 0 else np.nan,
            }
        )
    return {
        "year0": int(year0),
        "year1": int(year1),
        "erosion_area_y0_ha": e0,
        "erosion_area_y1_ha": e1,
        "erosion_area_change_ha": e1 - e0,
        "erosion_area_change_pct": (e1 - e0) / e0 * 100.0 if e0 > 0 else float("nan"),
        "improved_ha": float(np.tril(m, -1).sum()),
        "deteriorated_ha": float(np.triu(m, 1).sum()),
        "unchanged_ha": float(np.trace(m)),
        "per_class": per_class,
        "matrix": matrix,
    }


# --------------------------------------------------------------------------- deliverables (#14)
# Zone soil loss, change by zone, slope × land use × intensity, 重点乡镇. Same pixel-centre
# zone rule as ``zonal_class_areas(method="centre")``, so tiling zones sum to the district.

#: SL 190-2007 ground-slope classes for erosion report tables (degrees; below 5° effectively
#: 微度). Convention: lower < slope ≤ upper (the first class is slope ≤ 5°).
SLOPE_CLASS_BREAKS_DEG = (5.0, 8.0, 15.0, 25.0, 35.0)
SLOPE_CLASS_LABELS = ("≤5°", "5–8°", "8–15°", "15–25°", "25–35°", ">35°")


def zone_index(zones, template: xr.DataArray, *, id_col: str = "zone_id") -> xr.DataArray:
    """Row index (0…n−1) of the zone holding each pixel centre, −1 outside every zone.

    Rasterised block by block with rasterio (pixel-centre rule, ``all_touched=False``),
    the rule of the district mask and of ``zonal_class_areas(method="centre")``.
    Zones are reprojected to the template's CRS. int32, lazy when the template is.
    """

    grid = _grid_of(template)
    z, _ = _prepare_zones(zones, grid, id_col, id_col, "zones")
    idx = _centre_zone_index(z, grid, template)
    return xr.DataArray(
        idx,
        dims=("y", "x"),
        coords={"y": template["y"].values, "x": template["x"].values},
        name="zone_index",
    )


def zonal_soil_loss(
    soil_loss: xr.DataArray,
    pixel_area_ha: xr.DataArray,
    zones,
    *,
    id_col: str = "zone_id",
    name_col: str = "name",
    layer_name: str = "township",
) -> pd.DataFrame:
    """Total soil loss (t/a) and mean soil-loss modulus (t/(km²·a)) per zone.

    total_k = Σ_pixels A · area_ha (A in t·ha⁻¹·a⁻¹, so t·a⁻¹); mean modulus_k =
    100 · total_k / land_area_k (t·km⁻²·a⁻¹; 1 km² = 100 ha), the area-weighted mean of
    A over the zone's valid pixels — the 平均土壤侵蚀模数 of the bulletins
    (SL 190-2007 uses t/(km²·a) for the modulus). Pixels go to the zone holding their
    centre, so zones that tile the district sum to the district total.

    Returns columns ``zone_layer, zone_id, zone_name, land_area_ha,
    total_soil_loss_t_yr, mean_modulus_t_km2_yr`` (NaN modulus for a zone without
    valid pixels), one row per zone in input order.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from pipeline.grid import AnalysisGrid, local_albers_crs
    >>> g = AnalysisGrid.from_bounds(local_albers_crs(110, 25, 111, 26), 0, 0, 200, 100, 100)
    >>> a = g.dataarray(np.array([[10.0, 30.0]]), name="A", units="t ha-1 a-1")
    >>> z = gpd.GeoDataFrame({"zone_id": [1], "name": ["甲"]}, geometry=[box(0, 0, 200, 100)],
    ...                      crs=g.crs)
    >>> t = zonal_soil_loss(a, pixel_area_ha(a), z)
    >>> t[["land_area_ha", "total_soil_loss_t_yr", "mean_modulus_t_km2_yr"]].values.tolist()
    [[2.0, 40.0, 2000.0]]
    """
    from flox.xarray import xarray_reduce

    _check_class_grid(soil_loss, pixel_area_ha)
    grid = _grid_of(soil_loss, "soil_loss")
    z, _ = _prepare_zones(zones, grid, id_col, name_col, layer_name)
    idx = zone_index(z, soil_loss, id_col=id_col)
    a = _strip(soil_loss).astype("float64")
    area = _on_grid_of(soil_loss, pixel_area_ha).astype("float64")
    valid = a.notnull()
    loss = (a.fillna(0.0) * area).rename("loss")
    land = area.where(valid, 0.0).rename("land")
    groups = np.arange(len(z))
    sums = [
        xarray_reduce(v, idx, func="sum", expected_groups=groups, fill_value=0.0)
        for v in (loss, land)
    ]
    loss_s, land_s = (np.asarray(s.values, "float64") for s in dask.compute(*sums))
    with np.errstate(invalid="ignore", divide="ignore"):
        modulus = np.where(land_s > 0, loss_s / np.where(land_s > 0, land_s, 1) * 100.0, np.nan)
    out = pd.DataFrame(
        {
            "zone_layer": layer_name,
            "zone_id": z[id_col].to_numpy(),
            "zone_name": z[name_col].to_numpy(),
            "land_area_ha": land_s,
            "total_soil_loss_t_yr": loss_s,
            "mean_modulus_t_km2_yr": modulus,
        }
    )
    out.attrs["units"] = "ha, t/a, t/(km²·a)"
    return out


def zonal_change(
    intensity_y0: xr.DataArray,
    intensity_y1: xr.DataArray,
    pixel_area_ha: xr.DataArray,
    zones,
    *,
    id_col: str = "zone_id",
    name_col: str = "name",
    layer_name: str = "township",
) -> pd.DataFrame:
    """Change between two years per zone: net change per class, improved/deteriorated area.

    For each zone a 6×6 transition matrix (ha) is summed with flox over (zone, from,
    to) groups, pixel-centre zone rule; from it, as in ``change_summary``: per-class
    net change ``net_<key>_ha`` = year-1 area − year-0 area, ``improved_ha`` (moved to
    a lower class), ``deteriorated_ha`` (to a higher class), ``unchanged_ha``, and
    the erosion area (classes 2–6) in both years and its change. Only pixels valid in
    both years count.

    Returns one row per zone (input order), columns ``zone_layer, zone_id, zone_name,
    erosion_area_y0_ha, erosion_area_y1_ha, erosion_area_change_ha,
    erosion_area_change_pct`` (NaN when the year-0 erosion area is 0), ``improved_ha,
    deteriorated_ha, unchanged_ha, net_slight_ha … net_severe_ha``.
    """
    from flox.xarray import xarray_reduce

    _check_class_grid(intensity_y0, pixel_area_ha, {"intensity_y1": intensity_y1})
    grid = _grid_of(intensity_y0, "intensity_y0")
    z, _ = _prepare_zones(zones, grid, id_col, name_col, layer_name)
    idx = zone_index(z, intensity_y0, id_col=id_col)
    y0 = _strip(intensity_y0)
    y1 = _on_grid_of(y0, intensity_y1)
    w = _on_grid_of(y0, pixel_area_ha).astype("float64")
    codes0 = np.asarray(CLASS_CODES, dtype=y0.dtype)
    codes1 = np.asarray(CLASS_CODES, dtype=y1.dtype)
    sums = xarray_reduce(
        w,
        idx,
        y0.rename("from_class"),
        y1.rename("to_class"),
        func="sum",
        expected_groups=(np.arange(len(z)), codes0, codes1),
        fill_value=0.0,
    )
    cube = np.asarray(
        sums.compute().transpose("zone_index", "from_class", "to_class").values, "float64"
    )
    rows = []
    for i in range(len(z)):
        m = pd.DataFrame(cube[i], index=list(CLASS_CODES), columns=list(CLASS_CODES))
        s = change_summary(m, year0=0, year1=1)
        row = {
            "zone_layer": layer_name,
            "zone_id": z[id_col].iloc[i],
            "zone_name": z[name_col].iloc[i],
        }
        for key in (
            "erosion_area_y0_ha",
            "erosion_area_y1_ha",
            "erosion_area_change_ha",
            "erosion_area_change_pct",
            "improved_ha",
            "deteriorated_ha",
            "unchanged_ha",
        ):
            row[key] = s[key]
        for pc in s["per_class"]:
            row[f"net_{CLASSES[pc['class_code']][0]}_ha"] = pc["net_change_ha"]
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["units"] = "ha, %"
    return out


def slope_classes(slope_deg: xr.DataArray) -> xr.DataArray:
    """SL 190-2007 slope class 1–6 (≤5°, 5–8°, 8–15°, 15–25°, 25–35°, >35°); NaN stays NaN.

    Convention lower < slope ≤ upper (SL 190-2007 grades sheet erosion on 5–8°, 8–15°,
    15–25°, 25–35°, >35°; below 5° is the first class).

    >>> from pipeline.grid import AnalysisGrid, local_albers_crs
    >>> g = AnalysisGrid.from_bounds(local_albers_crs(110, 25, 111, 26), 0, 0, 40, 10, 10)
    >>> s = g.dataarray(np.array([[5.0, 5.1, 35.0, 40.0]]), name="s", units="degree")
    >>> slope_classes(s).values.tolist()
    [[1.0, 2.0, 5.0, 6.0]]
    """
    s = slope_deg
    data = xr.apply_ufunc(
        lambda v: np.where(
            np.isnan(v), np.nan, np.digitize(v, SLOPE_CLASS_BREAKS_DEG, right=True) + 1.0
        ),
        s,
        dask="parallelized",
        output_dtypes=[np.float64],
    )
    data.attrs = {"units": "class", "labels": ",".join(SLOPE_CLASS_LABELS)}
    return data.rename("slope_class")


def slope_landuse_intensity(
    intensity: xr.DataArray,
    slope_deg: xr.DataArray,
    landcover: xr.DataArray,
    pixel_area_ha: xr.DataArray,
    *,
    landcover_names: dict[int, tuple[str, str]],
) -> pd.DataFrame:
    """Area (ha) by slope class × land use × intensity class (flox, true areas).

    Slope classes as in ``slope_classes``; land-use codes and names from
    ``landcover_names`` (code → (Chinese, English)). Only pixels with valid intensity,
    slope and land use count; combinations with no area are dropped.

    Returns columns ``slope_class, slope_label, landuse_code, landuse_zh, landuse_en,
    class_code, class_zh, area_ha``.
    """
    from flox.xarray import xarray_reduce

    _check_class_grid(intensity, pixel_area_ha, {"slope_deg": slope_deg, "landcover": landcover})
    cls = _strip(intensity)
    sc = _on_grid_of(cls, slope_classes(_strip(slope_deg)))
    lc = _on_grid_of(cls, landcover).astype("float64")
    codes = np.asarray(sorted(landcover_names), dtype="float64")
    lc = lc.where(lc.isin(codes))
    w = _on_grid_of(cls, pixel_area_ha).astype("float64")
    sums = xarray_reduce(
        w,
        sc.rename("slope_class"),
        lc.rename("landuse_code"),
        cls.astype("float64").rename("class_code"),
        func="sum",
        expected_groups=(np.arange(1.0, 7.0), codes, np.asarray(CLASS_CODES, "float64")),
        fill_value=0.0,
    ).compute()
    df = sums.to_dataframe(name="area_ha").reset_index()
    df = df[df["area_ha"] > 0].copy()
    df["slope_class"] = df["slope_class"].astype("int64")
    df["landuse_code"] = df["landuse_code"].astype("int64")
    df["class_code"] = df["class_code"].astype("int64")
    df.insert(1, "slope_label", [SLOPE_CLASS_LABELS[i - 1] for i in df["slope_class"]])
    df.insert(3, "landuse_zh", [landcover_names[c][0] for c in df["landuse_code"]])
    df.insert(4, "landuse_en", [landcover_names[c][1] for c in df["landuse_code"]])
    df.insert(6, "class_zh", [CLASSES[c][1] for c in df["class_code"]])
    out = df[
        [
            "slope_class",
            "slope_label",
            "landuse_code",
            "landuse_zh",
            "landuse_en",
            "class_code",
            "class_zh",
            "area_ha",
        ]
    ].reset_index(drop=True)
    out.attrs["units"] = "ha"
    return out


def key_zones(zone_long: pd.DataFrame, *, top: int = 10) -> pd.DataFrame:
    """Ranked list of 重点乡镇: zones by erosion area and by 中度及以上 share.

    ``moderate_and_above_share_pct`` = (中度 + 强烈 + 极强烈 + 剧烈) / zone erosion area
    × 100 (NaN without erosion area), as ``summarize`` defines it for the district.
    Ranks are 1 = largest (ties share the lower rank, ``method="min"``); the list keeps
    the ``top`` zones of either ranking, ordered by erosion-area rank.

    Returns columns ``zone_id, zone_name, erosion_area_ha, erosion_share_pct,
    moderate_and_above_area_ha, moderate_and_above_share_pct, rank_by_erosion_area,
    rank_by_moderate_share``.

    >>> long = pd.DataFrame({"zone_layer": "township", "zone_id": [1] * 6 + [2] * 6,
    ...     "zone_name": ["甲"] * 6 + ["乙"] * 6, "class_code": list(range(1, 7)) * 2,
    ...     "area_ha": [5.0, 4, 1, 0, 0, 0] + [8.0, 1, 1, 0, 0, 0]})
    >>> key_zones(long)[["zone_name", "rank_by_erosion_area", "rank_by_moderate_share"]].values.tolist()
    [['甲', 1, 2], ['乙', 2, 1]]
    """
    wide = zone_summary(zone_long)
    moderate_up = wide[
        ["moderate_area_ha", "intense_area_ha", "very_intense_area_ha", "severe_area_ha"]
    ].sum(axis=1)
    erosion = wide["erosion_area_ha"]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(erosion > 0, moderate_up / erosion.where(erosion > 0, 1) * 100, np.nan)
    out = pd.DataFrame(
        {
            "zone_id": wide["zone_id"],
            "zone_name": wide["zone_name"],
            "erosion_area_ha": erosion,
            "erosion_share_pct": wide["erosion_share_pct"],
            "moderate_and_above_area_ha": moderate_up,
            "moderate_and_above_share_pct": share,
        }
    )
    out["rank_by_erosion_area"] = (
        out["erosion_area_ha"].rank(ascending=False, method="min").astype(int)
    )
    out["rank_by_moderate_share"] = (
        out["moderate_and_above_share_pct"]
        .rank(ascending=False, method="min", na_option="bottom")
        .astype(int)
    )
    keep = (out["rank_by_erosion_area"] <= top) | (out["rank_by_moderate_share"] <= top)
    return (
        out[keep]
        .sort_values(["rank_by_erosion_area", "rank_by_moderate_share"], kind="stable")
        .reset_index(drop=True)
    )
