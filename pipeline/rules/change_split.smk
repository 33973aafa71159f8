# Year-over-year change split into the part due to R and the part due to the land.


rule change_split:
    input:
        soil_loss_y0=os.path.join(OUT, "{y0}", "soil_loss.tif"),
        soil_loss_y1=os.path.join(OUT, "{y1}", "soil_loss.tif"),
        r_y0=os.path.join(OUT, "{y0}", "factors", "R.tif"),
        r_y1=os.path.join(OUT, "{y1}", "factors", "R.tif"),
    output:
        os.path.join(OUT, "change_{y0}_{y1}", "change_split.json"),
    wildcard_constraints:
        y0=r"\d{4}",
        y1=r"\d{4}",
    params:
        classification=config["classification"],
        rainfall=config["rainfall"],
    log:
        os.path.join(LOGS, "change_split_{y0}_{y1}.log"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/change_split.py"
