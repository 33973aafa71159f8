# Paths and input functions of the disturbance rules (pipeline/rules/disturbance.smk).
from pipeline.stages.disturbance import disturbance_source, disturbance_years

DIST_KIND = disturbance_source(config)
DIST_YEARS = disturbance_years(config)
DIST = config["disturbance"]


def disturbance_targets():
    keys = ("disturbance_patches", "disturbance_field_check_xlsx", "disturbance_summary",
            "disturbance_map")  # fmt: skip
    return [P(key, aoi=AOI, year=year) for year in DIST_YEARS for key in keys]


def disturbance_input_files(wildcards):
    d = {"grid": P("grid", aoi=wildcards.aoi), "aoi": P("aoi", aoi=wildcards.aoi)}
    if DIST_KIND == "demo":
        y = int(wildcards.year)
        d["lc_before"] = P("landcover", aoi=wildcards.aoi, year=y - 1)
        d["lc_after"] = P("landcover", aoi=wildcards.aoi, year=y)
    return d


def disturbance_inputs(wildcards):
    y = int(wildcards.year)
    w = dict(aoi=wildcards.aoi, year=y)
    d = {
        "before": P("disturbance_composite", when="before", **w),
        "after": P("disturbance_composite", when="after", **w),
        "townships": P("townships", **w),
        "watersheds": P("watersheds", **w),
        "aoi": P("aoi", **w),
    }
    names = ("R", "K", "LS") if MODEL == "rusle" else ("R", "K", "L", "S")
    d |= {name: LAYOUT.factor(name, **w) for name in names}
    if DIST_KIND == "demo":
        d["projects"] = P("disturbance_demo_projects", **w)
    elif DIST["projects"]:
        d["projects"] = DIST["projects"]
    if DIST["first_period_from_ndvi"] and INPUTS_AVAILABLE["ndvi"] and y in YEARS:
        d["ndvi"] = P("ndvi", **w)
    return d


