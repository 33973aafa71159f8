# Soil loss and SL 190-2007 intensity classes.


rule soil_loss:
    input:
        unpack(soil_loss_factors),
        landcover=P("landcover"),
        aoi=P("aoi"),
    output:
        soil_loss=P("soil_loss"),
        intensity=P("intensity"),
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
