# Snakemake script for rule `statistics`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.statistics import make_statistics

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_statistics,
    intensity_path=smk.input.intensity,
    soil_loss_path=smk.input.soil_loss,
    aoi_path=smk.input.aoi,
    factor_paths={
        k: smk.input[k]
        for k in ("R", "K", "LS", "C", "P", "L", "S", "B", "E", "T")
        if k in smk.input.keys()
    },
    statistics=smk.params.statistics,
    classification=smk.params.classification,
    zone_paths={"township": smk.input.townships, "watershed": smk.input.watersheds},
    year=int(smk.wildcards.year),
    out_classes=smk.output.classes,
    out_summary=smk.output.summary,
    out_zones={"township": smk.output.townships, "watershed": smk.output.watersheds},
    compute=smk.config["compute"],
)
