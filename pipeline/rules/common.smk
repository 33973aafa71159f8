# Shared paths and helpers. Wildcards: aoi (from the config), year (from config["years"]).
import os
from pathlib import Path

from pipeline.stages.inputs import check_source_config

AOI = config["aoi"]
YEARS = sorted(int(y) for y in config["years"])
RES = os.path.join(config["resources_dir"], "{aoi}")
OUT = os.path.join(config["results_dir"], "{aoi}")
LOGS = os.path.join("logs", "{aoi}")
MODEL = config["model"]


wildcard_constraints:
    aoi=AOI,
    year=r"\d{4}",


def previous_year(year):
    year = int(year)
    earlier = [y for y in YEARS if y < year]
    return max(earlier) if earlier else None


def change_pairs():
    return list(zip(YEARS[:-1], YEARS[1:]))


def all_targets():
    targets = expand(
        os.path.join(OUT, "{year}", "{name}"),
        aoi=AOI,
        year=YEARS,
        name=["report.html", "bulletin_zh.md", "bulletin_en.md"],
    )
    targets += [
        os.path.join(OUT, f"change_{y0}_{y1}", "change_summary.json").format(aoi=AOI)
        for y0, y1 in change_pairs()
    ]
    return targets


def print_report_locations():
    for year in YEARS:
        path = Path(config["results_dir"]) / AOI / str(year) / "report.html"
        print(f"Shuibao: report for {year}: {path.resolve()}")


# Parse-time checks of the input sources (pipeline/stages/inputs.py): an input from a source
# that cannot provide it, no NDVI with an NDVI-based cover method, or ML without survey
# points raise a ConfigError naming the key before any job runs.
INPUTS_AVAILABLE = check_source_config(config)
ML_ENABLED = bool(config["ml"]["enabled"])


def soil_loss_factors(wildcards):
    year_dir = os.path.join(OUT, "{year}", "factors")
    common = os.path.join(OUT, "common", "factors")
    paths = {"R": os.path.join(year_dir, "R.tif"), "K": os.path.join(common, "K.tif")}
    if MODEL == "rusle":
        paths |= {
            "LS": os.path.join(common, "LS.tif"),
            "C": os.path.join(year_dir, "C.tif"),
            "P": os.path.join(year_dir, "P.tif"),
        }
    else:
        paths |= {
            "L": os.path.join(common, "L.tif"),
            "S": os.path.join(common, "S.tif"),
            "B": os.path.join(year_dir, "B.tif"),
            "E": os.path.join(year_dir, "E.tif"),
            "T": os.path.join(year_dir, "T.tif"),
        }
    return {k: v.format(aoi=wildcards.aoi, year=wildcards.year) for k, v in paths.items()}


def ml_inputs(wildcards):
    d = soil_loss_factors(wildcards)
    common = os.path.join(OUT, "common", "factors").format(aoi=wildcards.aoi)
    d["slope"] = os.path.join(common, "slope_deg.tif")
    d["ndvi"] = os.path.join(RES, "ndvi_{year}.tif").format(**wildcards)
    d["landcover"] = os.path.join(RES, "landcover_{year}.tif").format(**wildcards)
    d["survey"] = os.path.join(RES, "survey_{year}.gpkg").format(**wildcards)
    d["aoi"] = os.path.join(RES, "aoi.gpkg").format(**wildcards)
    d["soil_loss"] = os.path.join(OUT, "{year}", "soil_loss.tif").format(**wildcards)
    d["intensity"] = os.path.join(OUT, "{year}", "intensity.tif").format(**wildcards)
    return d


FACTOR_NAMES = ["R", "K", "LS", "C", "P"] if MODEL == "rusle" else ["R", "K", "L", "S", "B", "E", "T"]
CAPTIONS = {
    "intensity": "intensity_map",
    "soil_loss": "soil_loss_map",
    "townships": "zones_stacked_bars",
    "watersheds": "zones_stacked_bars",
}
FIGURES = ["intensity", "soil_loss", "class_shares", "townships", "watersheds"] + [
    f"factor_{n}" for n in FACTOR_NAMES
]


def report_inputs(wildcards):
    year = int(wildcards.year)
    d = {
        "classes": os.path.join(OUT, "{year}", "tables", "class_areas.csv"),
        "summary": os.path.join(OUT, "{year}", "tables", "summary.json"),
        "zones_township": os.path.join(OUT, "{year}", "tables", "zones_township.csv"),
        "zones_watershed": os.path.join(OUT, "{year}", "tables", "zones_watershed.csv"),
        "soil_loss": os.path.join(OUT, "{year}", "soil_loss.tif"),
        "intensity": os.path.join(OUT, "{year}", "intensity.tif"),
        "townships": os.path.join(RES, "townships.gpkg"),
        "aoi": os.path.join(RES, "aoi.gpkg"),
    }
    d = {k: v.format(aoi=wildcards.aoi, year=year) for k, v in d.items()}
    d.update({f"factor_{k}": v for k, v in soil_loss_factors(wildcards).items()})
    prev = previous_year(year)
    if prev is not None:
        base = os.path.join(OUT, f"change_{prev}_{year}").format(aoi=wildcards.aoi)
        d["change_matrix"] = os.path.join(base, "change_matrix.csv")
        d["change_summary"] = os.path.join(base, "change_summary.json")
        d["change_chart"] = os.path.join(base, "change.png")
        d["change_split"] = os.path.join(base, "change_split.json")  # rain part vs land part
    if ML_ENABLED:
        ml_dir = os.path.join(OUT, "{year}", "ml").format(aoi=wildcards.aoi, year=year)
        d["intensity_ml"] = os.path.join(OUT, "{year}", "intensity_ml.tif").format(
            aoi=wildcards.aoi, year=year
        )
        d["ml_cv"] = os.path.join(ml_dir, "cv_metrics.json")
        d["ml_areas"] = os.path.join(ml_dir, "error_adjusted_areas.csv")
        d["ml_agreement"] = os.path.join(ml_dir, "agreement_ha.csv")
        d["ml_map"] = os.path.join(OUT, "{year}", "maps", "intensity_ml.png").format(
            aoi=wildcards.aoi, year=year
        )
    return d
