# Helpers of rules/tiles.smk: the tile list (from the checkpoint tiles_layout) and the
# input functions over it.

TILE_SIZE = (config["compute"].get("tiles") or {}).get("size")

TILE_LOGS = os.path.join(LOGS, "tiles")



def tile_list(wildcards):
    from pipeline.stages.tiles import tile_names

    return tile_names(checkpoints.tiles_layout.get(aoi=wildcards.aoi).output.layout)


def per_tile(key, **fixed):
    """Input function: the file ``key`` of every tile (row-major), for this aoi/year."""

    def files(wildcards):
        w = {"aoi": wildcards.aoi, **fixed}
        if "year" in wildcards.keys():
            w["year"] = wildcards.year
        return [P(key, tile=t, **w) for t in tile_list(wildcards)]

    return files
