"""The file contract: every file of ``resources/{aoi}/`` and ``results/{aoi}/``, named once.

Base layer. Each contract file has one entry in :data:`FILES` (its key, path pattern,
format) and one reader and one writer in this module (or in :mod:`pipeline.io` for the
generic raster/table formats). The Snakemake rules (``pipeline/rules/common.smk``), the
stages, every source and :mod:`pipeline.notebook` take paths from :class:`Layout` and
read/write through these functions; nothing else spells a file name.
``docs/contract.md`` documents the same table for users.

Path patterns keep Snakemake's wildcards (``{aoi}``, ``{year}``, ``{y0}``, ``{y1}``);
:meth:`Layout.path` fills the ones it is given and leaves the others, so the same call
gives a rule's pattern and a concrete file.

Written by hand: it is this project's own layout, which no library knows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from pipeline import landcover
from pipeline.errors import GridError, InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.io import atomic_path, damaged_hint, open_raster, write_cog, write_text

RESOURCES = "resources"
RESULTS = "results"


@dataclass(frozen=True)
class ContractFile:
    """One file of the contract: ``root``/{aoi}/``pattern``, its format, reader and writer."""

    key: str
    root: str  # RESOURCES or RESULTS
    pattern: str  # relative to {root}/{aoi}/
    format: str
    reader: str
    writer: str
    description: str


def _f(key, root, pattern, fmt, reader, writer, description) -> tuple[str, ContractFile]:
    return key, ContractFile(key, root, pattern, fmt, reader, writer, description)


#: Every file of the contract, by key. Factor rasters are ``factor_<name>`` (see FACTORS).
FILES: dict[str, ContractFile] = dict(
    [
        # ------------------------------------------------ inputs (written by a source)
        _f("grid", RESOURCES, "grid.json", "JSON: crs_wkt, transform a–f, height, width",
           "layout.read_grid", "layout.write_grid", "the analysis grid"),
        _f("aoi", RESOURCES, "aoi.gpkg", "GeoPackage layer aoi: polygon, name, name_en",
           "layout.read_aoi", "layout.write_vector", "district outline, grid CRS"),
        _f("dem", RESOURCES, "dem.tif", "COG float32, m, nodata NaN",
           "io.open_raster", "layout.write_dem", "elevation on the grid"),
        _f("dem_native", RESOURCES, "dem_native.tif",
           "COG float32, m, nodata NaN, the DEM's own CRS and pixels",
           "io.open_raster", "sources.local_dem.write_native_dem",
           "elevation on the DEM's own grid over the analysis grid + margin (terrain.grid)"),
        _f("landcover", RESOURCES, "landcover_{year}.tif", "COG uint8 Shuibao codes, nodata 255",
           "io.open_raster", "layout.write_landcover", "land cover (pipeline/landcover.py)"),
        _f("landcover_codes", RESOURCES, "landcover_codes_{year}.tif",
           "COG int32 the user's own land-cover codes, nodata −2147483648",
           "io.open_raster", "layout.write_landcover_codes",
           "original codes for a biophysical table (optional)"),
        _f("ndvi", RESOURCES, "ndvi_{year}.tif",
           "COG int16 NDVI×10⁴, 24 bands P01–P24, scale 1e-4, nodata −32768",
           "layout.read_ndvi", "layout.write_ndvi", "half-month NDVI (optional)"),
        _f("rain", RESOURCES, "rain_daily.nc",
           "NetCDF: precipitation (time, y, x) float32 mm/day, own lattice with CRS",
           "layout.read_rain", "layout.write_rain_daily", "daily rainfall record"),
        _f("soil", RESOURCES, "soil.tif",
           "COG float32 bands sand_pct, silt_pct, clay_pct, organic_carbon_pct (%)",
           "layout.read_soil", "layout.write_soil", "soil texture and organic carbon"),
        _f("townships", RESOURCES, "townships.gpkg",
           "GeoPackage layer townships: zone_id, name, name_en, polygons",
           "layout.read_zones", "layout.write_vector", "township zones"),
        _f("watersheds", RESOURCES, "watersheds.gpkg",
           "GeoPackage layer watersheds: zone_id, name, name_en, polygons",
           "layout.read_zones", "layout.write_vector", "small-watershed zones"),
        _f("survey", RESOURCES, "survey_{year}.gpkg",
           "GeoPackage layer survey: survey_id, year, intensity_class 1–6, points",
           "layout.read_vector (validated by ml.features.read_survey)", "layout.write_vector",
           "field-survey units (optional)"),
        # ---------------------------------------------------------------- factors
        _f("r_shares", RESULTS, "{year}/factors/R_halfmonth_share.csv",
           "CSV period, r_share (district share of annual R)",
           "layout.read_r_shares", "io.write_csv", "weights of C/B"),
        _f("r_halfmonth", RESULTS, "{year}/factors/R_halfmonth.nc",
           "NetCDF r_halfmonth, r_share (period, y, x) on the rain lattice; (period, station) "
           "with rainfall.stations",
           "xarray.open_dataset", "layout.write_netcdf", "half-month R"),
        # ------------------------------------------------------ soil loss, classes
        _f("soil_loss", RESULTS, "{year}/soil_loss.tif", "COG float32 t·ha⁻¹·a⁻¹",
           "io.open_raster", "io.write_cog", "A, masked to the AOI"),
        _f("intensity", RESULTS, "{year}/intensity.tif",
           "COG uint8 SL 190 classes 1–6, nodata 255; tag class_breaks_t_ha_yr",
           "io.open_raster + layout.read_class_breaks", "io.write_cog",
           "intensity classes and the breaks used"),
        _f("intensity_ml", RESULTS, "{year}/intensity_ml.tif", "COG uint8 classes 1–6",
           "io.open_raster", "io.write_cog", "ML intensity map"),
        # ------------------------------------------------------------- statistics
        _f("class_areas", RESULTS, "{year}/tables/class_areas.csv", "CSV (UTF-8 BOM)",
           "layout.read_table", "io.write_csv", "district class areas"),
        _f("summary", RESULTS, "{year}/tables/summary.json", "JSON",
           "layout.read_json", "layout.write_json", "headline numbers"),
        _f("zones_township", RESULTS, "{year}/tables/zones_township.csv", "CSV (long)",
           "layout.read_table", "io.write_csv", "class areas by township"),
        _f("zones_watershed", RESULTS, "{year}/tables/zones_watershed.csv", "CSV (long)",
           "layout.read_table", "io.write_csv", "class areas by small watershed"),
        _f("change_matrix", RESULTS, "change_{y0}_{y1}/change_matrix.csv", "CSV from_class × to",
           "layout.read_change", "io.write_csv", "transition matrix (ha)"),
        _f("change_summary", RESULTS, "change_{y0}_{y1}/change_summary.json", "JSON",
           "layout.read_change", "layout.write_json", "change summary"),
        _f("change_split", RESULTS, "change_{y0}_{y1}/change_split.json", "JSON",
           "layout.read_json", "stages.change_split.make_change_split",
           "change split into the rain and land parts"),
        _f("fvc_endmembers", RESULTS, "common/fvc_endmembers.json", "JSON",
           "layout.read_json", "stages.endmembers.make_fvc_endmembers",
           "NDVI end-members pooled over the run"),
        _f("change_chart", RESULTS, "change_{y0}_{y1}/change.png", "PNG",
           "-", "report.charts.plot_change", "change chart"),
        # ------------------------------------------------------------------- ML
        _f("ml_model", RESULTS, "{year}/ml/model.skops", "skops", "ml.model_io.load_model",
           "ml.model_io.save_model", "fitted classifier"),
        _f("ml_metadata", RESULTS, "{year}/ml/model.json", "JSON", "layout.read_json",
           "ml.model_io.save_model", "model card"),
        _f("ml_cv", RESULTS, "{year}/ml/cv_metrics.json", "JSON", "layout.read_json",
           "layout.write_json", "cross-validation accuracy"),
        _f("ml_areas", RESULTS, "{year}/ml/error_adjusted_areas.csv", "CSV",
           "layout.read_table", "io.write_csv", "error-adjusted areas, 95 % CI"),
        _f("ml_agreement", RESULTS, "{year}/ml/agreement_ha.csv", "CSV",
           "layout.read_table", "io.write_csv", "RUSLE × ML agreement (ha)"),
        _f("ml_map", RESULTS, "{year}/maps/intensity_ml.png", "PNG", "-",
           "report.maps.plot_intensity_map", "ML intensity map"),
        # ----------------------------------------------------------------- report
        _f("report_html", RESULTS, "{year}/report.html", "HTML (self-contained)", "-",
           "report.html.build_html_report", "the report"),
        _f("bulletin_zh", RESULTS, "{year}/bulletin_zh.md", "Markdown", "-",
           "io.write_text", "bulletin (Chinese)"),
        _f("bulletin_en", RESULTS, "{year}/bulletin_en.md", "Markdown", "-",
           "io.write_text", "bulletin (English)"),
        _f("bulletin_tables", RESULTS, "{year}/bulletin_tables", "folder of CSV + tables.xlsx",
           "-", "report.tables.write_tables", "bulletin tables"),
        _f("map", RESULTS, "{year}/maps/{name}.png", "PNG", "-", "report.maps / report.charts",
           "report figures"),
        # ------------------------------------------- styles beside intensity.tif (soil_loss)
        _f("intensity_qml", RESULTS, "{year}/intensity.qml", "QGIS style (paletted)", "-",
           "raster_style.write_intensity_sidecars", "QGIS loads it with intensity.tif"),
        _f("intensity_rat", RESULTS, "{year}/intensity.tif.aux.xml", "GDAL PAM: raster attribute table",
           "rasterio / GDAL", "raster_style.write_intensity_sidecars", "class names 微度…剧烈"),
        # --------------------------------------------------------- deliverables (#14)
        _f("zone_soil_loss", RESULTS, "{year}/tables/zone_soil_loss_{level}.csv",
           "CSV; level district, township or watershed", "layout.read_table", "io.write_csv",
           "mean modulus and total soil loss per zone"),
        _f("slope_landuse", RESULTS, "{year}/tables/slope_landuse_intensity.csv", "CSV",
           "layout.read_table", "io.write_csv", "slope class × land use × intensity (ha)"),
        _f("key_townships", RESULTS, "{year}/tables/key_townships.csv", "CSV",
           "layout.read_table", "io.write_csv", "重点乡镇 ranked"),
        _f("zone_change", RESULTS, "change_{y0}_{y1}/zone_change_{layer}.csv",
           "CSV; layer township or watershed", "layout.read_table", "io.write_csv",
           "net change per class and improved/deteriorated area by zone"),
        _f("gpkg", RESULTS, "{year}/shuibao_{year}.gpkg",
           "GeoPackage: district, townships, watersheds, intensity_patches, layer_styles",
           "layout.read_vector", "stages.deliverables.make_gpkg", "hand-over vector layers"),
        _f("gpkg_qml", RESULTS, "{year}/shuibao_{year}.qml", "QGIS style (categorised)", "-",
           "stages.deliverables.make_gpkg", "style of the intensity patches"),
        _f("patch_bookkeeping", RESULTS, "{year}/tables/patch_bookkeeping.csv", "CSV",
           "layout.read_table", "stages.deliverables.make_gpkg",
           "patch areas per class and the area the MMU removed"),
        _f("watersheds_delineated", RESULTS, "common/watersheds_delineated.gpkg",
           "GeoPackage layer watersheds: zone_id, name, name_en, polygons", "layout.read_zones",
           "stages.deliverables.make_delineated_watersheds", "small watersheds from the DEM"),
        # ---------------------------------------------------------- sediment (#18)
        _f("sediment_export", RESULTS, "{year}/sediment/export.tif", "COG float32 t·ha⁻¹·a⁻¹",
           "io.open_raster", "io.write_cog", "sediment export (A × SDR)"),
        _f("sediment_sdr", RESULTS, "{year}/sediment/sdr.tif", "COG float32 (0–1)",
           "io.open_raster", "io.write_cog", "sediment delivery ratio"),
        _f("sediment_csv", RESULTS, "{year}/sediment/gauge_comparison.csv", "CSV",
           "layout.read_table", "io.write_csv", "modelled vs measured gauge loads"),
        _f("sediment_json", RESULTS, "{year}/sediment/gauge_comparison.json", "JSON",
           "layout.read_json", "stages.sediment.make_sediment", "plausibility check"),
        _f("sediment_chart", RESULTS, "{year}/sediment/gauge_comparison.png", "PNG", "-",
           "report.charts.plot_gauge_comparison", "gauge comparison chart"),
        # -------------------------------------------------------- disturbance (#16)
        _f("disturbance_composite", RESOURCES, "disturbance/{year}/{when}.tif",
           "COG seasonal composites (B2, B4, B8, B11); when before or after",
           "sources.seasonal_bands.read_composite", "sources.seasonal_bands.write_composite",
           "Sentinel-2 composites of the year before and the year"),
        _f("disturbance_demo_projects", RESOURCES, "disturbance/{year}/approved_projects.gpkg",
           "GeoPackage layer approved_projects", "layout.read_vector",
           "stages.disturbance.make_disturbance_inputs", "demo approved projects (synthetic)"),
        _f("disturbance_demo_truth", RESOURCES, "disturbance/{year}/truth.gpkg",
           "GeoPackage layer truth", "layout.read_vector",
           "stages.disturbance.make_disturbance_inputs", "demo true disturbances (synthetic)"),
        _f("disturbance_patches", RESULTS, "{year}/disturbance/patches.gpkg",
           "GeoPackage layer disturbance_patches", "layout.read_vector",
           "stages.disturbance.make_disturbance", "扰动图斑"),
        _f("disturbance_field_check_xlsx", RESULTS, "{year}/disturbance/field_check.xlsx",
           "XLSX", "-", "report.disturbance.write_field_check_xlsx", "field-check list"),
        _f("disturbance_field_check_csv", RESULTS, "{year}/disturbance/field_check.csv", "CSV",
           "layout.read_table", "io.write_csv", "field-check list"),
        _f("disturbance_by_township", RESULTS, "{year}/disturbance/by_township.csv", "CSV",
           "layout.read_table", "io.write_csv", "disturbed area by township"),
        _f("disturbance_map", RESULTS, "{year}/disturbance/map.png", "PNG", "-",
           "stages.disturbance.make_disturbance", "disturbance map"),
        _f("disturbance_summary", RESULTS, "{year}/disturbance/summary.json", "JSON",
           "layout.read_json", "stages.disturbance.make_disturbance",
           "figures of the bulletin paragraph"),
        # ---------------------------------------------------------- treatment (#15)
        _f("treatment_demo_input", RESOURCES, "treatment/{name}",
           "measures.gpkg, projects.gpkg, parcels.gpkg, targets.csv", "stages.treatment",
           "stages.treatment.make_demo_inputs", "demo treatment inputs (synthetic)"),
        _f("treatment_measures_raster", RESULTS, "{year}/treatment/measures.tif",
           "COG uint8 measure codes in force in the year", "io.open_raster",
           "stages.treatment.make_measures_raster", "measures on the grid (P/E/T hook)"),
        _f("treatment_achieved", RESULTS, "{year}/treatment/achieved.csv", "CSV",
           "layout.read_table", "io.write_csv", "cumulative 治理/生态修复 area by township"),
        _f("treatment_progress", RESULTS, "{year}/treatment/progress.csv", "CSV",
           "layout.read_table", "io.write_csv", "progress against the targets"),
        _f("treatment_progress_json", RESULTS, "{year}/treatment/progress.json", "JSON",
           "layout.read_json", "stages.treatment.make_progress", "progress figures"),
        _f("treatment_projects", RESULTS, "{year}/treatment/projects.csv", "CSV",
           "layout.read_table", "io.write_csv", "project evaluation table"),
        _f("treatment_evaluation", RESULTS, "{year}/treatment/evaluation.json", "JSON",
           "layout.read_json", "stages.treatment.make_project_evaluation",
           "DiD estimates with bootstrap CIs"),
        _f("treatment_parcels", RESULTS, "{year}/treatment/parcels.gpkg", "GeoPackage",
           "layout.read_vector", "stages.treatment.make_parcels", "parcels to treat (到地块)"),
        _f("treatment_parcels_xlsx", RESULTS, "{year}/treatment/parcels.xlsx", "XLSX", "-",
           "stages.treatment.make_parcels", "parcels to treat"),
        _f("treatment_parcels_top", RESULTS, "{year}/treatment/parcels_top.csv", "CSV",
           "layout.read_table", "io.write_csv", "top-N parcels"),
        _f("treatment_bulletin", RESULTS, "{year}/treatment/bulletin_treatment_{lang}.md",
           "Markdown paragraph; lang zh or en", "io (text)",
           "stages.treatment.make_treatment_report", "十四五 / project paragraph"),
        _f("treatment_key_townships", RESULTS, "{year}/treatment/key_townships.csv", "CSV",
           "layout.read_table", "io.write_csv", "重点乡镇 with the remaining target"),
        _f("treatment_chart", RESULTS, "{year}/treatment/progress.png", "PNG", "-",
           "stages.treatment.make_treatment_report", "target progress chart"),
        _f("treatment_map", RESULTS, "{year}/treatment/parcels_top.png", "PNG", "-",
           "stages.treatment.make_treatment_report", "map of the top parcels"),
        # --------------------------------------- many districts in one run (#17)
        _f("district_layer", RESOURCES, "districts/districts.gpkg",
           "GeoPackage layer districts: district_id, name, name_en, polygons (grid CRS)",
           "layout.read_vector", "stages.districts.make_district_layer",
           "the districts reported one by one"),
        _f("district_aoi", RESULTS, "districts/{district}/{year}/aoi.gpkg",
           "GeoPackage layer aoi: the district's polygon", "layout.read_aoi",
           "layout.write_vector", "the district's outline"),
        _f("district_soil_loss", RESULTS, "districts/{district}/{year}/soil_loss.tif",
           "COG float32 t·ha⁻¹·a⁻¹", "io.open_raster", "io.write_cog",
           "A on the district's window, masked to the district"),
        _f("district_intensity", RESULTS, "districts/{district}/{year}/intensity.tif",
           "COG uint8 classes 1–6, nodata 255", "io.open_raster", "io.write_cog",
           "classes on the district's window, masked to the district"),
        _f("district_class_areas", RESULTS, "districts/{district}/{year}/tables/class_areas.csv",
           "CSV (UTF-8 BOM)", "layout.read_table", "io.write_csv", "the district's class areas"),
        _f("district_summary", RESULTS, "districts/{district}/{year}/tables/summary.json", "JSON",
           "layout.read_json", "layout.write_json", "the district's headline numbers"),
        _f("district_zones_township", RESULTS,
           "districts/{district}/{year}/tables/zones_township.csv", "CSV (long)",
           "layout.read_table", "io.write_csv", "class areas by township within the district"),
        _f("district_zones_watershed", RESULTS,
           "districts/{district}/{year}/tables/zones_watershed.csv", "CSV (long)",
           "layout.read_table", "io.write_csv", "class areas by watershed within the district"),
        _f("district_report_html", RESULTS, "districts/{district}/{year}/report.html",
           "HTML (self-contained)", "-", "report.html.build_html_report", "the district's report"),
        _f("district_bulletin_zh", RESULTS, "districts/{district}/{year}/bulletin_zh.md",
           "Markdown", "-", "io.write_text", "the district's bulletin (Chinese)"),
        _f("district_bulletin_en", RESULTS, "districts/{district}/{year}/bulletin_en.md",
           "Markdown", "-", "io.write_text", "the district's bulletin (English)"),
        _f("district_bulletin_tables", RESULTS, "districts/{district}/{year}/bulletin_tables",
           "folder of CSV + tables.xlsx", "-", "report.tables.write_tables",
           "the district's bulletin tables"),
        _f("district_map", RESULTS, "districts/{district}/{year}/maps/{name}.png", "PNG", "-",
           "report.maps / report.charts", "the district's report figures"),
        _f("district_ranking", RESULTS, "districts/ranking_{year}.csv", "CSV (UTF-8 BOM)",
           "layout.read_table", "io.write_csv",
           "districts ranked by erosion share and mean modulus"),
        _f("district_ranking_xlsx", RESULTS, "districts/ranking_{year}.xlsx", "XLSX", "-",
           "stages.districts.make_district_ranking", "the ranking as a workbook sheet"),
        # ------------------------------------------------ tiles (compute.tiles, #17)
        _f("tiles_layout", RESOURCES, "tiles/layout.json", "JSON: shape, tile, tile names",
           "stages.tiles.read_tile_layout", "stages.tiles.make_tile_layout",
           "the tiles of a tiled run"),
        _f("tiles_array", RESOURCES, "tiles/terrain/{stage}/{tile}.{array}.npy",
           "NumPy .npy (filled window, D8 codes, cells, LS stack)", "numpy.load",
           "stages.tiles", "per-tile terrain arrays (pipeline.factors._tiled.TileStore)"),
        _f("tiles_summary", RESOURCES, "tiles/terrain/{stage}/{tile}.npz",
           "NumPy .npz (border summaries)", "numpy.load", "stages.tiles",
           "per-tile border summaries of the fill, flats and D8 links"),
        _f("tiles_cells", RESOURCES, "tiles/terrain/cells", "folder of <tile>.cells.npy",
           "numpy.load", "stages.tiles.make_accumulate", "flow accumulation per tile"),
        _f("tiles_global", RESOURCES, "tiles/terrain/{step}.npz", "NumPy .npz",
           "numpy.load", "stages.tiles", "results of the global fill and flats steps"),
        _f("tiles_soil_loss", RESOURCES, "tiles/soil_loss_{year}/{tile}.npz",
           "NumPy .npz: soil_loss, intensity, exact partial sums", "numpy.load",
           "stages.tiles.make_tile_soil_loss", "per-tile soil loss and class sums"),
        # -------------------------------------------------- caches and side files
        _f("demo_cache", RESOURCES, ".demo_cache", "folder of pickled values (*.memo.pkl)",
           "sources._memo", "sources._memo", "demo DEM, routing, land cover shared by the "
           "inputs jobs (removable)"),
        _f("ee_cache", RESOURCES, ".ee_cache", "folder of raw downloads", "-",
           "sources.earthengine", "Earth Engine downloads (earthengine.cache_dir)"),
        _f("disturbance_ee_cache", RESOURCES, "disturbance/{year}/.ee_cache",
           "folder of raw downloads", "-", "sources.earthengine_bands",
           "Earth Engine composite downloads"),
        _f("provenance", RESOURCES, "{file}.provenance.json", "JSON beside a download",
           "report.provenance", "sources.earthengine", "asset IDs, dates, request hash"),
    ]
)  # fmt: skip

#: Every factor raster: name → folder (``common`` = year-independent, ``year``).
FACTORS: dict[str, str] = {
    "R": "year",
    "K": "common",
    "LS": "common",
    "L": "common",
    "S": "common",
    "slope_deg": "common",
    "C": "year",
    "B": "year",
    "P": "year",
    "E": "year",
    "T": "year",
}
#: The factors of each soil-loss equation, in the order of its formula.
MODEL_FACTORS: dict[str, tuple[str, ...]] = {
    "rusle": ("R", "K", "LS", "C", "P"),
    "csle": ("R", "K", "L", "S", "B", "E", "T"),
}
#: Every factor any model multiplies (the order of the ML features).
ALL_FACTORS: tuple[str, ...] = ("R", "K", "LS", "C", "P", "L", "S", "B", "E", "T")

for _name, _scope in FACTORS.items():
    FILES[f"factor_{_name}"] = ContractFile(
        f"factor_{_name}",
        RESULTS,
        f"common/factors/{_name}.tif" if _scope == "common" else f"{{year}}/factors/{_name}.tif",
        "COG float32",
        "io.open_raster",
        "io.write_cog",
        f"factor {_name}",
    )

#: Inputs whose source can be chosen one by one (config ``source.inputs``).
INPUT_NAMES = ("dem", "landcover", "ndvi", "rain", "soil", "zones", "survey")
#: Input name → contract file keys it covers.
INPUT_FILES: dict[str, tuple[str, ...]] = {
    "dem": ("dem",),
    "landcover": ("landcover",),
    "ndvi": ("ndvi",),
    "rain": ("rain",),
    "soil": ("soil",),
    "zones": ("townships", "watersheds"),
    "survey": ("survey",),
}
#: Optional inputs: a district may have none (then cover.method table / ml.enabled false).
OPTIONAL_INPUTS = ("ndvi", "survey")
#: Zone layers of the statistics.
ZONE_LAYERS = {"township": "townships", "watershed": "watersheds"}

N_PERIODS = 24
PERIOD_NAMES = [f"P{p:02d}" for p in range(1, N_PERIODS + 1)]
NDVI_SCALE = 1e-4
NDVI_NODATA = -32768
SOIL_BANDS = ("sand_pct", "silt_pct", "clay_pct", "organic_carbon_pct")
INTENSITY_BREAKS_TAG = "class_breaks_t_ha_yr"


def _fill(pattern: str, wildcards: Mapping[str, object]) -> str:
    for name, value in wildcards.items():
        pattern = pattern.replace("{" + name + "}", str(value))
    return pattern


@dataclass(frozen=True)
class Layout:
    """Where the files of one configuration live.

    ``Layout("resources", "results").path("dem", aoi="small")`` → ``resources/small/dem.tif``;
    without ``aoi`` the ``{aoi}`` wildcard stays (a Snakemake pattern).
    """

    resources_dir: str | os.PathLike = RESOURCES
    results_dir: str | os.PathLike = RESULTS

    @classmethod
    def from_config(cls, config: Mapping, *, workdir: str | os.PathLike | None = None) -> Layout:
        res, out = config.get("resources_dir", RESOURCES), config.get("results_dir", RESULTS)
        if workdir is not None:
            res, out = Path(workdir) / res, Path(workdir) / out
        return cls(res, out)

    def root(self, root: str) -> str:
        base = self.resources_dir if root == RESOURCES else self.results_dir
        return os.path.join(str(base), "{aoi}")

    def path(self, key: str, **wildcards) -> str:
        """The path of contract file ``key`` with the given wildcards filled."""
        try:
            entry = FILES[key]
        except KeyError as exc:
            raise KeyError(f"{key!r} is not a contract file; see pipeline/layout.py") from exc
        return _fill(os.path.join(self.root(entry.root), entry.pattern), wildcards)

    def factor(self, name: str, **wildcards) -> str:
        return self.path(f"factor_{name}", **wildcards)

    def factors(self, model: str, **wildcards) -> dict[str, str]:
        """Factor rasters of the soil-loss equation of ``model`` (rusle or csle)."""
        return {n: self.factor(n, **wildcards) for n in MODEL_FACTORS[model]}

    def folder(self, root: str, *parts, **wildcards) -> str:
        return _fill(os.path.join(self.root(root), *map(str, parts)), wildcards)

    def key_of(self, path: str | os.PathLike) -> str | None:
        """The contract key whose pattern ``path`` matches (None when no entry does).

        >>> Layout().key_of("results/demo/2024/tables/zone_soil_loss_township.csv")
        'zone_soil_loss'
        """
        text = Path(path).as_posix()
        for key, regex in self._regexes():
            if regex.fullmatch(text):
                return key
        return None

    def _regexes(self):
        import re

        out = []
        for key, entry in FILES.items():
            pattern = Path(self.root(entry.root), entry.pattern).as_posix()
            parts = re.split(r"(\{[a-z0-9_]+\})", pattern)
            regex = "".join(
                ("[^/]+" if p[1:-1] != "file" else ".+")
                if p.startswith("{") and p.endswith("}")
                else re.escape(p)
                for p in parts
            )
            out.append((key, re.compile(regex)))
        return out


def contract_table(root: str) -> str:
    """The Markdown table of the contract files under ``root`` (docs/contract.md is made of
    these: ``python -m pipeline.layout`` prints both; tests/test_layout_contract.py checks)."""
    rows = ["| key | path | format | reader | writer |", "|---|---|---|---|---|"]
    for key, e in FILES.items():
        if e.root != root or key.startswith("factor_"):
            continue
        rows.append(f"| `{key}` | `{e.pattern}` | {e.format} | `{e.reader}` | `{e.writer}` |")
    if root == RESULTS:
        common = ", ".join(n for n, s in FACTORS.items() if s == "common")
        yearly = ", ".join(n for n, s in FACTORS.items() if s == "year")
        rows.append(
            f"| `factor_<name>` | `common/factors/<name>.tif` ({common}) or "
            f"`{{year}}/factors/<name>.tif` ({yearly}) | COG float32 | `io.open_raster` | "
            "`io.write_cog` |"
        )
    return "\n".join(rows) + "\n"


# ============================================================== readers and writers
# ------------------------------------------------------------------------- grid.json
def write_grid(grid: AnalysisGrid, path) -> Path:
    """Write ``grid.json`` (the one writer): see :meth:`AnalysisGrid.to_json`."""
    grid.to_json(path)
    return Path(path)


def read_grid(path) -> AnalysisGrid:
    """Read ``grid.json`` (the one reader); GridError (an InputDataError) names the file."""
    return AnalysisGrid.from_json(path)


# ------------------------------------------------------------------------ vectors
_GPKG_DATE = "2000-01-01T00:00:00.000Z"  # fixed GPKG timestamps: same data, same bytes
VECTOR_LAYERS = {"aoi": "aoi", "townships": "townships", "watersheds": "watersheds",
                 "survey": "survey", "districts": "districts"}  # fmt: skip


def write_vector(gdf, path, *, key: str):
    """Write a contract GeoPackage (``aoi``, ``townships``, ``watersheds``, ``survey``)
    atomically, with a fixed timestamp (same data → same bytes)."""
    import pyogrio

    path = Path(path)
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _GPKG_DATE})
    try:
        with atomic_path(path, suffix=".gpkg") as tmp:
            tmp.unlink()  # GDAL creates the file itself
            gdf.to_file(tmp, layer=VECTOR_LAYERS[key], driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return path


def read_vector(path, *, what: str = "vector layer", layer: str | None = None):
    """Read a GeoPackage/shapefile; InputDataError names the file when absent/unreadable."""
    import geopandas as gpd

    if not os.path.exists(path):
        raise InputDataError(f"{what} not found: {path}")
    try:
        return gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputDataError(f"cannot read {what} {path}: {exc}") from exc


def read_aoi(path, crs=None):
    """``aoi.gpkg`` in ``crs`` (default: as stored); errors name the file."""
    aoi = read_vector(path, what="AOI layer")
    if aoi.empty:
        raise InputDataError(f"{path}: the AOI layer has no polygon")
    if aoi.crs is None:
        raise InputDataError(f"{path}: the AOI layer has no CRS")
    return aoi if crs is None else aoi.to_crs(crs)


def read_zones(path, crs=None):
    """``townships.gpkg`` / ``watersheds.gpkg`` in ``crs``; needs zone_id and name."""
    zones = read_vector(path, what="zone layer")
    for col in ("zone_id", "name"):
        if col not in zones.columns:
            raise InputDataError(
                f"{path}: zone layer needs a column {col!r}; has {list(zones.columns)}"
            )
    if zones.crs is None:
        raise InputDataError(f"{path}: zone layer has no CRS")
    return zones if crs is None else zones.to_crs(crs)


# ------------------------------------------------------------------------ rasters
def _check_on_grid(da: xr.DataArray, grid: AnalysisGrid | None, name: str) -> xr.DataArray:
    if grid is None:
        return da
    if tuple(da.shape[-2:]) != grid.shape:
        raise GridError(f"{name}: shape {da.shape[-2:]} does not match the grid {grid.shape}")
    return da.rio.write_crs(grid.crs).rio.write_transform(grid.transform)


def write_dem(elevation_m: xr.DataArray, out_path, *, grid=None, tags=None) -> Path:
    """Write ``dem.tif``: float32 elevation (m), nodata NaN."""
    da = _check_on_grid(elevation_m, grid, "dem").astype("float32")
    da.attrs["units"] = "m"
    return write_cog(da, out_path, nodata=np.nan, dtype="float32", tags=tags, for_pipeline=True)


def write_landcover(codes: xr.DataArray, out_path, *, grid=None, tags=None) -> Path:
    """Write ``landcover_{year}.tif``: uint8 Shuibao codes, nodata 255.

    Raises InputDataError if a value is not a Shuibao code (pipeline/landcover.py).
    """
    da = _check_on_grid(codes, grid, "landcover")
    values = np.asarray(da.fillna(landcover.NODATA).values).astype("int64")
    bad = sorted(set(np.unique(values).tolist()) - set(landcover.CLASSES) - {landcover.NODATA})
    if bad:
        raise InputDataError(
            f"land cover for {out_path}: values {bad} are not Shuibao codes "
            f"{sorted(landcover.CLASSES)} (recode the source legend first)"
        )
    out = da.copy(data=values.astype("uint8"))
    out.attrs = {"units": "class"}
    return write_cog(
        out, out_path, nodata=landcover.NODATA, dtype="uint8", tags=tags, for_pipeline=True
    )


LANDCOVER_CODES_NODATA = -2147483648


def write_landcover_codes(codes: xr.DataArray, out_path, *, grid=None, tags=None) -> Path:
    """Write ``landcover_codes_{year}.tif``: the source's own class codes (int32) on the grid,
    nodata −2147483648 — what a biophysical table (``lucode``) keys C and P by."""
    da = _check_on_grid(codes, grid, "landcover_codes")
    nodata = da.rio.nodata
    values = np.asarray(da.values)
    mask = ~np.isfinite(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
    if nodata is not None:
        mask |= values == nodata
    out = da.copy(data=np.where(mask, LANDCOVER_CODES_NODATA, values).astype("int32"))
    out.attrs = {"units": "class"}
    return write_cog(
        out, out_path, nodata=LANDCOVER_CODES_NODATA, dtype="int32", tags=tags, for_pipeline=True
    )


def write_ndvi(ndvi: xr.DataArray, out_path, *, grid=None, tags=None, encoded=False) -> Path:
    """Write ``ndvi_{year}.tif``: 24 half-month bands P01..P24, int16 NDVI × 10000.

    ``ndvi`` is float NDVI (−1…1, NaN = no data) with dims (period, y, x) and 24
    periods (a ``band`` dim is accepted too); with ``encoded=True`` it is already
    int16 NDVI × 10000 with −32768 for no data. Band scale 0.0001, nodata −32768.
    """
    dim = "period" if "period" in ndvi.dims else "band"
    if ndvi.ndim != 3 or ndvi.sizes.get(dim) != N_PERIODS:
        raise InputDataError(
            f"NDVI for {out_path}: expected dims (period, y, x) with {N_PERIODS} periods, "
            f"got {dict(ndvi.sizes)}"
        )
    da = _check_on_grid(ndvi, grid, "ndvi")
    scaled = da if encoded else (da.clip(-1.0, 1.0) / NDVI_SCALE).round()
    scaled = scaled.rename({dim: "band"}) if dim != "band" else scaled
    scaled = scaled.assign_coords(band=PERIOD_NAMES)
    scaled.attrs = {"units": "1"}
    all_tags = {"scale": NDVI_SCALE, "periods": "half-months; P01 = Jan 1-15", **(tags or {})}
    return write_cog(
        scaled,
        out_path,
        scale=NDVI_SCALE,
        offset=0.0,
        nodata=NDVI_NODATA,
        dtype="int16",
        tags=all_tags,
        band_names=PERIOD_NAMES,
        for_pipeline=True,
    )


def read_ndvi(path, *, chunks=None) -> xr.DataArray:
    """``ndvi_{year}.tif`` as NDVI (dimensionless) with dims (period, y, x), periods 1–24."""
    ndvi = open_raster(path, chunks=chunks)
    if "band" not in ndvi.dims or ndvi.sizes["band"] != N_PERIODS:
        raise InputDataError(
            f"{path}: expected {N_PERIODS} half-month NDVI bands, got {dict(ndvi.sizes)}"
        )
    ndvi = ndvi.rename(band="period").assign_coords(period=np.arange(1, N_PERIODS + 1))
    ndvi.attrs["units"] = "1"
    return ndvi


def write_soil(soil: xr.DataArray, out_path, *, grid=None, tags=None) -> Path:
    """Write ``soil.tif``: float32 bands sand_pct, silt_pct, clay_pct, organic_carbon_pct.

    ``soil`` has dims (band, y, x) with band labels ``SOIL_BANDS`` (any order).
    """
    if "band" not in soil.dims or set(map(str, soil["band"].values)) != set(SOIL_BANDS):
        raise InputDataError(
            f"soil for {out_path}: expected bands {list(SOIL_BANDS)}, got "
            f"{list(soil['band'].values) if 'band' in soil.dims else soil.dims}"
        )
    da = _check_on_grid(soil.sel(band=list(SOIL_BANDS)), grid, "soil").astype("float32")
    da.attrs = {"units": "%"}
    return write_cog(
        da,
        out_path,
        nodata=np.nan,
        dtype="float32",
        tags=tags,
        band_names=list(SOIL_BANDS),
        for_pipeline=True,
    )


def read_soil(path, *, chunks=None) -> dict[str, xr.DataArray]:
    """``soil.tif`` as ``{band name: DataArray}`` (percent); errors name missing bands."""
    texture = open_raster(path, chunks=chunks)
    bands = [str(b) for b in texture["band"].values] if "band" in texture.dims else []
    missing = [b for b in SOIL_BANDS if b not in bands]
    if missing:
        raise InputDataError(f"{path}: missing soil band(s) {missing}; bands are {bands}")
    return {b: texture.sel(band=b, drop=True) for b in SOIL_BANDS}


# --------------------------------------------------------------------------- rain
def write_rain_daily(precipitation_mm_day: xr.DataArray, out_path, *, attrs=None,
                     time_units: str | None = None) -> Path:  # fmt: skip
    """Write ``rain_daily.nc``: variable ``precipitation`` (time, y, x), float32 mm/day,
    with its CRS written by rioxarray (EPSG:4326 when it has none), atomically."""
    rain = precipitation_mm_day.astype("float32")
    rain.name = "precipitation"
    rain.attrs.setdefault("units", "mm/day")
    if rain.rio.crs is None:
        rain = rain.rio.write_crs("EPSG:4326")
    ds = rain.to_dataset()
    ds.attrs.update(attrs or {})
    ds["precipitation"].encoding.update(dtype="float32")
    if time_units:
        ds["time"].encoding.update(units=time_units, dtype="int32")
    out_path = Path(out_path)
    with atomic_path(out_path, suffix=".nc") as tmp:
        ds.to_netcdf(tmp)
    return out_path


def read_rain(path) -> xr.DataArray:
    """``rain_daily.nc`` as daily rainfall (mm d⁻¹) with its CRS; errors name the file."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"rainfall file not found: {path}")
    try:
        ds = xr.open_dataset(path, decode_coords="all")
    except Exception as exc:  # netCDF4/h5netcdf raise several types for damaged files
        raise InputDataError(f"cannot read {path}: {exc}{damaged_hint(path)}") from exc
    if "precipitation" not in ds:
        raise InputDataError(f"{path}: expected a variable 'precipitation' (mm/day)")
    rain = ds["precipitation"]
    if rain.rio.crs is None and "spatial_ref" in ds.variables:
        attrs = ds["spatial_ref"].attrs
        wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
        if wkt:
            rain = rain.rio.write_crs(wkt)
    if rain.rio.crs is None:
        raise InputDataError(f"{path}: the rainfall grid has no CRS (write it with rioxarray)")
    rain.attrs.setdefault("units", "mm d-1")
    return rain


