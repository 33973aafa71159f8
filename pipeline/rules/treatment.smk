# Treatment (#15): measures → P/E/T hook, 十四五 progress, project evaluation, parcels, bulletin.
# Jobs exist only when treatment.measures is set or treatment.demo is true; otherwise this file
# adds nothing to the DAG. Outputs: results/{aoi}/{year}/treatment/.


include: "treatment_common.smk"


if TR_ON:
    if TR_DEMO:

        rule treatment_demo_inputs:
            input:
                landcover=P("landcover", year=YEARS[0]),
                slope=LAYOUT.factor("slope_deg"),
                townships=P("townships"),
            output:
                measures=P("treatment_demo_input", name="measures.gpkg"),
                projects=P("treatment_demo_input", name="projects.gpkg"),
                targets=P("treatment_demo_input", name="targets.csv"),
                parcels=P("treatment_demo_input", name="parcels.gpkg"),
            params:
                seed=TR["demo_seed"],
            log:
                os.path.join(LOGS, "treatment_demo_inputs.log"),
            benchmark:
                os.path.join(LOGS, "treatment_demo_inputs.bench.tsv"),
            conda:
                "../../environment.yml"
            script:
                "../scripts/treatment.py"

    rule treatment_measures_raster:
        input:
            measures=TR_MEASURES,
            template=P("landcover"),
        output:
            raster=P("treatment_measures_raster"),
        params:
            measures=TR["measures"],
        log:
            os.path.join(LOGS, "{year}", "treatment_measures_raster.log"),
        benchmark:
            os.path.join(LOGS, "{year}", "treatment_measures_raster.bench.tsv"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/treatment.py"

    rule treatment_progress:
        input:
            measures=TR_MEASURES,
            targets=TR_TARGETS or [],
            townships=P("townships"),
            aoi=P("aoi"),
            summaries=lambda w: [
                P("summary", aoi=w.aoi, year=y) for y in YEARS if y <= int(w.year)
            ],
        output:
            achieved=P("treatment_achieved"),
            progress=P("treatment_progress"),
            json=P("treatment_progress_json"),
        params:
            summary_years=lambda w: [y for y in YEARS if y <= int(w.year)],
            settings={k: TR[k] for k in ("baseline_year", "period_end", "measures", "targets")},
        log:
            os.path.join(LOGS, "{year}", "treatment_progress.log"),
        benchmark:
            os.path.join(LOGS, "{year}", "treatment_progress.bench.tsv"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/treatment.py"

    if TR_PROJECTS:

        rule treatment_projects:
            input:
                soil_loss_before=P("soil_loss", year=TR_BEFORE),
                soil_loss_after=P("soil_loss"),
                intensity_before=P("intensity", year=TR_BEFORE),
                intensity_after=P("intensity"),
                slope=LAYOUT.factor("slope_deg"),
                landcover_before=P("landcover", year=TR_BEFORE),
                measures=TR_MEASURES,
                projects=TR_PROJECTS,
            output:
                csv=P("treatment_projects"),
                json=P("treatment_evaluation"),
            params:
                before_year=TR_BEFORE,
                settings={k: TR[k] for k in ("baseline_year", "projects", "measures", "evaluation")},
            log:
                os.path.join(LOGS, "{year}", "treatment_projects.log"),
            benchmark:
                os.path.join(LOGS, "{year}", "treatment_projects.bench.tsv"),
            threads: 1
            conda:
                "../../environment.yml"
            script:
                "../scripts/treatment.py"

    rule treatment_parcels:
        input:
            parcels=TR_PARCELS or [],
            soil_loss=P("soil_loss"),
            intensity=P("intensity"),
            slope=LAYOUT.factor("slope_deg"),
            landcover=P("landcover"),
            measures_raster=P("treatment_measures_raster"),
            townships=P("townships"),
        output:
            gpkg=P("treatment_parcels"),
            xlsx=P("treatment_parcels_xlsx"),
            top=P("treatment_parcels_top"),
        params:
            settings={k: TR[k] for k in ("parcels", "parcels_top_n", "treated_share_max")},
        log:
            os.path.join(LOGS, "{year}", "treatment_parcels.log"),
        benchmark:
            os.path.join(LOGS, "{year}", "treatment_parcels.bench.tsv"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/treatment.py"

    rule treatment_report:
        input:
            progress=P("treatment_progress_json"),
            achieved=P("treatment_achieved"),
            evaluation=lambda w: (
                P("treatment_evaluation", aoi=w.aoi, year=w.year)
                if TR_PROJECTS and int(w.year) > TR_BEFORE
                else []
            ),
            parcels=P("treatment_parcels"),
            top=P("treatment_parcels_top"),
            zones=P("zones_township"),
            townships=P("townships"),
        output:
            zh=P("treatment_bulletin", lang="zh"),
            en=P("treatment_bulletin", lang="en"),
            key=P("treatment_key_townships"),
            chart=P("treatment_chart"),
            map=P("treatment_map"),
        log:
            os.path.join(LOGS, "{year}", "treatment_report.log"),
        benchmark:
            os.path.join(LOGS, "{year}", "treatment_report.bench.tsv"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/treatment.py"
