# Terrain on the DEM's own grid (terrain.grid: native; pipeline/stages/terrain_native.py).
# With a local DEM, the rule terrain_native replaces the rule `terrain` of factors.smk (same
# outputs, ruleorder); it routes the DEM's own pixels (dem_native.tif) when the DEM is
# projected in metres, else dem.tif, saying why in its log. Demo, STAC and Earth Engine DEMs,
# and terrain.grid: analysis, keep the rule `terrain` unchanged.
from pipeline.stages.terrain_native import terrain_grid_plan

TERRAIN_PLAN = terrain_grid_plan(config)

if TERRAIN_PLAN["grid"] == "native":

    rule inputs_dem_native:
        input:
            grid=P("grid"),
            aoi=P("aoi"),
            local=local_files(_SOURCE, "dem"),
        output:
            dem=P("dem_native"),
        params:
            request=request(_SOURCE, "dem", years=YEARS, checks=config["checks"]),
            cap=config["terrain"]["max_slope_length_m"],
        log:
            os.path.join(LOGS, "inputs_dem_native.log"),
        benchmark:
            os.path.join(LOGS, "inputs_dem_native.bench.tsv"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/dem_native.py"


if TERRAIN_PLAN["rule"]:

    ruleorder: terrain_native > terrain

    rule terrain_native:
        input:
            dem=P("dem_native") if TERRAIN_PLAN["grid"] == "native" else P("dem"),
            grid=P("grid"),
        output:
            slope=P("factor_slope_deg"),
            l=P("factor_L"),
            s=P("factor_S"),
            ls=P("factor_LS"),
        params:
            terrain=config["terrain"],
            plan=TERRAIN_PLAN,
        log:
            os.path.join(LOGS, "terrain.log"),
        benchmark:
            os.path.join(LOGS, "terrain.bench.tsv"),
        threads: 2
        conda:
            "../../environment.yml"
        script:
            "../scripts/terrain_native.py"
