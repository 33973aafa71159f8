# Sediment delivery ratio, export and the gauge comparison (issue #18); only when
# config sediment.enabled (targets added in common.smk's all_targets).
SEDIMENT = config["sediment"]


rule sediment:
    input:
        dem=P("dem"),
        soil_loss=P("soil_loss"),
        # IC weighting factor W: C (RUSLE) or B (CSLE), see pipeline/factors/sediment.py
        weight=LAYOUT.factor("C" if MODEL == "rusle" else "B"),
    output:
        export=P("sediment_export"),
        sdr=P("sediment_sdr"),
        csv=P("sediment_csv"),
        json=P("sediment_json"),
        chart=P("sediment_chart"),
    params:
        sediment=SEDIMENT,
        model=MODEL,
    log:
        os.path.join(LOGS, "{year}", "sediment.log"),
    benchmark:
        os.path.join(LOGS, "{year}", "sediment.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/sediment.py"
