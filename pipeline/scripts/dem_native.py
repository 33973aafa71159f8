# Snakemake script for rule `inputs_dem_native` (pipeline/rules/terrain_native.smk).
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.terrain_native import make_dem_native

smk = snakemake  # noqa: F821  (injected by Snakemake)
run_from_snakemake(
    smk,
    make_dem_native,
    grid_path=smk.input.grid,
    out_path=smk.output.dem,
    source=smk.config["source"],
    terrain=smk.config["terrain"],
    checks=smk.config.get("checks"),
)
