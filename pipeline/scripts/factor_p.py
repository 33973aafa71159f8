# Snakemake script for rule `factor_p`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.factors import make_p

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_p,
    landcover_path=smk.input.landcover,
    out_p=smk.output.p,
    support=smk.params.support,
    measures_path=smk.input.get("measures"),  # treatment (#15) hook, None when off
    measure_factors=smk.params.get("measure_factors"),
    compute=smk.config["compute"],
)
