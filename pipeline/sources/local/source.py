"""The local source: the ``source.local`` configuration to the inputs-contract files
(``prepare_inputs``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from pipeline.errors import ConfigError, InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.sources.local.common import (
    INPUT_NAMES,
    SOIL_BANDS,
    read_grid_json,
    write_grid_json,
    write_soil,
    write_survey,
    write_zones,
)
from pipeline.sources.local.grid import grid_from_aoi, write_aoi
from pipeline.sources.local.rasters import (
    _is_vector,
    read_soil_lookup,
    soil_from_classes,
    soil_from_rasters,
    write_landuse_polygons,
    write_local_dem,
    write_local_landcover,
    write_local_ndvi,
    write_local_rain,
)
from pipeline.sources.local.vectors import read_survey, read_zones

# ------------------------------------------------------- configuration → inputs
#: What the local source can write (everything; INPUT_NAMES is pipeline.layout's).
PROVIDES = frozenset(INPUT_NAMES)


def resolve_path(path, *, year: int | None = None, key: str = "path") -> Path:
    """A path from the config: ``{year}`` substituted, ``~`` expanded.

    Relative paths stay relative to the working directory (the repository root,
    or Snakemake's ``--directory``). A ``{year}`` without a year is a ConfigError.
    """
    text = str(path)
    if "{year}" in text:
        if year is None:
            raise ConfigError(f"config key '{key}': {text!r} has {{year}} but no year applies")
        text = text.replace("{year}", str(int(year)))
    return Path(os.path.expanduser(text))


def _section(local_cfg: Mapping, name: str) -> Mapping:
    section = local_cfg.get(name)
    if not section:
        raise ConfigError(
            f"config key 'source.local.{name}' is not set, but this input is taken from local "
            "files (source.kind: local, or source.inputs); give its file, or choose another "
            f"source for it in source.inputs.{'zones' if name in ('townships', 'watersheds') else name}"
        )
    return section


def prepare_grid(out_dir, local_cfg: Mapping) -> AnalysisGrid:
    """Write ``grid.json`` and ``aoi.gpkg`` from ``source.local`` (``aoi``, ``aoi_layer``,
    ``resolution_m``, ``grid_crs``, ``aoi_name``, ``aoi_name_en``); return the grid."""
    out_dir = Path(out_dir)
    aoi = local_cfg.get("aoi")
    if not aoi:
        raise ConfigError(
            "config key 'source.local.aoi' is not set: every non-demo source needs the AOI "
            "(a polygon file or a raster mask) to build the analysis grid"
        )
    aoi = resolve_path(aoi, key="source.local.aoi")
    layer = local_cfg.get("aoi_layer")
    grid = grid_from_aoi(
        aoi,
        resolution_m=float(local_cfg.get("resolution_m") or 30.0),
        crs=local_cfg.get("grid_crs"),
        layer=layer,
    )
    write_grid_json(grid, out_dir / "grid.json")
    name = local_cfg.get("aoi_name") or aoi.stem
    name_en = local_cfg.get("aoi_name_en") or name
    write_aoi(aoi, grid, out_dir / "aoi.gpkg", name=name, name_en=name_en, layer=layer)
    return grid


def load_or_prepare_grid(out_dir, cfg: Mapping) -> AnalysisGrid:
    """The grid of ``out_dir/grid.json``, written first from ``cfg['local']`` if absent."""
    path = Path(out_dir) / "grid.json"
    if path.exists() and (Path(out_dir) / "aoi.gpkg").exists():
        return read_grid_json(path)
    return prepare_grid(out_dir, cfg.get("local") or {})


def write_aoi_as_zone(aoi_path, out_path, *, grid: AnalysisGrid | None = None, zone_id="1") -> Path:
    """Write the AOI itself as a one-zone layer (when no township/watershed layer is given).

    With ``grid``, the zone is the AOI as analysed: the outline of the grid pixels
    whose centre lies in the AOI (the workflow's AOI mask), so its zonal areas equal
    the district's exactly instead of counting partial edge pixels.
    """
    aoi = gpd.read_file(aoi_path, layer="aoi")
    geometry = aoi.geometry.union_all()
    if grid is not None:
        import rasterio.features

        inside = aoi_pixel_mask(aoi_path, grid)
        if inside.any():
            geometry = shapely.union_all(
                [
                    shapely.geometry.shape(geom)
                    for geom, _ in rasterio.features.shapes(
                        inside.astype("uint8"), mask=inside, transform=grid.transform
                    )
                ]
            )
        crs = grid.crs
    else:
        crs = aoi.crs
    zones = gpd.GeoDataFrame(
        {
            "zone_id": [str(zone_id)],
            "name": [str(aoi["name"].iloc[0])],
            "name_en": [str(aoi["name_en"].iloc[0])],
        },
        geometry=[geometry],
        crs=crs,
    )
    return write_zones(zones, out_path)


def aoi_pixel_mask(aoi_path, grid: AnalysisGrid) -> np.ndarray:
    """True for grid pixels whose centre lies in the AOI (as the workflow's AOI mask)."""
    from rasterio.features import geometry_mask

    aoi = gpd.read_file(aoi_path).to_crs(grid.crs)
    return ~geometry_mask(list(aoi.geometry), out_shape=grid.shape, transform=grid.transform)


def _write_soil_from_config(
    soil_cfg: Mapping, grid: AnalysisGrid, out_path, *, fill_mask=None
) -> Path:
    rasters = soil_cfg.get("rasters")
    classes = soil_cfg.get("classes")
    if bool(rasters) == bool(classes):
        raise ConfigError(
            "config key 'source.local.soil': give either 'rasters' (four rasters) or "
            "'classes' with 'lookup' (a soil-class raster and its table), not both or neither"
        )
    if rasters:
        missing = [b for b in SOIL_BANDS if not rasters.get(b)]
        if missing:
            raise ConfigError(f"config key 'source.local.soil.rasters': missing {missing}")
        soil = soil_from_rasters(
            grid,
            **{
                b: resolve_path(rasters[b], key=f"source.local.soil.rasters.{b}")
                for b in SOIL_BANDS
            },
            factors=soil_cfg.get("factors") or None,
        )
        src = "rasters"
    else:
        for key in ("lookup", "code_col", "columns"):
            if not soil_cfg.get(key):
                raise ConfigError(
                    f"config key 'source.local.soil.{key}' is needed with 'classes' (soil-class "
                    "raster + lookup table)"
                )
        lookup = read_soil_lookup(
            resolve_path(soil_cfg["lookup"], key="source.local.soil.lookup"),
            code_col=soil_cfg["code_col"],
            columns=soil_cfg["columns"],
            layer=int(soil_cfg.get("layer") or 0),
            normalize_texture=bool(soil_cfg.get("normalize_texture", True)),
        )
        soil = soil_from_classes(
            resolve_path(classes, key="source.local.soil.classes"),
            lookup,
            grid,
            band=soil_cfg.get("band"),
            nodata=soil_cfg.get("nodata"),
            fill_mask=fill_mask,
        )
        src = Path(str(classes)).name
    return write_soil(soil, out_path, grid=grid, tags={"source": f"local:{src}"})


def _write_zones_from_config(zone_cfg, grid, out_path, aoi_path) -> Path:
    if not zone_cfg:
        return write_aoi_as_zone(aoi_path, out_path, grid=grid)
    key = f"source.local.{Path(out_path).stem}"
    zones = read_zones(
        resolve_path(zone_cfg.get("path") or "", key=f"{key}.path"),
        layer=zone_cfg.get("layer"),
        id_col=zone_cfg.get("id_col"),
        name_col=zone_cfg.get("name_col"),
        name_en_col=zone_cfg.get("name_en_col"),
        grid=grid,
        encoding=zone_cfg.get("encoding"),
    )
    return write_zones(zones, out_path)


def _write_survey_from_config(survey_cfg, grid, out_path, aoi_path, *, year: int) -> Path:
    path = resolve_path(survey_cfg.get("path") or "", year=year, key="source.local.survey.path")
    year_col = survey_cfg.get("year_col")
    points = read_survey(
        path,
        class_col=survey_cfg.get("class_col"),
        grid=grid,
        aoi=aoi_path,
        id_col=survey_cfg.get("id_col"),
        year=None if year_col else int(year),
        year_col=year_col,
        layer=survey_cfg.get("layer"),
        stratum_col=survey_cfg.get("stratum_col"),
        inclusion_col=survey_cfg.get("inclusion_col"),
    )
    if year_col:
        points = points[points["year"] == int(year)].reset_index(drop=True)
    if len(points) == 0:
        raise InputDataError(
            f"survey layer {path}: no points for {year} (column {year_col!r}); a year without "
            "field survey needs ml.enabled: false"
        )
    return write_survey(points, out_path)


def prepare_inputs(
    out_dir, cfg: Mapping, *, years: Sequence[int], only: Sequence[str] | None = None
) -> dict[str, Path]:
    """Write the inputs-contract files from local files named in the config.

    Parameters
    ----------
    out_dir : path
        ``resources/{aoi}/``.
    cfg : mapping
        The ``source`` section of the configuration; its ``local`` part names the
        files (configs/schema.yaml, ``source.local``).
    years : sequence of int
        Assessment years (``landcover``, ``ndvi`` and ``survey`` paths may hold
        ``{year}``; a path without it is used for every year).
    only : sequence of str, optional
        Inputs to write, from ``INPUT_NAMES`` (default all). ``grid.json`` and
        ``aoi.gpkg`` are written first unless present.

    Returns
    -------
    dict
        File key (``dem``, ``landcover_2015``, …) → path written. Optional inputs
        without a file (``ndvi``, ``survey``) are skipped; missing township or
        watershed layers are replaced by the AOI as one zone.

    Examples
    --------
    >>> prepare_inputs("resources/youwuzhen", config["source"], years=[2015])  # doctest: +SKIP
    """
    from pipeline.sources.base import begin

    req = begin(
        out_dir,
        cfg,
        years=years,
        only=only,
        provides=PROVIDES,
        refuse=f"local source: unknown inputs {{unsupported}}; expected {INPUT_NAMES}",
    )
    out_dir, names, years, grid = req.out_dir, req.names, req.years, req.grid
    local_cfg = cfg.get("local") or {}
    aoi_path = out_dir / "aoi.gpkg"
    inside = aoi_pixel_mask(aoi_path, grid)
    written: dict[str, Path] = {}
    if "dem" in names:
        dem = _section(local_cfg, "dem")
        written["dem"] = write_local_dem(
            resolve_path(dem.get("path") or "", key="source.local.dem.path"),
            grid,
            out_dir / "dem.tif",
            band=dem.get("band"),
            nodata=dem.get("nodata"),
        )
    if "landcover" in names:
        lc = _section(local_cfg, "landcover")
        if _is_vector(lc.get("path")):  # 三调-style land-use polygons (DLBM codes)
            for year in years:
                src = resolve_path(lc["path"], year=year, key="source.local.landcover.path")
                written[f"landcover_{year}"] = write_landuse_polygons(
                    src, grid, out_dir / f"landcover_{year}.tif", lc
                )
        elif not lc.get("recode"):
            raise ConfigError(
                "config key 'source.local.landcover.recode' is not set: map every class code "
                "of the file to a Shuibao land-cover key (forest, paddy, …)"
            )
        else:
            for year in years:
                written[f"landcover_{year}"] = write_local_landcover(
                    resolve_path(
                        lc.get("path") or "", year=year, key="source.local.landcover.path"
                    ),
                    grid,
                    out_dir / f"landcover_{year}.tif",
                    recode=lc["recode"],
                    band=lc.get("band"),
                    nodata=lc.get("nodata"),
                    fill_mask=inside,
                )
                if lc.get("biophysical_table"):  # the file's own codes too (local_codes.py)
                    from pipeline.sources.local_codes import write_local_landcover_codes

                    written[f"landcover_codes_{year}"] = write_local_landcover_codes(
                        resolve_path(lc["path"], year=year, key="source.local.landcover.path"),
                        grid,
                        out_dir / f"landcover_codes_{year}.tif",
                        band=lc.get("band"),
                        nodata=lc.get("nodata"),
                        fill_mask=inside,
                    )
    if "ndvi" in names and local_cfg.get("ndvi"):
        ndvi = local_cfg["ndvi"]
        for year in years:
            if ndvi.get("periods"):
                src = [
                    resolve_path(p, year=year, key="source.local.ndvi.periods")
                    for p in ndvi["periods"]
                ]
            else:
                src = resolve_path(ndvi.get("path") or "", year=year, key="source.local.ndvi.path")
            written[f"ndvi_{year}"] = write_local_ndvi(
                src,
                grid,
                out_dir / f"ndvi_{year}.tif",
                scale=float(ndvi.get("scale", 1.0)),
                offset=float(ndvi.get("offset", 0.0)),
                nodata=ndvi.get("nodata"),
            )
    if "rain" in names:
        rain = _section(local_cfg, "rain")
        written["rain_daily"] = write_local_rain(
            resolve_path(rain.get("gauge_csv") or "", key="source.local.rain.gauge_csv"),
            grid,
            out_dir / "rain_daily.nc",
            date_col=rain.get("date_col"),
            value_col=str(rain.get("value_col")),
        )
    if "soil" in names:
        written["soil"] = _write_soil_from_config(
            _section(local_cfg, "soil"), grid, out_dir / "soil.tif", fill_mask=inside
        )
    if "zones" in names:
        for layer in ("townships", "watersheds"):
            written[layer] = _write_zones_from_config(
                local_cfg.get(layer), grid, out_dir / f"{layer}.gpkg", aoi_path
            )
    if "survey" in names and local_cfg.get("survey"):
        for year in years:
            written[f"survey_{year}"] = _write_survey_from_config(
                local_cfg["survey"], grid, out_dir / f"survey_{year}.gpkg", aoi_path, year=year
            )
    return written
