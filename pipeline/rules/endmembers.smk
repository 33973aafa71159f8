# NDVI end-members of the pixel dichotomy, pooled over every period and year of the run inside
# the AOI: one file that each year's C (or B) job reads (FVC comparable across years).

FVC_ENDMEMBERS = os.path.join(OUT, "common", "fvc_endmembers.json")


rule fvc_endmembers:
    input:
        ndvi=expand(os.path.join(RES, "ndvi_{year}.tif"), year=YEARS, allow_missing=True),
        landcover=expand(
            os.path.join(RES, "landcover_{year}.tif"), year=YEARS, allow_missing=True
        ),
        aoi=os.path.join(RES, "aoi.gpkg"),
    output:
        FVC_ENDMEMBERS,
    params:
        cover=config["cover"],
    log:
        os.path.join(LOGS, "fvc_endmembers.log"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/fvc_endmembers.py"
