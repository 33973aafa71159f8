# Inputs contract (notes in pipeline/sources/__init__.py): the same files from every source.


rule inputs:
    output:
        grid=os.path.join(RES, "grid.json"),
        aoi=os.path.join(RES, "aoi.gpkg"),
        dem=os.path.join(RES, "dem.tif"),
        soil=os.path.join(RES, "soil.tif"),
        rain=os.path.join(RES, "rain_daily.nc"),
        townships=os.path.join(RES, "townships.gpkg"),
        watersheds=os.path.join(RES, "watersheds.gpkg"),
        landcover=expand(os.path.join(RES, "landcover_{year}.tif"), year=YEARS, allow_missing=True),
        ndvi=expand(os.path.join(RES, "ndvi_{year}.tif"), year=YEARS, allow_missing=True)
        if INPUTS_AVAILABLE["ndvi"]
        else [],
        survey=expand(os.path.join(RES, "survey_{year}.gpkg"), year=YEARS, allow_missing=True)
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
