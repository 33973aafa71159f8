# Inputs contract (pipeline/layout.py, docs/contract.md): the same files from every source.
from pipeline.stages.biophysical import biophysical_table_path

BIOPHYSICAL = biophysical_table_path(config)  # the user's own land-cover codes key C and P
# One job per input, so that a change reruns only what depends on it: the analysis grid
# and AOI; the DEM, the soil and the zone layers (year-independent); the rainfall record;
# and one job per year (land cover, NDVI, survey points), so that adding a year runs only
# that year's jobs. Each job's params are its request (pipeline.stages.inputs.request: a
# changed source setting reruns it) and its inputs the user's local files it reads
# (pipeline.stages.inputs.local_files: a replaced file reruns exactly its dependants).
from pipeline.stages.inputs import check_local_files, local_files, request

check_local_files(config, YEARS)
_SOURCE = config["source"]


rule inputs_grid:
    input:
        local=local_files(_SOURCE, "grid"),
    output:
        grid=P("grid"),
        aoi=P("aoi"),
    params:
        part="grid",
        request=request(_SOURCE, "grid", years=YEARS, checks=config["checks"]),
    log:
        os.path.join(LOGS, "inputs_grid.log"),
    benchmark:
        os.path.join(LOGS, "inputs_grid.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/inputs.py"


# The year-independent inputs and the rainfall record: one rule each.
_INPUT_OUTPUTS = {
    "dem": {"dem": P("dem")},
    "soil": {"soil": P("soil")},
    "zones": {"townships": P("townships"), "watersheds": P("watersheds")},
    "rain": {"rain": P("rain")},
}
for _part, _outputs in _INPUT_OUTPUTS.items():

    rule:
        name:
            f"inputs_{_part}"
        input:
            grid=P("grid"),
            aoi=P("aoi"),
            local=local_files(_SOURCE, _part),
        output:
            **_outputs,
        params:
            part=_part,
            request=request(_SOURCE, _part, years=YEARS, checks=config["checks"]),
        log:
            os.path.join(LOGS, f"inputs_{_part}.log"),
        benchmark:
            os.path.join(LOGS, f"inputs_{_part}.bench.tsv"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/inputs.py"


rule inputs_year:
    input:
        grid=P("grid"),
        aoi=P("aoi"),
        local=lambda w: local_files(_SOURCE, "year", year=int(w.year)),
    output:
        landcover=P("landcover"),
        ndvi=P("ndvi") if INPUTS_AVAILABLE["ndvi"] else [],
        landcover_codes=P("landcover_codes") if BIOPHYSICAL else [],
        survey=P("survey") if INPUTS_AVAILABLE["survey"] else [],
    params:
        part="year",
        request=lambda w: request(_SOURCE, "year", years=YEARS, year=int(w.year)),
    log:
        os.path.join(LOGS, "{year}", "inputs.log"),
    benchmark:
        os.path.join(LOGS, "{year}", "inputs.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/inputs.py"
