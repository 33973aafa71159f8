# Snakemake script for rule `terrain`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.factors import make_terrain

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_terrain,
    dem_path=smk.input.dem,
    out_slope=smk.output.slope,
    out_l=smk.output.l,
    out_s=smk.output.s,
    out_ls=smk.output.ls,
    terrain=smk.params.terrain,
    compute=smk.config["compute"],
)
