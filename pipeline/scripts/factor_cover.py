# Snakemake script for rule `factor_cover` (C for RUSLE, B for CSLE).
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.factors import make_c

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_c,
    ndvi_path=smk.input.ndvi,
    landcover_path=smk.input.landcover,
    shares_path=smk.input.shares,
    out_c=smk.output.cover,
    cover=smk.params.cover,
    what=smk.params.what,
    compute=smk.config["compute"],
    endmembers_path=smk.input.endmembers or None,
)
