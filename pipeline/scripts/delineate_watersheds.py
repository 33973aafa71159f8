# Snakemake script for rule `delineate_watersheds`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.deliverables import make_delineated_watersheds

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_delineated_watersheds,
    dem_path=smk.input.dem,
    aoi_path=smk.input.aoi,
    out_path=smk.output[0],
    min_area_km2=smk.params.min_area_km2,
)
