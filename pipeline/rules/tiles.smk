# Tiled run (#17): config compute.tiles.size. Terrain tile by tile (Barnes 2016 fill, flats,
# Barnes 2017 D8 / MFD rounds) with the global tile-graph steps as small jobs in between; soil
# loss and class sums per tile; the statistics merge the tiles' exact sums (pipeline.exactsum),
# so the tables equal the untiled run's. The tile list comes from the checkpoint tiles_layout
# (the DEM's shape). Off (no rule defined here) when compute.tiles.size is null.


include: "tiles_common.smk"


if TILE_SIZE:

    wildcard_constraints:
        tile=r"\d{4}_\d{4}",

    ruleorder: tiles_terrain_mosaic > terrain
    ruleorder: tiles_soil_loss_mosaic > soil_loss
    ruleorder: tiles_statistics > statistics

    checkpoint tiles_layout:
        input:
            dem=P("dem"),
        output:
            layout=P("tiles_layout"),
        params:
            tiles=config["compute"]["tiles"],
        log:
            os.path.join(TILE_LOGS, "layout.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/tiles.py"

    rule tiles_fill1:
        input:
            dem=P("dem"),
            layout=P("tiles_layout"),
        output:
            summary=P("tiles_summary", stage="fill1"),
        log:
            os.path.join(TILE_LOGS, "fill1_{tile}.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/tiles.py"

    rule tiles_fill_global:
        input:
            layout=P("tiles_layout"),
            summaries=per_tile("tiles_summary", stage="fill1"),
        output:
            levels=P("tiles_global", step="fill_global"),
        log:
            os.path.join(TILE_LOGS, "fill_global.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/tiles.py"

    rule tiles_fill2:
        input:
            dem=P("dem"),
            layout=P("tiles_layout"),
            levels=P("tiles_global", step="fill_global"),
        output:
            filled=P("tiles_array", stage="filled", array="fw"),
            flats=P("tiles_summary", stage="flats"),
        log:
            os.path.join(TILE_LOGS, "fill2_{tile}.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/tiles.py"

    rule tiles_flats_global:
        input:
            dem=P("dem"),
            layout=P("tiles_layout"),
            filled=per_tile("tiles_array", stage="filled", array="fw"),
        output:
            rings=P("tiles_global", step="flats_global"),
        log:
            os.path.join(TILE_LOGS, "flats_global.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/tiles.py"

    rule tiles_route:
        input:
            dem=P("dem"),
            layout=P("tiles_layout"),
            filled=P("tiles_array", stage="filled", array="fw"),
            rings=P("tiles_global", step="flats_global"),
        output:
            codes=P("tiles_array", stage="codes", array="codes"),
            links=P("tiles_summary", stage="links"),
        params:
            terrain=config["terrain"],
        log:
            os.path.join(TILE_LOGS, "route_{tile}.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/tiles.py"

    rule tiles_accumulate:
        input:
            dem=P("dem"),
            layout=P("tiles_layout"),
            filled=per_tile("tiles_array", stage="filled", array="fw"),
            codes=per_tile("tiles_array", stage="codes", array="codes"),
            links=per_tile("tiles_summary", stage="links"),
        output:
            cells=directory(P("tiles_cells")),
        params:
            terrain=config["terrain"],
        log:
            os.path.join(TILE_LOGS, "accumulate.log"),
        threads: 2
        conda:
            "../../environment.yml"
        script:
            "../scripts/tiles.py"

    rule tiles_ls:
        input:
            dem=P("dem"),
            layout=P("tiles_layout"),
            cells=P("tiles_cells"),
            codes=P("tiles_array", stage="codes", array="codes"),
        output:
            stack=P("tiles_array", stage="ls", array="stack"),
        params:
            terrain=config["terrain"],
        log:
            os.path.join(TILE_LOGS, "ls_{tile}.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/tiles.py"

    rule tiles_terrain_mosaic:
        input:
            dem=P("dem"),
            layout=P("tiles_layout"),
            stacks=per_tile("tiles_array", stage="ls", array="stack"),
        output:
            slope=P("factor_slope_deg"),
            l=P("factor_L"),
            s=P("factor_S"),
            ls=P("factor_LS"),
        params:
            terrain=config["terrain"],
        log:
            os.path.join(TILE_LOGS, "terrain_mosaic.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/tiles.py"

    rule tiles_soil_loss:
        input:
            unpack(soil_loss_factors),
            landcover=P("landcover"),
            aoi=P("aoi"),
            townships=P("townships"),
            watersheds=lambda wildcards: watershed_layer(wildcards),  # deliverables_inputs.smk
            layout=P("tiles_layout"),
        output:
            tile=P("tiles_soil_loss"),
        params:
            model=MODEL,
            classification=config["classification"],
        log:
            os.path.join(TILE_LOGS, "{year}", "soil_loss_{tile}.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/tiles.py"

    rule tiles_soil_loss_mosaic:
        input:
            unpack(soil_loss_factors),
            landcover=P("landcover"),
            layout=P("tiles_layout"),
            tiles=per_tile("tiles_soil_loss"),
        output:
            soil_loss=P("soil_loss"),
            intensity=P("intensity"),
        params:
            model=MODEL,
            classification=config["classification"],
            class_colours=config["report"]["class_colours"],
        log:
            os.path.join(LOGS, "{year}", "soil_loss.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/tiles.py"

    rule tiles_statistics:
        input:
            unpack(soil_loss_factors),  # only read to name a missing factor
            intensity=P("intensity"),
            aoi=P("aoi"),
            townships=P("townships"),
            watersheds=lambda wildcards: watershed_layer(wildcards),
            tiles=per_tile("tiles_soil_loss"),
        output:
            classes=P("class_areas"),
            summary=P("summary"),
            townships=P("zones_township"),
            watersheds=P("zones_watershed"),
        params:
            statistics=config["statistics"],
            classification=config["classification"],
        log:
            os.path.join(LOGS, "{year}", "statistics.log"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/tiles.py"
