# Year-over-year change split into the part due to R and the part due to the land.


rule change_split:
    input:
        soil_loss_y0=P("soil_loss", year="{y0}"),
        soil_loss_y1=P("soil_loss", year="{y1}"),
        r_y0=LAYOUT.factor("R", year="{y0}"),
        r_y1=LAYOUT.factor("R", year="{y1}"),
    output:
        P("change_split"),
    wildcard_constraints:
        y0=r"\d{4}",
        y1=r"\d{4}",
    params:
        classification=config["classification"],
        rainfall=config["rainfall"],
    log:
        os.path.join(LOGS, "change_split_{y0}_{y1}.log"),
    benchmark:
        os.path.join(LOGS, "change_split_{y0}_{y1}.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/change_split.py"
