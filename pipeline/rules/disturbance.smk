# Construction-disturbance supervision (扰动图斑), issue #16. Jobs exist only when
# disturbance.enabled is true and composites have a source (pipeline/stages/disturbance.py).


include: "disturbance_common.smk"


if DIST_YEARS:

    rule disturbance_inputs:
        input:
            unpack(disturbance_input_files),
        output:
            before=os.path.join(DIST_RES, "before.tif"),
            after=os.path.join(DIST_RES, "after.tif"),
            extra=[
                os.path.join(DIST_RES, "approved_projects.gpkg"),
                os.path.join(DIST_RES, "truth.gpkg"),
            ]
            if DIST_KIND == "demo"
            else [],
        params:
            kind=DIST_KIND,
            seed=config["source"]["demo"]["seed"],
            local=DIST["local"],
            stac=config["source"]["stac"],
            earthengine=config["source"]["earthengine"],
        log:
            os.path.join(LOGS, "{year}", "disturbance_inputs.log"),
        benchmark:
            os.path.join(LOGS, "{year}", "disturbance_inputs.bench.tsv"),
        threads: 2
        conda:
            "../../environment.yml"
        script:
            "../scripts/disturbance_inputs.py"

    rule disturbance:
        input:
            unpack(disturbance_inputs),
        output:
            patches=os.path.join(DIST_OUT, "patches.gpkg"),
            field_check_xlsx=os.path.join(DIST_OUT, "field_check.xlsx"),
            field_check_csv=os.path.join(DIST_OUT, "field_check.csv"),
            by_township=os.path.join(DIST_OUT, "by_township.csv"),
            map=report(
                os.path.join(DIST_OUT, "map.png"),
                caption="../report/captions/disturbance_map.rst",
                category="{year}",
            ),
            summary=os.path.join(DIST_OUT, "summary.json"),
        params:
            district_name=config["district_name"],
            lang=(config["report"]["languages"] or ["zh"])[0],
            settings=DIST,
        log:
            os.path.join(LOGS, "{year}", "disturbance.log"),
        benchmark:
            os.path.join(LOGS, "{year}", "disturbance.bench.tsv"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/disturbance.py"
