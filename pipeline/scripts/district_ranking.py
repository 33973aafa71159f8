# Snakemake script for rule `district_ranking` (pipeline/rules/districts.smk).
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.districts import make_district_ranking

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_district_ranking,
    summary_paths=list(smk.input.summaries),
    year=int(smk.wildcards.year),
    out_csv=smk.output.csv,
    out_xlsx=smk.output.xlsx,
)
