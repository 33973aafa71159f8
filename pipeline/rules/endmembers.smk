# NDVI end-members of the pixel dichotomy, pooled over every period and year of the run inside
# the AOI: one file that each year's C (or B) job reads (FVC comparable across years).

FVC_ENDMEMBERS = P("fvc_endmembers")


rule fvc_endmembers:
    input:
        ndvi=expand(P("ndvi"), year=YEARS, allow_missing=True),
        landcover=expand(P("landcover"), year=YEARS, allow_missing=True),
        aoi=P("aoi"),
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
