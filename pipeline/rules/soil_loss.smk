# Soil loss and SL 190-2007 intensity classes.


rule soil_loss:
    input:
        unpack(soil_loss_factors),
        landcover=os.path.join(RES, "landcover_{year}.tif"),
        aoi=os.path.join(RES, "aoi.gpkg"),
    output:
        soil_loss=os.path.join(OUT, "{year}", "soil_loss.tif"),
        intensity=os.path.join(OUT, "{year}", "intensity.tif"),
    params:
        model=MODEL,
        classification=config["classification"],
        class_colours=config["report"]["class_colours"],
    log:
        os.path.join(LOGS, "{year}", "soil_loss.log"),
    benchmark:
        os.path.join(LOGS, "{year}", "soil_loss.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/soil_loss.py"
