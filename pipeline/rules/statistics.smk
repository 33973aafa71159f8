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


# A pair of years: transition matrix and summary, per-zone change tables (#14) and the split
# of the change into the part due to rain (R) and the part due to the land, in one job
# (pipeline/stages/change_pair.py: the three read the same maps).
rule change:
    input:
        y0=P("intensity", year="{y0}"),
        y1=P("intensity", year="{y1}"),
        soil_loss_y0=P("soil_loss", year="{y0}"),
        soil_loss_y1=P("soil_loss", year="{y1}"),
        r_y0=LAYOUT.factor("R", year="{y0}"),
        r_y1=LAYOUT.factor("R", year="{y1}"),
        townships=P("townships"),
        watersheds=lambda wildcards: watershed_layer(wildcards),  # deliverables_inputs.smk
    output:
        matrix=P("change_matrix"),
        summary=P("change_summary"),
        chart=report(
            P("change_chart"),
            caption="../report/captions/change.rst",
            category="change",
        ),
        township=P("zone_change", layer="township"),
        watershed=P("zone_change", layer="watershed"),
        split=P("change_split"),
    wildcard_constraints:
        y0=r"\d{4}",
        y1=r"\d{4}",
    params:
        classification=config["classification"],
        rainfall=config["rainfall"],
    log:
        os.path.join(LOGS, "change_{y0}_{y1}.log"),
    benchmark:
        os.path.join(LOGS, "change_{y0}_{y1}.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/change.py"
