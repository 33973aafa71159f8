# Snakemake script for rule `zone_tables`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.deliverables import make_zone_tables

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_zone_tables,
    intensity_path=smk.input.intensity,
    soil_loss_path=smk.input.soil_loss,
    slope_path=smk.input.slope,
    landcover_path=smk.input.landcover,
    aoi_path=smk.input.aoi,
    zone_paths={"township": smk.input.townships, "watershed": smk.input.watersheds},
    zone_class_paths={"township": smk.input.zones_township},
    district_name=smk.params.district_name,
    out_soil_loss={k: smk.output[k] for k in ("district", "township", "watershed")},
    out_slope_landuse=smk.output.slope_landuse,
    out_key_zones=smk.output.key_zones,
    key_zone_count=smk.params.key_zone_count,
    compute=smk.config["compute"],
)
