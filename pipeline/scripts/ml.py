# Snakemake script for rule `ml`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.ml import make_ml

smk = snakemake  # noqa: F821
inputs = dict(smk.input.items())
run_from_snakemake(
    smk,
    make_ml,
    inputs=inputs,
    year=int(smk.wildcards.year),
    outputs=dict(smk.output.items()),
    ml=smk.params.ml,
    model=smk.params.model,
    compute=smk.config["compute"],
)
