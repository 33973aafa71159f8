# Snakemake script for rule `change`: a pair of years (change, per zone, split by cause).
from pipeline.stages.change_pair import make_change_pair
from pipeline.stages.common import run_from_snakemake

smk = snakemake  # noqa: F821
years = {"year0": int(smk.wildcards.y0), "year1": int(smk.wildcards.y1)}
run_from_snakemake(
    smk,
    make_change_pair,
    change=dict(
        intensity_y0=smk.input.y0,
        intensity_y1=smk.input.y1,
        **years,
        out_matrix=smk.output.matrix,
        out_summary=smk.output.summary,
        out_chart=smk.output.chart,
        compute=smk.config["compute"],
    ),
    zone_change=dict(
        intensity_y0=smk.input.y0,
        intensity_y1=smk.input.y1,
        zone_paths={"township": smk.input.townships, "watershed": smk.input.watersheds},
        out_tables={"township": smk.output.township, "watershed": smk.output.watershed},
        compute=smk.config["compute"],
    ),
    split=dict(
        soil_loss_y0=smk.input.soil_loss_y0,
        soil_loss_y1=smk.input.soil_loss_y1,
        r_y0=smk.input.r_y0,
        r_y1=smk.input.r_y1,
        **years,
        out_json=smk.output.split,
        classification=smk.params.classification,
        rainfall=smk.params.rainfall,
    ),
)
