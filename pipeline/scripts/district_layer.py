# Snakemake script for checkpoint `district_layer` (pipeline/rules/districts.smk).
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.districts import make_district_layer

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_district_layer,
    source_path=smk.input.layer,
    source_layer=smk.params.districts.get("layer"),
    grid_path=smk.input.grid,
    out_path=smk.output.layer,
    districts=smk.params.districts,
)
