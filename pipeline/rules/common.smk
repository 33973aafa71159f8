# Shared paths and helpers. Wildcards: aoi (from the config), year (from config["years"]).
import json
import os
import sys
from pathlib import Path

from pipeline import codehash
from pipeline.layout import MODEL_FACTORS, Layout
from pipeline.stages.inputs import check_source_config, stale_outputs_message

AOI = config["aoi"]
YEARS = sorted(int(y) for y in config["years"])
# Every path comes from the file contract (pipeline/layout.py); P("dem") is its pattern.
LAYOUT = Layout.from_config(config)
P = LAYOUT.path
RES = LAYOUT.root("resources")
OUT = LAYOUT.root("results")
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
    targets = [
        P(key, aoi=AOI, year=year)
        for year in YEARS
        for key in ("report_html", "bulletin_zh", "bulletin_en")
    ]
    targets += [P("change_summary", aoi=AOI, y0=y0, y1=y1) for y0, y1 in change_pairs()]
    if config["sediment"]["enabled"]:
        targets += [P("sediment_csv", aoi=AOI, year=year) for year in YEARS]
    targets += deliverable_targets()  # pipeline/rules/deliverables.smk
    return targets


def print_report_locations():
    for year in YEARS:
        path = Path(P("report_html", aoi=AOI, year=year))
        print(f"Shuibao: report for {year}: {path.resolve()}")


# Parse-time checks of the input sources (pipeline/stages/inputs.py): an input from a source
# that cannot provide it, no NDVI with an NDVI-based cover method, or ML without survey
# points raise a ConfigError naming the key before any job runs.
INPUTS_AVAILABLE = check_source_config(config)

# Outputs made by another Shuibao version or other code than installed (pipeline/codehash.py):
# listed at the start of every run, never mixed silently.
_STALE = stale_outputs_message()
if _STALE:
    print(f"Shuibao WARNING: {_STALE}", file=sys.stderr)
# The stage modules' code hashes, computed once here and inherited by every job through
# the environment (a job would otherwise parse the package again: ~0.25 s of CPU each).
os.environ[codehash.ENV_VAR] = json.dumps(codehash.stage_hashes(), sort_keys=True)
ML_ENABLED = bool(config["ml"]["enabled"])


def soil_loss_factors(wildcards):
    return LAYOUT.factors(MODEL, aoi=wildcards.aoi, year=wildcards.year)


def ml_inputs(wildcards):
    w = dict(aoi=wildcards.aoi, year=wildcards.year)
    d = soil_loss_factors(wildcards)
    d["slope"] = LAYOUT.factor("slope_deg", **w)
    for key in ("ndvi", "landcover", "survey", "aoi", "soil_loss", "intensity"):
        d[key] = P(key, **w)
    return d


FACTOR_NAMES = list(MODEL_FACTORS[MODEL])
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
    w = dict(aoi=wildcards.aoi, year=year)
    d = {"classes": P("class_areas", **w)}
    for key in ("summary", "zones_township", "zones_watershed", "soil_loss", "intensity"):
        d[key] = P(key, **w)
    d |= {"townships": P("townships", **w), "aoi": P("aoi", **w)}
    d.update({f"factor_{k}": v for k, v in soil_loss_factors(wildcards).items()})
    prev = previous_year(year)
    if prev is not None:
        c = dict(aoi=wildcards.aoi, y0=prev, y1=year)
        d["change_matrix"] = P("change_matrix", **c)
        d["change_summary"] = P("change_summary", **c)
        d["change_chart"] = P("change_chart", **c)
        d["change_split"] = P("change_split", **c)  # rain part vs land part
    if year in DIST_YEARS:  # pipeline/rules/disturbance.smk
        d["disturbance_summary"] = P("disturbance_summary", **w)
    if config["sediment"]["enabled"]:
        d |= {key: P(key, **w) for key in ("sediment_csv", "sediment_json", "sediment_chart")}
    d.update(treatment_report_inputs(wildcards))  # pipeline/rules/treatment_common.smk
    d.update(report_extra_inputs(wildcards))  # pipeline/rules/deliverables.smk
    if ML_ENABLED:
        d["intensity_ml"] = P("intensity_ml", **w)
        for key in ("ml_cv", "ml_areas", "ml_agreement", "ml_map"):
            d[key] = P(key, **w)
    return d
