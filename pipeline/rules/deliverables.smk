# Hand-over deliverables (#14): soil loss and change by zone, slope × land use × intensity,
# 重点乡镇, and one GeoPackage per year (district, townships, watersheds, intensity patches).


include: "deliverables_inputs.smk"


rule zone_tables:
    input:
        intensity=P("intensity"),
        soil_loss=P("soil_loss"),
        slope=LAYOUT.factor("slope_deg"),
        landcover=P("landcover"),
        aoi=P("aoi"),
        townships=P("townships"),
        watersheds=watershed_layer(),
        zones_township=P("zones_township"),
    output:
        district=P("zone_soil_loss", level="district"),
        township=P("zone_soil_loss", level="township"),
        watershed=P("zone_soil_loss", level="watershed"),
        slope_landuse=P("slope_landuse"),
        key_zones=P("key_townships"),
    params:
        district_name=config["district_name"],
        key_zone_count=config["deliverables"]["key_township_count"],
    log:
        os.path.join(LOGS, "{year}", "zone_tables.log"),
    benchmark:
        os.path.join(LOGS, "{year}", "zone_tables.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/zone_tables.py"


rule gpkg:
    input:
        unpack(gpkg_tables),
        intensity=P("intensity"),
        aoi=P("aoi"),
        townships=P("townships"),
        watersheds=watershed_layer(),
    output:
        gpkg=P("gpkg"),
        qml=P("gpkg_qml"),
        bookkeeping=P("patch_bookkeeping"),
    params:
        district_name=config["district_name"],
        mmu_ha=config["deliverables"]["min_mapping_unit_ha"],
        class_colours=config["report"]["class_colours"],
    log:
        os.path.join(LOGS, "{year}", "gpkg.log"),
    benchmark:
        os.path.join(LOGS, "{year}", "gpkg.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/gpkg.py"


rule delineate_watersheds:
    input:
        dem=P("dem"),
        aoi=P("aoi"),
    output:
        P("watersheds_delineated"),
    params:
        min_area_km2=config["deliverables"]["watershed_min_area_km2"],
    log:
        os.path.join(LOGS, "delineate_watersheds.log"),
    benchmark:
        os.path.join(LOGS, "delineate_watersheds.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/delineate_watersheds.py"
