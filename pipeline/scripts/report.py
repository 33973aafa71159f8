# Snakemake script for rule `report`.
from pipeline.config import config_hash
from pipeline.stages.common import run_from_snakemake
from pipeline.stages.report import make_report

smk = snakemake  # noqa: F821
run_from_snakemake(
    smk,
    make_report,
    inputs=dict(smk.input.items()),
    year=int(smk.wildcards.year),
    outputs={k: v for k, v in smk.output.items() if k != "figures"},
    figures=list(smk.output.figures),
    district_name=smk.params.district_name,
    district_name_en=smk.params.district_name_en,
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
