# Snakemake script for rule `factor_k` with soil.method raster, constant or table.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.ready_factors import make_k_ready

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_k_ready,
    dem_path=smk.input.dem,
    out_k=smk.output.k,
    soil=smk.params.soil,
    compute=smk.config["compute"],
)
