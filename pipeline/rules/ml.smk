# ML intensity classifier trained on field-survey units, with spatial CV and error-adjusted areas.

rule ml:
    input:
        unpack(ml_inputs),
    output:
        intensity_ml=os.path.join(OUT, "{year}", "intensity_ml.tif"),
        model=os.path.join(OUT, "{year}", "ml", "model.skops"),
        metadata=os.path.join(OUT, "{year}", "ml", "model.json"),
        cv=os.path.join(OUT, "{year}", "ml", "cv_metrics.json"),
        areas=os.path.join(OUT, "{year}", "ml", "error_adjusted_areas.csv"),
        agreement=os.path.join(OUT, "{year}", "ml", "agreement_ha.csv"),
    params:
        ml=config["ml"],
        model=MODEL,
    log:
        os.path.join(LOGS, "{year}", "ml.log"),
    threads: 2
    conda:
        "../../environment.yml"
    script:
        "../scripts/ml.py"
