# Snakemake script for the treatment rules (pipeline/rules/treatment.smk): one entry per rule.
from pipeline.stages import treatment as st
from pipeline.stages.common import run_from_snakemake

smk = snakemake  # noqa: F821
tr = smk.config["treatment"]
rule = smk.rule
if rule == "treatment_demo_inputs":
    run_from_snakemake(
        smk,
        st.make_demo_inputs,
        landcover_path=smk.input.landcover,
        slope_path=smk.input.slope,
        townships_path=smk.input.townships,
        out=dict(smk.output),
        seed=int(tr["demo_seed"]),
    )
elif rule == "treatment_measures_raster":
    run_from_snakemake(
        smk,
        st.make_measures_raster,
        measures_path=smk.input.measures,
        template_path=smk.input.template,
        year=int(smk.wildcards.year),
        measures_cfg=tr.get("measures") or {},
        out=smk.output.raster,
    )
elif rule == "treatment_progress":
    run_from_snakemake(
        smk,
        st.make_progress,
        measures_path=smk.input.measures,
        targets_path=smk.input.targets or None,
        townships_path=smk.input.townships,
        aoi_path=smk.input.aoi,
        summaries=dict(zip(smk.params.summary_years, smk.input.summaries, strict=True)),
        year=int(smk.wildcards.year),
        treatment=tr,
        out_achieved=smk.output.achieved,
        out_progress=smk.output.progress,
        out_json=smk.output.json,
    )
elif rule == "treatment_projects":
    run_from_snakemake(
        smk,
        st.make_project_evaluation,
        soil_loss_before=smk.input.soil_loss_before,
        soil_loss_after=smk.input.soil_loss_after,
        intensity_before=smk.input.intensity_before,
        intensity_after=smk.input.intensity_after,
        slope_path=smk.input.slope,
        landcover_before=smk.input.landcover_before,
        measures_path=smk.input.measures,
        projects_path=smk.input.projects,
        before_year=int(smk.params.before_year),
        year=int(smk.wildcards.year),
        treatment=tr,
        out_csv=smk.output.csv,
        out_json=smk.output.json,
    )
elif rule == "treatment_parcels":
    run_from_snakemake(
        smk,
        st.make_parcels,
        parcels_path=smk.input.parcels or None,
        soil_loss_path=smk.input.soil_loss,
        intensity_path=smk.input.intensity,
        slope_path=smk.input.slope,
        landcover_path=smk.input.landcover,
        measures_raster=smk.input.measures_raster,
        townships_path=smk.input.townships,
        treatment=tr,
        out_gpkg=smk.output.gpkg,
        out_xlsx=smk.output.xlsx,
        out_top=smk.output.top,
    )
elif rule == "treatment_report":
    run_from_snakemake(
        smk,
        st.make_treatment_report,
        progress_json=smk.input.progress,
        achieved_csv=smk.input.achieved,
        evaluation_json=smk.input.evaluation or None,
        parcels_gpkg=smk.input.parcels,
        parcels_top=smk.input.top,
        zones_township=smk.input.zones,
        townships_path=smk.input.townships,
        district_name=smk.config.get("district_name") or smk.config["aoi"],
        out_zh=smk.output.zh,
        out_en=smk.output.en,
        out_key=smk.output.key,
        out_chart=smk.output.chart,
        out_map=smk.output.map,
    )
else:  # pragma: no cover - a rule wired to this script without a branch
    raise RuntimeError(f"pipeline/scripts/treatment.py: no branch for rule {rule!r}")
