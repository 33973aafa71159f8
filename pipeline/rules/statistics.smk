# Class areas (true hectares) by district, township and small watershed; change between years.


rule statistics:
    input:
        unpack(soil_loss_factors),  # only read to name a missing factor
        intensity=os.path.join(OUT, "{year}", "intensity.tif"),
        soil_loss=os.path.join(OUT, "{year}", "soil_loss.tif"),
        aoi=os.path.join(RES, "aoi.gpkg"),
        townships=os.path.join(RES, "townships.gpkg"),
        watersheds=os.path.join(RES, "watersheds.gpkg"),
    output:
        classes=os.path.join(OUT, "{year}", "tables", "class_areas.csv"),
        summary=os.path.join(OUT, "{year}", "tables", "summary.json"),
        townships=os.path.join(OUT, "{year}", "tables", "zones_township.csv"),
        watersheds=os.path.join(OUT, "{year}", "tables", "zones_watershed.csv"),
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
        y0=os.path.join(OUT, "{y0}", "intensity.tif"),
        y1=os.path.join(OUT, "{y1}", "intensity.tif"),
    output:
        matrix=os.path.join(OUT, "change_{y0}_{y1}", "change_matrix.csv"),
        summary=os.path.join(OUT, "change_{y0}_{y1}", "change_summary.json"),
        chart=report(
            os.path.join(OUT, "change_{y0}_{y1}", "change.png"),
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
