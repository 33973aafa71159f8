# Snakemake script for rule `disturbance_inputs`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.disturbance import make_disturbance_inputs

smk = snakemake  # noqa: F821
year = int(smk.wildcards.year)
demo = smk.params.kind == "demo"
run_from_snakemake(
    smk,
    make_disturbance_inputs,
    kind=smk.params.kind,
    year=year,
    grid_path=smk.input.grid,
    aoi_path=smk.input.aoi,
    out_before=smk.output.before,
    out_after=smk.output.after,
    out_projects=smk.output.extra[0] if demo else None,
    out_truth=smk.output.extra[1] if demo else None,
    landcover_paths={year - 1: smk.input.lc_before, year: smk.input.lc_after} if demo else None,
    demo_seed=smk.params.seed,
    local=smk.params.local,
    stac=smk.params.stac,
    earthengine=smk.params.earthengine,
)
