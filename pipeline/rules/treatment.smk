# Treatment (#15): measures → P/E/T hook, 十四五 progress, project evaluation, parcels, bulletin.
# Jobs exist only when treatment.measures is set or treatment.demo is true; otherwise this file
# adds nothing to the DAG. Outputs: results/{aoi}/{year}/treatment/.


include: "treatment_common.smk"


if TR_ON:
    if TR_DEMO:

        rule treatment_demo_inputs:
            input:
                landcover=os.path.join(RES, f"landcover_{YEARS[0]}.tif"),
                slope=os.path.join(OUT, "common", "factors", "slope_deg.tif"),
                townships=os.path.join(RES, "townships.gpkg"),
            output:
                measures=os.path.join(TR_RES, "measures.gpkg"),
                projects=os.path.join(TR_RES, "projects.gpkg"),
                targets=os.path.join(TR_RES, "targets.csv"),
                parcels=os.path.join(TR_RES, "parcels.gpkg"),
            params:
                seed=TR["demo_seed"],
            log:
                os.path.join(LOGS, "treatment_demo_inputs.log"),
            conda:
                "../../environment.yml"
            script:
                "../scripts/treatment.py"

    rule treatment_measures_raster:
        input:
            measures=TR_MEASURES,
            template=os.path.join(RES, "landcover_{year}.tif"),
        output:
            raster=os.path.join(TR_OUT, "measures.tif"),
        params:
            measures=TR["measures"],
        log:
            os.path.join(LOGS, "{year}", "treatment_measures_raster.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/treatment.py"

    rule treatment_progress:
        input:
            measures=TR_MEASURES,
            targets=TR_TARGETS or [],
            townships=os.path.join(RES, "townships.gpkg"),
            aoi=os.path.join(RES, "aoi.gpkg"),
            summaries=lambda w: [
                os.path.join(OUT, str(y), "tables", "summary.json").format(aoi=w.aoi)
                for y in YEARS
                if y <= int(w.year)
            ],
        output:
            achieved=os.path.join(TR_OUT, "achieved.csv"),
            progress=os.path.join(TR_OUT, "progress.csv"),
            json=os.path.join(TR_OUT, "progress.json"),
        params:
            summary_years=lambda w: [y for y in YEARS if y <= int(w.year)],
            settings={k: TR[k] for k in ("baseline_year", "period_end", "measures", "targets")},
        log:
            os.path.join(LOGS, "{year}", "treatment_progress.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/treatment.py"

    if TR_PROJECTS:

        rule treatment_projects:
            input:
                soil_loss_before=os.path.join(OUT, str(TR_BEFORE), "soil_loss.tif"),
                soil_loss_after=os.path.join(OUT, "{year}", "soil_loss.tif"),
                intensity_before=os.path.join(OUT, str(TR_BEFORE), "intensity.tif"),
                intensity_after=os.path.join(OUT, "{year}", "intensity.tif"),
                slope=os.path.join(OUT, "common", "factors", "slope_deg.tif"),
                landcover_before=os.path.join(RES, f"landcover_{TR_BEFORE}.tif"),
                measures=TR_MEASURES,
                projects=TR_PROJECTS,
            output:
                csv=os.path.join(TR_OUT, "projects.csv"),
                json=os.path.join(TR_OUT, "evaluation.json"),
            params:
                before_year=TR_BEFORE,
                settings={k: TR[k] for k in ("baseline_year", "projects", "measures", "evaluation")},
            log:
                os.path.join(LOGS, "{year}", "treatment_projects.log"),
            threads: 1
            conda:
                "../../environment.yml"
            script:
                "../scripts/treatment.py"

    rule treatment_parcels:
        input:
            parcels=TR_PARCELS or [],
            soil_loss=os.path.join(OUT, "{year}", "soil_loss.tif"),
            intensity=os.path.join(OUT, "{year}", "intensity.tif"),
            slope=os.path.join(OUT, "common", "factors", "slope_deg.tif"),
            landcover=os.path.join(RES, "landcover_{year}.tif"),
            measures_raster=os.path.join(TR_OUT, "measures.tif"),
            townships=os.path.join(RES, "townships.gpkg"),
        output:
            gpkg=os.path.join(TR_OUT, "parcels.gpkg"),
            xlsx=os.path.join(TR_OUT, "parcels.xlsx"),
            top=os.path.join(TR_OUT, "parcels_top.csv"),
        params:
            settings={k: TR[k] for k in ("parcels", "parcels_top_n", "treated_share_max")},
        log:
            os.path.join(LOGS, "{year}", "treatment_parcels.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/treatment.py"

    rule treatment_report:
        input:
            progress=os.path.join(TR_OUT, "progress.json"),
            achieved=os.path.join(TR_OUT, "achieved.csv"),
            evaluation=lambda w: (
                os.path.join(TR_OUT, "evaluation.json").format(**w)
                if TR_PROJECTS and int(w.year) > TR_BEFORE
                else []
            ),
            parcels=os.path.join(TR_OUT, "parcels.gpkg"),
            top=os.path.join(TR_OUT, "parcels_top.csv"),
            zones=os.path.join(OUT, "{year}", "tables", "zones_township.csv"),
            townships=os.path.join(RES, "townships.gpkg"),
        output:
            zh=os.path.join(TR_OUT, "bulletin_treatment_zh.md"),
            en=os.path.join(TR_OUT, "bulletin_treatment_en.md"),
            key=os.path.join(TR_OUT, "key_townships.csv"),
            chart=os.path.join(TR_OUT, "progress.png"),
            map=os.path.join(TR_OUT, "parcels_top.png"),
        log:
            os.path.join(LOGS, "{year}", "treatment_report.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/treatment.py"
