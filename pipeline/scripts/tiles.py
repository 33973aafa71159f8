# Snakemake script for the rules of rules/tiles.smk (one stage function per rule).
from pipeline.layout import MODEL_FACTORS
from pipeline.stages import tiles as T
from pipeline.stages.common import run_from_snakemake

smk = snakemake  # noqa: F821
i, o, p = smk.input, smk.output, smk.params
rule = smk.rule
tile = smk.wildcards.get("tile")
FACTOR_KEYS = ("R", "K", "LS", "C", "P", "L", "S", "B", "E", "T")


def model_factors():
    return {k: i[k] for k in MODEL_FACTORS[p.model]}


def zone_paths():
    return {"township": i.townships, "watershed": i.watersheds}


if rule == "tiles_layout":
    run_from_snakemake(smk, T.make_tile_layout, dem_path=i.dem, out_layout=o.layout, tiles=p.tiles)
elif rule == "tiles_fill1":
    run_from_snakemake(
        smk, T.make_fill1, dem_path=i.dem, layout_path=i.layout, tile=tile, out=o.summary
    )
elif rule == "tiles_fill_global":
    run_from_snakemake(
        smk, T.make_fill_global, layout_path=i.layout, summaries=list(i.summaries), out=o.levels
    )
elif rule == "tiles_fill2":
    run_from_snakemake(
        smk,
        T.make_fill2,
        dem_path=i.dem,
        layout_path=i.layout,
        tile=tile,
        levels_path=i.levels,
        out_filled=o.filled,
        out_flats=o.flats,
    )
elif rule == "tiles_flats_global":
    run_from_snakemake(
        smk,
        T.make_flats_global,
        dem_path=i.dem,
        layout_path=i.layout,
        filled_paths=list(i.filled),
        out=o.rings,
    )
elif rule == "tiles_route":
    run_from_snakemake(
        smk,
        T.make_route,
        dem_path=i.dem,
        layout_path=i.layout,
        tile=tile,
        filled_path=i.filled,
        flats_path=i.rings,
        terrain=p.terrain,
        out_codes=o.codes,
        out_links=o.links,
    )
elif rule == "tiles_accumulate":
    from pathlib import Path

    run_from_snakemake(
        smk,
        T.make_accumulate,
        dem_path=i.dem,
        layout_path=i.layout,
        store_dir=str(Path(o.cells).parent),
        links=list(i.links),
        terrain=p.terrain,
        out_dir=o.cells,
        workers=smk.threads,
    )
elif rule == "tiles_ls":
    run_from_snakemake(
        smk,
        T.make_ls,
        dem_path=i.dem,
        layout_path=i.layout,
        tile=tile,
        cells_dir=i.cells,
        codes_path=i.codes,
        terrain=p.terrain,
        out=o.stack,
    )
elif rule == "tiles_terrain_mosaic":
    run_from_snakemake(
        smk,
        T.make_terrain_mosaic,
        dem_path=i.dem,
        layout_path=i.layout,
        ls_paths=list(i.stacks),
        terrain=p.terrain,
        out_slope=o.slope,
        out_l=o.l,
        out_s=o.s,
        out_ls=o.ls,
    )
elif rule == "tiles_soil_loss":
    run_from_snakemake(
        smk,
        T.make_tile_soil_loss,
        factors=model_factors(),
        landcover_path=i.landcover,
        aoi_path=i.aoi,
        zone_paths=zone_paths(),
        layout_path=i.layout,
        tile=tile,
        model=p.model,
        classification=p.classification,
        compute=smk.config["compute"],
        out=o.tile,
    )
elif rule == "tiles_soil_loss_mosaic":
    run_from_snakemake(
        smk,
        T.make_soil_loss_mosaic,
        layout_path=i.layout,
        tile_paths=list(i.tiles),
        factors=model_factors(),
        landcover_path=i.landcover,
        out_soil_loss=o.soil_loss,
        out_intensity=o.intensity,
        model=p.model,
        classification=p.classification,
        class_colours=p.class_colours,
        compute=smk.config["compute"],
    )
elif rule == "tiles_statistics":
    run_from_snakemake(
        smk,
        T.make_tiles_statistics,
        tile_paths=list(i.tiles),
        intensity_path=i.intensity,
        zone_paths=zone_paths(),
        year=int(smk.wildcards.year),
        out_classes=o.classes,
        out_summary=o.summary,
        out_zones={"township": o.townships, "watershed": o.watersheds},
        aoi_path=i.aoi,
        factor_paths={k: i[k] for k in FACTOR_KEYS if k in i.keys()},
        statistics=p.statistics,
        classification=p.classification,
        compute=smk.config["compute"],
    )
else:
    raise RuntimeError(f"scripts/tiles.py: no stage for rule {rule!r}")
