# Sediment delivery ratio, export and the gauge comparison (issue #18); only when
# config sediment.enabled (targets added in common.smk's all_targets).
SEDIMENT = config["sediment"]


rule sediment:
    input:
        dem=os.path.join(RES, "dem.tif"),
        soil_loss=os.path.join(OUT, "{year}", "soil_loss.tif"),
        # IC weighting factor W: C (RUSLE) or B (CSLE), see pipeline/factors/sediment.py
        weight=os.path.join(OUT, "{year}", "factors", "C.tif" if MODEL == "rusle" else "B.tif"),
    output:
        export=os.path.join(OUT, "{year}", "sediment", "export.tif"),
        sdr=os.path.join(OUT, "{year}", "sediment", "sdr.tif"),
        csv=os.path.join(OUT, "{year}", "sediment", "gauge_comparison.csv"),
        json=os.path.join(OUT, "{year}", "sediment", "gauge_comparison.json"),
        chart=os.path.join(OUT, "{year}", "sediment", "gauge_comparison.png"),
    params:
        sediment=SEDIMENT,
        model=MODEL,
    log:
        os.path.join(LOGS, "{year}", "sediment.log"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/sediment.py"
