# Snakemake script for rule `zone_change`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.deliverables import make_zone_change

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_zone_change,
    intensity_y0=smk.input.y0,
    intensity_y1=smk.input.y1,
    zone_paths={"township": smk.input.townships, "watershed": smk.input.watersheds},
    out_tables={"township": smk.output.township, "watershed": smk.output.watershed},
    compute=smk.config["compute"],
)
