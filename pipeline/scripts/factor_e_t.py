# Snakemake script for rule `factor_e_t` (CSLE).
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.csle import make_e_t_layers

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_e_t_layers,
    landcover_path=smk.input.landcover,
    out_e=smk.output.e,
    out_t=smk.output.t,
    csle=smk.params.csle,
    measures_path=smk.input.get("measures"),  # treatment (#15) hook, None when off
    measure_factors=smk.params.get("measure_factors"),
    compute=smk.config["compute"],
)
