# Snakemake script for rule `fvc_endmembers`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.endmembers import make_fvc_endmembers

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_fvc_endmembers,
    ndvi_paths=list(smk.input.ndvi),
    landcover_paths=list(smk.input.landcover),
    aoi_path=smk.input.aoi,
    out_json=smk.output[0],
    cover=smk.params.cover,
    compute=smk.config["compute"],
)
