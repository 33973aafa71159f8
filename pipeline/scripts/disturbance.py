# Snakemake script for rule `disturbance`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.disturbance import make_disturbance

smk = snakemake  # noqa: F821
inp = dict(smk.input.items())
run_from_snakemake(
    smk,
    make_disturbance,
    before_path=inp["before"],
    after_path=inp["after"],
    year=int(smk.wildcards.year),
    townships_path=inp["townships"],
    watersheds_path=inp["watersheds"],
    aoi_path=inp["aoi"],
    out=dict(smk.output.items()),
    projects_path=inp.get("projects"),
    factor_paths={k: inp[k] for k in ("R", "K", "LS", "L", "S") if k in inp},
    ndvi_path=inp.get("ndvi"),
    params=smk.params.settings,
    district_name=smk.params.district_name,
    lang=smk.params.lang,
)
