# Snakemake script for rule `soil_loss`.
from pipeline.layout import MODEL_FACTORS
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.soil_loss import make_soil_loss

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_soil_loss,
    factors={k: smk.input[k] for k in MODEL_FACTORS[smk.params.model]},
    landcover_path=smk.input.landcover,
    aoi_path=smk.input.aoi,
    out_soil_loss=smk.output.soil_loss,
    out_intensity=smk.output.intensity,
    model=smk.params.model,
    classification=smk.params.classification,
    class_colours=smk.params.class_colours,
    compute=smk.config["compute"],
)
