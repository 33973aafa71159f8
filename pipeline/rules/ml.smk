# ML intensity classifier trained on field-survey units, with spatial CV and error-adjusted areas.

rule ml:
    input:
        unpack(ml_inputs),
    output:
        intensity_ml=os.path.join(OUT, "{year}", "intensity_ml.tif"),
        map=report(
            os.path.join(OUT, "{year}", "maps", "intensity_ml.png"),
            caption="../report/captions/intensity_ml.rst",
            category="{year}",
        ),
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
    benchmark:
        os.path.join(LOGS, "{year}", "ml.bench.tsv"),
    threads: 1  # training and CV are single-threaded; the other core runs other jobs
    conda:
        "../../environment.yml"
    script:
        "../scripts/ml.py"