def write_netcdf(ds: xr.Dataset, path) -> Path:
    """Write a NetCDF dataset atomically."""
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp)
    return Path(path)


# ------------------------------------------------------------------------- tables
def read_table(path):
    """A contract CSV (UTF-8 with BOM) as a DataFrame."""
    import pandas as pd

    return pd.read_csv(path, encoding="utf-8-sig")


def read_json(path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_json(obj, path) -> Path:
    """Contract JSON: UTF-8, sorted keys, indent 2, floats as floats; strictly valid
    (NaN and ±inf are written as null, ``pipeline.io.strict_json``)."""
    from pipeline.io import strict_json

    return write_text(strict_json(obj), path)


def read_r_shares(path) -> xr.DataArray:
    """``R_halfmonth_share.csv`` as a DataArray over ``period`` (dimensionless)."""
    df = read_table(path)
    return xr.DataArray(
        df["r_share"].to_numpy(float), dims="period", coords={"period": df["period"].to_numpy(int)}
    )


def read_change(matrix_path, summary_path):
    """``change_matrix.csv`` (from_class × to_class, ha) and ``change_summary.json``."""
    matrix = read_table(matrix_path).set_index("from_class")
    matrix.columns = [int(c) for c in matrix.columns]
    return matrix, read_json(summary_path)


def read_class_breaks(intensity_path) -> tuple[float, ...]:
    """The SL 190-2007 class breaks (t·ha⁻¹·a⁻¹) that made ``intensity.tif`` (its tags)."""
    import rasterio

    with rasterio.open(intensity_path) as src:
        text = src.tags().get(INTENSITY_BREAKS_TAG)
    if not text:
        raise InputDataError(
            f"{intensity_path}: no {INTENSITY_BREAKS_TAG!r} tag; rerun the soil_loss rule"
        )
    return tuple(float(b) for b in text.split(","))


def render_contract_doc(text: str) -> str:
    """``text`` (docs/contract.md) with the tables between ``<!-- contract:resources -->`` /
    ``<!-- contract:results -->`` markers and their closing markers regenerated from
    :data:`FILES`; the prose around them is kept."""
    import re

    for root in (RESOURCES, RESULTS):
        begin, end = f"<!-- contract:{root} -->", f"<!-- /contract:{root} -->"
        if begin not in text or end not in text:
            raise ValueError(f"contract document has no {begin} … {end} block")
        text = re.sub(
            re.escape(begin) + r".*?" + re.escape(end),
            lambda _m, r=root, b=begin, e=end: f"{b}\n{contract_table(r)}{e}",
            text,
            flags=re.S,
        )
    return text


if __name__ == "__main__":  # pragma: no cover
    # python -m pipeline.layout docs/contract.md: regenerate the tables of the document
    import sys

    _doc = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/contract.md")
    _doc.write_text(render_contract_doc(_doc.read_text(encoding="utf-8")), encoding="utf-8")
