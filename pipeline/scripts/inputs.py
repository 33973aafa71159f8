# Snakemake script for rule `inputs` (see pipeline/rules/inputs.smk).
from pathlib import Path

from pipeline.stages.common import run_from_snakemake
from pipeline.stages.inputs import prepare_inputs

smk = snakemake  # noqa: F821  (injected by Snakemake)
run_from_snakemake(
    smk,
    prepare_inputs,
    out_dir=Path(smk.output.grid).parent,
    source=smk.params.source,
    years=smk.params.years,
    expected=list(smk.output),
)
