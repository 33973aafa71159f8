# Snakemake script for rule `factor_k`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.factors import make_k

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_k,
    soil_path=smk.input.soil,
    out_k=smk.output.k,
    soil=smk.params.soil,
    compute=smk.config["compute"],
)
