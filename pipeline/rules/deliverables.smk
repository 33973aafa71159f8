# Hand-over deliverables (#14): soil loss and change by zone, slope × land use × intensity,
# 重点乡镇, and one GeoPackage per year (district, townships, watersheds, intensity patches).


include: "deliverables_inputs.smk"


rule zone_tables:
    input:
        intensity=os.path.join(OUT, "{year}", "intensity.tif"),
        soil_loss=os.path.join(OUT, "{year}", "soil_loss.tif"),
        slope=os.path.join(OUT, "common", "factors", "slope_deg.tif"),
        landcover=os.path.join(RES, "landcover_{year}.tif"),
        aoi=os.path.join(RES, "aoi.gpkg"),
        townships=os.path.join(RES, "townships.gpkg"),
        watersheds=watershed_layer(),
        zones_township=os.path.join(OUT, "{year}", "tables", "zones_township.csv"),
    output:
        district=os.path.join(OUT, "{year}", "tables", "zone_soil_loss_district.csv"),
        township=os.path.join(OUT, "{year}", "tables", "zone_soil_loss_township.csv"),
        watershed=os.path.join(OUT, "{year}", "tables", "zone_soil_loss_watershed.csv"),
        slope_landuse=os.path.join(OUT, "{year}", "tables", "slope_landuse_intensity.csv"),
        key_zones=os.path.join(OUT, "{year}", "tables", "key_townships.csv"),
    params:
        district_name=config["district_name"],
        key_zone_count=config["deliverables"]["key_township_count"],
    log:
        os.path.join(LOGS, "{year}", "zone_tables.log"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/zone_tables.py"


rule zone_change:
    input:
        y0=os.path.join(OUT, "{y0}", "intensity.tif"),
        y1=os.path.join(OUT, "{y1}", "intensity.tif"),
        townships=os.path.join(RES, "townships.gpkg"),
        watersheds=watershed_layer(),
    output:
        township=os.path.join(OUT, "change_{y0}_{y1}", "zone_change_township.csv"),
        watershed=os.path.join(OUT, "change_{y0}_{y1}", "zone_change_watershed.csv"),
    wildcard_constraints:
        y0=r"\d{4}",
        y1=r"\d{4}",
    log:
        os.path.join(LOGS, "zone_change_{y0}_{y1}.log"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/zone_change.py"


rule gpkg:
    input:
        unpack(gpkg_tables),
        intensity=os.path.join(OUT, "{year}", "intensity.tif"),
        aoi=os.path.join(RES, "aoi.gpkg"),
        townships=os.path.join(RES, "townships.gpkg"),
        watersheds=watershed_layer(),
    output:
        gpkg=os.path.join(OUT, "{year}", "shuibao_{year}.gpkg"),
        qml=os.path.join(OUT, "{year}", "shuibao_{year}.qml"),
        bookkeeping=os.path.join(OUT, "{year}", "tables", "patch_bookkeeping.csv"),
    params:
        district_name=config["district_name"],
        mmu_ha=config["deliverables"]["min_mapping_unit_ha"],
        class_colours=config["report"]["class_colours"],
    log:
        os.path.join(LOGS, "{year}", "gpkg.log"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/gpkg.py"


rule delineate_watersheds:
    input:
        dem=os.path.join(RES, "dem.tif"),
        aoi=os.path.join(RES, "aoi.gpkg"),
    output:
        os.path.join(OUT, "common", "watersheds_delineated.gpkg"),
    params:
        min_area_km2=config["deliverables"]["watershed_min_area_km2"],
    log:
        os.path.join(LOGS, "delineate_watersheds.log"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/delineate_watersheds.py"
