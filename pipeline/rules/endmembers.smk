# NDVI end-members of the pixel dichotomy, pooled over every period and year of the run inside
# the AOI: one file that each year's C (or B) job reads (FVC comparable across years).

FVC_ENDMEMBERS = P("fvc_endmembers")


# cover.endmember_years fixes the pooled years, so that adding a year leaves C of the others
ENDMEMBER_YEARS = sorted(int(y) for y in (config["cover"].get("endmember_years") or YEARS))


rule fvc_endmembers:
    input:
        ndvi=expand(P("ndvi"), year=ENDMEMBER_YEARS, allow_missing=True),
        landcover=expand(P("landcover"), year=ENDMEMBER_YEARS, allow_missing=True),
        aoi=P("aoi"),
    output:
        FVC_ENDMEMBERS,
    params:
        cover=config["cover"],
    log:
        os.path.join(LOGS, "fvc_endmembers.log"),
    benchmark:
        os.path.join(LOGS, "fvc_endmembers.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/fvc_endmembers.py"
