# Snakemake script for rule `factor_r` with rainfall.method raster or constant.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.ready_factors import make_r_ready

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_r_ready,
    rain_path=smk.input.rain,
    dem_path=smk.input.dem,
    year=int(smk.wildcards.year),
    out_r=smk.output.r,
    out_shares=smk.output.shares,
    out_halfmonth=smk.output.halfmonth,
    rainfall=smk.params.rainfall,
    compute=smk.config["compute"],
)
