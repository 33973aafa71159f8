# Snakemake script for rule `change_split`.
from pipeline.stages.change_split import make_change_split
from pipeline.stages.common import run_from_snakemake

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_change_split,
    soil_loss_y0=smk.input.soil_loss_y0,
    soil_loss_y1=smk.input.soil_loss_y1,
    r_y0=smk.input.r_y0,
    r_y1=smk.input.r_y1,
    year0=int(smk.wildcards.y0),
    year1=int(smk.wildcards.y1),
    out_json=smk.output[0],
    classification=smk.params.classification,
    rainfall=smk.params.rainfall,
)
