# Many districts in one run (#17; pipeline/stages/districts.py). Inputs, factors and soil loss
# are computed once on the grid covering every district; per district and year one job cuts
# the soil-loss rasters to the district and computes its tables, one writes its report; one
# job per year ranks the districts. The districts are known once the checkpoint
# `district_layer` has written districts.gpkg (the layer may be the run's own townships).
include: "districts_common.smk"


checkpoint district_layer:
    input:
        grid=P("grid"),
        layer=DISTRICTS["path"] or P("townships"),
    output:
        layer=P("district_layer"),
    params:
        districts=DISTRICTS,
    log:
        os.path.join(LOGS, "district_layer.log"),
    benchmark:
        os.path.join(LOGS, "district_layer.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/district_layer.py"


rule district_statistics:
    input:
        layer=P("district_layer"),
        intensity=P("intensity"),
        soil_loss=P("soil_loss"),
        townships=P("townships"),
        watersheds=lambda wildcards: watershed_layer(wildcards),  # deliverables_inputs.smk
    output:
        aoi=P("district_aoi"),
        intensity=P("district_intensity"),
        soil_loss=P("district_soil_loss"),
        classes=P("district_class_areas"),
        summary=P("district_summary"),
        townships=P("district_zones_township"),
        watersheds=P("district_zones_watershed"),
    params:
        statistics=config["statistics"],
        classification=config["classification"],
    log:
        os.path.join(LOGS, "districts", "{district}", "{year}", "statistics.log"),
    benchmark:
        os.path.join(LOGS, "districts", "{district}", "{year}", "statistics.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/district_statistics.py"


rule district_report:
    input:
        layer=P("district_layer"),
        classes=P("district_class_areas"),
        summary=P("district_summary"),
        zones_township=P("district_zones_township"),
        zones_watershed=P("district_zones_watershed"),
        intensity=P("district_intensity"),
        soil_loss=P("district_soil_loss"),
        townships=P("townships"),
        aoi=P("district_aoi"),
    output:
        html=P("district_report_html"),
        bulletin_zh=P("district_bulletin_zh"),
        bulletin_en=P("district_bulletin_en"),
        tables=directory(P("district_bulletin_tables")),
        figures=[P("district_map", name=name) for name in DISTRICT_FIGURES],
    params:
        languages=config["report"]["languages"],
        model=MODEL,
        classification=config["classification"],
        units=config["report"]["units"],
        config=config,
        rainfall=config["rainfall"],
        illustrative=ILLUSTRATIVE,  # report.smk
    log:
        os.path.join(LOGS, "districts", "{district}", "{year}", "report.log"),
    benchmark:
        os.path.join(LOGS, "districts", "{district}", "{year}", "report.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/district_report.py"


rule district_ranking:
    input:
        summaries=lambda wildcards: [
            P("district_summary", aoi=wildcards.aoi, year=wildcards.year, district=d)
            for d in district_ids()
        ],
    output:
        csv=P("district_ranking"),
        xlsx=P("district_ranking_xlsx"),
    log:
        os.path.join(LOGS, "districts", "ranking_{year}.log"),
    benchmark:
        os.path.join(LOGS, "districts", "ranking_{year}.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/district_ranking.py"
