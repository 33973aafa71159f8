# RUSLE / CSLE factors. Year-independent factors (K, terrain) live in results/{aoi}/common/.


rule factor_r:
    input:
        unpack(factor_r_inputs),  # rules/ready_factors.smk: rain or gauges, dem, R map
    output:
        r=P("factor_R"),
        shares=P("r_shares"),
        halfmonth=P("r_halfmonth"),
    params:
        rainfall=config["rainfall"],
    log:
        os.path.join(LOGS, "{year}", "factor_r.log"),
    benchmark:
        os.path.join(LOGS, "{year}", "factor_r.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        FACTOR_R_SCRIPT


rule factor_k:
    input:
        unpack(factor_k_inputs),  # rules/ready_factors.smk: texture, or dem + K map/table
    output:
        k=P("factor_K"),
    params:
        soil=config["soil"],
    log:
        os.path.join(LOGS, "factor_k.log"),
    benchmark:
        os.path.join(LOGS, "factor_k.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        FACTOR_K_SCRIPT


rule terrain:
    input:
        dem=P("dem"),
    output:
        slope=P("factor_slope_deg"),
        l=P("factor_L"),
        s=P("factor_S"),
        ls=P("factor_LS"),
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
        ndvi=[] if config["cover"]["method"] == "table" else P("ndvi"),
        landcover=P("landcover"),
        shares=P("r_shares"),
        # source.local.landcover.biophysical_table: the user's codes and the table (or none)
        codes=P("landcover_codes") if BIOPHYSICAL else [],
        biophysical=BIOPHYSICAL or [],
        # one pair of NDVI end-members for the whole assessment (rules/endmembers.smk)
        endmembers=[] if config["cover"]["method"] != "cai2000" else FVC_ENDMEMBERS,
    output:
        cover=LAYOUT.factor("C" if MODEL == "rusle" else "B"),
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
            unpack(treatment_measures_input),  # #15 hook: {} unless measure_factors.p_table
            landcover=P("landcover"),
            codes=P("landcover_codes") if BIOPHYSICAL else [],
            biophysical=BIOPHYSICAL or [],
        output:
            p=P("factor_P"),
        params:
            support=config["support"],
            **TR_FACTOR_PARAMS,
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
            unpack(treatment_measures_input),  # #15 hook: {} unless measure_factors.e/t_table
            landcover=P("landcover"),
            # optional polygon layers of engineering / tillage measures (csle.measures, csle.tillage)
            layers=[
                layer["path"]
                for layer in (config["csle"].get("measures"), config["csle"].get("tillage"))
                if layer
            ],
        output:
            e=P("factor_E"),
            t=P("factor_T"),
        params:
            csle=config["csle"],
            **TR_FACTOR_PARAMS,
        log:
            os.path.join(LOGS, "{year}", "factor_e_t.log"),
        benchmark:
            os.path.join(LOGS, "{year}", "factor_e_t.bench.tsv"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/factor_e_t.py"
