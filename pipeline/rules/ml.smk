# ML intensity classifier trained on field-survey units, with spatial CV and error-adjusted areas.

rule ml:
    input:
        unpack(ml_inputs),
    output:
        intensity_ml=P("intensity_ml"),
        map=report(
            P("ml_map"),
            caption="../report/captions/intensity_ml.rst",
            category="{year}",
        ),
        model=P("ml_model"),
        metadata=P("ml_metadata"),
        cv=P("ml_cv"),
        areas=P("ml_areas"),
        agreement=P("ml_agreement"),
    params:
        ml=config["ml"],
        model=MODEL,
    # the longest job before the report: started as soon as its inputs exist, so that the
    # short table jobs fill the other core instead of delaying it to the end of the run
    priority: 1
    log:
        os.path.join(LOGS, "{year}", "ml.log"),
    benchmark:
        os.path.join(LOGS, "{year}", "ml.bench.tsv"),
    threads: 1  # training and CV are single-threaded; the other core runs other jobs
    conda:
        "../../environment.yml"
    script:
        "../scripts/ml.py"
