# Input functions and targets of pipeline/rules/deliverables.smk (functions only: snakemake lint).


def deliverable_targets():
    return expand(os.path.join(OUT, "{year}", "shuibao_{year}.gpkg"), aoi=AOI, year=YEARS)


def report_extra_inputs(wildcards):
    """Tables of the zone_tables / zone_change rules that the report prints."""
    year = int(wildcards.year)
    tab = os.path.join(OUT, "{year}", "tables").format(aoi=wildcards.aoi, year=year)
    d = {
        "soil_loss_district": os.path.join(tab, "zone_soil_loss_district.csv"),
        "soil_loss_township": os.path.join(tab, "zone_soil_loss_township.csv"),
        "soil_loss_watershed": os.path.join(tab, "zone_soil_loss_watershed.csv"),
        "slope_landuse": os.path.join(tab, "slope_landuse_intensity.csv"),
        "key_townships": os.path.join(tab, "key_townships.csv"),
    }
    prev = previous_year(year)
    if prev is not None:
        base = os.path.join(OUT, f"change_{prev}_{year}").format(aoi=wildcards.aoi)
        for layer in ("township", "watershed"):
            d[f"zone_change_{layer}"] = os.path.join(base, f"zone_change_{layer}.csv")
    return d


def gpkg_tables(wildcards):
    year = int(wildcards.year)
    tab = os.path.join(OUT, "{year}", "tables")
    d = {
        "classes": os.path.join(tab, "class_areas.csv"),
        "summary": os.path.join(tab, "summary.json"),
        "soil_loss_district": os.path.join(tab, "zone_soil_loss_district.csv"),
    }
    for layer in ("township", "watershed"):
        d[f"zones_{layer}"] = os.path.join(tab, f"zones_{layer}.csv")
        d[f"soil_loss_{layer}"] = os.path.join(tab, f"zone_soil_loss_{layer}.csv")
    d = {k: v.format(aoi=wildcards.aoi, year=year) for k, v in d.items()}
    prev = previous_year(year)
    if prev is not None:
        base = os.path.join(OUT, f"change_{prev}_{year}").format(aoi=wildcards.aoi)
        d["change_summary"] = os.path.join(base, "change_summary.json")
        for layer in ("township", "watershed"):
            d[f"change_{layer}"] = os.path.join(base, f"zone_change_{layer}.csv")
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
        path = os.path.join(OUT, "common", "watersheds_delineated.gpkg")
    else:
        path = P("watersheds")
    return path if wildcards is None else path.format(aoi=wildcards.aoi)
