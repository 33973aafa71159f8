# Shuibao (水保): district soil-erosion assessment.
#   snakemake --cores 2 --configfile configs/demo.yaml
# Rules live in pipeline/rules/*.smk; the work is done by pipeline.stages (importable, testable).

import os

from pipeline.config import validate_config


# Without --configfile, run the embedded demo district.
if not config:

    configfile: os.path.join(workflow.basedir, "configs", "demo.yaml")



# Validate at parse time against configs/schema.yaml; fills defaults; a bad key fails here.
config.update(validate_config(config))


include: "pipeline/rules/common.smk"
include: "pipeline/rules/treatment.smk"  # #15; before factors.smk: it defines the P/E/T hook input
include: "pipeline/rules/inputs.smk"
include: "pipeline/rules/terrain_native.smk"  # #12: terrain on the DEM's own grid
include: "pipeline/rules/endmembers.smk"
include: "pipeline/rules/ready_factors.smk"  # before factors.smk: R/K inputs and scripts
include: "pipeline/rules/factors.smk"
include: "pipeline/rules/soil_loss.smk"
include: "pipeline/rules/statistics.smk"
include: "pipeline/rules/ml.smk"
include: "pipeline/rules/disturbance.smk"
include: "pipeline/rules/report.smk"
include: "pipeline/rules/sediment.smk"
include: "pipeline/rules/deliverables.smk"
include: "pipeline/rules/districts.smk"  # #17: many districts in one run
include: "pipeline/rules/tiles.smk"  # #17: compute.tiles.size


rule all:
    default_target: True
    input:
        all_targets(),
        disturbance_targets(),
        district_targets,


onsuccess:
    print_report_locations()
