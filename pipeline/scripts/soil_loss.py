# Snakemake script for rule `soil_loss`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.soil_loss import make_soil_loss

smk = snakemake  # noqa: F821
factor_names = ("R", "K", "LS", "C", "P", "L", "S", "B", "E", "T")
run_from_snakemake(
    smk,
    make_soil_loss,
    factors={k: smk.input[k] for k in factor_names if k in smk.input.keys()},
    landcover_path=smk.input.landcover,
    aoi_path=smk.input.aoi,
    out_soil_loss=smk.output.soil_loss,
    out_intensity=smk.output.intensity,
    model=smk.params.model,
    classification=smk.params.classification,
    class_colours=smk.params.class_colours,
    compute=smk.config["compute"],
)
