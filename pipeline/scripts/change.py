# Snakemake script for rule `change`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.statistics import make_change

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_change,
    intensity_y0=smk.input.y0,
    intensity_y1=smk.input.y1,
    year0=int(smk.wildcards.y0),
    year1=int(smk.wildcards.y1),
    out_matrix=smk.output.matrix,
    out_summary=smk.output.summary,
    out_chart=smk.output.chart,
    compute=smk.config["compute"],
)
