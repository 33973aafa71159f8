# Snakemake script for rule `gpkg`.
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.deliverables import make_gpkg

smk = snakemake  # noqa: F821
table_keys = [
    k for k in smk.input.keys() if k not in ("intensity", "aoi", "townships", "watersheds")
]
run_from_snakemake(
    smk,
    make_gpkg,
    intensity_path=smk.input.intensity,
    aoi_path=smk.input.aoi,
    zone_paths={"township": smk.input.townships, "watershed": smk.input.watersheds},
    tables={k: smk.input[k] for k in table_keys},
    year=int(smk.wildcards.year),
    district_name=smk.params.district_name,
    out_gpkg=smk.output.gpkg,
    out_bookkeeping=smk.output.bookkeeping,
    mmu_ha=smk.params.mmu_ha,
    class_colours=smk.params.class_colours,
    compute=smk.config["compute"],
)
