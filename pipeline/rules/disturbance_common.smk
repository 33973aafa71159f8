# Paths and input functions of the disturbance rules (pipeline/rules/disturbance.smk).
from pipeline.stages.disturbance import disturbance_source, disturbance_years

DIST_KIND = disturbance_source(config)
DIST_YEARS = disturbance_years(config)
DIST = config["disturbance"]
DIST_RES = os.path.join(RES, "disturbance", "{year}")
DIST_OUT = os.path.join(OUT, "{year}", "disturbance")


def disturbance_targets():
    return expand(
        os.path.join(DIST_OUT, "{name}"),
        aoi=AOI,
        year=DIST_YEARS,
        name=["patches.gpkg", "field_check.xlsx", "summary.json", "map.png"],
    )


def disturbance_input_files(wildcards):
    d = {"grid": os.path.join(RES, "grid.json"), "aoi": os.path.join(RES, "aoi.gpkg")}
    if DIST_KIND == "demo":
        y = int(wildcards.year)
        d["lc_before"] = os.path.join(RES, f"landcover_{y - 1}.tif")
        d["lc_after"] = os.path.join(RES, f"landcover_{y}.tif")
    return {k: v.format(aoi=wildcards.aoi) for k, v in d.items()}


def disturbance_inputs(wildcards):
    y = int(wildcards.year)
    common = os.path.join(OUT, "common", "factors")
    d = {
        "before": os.path.join(DIST_RES, "before.tif"),
        "after": os.path.join(DIST_RES, "after.tif"),
        "townships": os.path.join(RES, "townships.gpkg"),
        "watersheds": os.path.join(RES, "watersheds.gpkg"),
        "aoi": os.path.join(RES, "aoi.gpkg"),
        "R": os.path.join(OUT, "{year}", "factors", "R.tif"),
        "K": os.path.join(common, "K.tif"),
    }
    if MODEL == "rusle":
        d["LS"] = os.path.join(common, "LS.tif")
    else:
        d["L"] = os.path.join(common, "L.tif")
        d["S"] = os.path.join(common, "S.tif")
    if DIST_KIND == "demo":
        d["projects"] = os.path.join(DIST_RES, "approved_projects.gpkg")
    elif DIST["projects"]:
        d["projects"] = DIST["projects"]
    if DIST["first_period_from_ndvi"] and INPUTS_AVAILABLE["ndvi"] and y in YEARS:
        d["ndvi"] = os.path.join(RES, "ndvi_{year}.tif")
    return {k: v.format(aoi=wildcards.aoi, year=y) for k, v in d.items()}


