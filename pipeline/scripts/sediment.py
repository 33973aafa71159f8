# Snakemake script for rule `sediment`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.sediment import make_sediment

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_sediment,
    dem_path=smk.input.dem,
    soil_loss_path=smk.input.soil_loss,
    weight_path=smk.input.weight,
    year=int(smk.wildcards.year),
    params=dict(smk.params.sediment),
    out_export=smk.output.export,
    out_sdr=smk.output.sdr,
    out_csv=smk.output.csv,
    out_json=smk.output.json,
    out_chart=smk.output.chart,
    model=smk.params.model,
)
