# Class areas (true hectares) by district, township and small watershed; change between years.


rule statistics:
    input:
        unpack(soil_loss_factors),  # only read to name a missing factor
        intensity=P("intensity"),
        soil_loss=P("soil_loss"),
        aoi=P("aoi"),
        townships=P("townships"),
        watersheds=lambda wildcards: watershed_layer(wildcards),  # deliverables_inputs.smk
    output:
        classes=P("class_areas"),
        summary=P("summary"),
        townships=P("zones_township"),
        watersheds=P("zones_watershed"),
    params:
        statistics=config["statistics"],
        classification=config["classification"],
    log:
        os.path.join(LOGS, "{year}", "statistics.log"),
    benchmark:
        os.path.join(LOGS, "{year}", "statistics.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/statistics.py"


rule change:
    input:
        y0=P("intensity", year="{y0}"),
        y1=P("intensity", year="{y1}"),
    output:
        matrix=P("change_matrix"),
        summary=P("change_summary"),
        chart=report(
            P("change_chart"),
            caption="../report/captions/change.rst",
            category="change",
        ),
    wildcard_constraints:
        y0=r"\d{4}",
        y1=r"\d{4}",
    log:
        os.path.join(LOGS, "change_{y0}_{y1}.log"),
    benchmark:
        os.path.join(LOGS, "change_{y0}_{y1}.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/change.py"
