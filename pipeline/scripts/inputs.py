# Snakemake script for rules `inputs_common`, `inputs_rain`, `inputs_year`
# (see pipeline/rules/inputs.smk).
from pathlib import Path

from pipeline.stages.common import run_from_snakemake
from pipeline.stages.inputs import prepare_part

smk = snakemake  # noqa: F821  (injected by Snakemake)
run_from_snakemake(
    smk,
    prepare_part,
    out_dir=Path(smk.output[0]).parent,
    # the whole source section and years come from the config; the params (the request)
    # hold only what this job depends on, so that unrelated changes do not rerun it
    source=smk.config["source"],
    part=smk.params.part,
    years=sorted(int(y) for y in smk.config["years"]),
    year=int(smk.wildcards.year) if "year" in smk.wildcards.keys() else None,
    expected=list(smk.output),
    checks=smk.config.get("checks"),
)
