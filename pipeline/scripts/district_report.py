# Snakemake script for rule `district_report` (pipeline/rules/districts.smk).
from pipeline.config import config_hash
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.districts import make_district_report

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_district_report,
    district_id=smk.wildcards.district,
    layer_path=smk.input.layer,
    inputs={k: v for k, v in smk.input.items() if k != "layer"},
    year=int(smk.wildcards.year),
    outputs={k: v for k, v in smk.output.items() if k != "figures"},
    figures=list(smk.output.figures),
    languages=smk.params.languages,
    model=smk.params.model,
    classification=smk.params.classification,
    units=smk.params.units,
    config=smk.params.config,
    compute=smk.config["compute"],
    config_hash=config_hash(dict(smk.config)),
    terrain=smk.config.get("terrain"),
    rainfall=smk.params.rainfall,
    illustrative=list(smk.params.illustrative),
)
