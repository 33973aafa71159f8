# Snakemake script for rule `district_statistics` (pipeline/rules/districts.smk).
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.districts import make_district_statistics

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_district_statistics,
    district_id=smk.wildcards.district,
    layer_path=smk.input.layer,
    intensity_path=smk.input.intensity,
    soil_loss_path=smk.input.soil_loss,
    zone_paths={"township": smk.input.townships, "watershed": smk.input.watersheds},
    year=int(smk.wildcards.year),
    out_aoi=smk.output.aoi,
    out_intensity=smk.output.intensity,
    out_soil_loss=smk.output.soil_loss,
    out_classes=smk.output.classes,
    out_summary=smk.output.summary,
    out_zones={"township": smk.output.townships, "watershed": smk.output.watersheds},
    statistics=smk.params.statistics,
    classification=smk.params.classification,
    compute=smk.config["compute"],
)
