# Construction-disturbance supervision (扰动图斑), issue #16. Jobs exist only when
# disturbance.enabled is true and composites have a source (pipeline/stages/disturbance.py).


include: "disturbance_common.smk"


if DIST_YEARS:

    rule disturbance_inputs:
        input:
            unpack(disturbance_input_files),
        output:
            before=P("disturbance_composite", when="before"),
            after=P("disturbance_composite", when="after"),
            extra=[
                P("disturbance_demo_projects"),
                P("disturbance_demo_truth"),
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
        # the synthetic scenes are generated on one core; fetching them may use two
        threads: 1 if DIST_KIND == "demo" else 2
        conda:
            "../../environment.yml"
        script:
            "../scripts/disturbance_inputs.py"

    rule disturbance:
        input:
            unpack(disturbance_inputs),
        output:
            patches=P("disturbance_patches"),
            field_check_xlsx=P("disturbance_field_check_xlsx"),
            field_check_csv=P("disturbance_field_check_csv"),
            by_township=P("disturbance_by_township"),
            map=report(
                P("disturbance_map"),
                caption="../report/captions/disturbance_map.rst",
                category="{year}",
            ),
            summary=P("disturbance_summary"),
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
