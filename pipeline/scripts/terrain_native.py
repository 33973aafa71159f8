# Snakemake script for rule `terrain_native` (pipeline/rules/terrain_native.smk).
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.terrain_native import make_terrain_native

smk = snakemake  # noqa: F821  (injected by Snakemake)
run_from_snakemake(
    smk,
    make_terrain_native,
    dem_path=smk.input.dem,
    grid_path=smk.input.grid,
    out_slope=smk.output.slope,
    out_l=smk.output.l,
    out_s=smk.output.s,
    out_ls=smk.output.ls,
    terrain=smk.params.terrain,
    plan=smk.params.plan,
    compute=smk.config["compute"],
)
