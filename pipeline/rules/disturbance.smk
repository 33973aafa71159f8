# Construction-disturbance supervision (扰动图斑), issue #16. Jobs exist only when
# disturbance.enabled is true and composites have a source (pipeline/stages/disturbance.py).
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


if DIST_YEARS:

    rule disturbance_inputs:
        input:
            unpack(disturbance_input_files),
        output:
            before=os.path.join(DIST_RES, "before.tif"),
            after=os.path.join(DIST_RES, "after.tif"),
            extra=[
                os.path.join(DIST_RES, "approved_projects.gpkg"),
                os.path.join(DIST_RES, "truth.gpkg"),
            ]
            if DIST_KIND == "demo"
            else [],
        params:
            kind=DIST_KIND,
            seed=config["source"]["demo"]["seed"],
            local=DIST["local"],
            stac=config["source"]["stac"],
            earthengine=config["source"]["earthengine"],
        log:
            os.path.join(LOGS, "{year}", "disturbance_inputs.log"),
        benchmark:
            os.path.join(LOGS, "{year}", "disturbance_inputs.bench.tsv"),
        threads: 2
        conda:
            "../../environment.yml"
        script:
            "../scripts/disturbance_inputs.py"

    rule disturbance:
        input:
            unpack(disturbance_inputs),
        output:
            patches=os.path.join(DIST_OUT, "patches.gpkg"),
            field_check_xlsx=os.path.join(DIST_OUT, "field_check.xlsx"),
            field_check_csv=os.path.join(DIST_OUT, "field_check.csv"),
            by_township=os.path.join(DIST_OUT, "by_township.csv"),
            map=report(
                os.path.join(DIST_OUT, "map.png"),
                caption="../report/captions/disturbance_map.rst",
                category="{year}",
            ),
            summary=os.path.join(DIST_OUT, "summary.json"),
        params:
            district_name=config["district_name"],
            lang=(config["report"]["languages"] or ["zh"])[0],
            settings=DIST,
        log:
            os.path.join(LOGS, "{year}", "disturbance.log"),
        benchmark:
            os.path.join(LOGS, "{year}", "disturbance.bench.tsv"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/disturbance.py"
