# Input functions and targets of pipeline/rules/deliverables.smk (functions only: snakemake lint).


ZONE_LEVELS = ("district", "township", "watershed")


def deliverable_targets():
    return [P("gpkg", aoi=AOI, year=year) for year in YEARS]


def report_extra_inputs(wildcards):
    """Tables of the zone_tables / zone_change rules that the report prints."""
    year = int(wildcards.year)
    w = dict(aoi=wildcards.aoi, year=year)
    d = {f"soil_loss_{lv}": P("zone_soil_loss", level=lv, **w) for lv in ZONE_LEVELS}
    d["slope_landuse"] = P("slope_landuse", **w)
    d["key_townships"] = P("key_townships", **w)
    prev = previous_year(year)
    if prev is not None:
        for layer in ("township", "watershed"):
            d[f"zone_change_{layer}"] = P(
                "zone_change", aoi=wildcards.aoi, y0=prev, y1=year, layer=layer
            )
    return d


def gpkg_tables(wildcards):
    year = int(wildcards.year)
    w = dict(aoi=wildcards.aoi, year=year)
    d = {"classes": P("class_areas", **w), "summary": P("summary", **w)}
    d["soil_loss_district"] = P("zone_soil_loss", level="district", **w)
    for layer in ("township", "watershed"):
        d[f"zones_{layer}"] = P(f"zones_{layer}", **w)
        d[f"soil_loss_{layer}"] = P("zone_soil_loss", level=layer, **w)
    prev = previous_year(year)
    if prev is not None:
        c = dict(aoi=wildcards.aoi, y0=prev, y1=year)
        d["change_summary"] = P("change_summary", **c)
        for layer in ("township", "watershed"):
            d[f"change_{layer}"] = P("zone_change", layer=layer, **c)
    return d


def delineate_watersheds_enabled():
    mode = config["deliverables"]["delineate_watersheds"]
    if mode == "auto":
        src = config["source"]
        return src.get("kind") != "demo" and not (src.get("local") or {}).get("watersheds")
    return mode == "always"


def watershed_layer(wildcards=None):
    """The small-watershed layer: the given one, or the one delineated from the DEM."""
    if delineate_watersheds_enabled():
        path = P("watersheds_delineated")
    else:
        path = P("watersheds")
    return path if wildcards is None else path.format(aoi=wildcards.aoi)
