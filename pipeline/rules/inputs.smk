# Inputs contract (pipeline/layout.py, docs/contract.md): the same files from every source.
from pipeline.stages.biophysical import biophysical_table_path

BIOPHYSICAL = biophysical_table_path(config)  # the user's own land-cover codes key C and P


rule inputs:
    output:
        grid=P("grid"),
        aoi=P("aoi"),
        dem=P("dem"),
        soil=P("soil"),
        rain=P("rain"),
        townships=P("townships"),
        watersheds=P("watersheds"),
        landcover=expand(P("landcover"), year=YEARS, allow_missing=True),
        ndvi=expand(P("ndvi"), year=YEARS, allow_missing=True)
        if INPUTS_AVAILABLE["ndvi"]
        else [],
        landcover_codes=expand(P("landcover_codes"), year=YEARS, allow_missing=True)
        if BIOPHYSICAL
        else [],
        survey=expand(P("survey"), year=YEARS, allow_missing=True)
        if INPUTS_AVAILABLE["survey"]
        else [],
    params:
        source=config["source"],
        years=YEARS,
    log:
        os.path.join(LOGS, "inputs.log"),
    benchmark:
        os.path.join(LOGS, "inputs.bench.tsv"),
    threads: 2
    conda:
        "../../environment.yml"
    script:
        "../scripts/inputs.py"
