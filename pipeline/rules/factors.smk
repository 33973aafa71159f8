# RUSLE / CSLE factors. Year-independent factors (K, terrain) live in results/{aoi}/common/.


rule factor_r:
    input:
        rain=os.path.join(RES, "rain_daily.nc"),
        dem=os.path.join(RES, "dem.tif"),
    output:
        r=os.path.join(OUT, "{year}", "factors", "R.tif"),
        shares=os.path.join(OUT, "{year}", "factors", "R_halfmonth_share.csv"),
        halfmonth=os.path.join(OUT, "{year}", "factors", "R_halfmonth.nc"),
    params:
        rainfall=config["rainfall"],
    log:
        os.path.join(LOGS, "{year}", "factor_r.log"),
    benchmark:
        os.path.join(LOGS, "{year}", "factor_r.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/factor_r.py"


rule factor_k:
    input:
        soil=os.path.join(RES, "soil.tif"),
    output:
        k=os.path.join(OUT, "common", "factors", "K.tif"),
    params:
        soil=config["soil"],
    log:
        os.path.join(LOGS, "factor_k.log"),
    benchmark:
        os.path.join(LOGS, "factor_k.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/factor_k.py"


rule terrain:
    input:
        dem=os.path.join(RES, "dem.tif"),
    output:
        slope=os.path.join(OUT, "common", "factors", "slope_deg.tif"),
        l=os.path.join(OUT, "common", "factors", "L.tif"),
        s=os.path.join(OUT, "common", "factors", "S.tif"),
        ls=os.path.join(OUT, "common", "factors", "LS.tif"),
    params:
        terrain=config["terrain"],
    log:
        os.path.join(LOGS, "terrain.log"),
    benchmark:
        os.path.join(LOGS, "terrain.bench.tsv"),
    threads: 2
    conda:
        "../../environment.yml"
    script:
        "../scripts/terrain.py"


rule factor_cover:
    input:
        # cover.method table uses land cover only: then no NDVI is needed (empty input).
        ndvi=[] if config["cover"]["method"] == "table" else os.path.join(RES, "ndvi_{year}.tif"),
        landcover=os.path.join(RES, "landcover_{year}.tif"),
        shares=os.path.join(OUT, "{year}", "factors", "R_halfmonth_share.csv"),
        # one pair of NDVI end-members for the whole assessment (rules/endmembers.smk)
        endmembers=[] if config["cover"]["method"] != "cai2000" else FVC_ENDMEMBERS,
    output:
        cover=os.path.join(OUT, "{year}", "factors", "C.tif" if MODEL == "rusle" else "B.tif"),
    params:
        cover=config["cover"],
        what="C" if MODEL == "rusle" else "B",
    log:
        os.path.join(LOGS, "{year}", "factor_cover.log"),
    benchmark:
        os.path.join(LOGS, "{year}", "factor_cover.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/factor_cover.py"


if MODEL == "rusle":

    rule factor_p:
        input:
            landcover=os.path.join(RES, "landcover_{year}.tif"),
        output:
            p=os.path.join(OUT, "{year}", "factors", "P.tif"),
        params:
            support=config["support"],
        log:
            os.path.join(LOGS, "{year}", "factor_p.log"),
        benchmark:
            os.path.join(LOGS, "{year}", "factor_p.bench.tsv"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/factor_p.py"

else:

    rule factor_e_t:
        input:
            landcover=os.path.join(RES, "landcover_{year}.tif"),
            # optional polygon layers of engineering / tillage measures (csle.measures, csle.tillage)
            layers=[
                layer["path"]
                for layer in (config["csle"].get("measures"), config["csle"].get("tillage"))
                if layer
            ],
        output:
            e=os.path.join(OUT, "{year}", "factors", "E.tif"),
            t=os.path.join(OUT, "{year}", "factors", "T.tif"),
        params:
            csle=config["csle"],
        log:
            os.path.join(LOGS, "{year}", "factor_e_t.log"),
        benchmark:
            os.path.join(LOGS, "{year}", "factor_e_t.bench.tsv"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/factor_e_t.py"
