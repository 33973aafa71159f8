"""Stages of the tiled workflow (``rules/tiles.smk``, config ``compute.tiles``).

The terrain steps are those of :mod:`pipeline.factors._tiled` (Barnes 2016 fill, flats,
Barnes 2017 D8 accumulation, MFD in rounds), one Snakemake job per tile and step, with the
global steps (tile-graph solves on the tiles' border summaries) as small jobs between them.
Per-tile intermediate files live under ``resources/{aoi}/tiles/`` (:mod:`pipeline.layout`
keys ``tiles_*``); the tile list is ``tiles/layout.json``, written by a checkpoint from the
DEM's shape. The per-pixel stages (soil loss, class sums) run per tile; the statistics
merge the tiles' exact partial sums (:mod:`pipeline.exactsum`), so the tables equal the
untiled run's byte for byte.

Memory per job: a tile job holds its tile plus a one-cell ring (≈ 100-120 MB for a 2048²
tile, see :mod:`pipeline.factors._tiled`); the global fill/flats/D8 jobs hold the tiles'
perimeter summaries. The MFD accumulation runs its rounds in one job that loads one tile at
a time (its flow divides, so there is no one-pass perimeter graph as for D8; the number of
rounds is not known before the run, which a static Snakemake DAG cannot express), so its
memory is bounded by a tile too. The mosaics (the whole-grid GeoTIFFs the maps and reports
read) are written from the tiles block by block (dask), never whole.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from pipeline.config import with_defaults
from pipeline.io import atomic_path, open_raster, write_cog
from pipeline.stages.common import chunks_2d, provenance

log = logging.getLogger("shuibao.tiles")


# ----------------------------------------------------------------------------- layout
def make_tile_layout(*, dem_path, out_layout, tiles: Mapping) -> None:
    """``tiles/layout.json``: the DEM's shape, the tile size and the tile names (row-major)."""
    import rasterio

    from pipeline.factors import _tiled

    size = int(tiles["size"])
    with rasterio.open(dem_path) as src:
        shape = (src.height, src.width)
    lay = _tiled.Layout(shape, (size, size))
    doc = {"shape": list(shape), "tile": [size, size], "tiles": [t.name for t in lay.tiles]}
    _write_json(doc, out_layout)
    log.info("%d tiles of %d² cells over %s", len(doc["tiles"]), size, shape)


def read_tile_layout(path):
    """(Layout, {name: Tile}) from ``tiles/layout.json``."""
    from pipeline.factors import _tiled

    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    lay = _tiled.Layout(tuple(doc["shape"]), tuple(doc["tile"]))
    return lay, {t.name: t for t in lay.tiles}


def tile_names(path) -> list[str]:
    """The tile names of ``tiles/layout.json`` (row-major order)."""
    return list(json.loads(Path(path).read_text(encoding="utf-8"))["tiles"])


def _write_json(doc, path) -> None:
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")


def _savez(path, **arrays) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def _save(path, arr) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.npy")
    np.save(tmp, arr)
    tmp.replace(path)


def _window(dem_path, lay, t):
    from pipeline.factors import _tiled

    read, shape, dx, dy = _tiled.geotiff_reader(dem_path)
    return _tiled.read_window(read, shape, t), dx, dy


def _terrain_args(terrain: Mapping):
    from pipeline.factors import terrain as tf

    terrain = with_defaults("terrain", terrain)
    cap, thr = tf._check_routing_args(
        terrain["routing"],
        "cardinal",
        float(terrain["max_slope_length_m"]),
        terrain["channel_threshold_m2"],
    )
    return terrain, cap, thr


# ------------------------------------------------------------------- terrain, per tile
def make_fill1(*, dem_path, layout_path, tile: str, out) -> None:
    """Pass 1 of the fill (tile): the tile's spill graph on its perimeter."""
    from pipeline.factors import _tiled

    lay, tiles = read_tile_layout(layout_path)
    zw, _, _ = _window(dem_path, lay, tiles[tile])
    _savez(out, **_tiled.fill_pass1(zw))


def make_fill_global(*, layout_path, summaries: Sequence, out) -> None:
    """Global fill step: the filled level of every perimeter and ring cell, per tile."""
    from pipeline.factors import _tiled

    lay, _ = read_tile_layout(layout_path)
    s1 = [dict(np.load(p)) for p in summaries]
    levels = _tiled.fill_global(lay, s1)
    arrays = {}
    for t, lv in zip(lay.tiles, levels, strict=True):
        arrays[f"{t.name}.perim"] = lv["perim"]
        arrays[f"{t.name}.ring"] = lv["ring"]
    _savez(out, **arrays)


def make_fill2(*, dem_path, layout_path, tile: str, levels_path, out_filled, out_flats) -> None:
    """Pass 2 of the fill (tile): the filled window and the summary of its border flats."""
    from pipeline.factors import _tiled

    lay, tiles = read_tile_layout(layout_path)
    zw, _, _ = _window(dem_path, lay, tiles[tile])
    with np.load(levels_path) as lv:
        perim, ring = lv[f"{tile}.perim"], lv[f"{tile}.ring"]
    fw, flats = _tiled.fill_pass2(zw, perim, ring)
    _save(out_filled, fw)
    _savez(out_flats, **flats)


def make_flats_global(*, dem_path, layout_path, filled_paths: Sequence, out) -> None:
    """Global flats step: every window's ring distances on the border flats.

    Rounds of perimeter distances (``_tiled.flat_rings``, the rounds of the province
    benchmark): each round holds the tiles' perimeters and loads one filled window at a time,
    so memory is that of the perimeters and one tile, not of every flat that touches a tile
    border (on the synthetic province 4.4 % of the cells). The fixed point equals the
    breadth-first search over whole border flats (``_tiled.flats_global``; test).
    """
    from pipeline.factors import _tiled

    lay, _ = read_tile_layout(layout_path)
    _, _, dx, dy = _tiled.geotiff_reader(dem_path)
    by_name = dict(zip((t.name for t in lay.tiles), filled_paths, strict=True))

    class _Filled:  # the tile store interface of flat_rings, on the workflow's files
        def load(self, stage, t, name):
            return np.load(by_name[t.name])

    rings = _tiled.flat_rings(lay, _Filled(), dx, dy)
    _savez(out, **{t.name: ring for t, ring in zip(lay.tiles, rings, strict=True)})


def make_route(*, dem_path, layout_path, tile: str, filled_path, flats_path, terrain, out_codes,
               out_links) -> None:  # fmt: skip
    """D8 codes of the tile (and, for D8 routing, Barnes' perimeter links)."""
    from pipeline.factors import _tiled

    terrain, _, _ = _terrain_args(terrain)
    lay, tiles = read_tile_layout(layout_path)
    t = tiles[tile]
    _, _, dx, dy = _tiled.geotiff_reader(dem_path)
    fw = np.load(filled_path)
    nr, nc = fw.shape
    ring_d = np.full((nr, nc), -1, dtype=np.int32)
    with np.load(flats_path) as fl:
        ring_d[_tiled._ring_mask(nr, nc)] = fl[tile]
    codes = _tiled.route_pass(fw, ring_d, dx, dy)
    _save(out_codes, codes)
    links = _tiled.d8_pass1(codes, lay, t) if terrain["routing"] == "d8" else {}
    _savez(out_links, **links)


def make_accumulate(*, dem_path, layout_path, store_dir, links: Sequence, terrain, out_dir,
                    workers: int = 1) -> None:  # fmt: skip
    """Flow accumulation (cells) of every tile into ``out_dir``/<tile>.cells.npy.

    D8: Barnes' global pass on the perimeter links, then each tile re-accumulated with its
    inflow. MFD: rounds over the tiles (one tile in memory per worker) until no inflow
    changes (:func:`pipeline.factors._tiled._mfd_rounds`).
    """
    from pipeline.factors import _tiled
    from pipeline.factors import _tiled_kernels as K

    terrain, _, _ = _terrain_args(terrain)
    lay, _ = read_tile_layout(layout_path)
    store = _tiled.TileStore(store_dir)
    out_dir = Path(out_dir)
    assert out_dir == store.folder / "cells", (out_dir, store.folder)
    _, _, dx, dy = _tiled.geotiff_reader(dem_path)
    if terrain["routing"] == "d8":
        s3 = [dict(np.load(p)) for p in links]
        inflow = _tiled.d8_global(lay, s3)
        for t, inj in zip(lay.tiles, inflow, strict=True):
            store.save("cells", t, cells=K.d8_accumulate(store.load("codes", t, "codes"), inj))
        log.info("D8 accumulation over %d tiles", len(lay.tiles))
    else:
        rounds = _tiled._mfd_rounds(lay, store, dx, dy, "cardinal", workers)
        log.info("MFD accumulation over %d tiles in %d rounds", len(lay.tiles), rounds)


def make_ls(*, dem_path, layout_path, tile: str, cells_dir, codes_path, terrain, out) -> None:
    """Slope, L, S and LS of the tile (float32 stack, ``_tiled.LAYERS`` order)."""
    from pipeline.factors import _tiled

    terrain, cap, thr = _terrain_args(terrain)
    lay, tiles = read_tile_layout(layout_path)
    zw, dx, dy = _window(dem_path, lay, tiles[tile])
    stack = _tiled.ls_pass(
        zw,
        np.load(Path(cells_dir) / f"{tile}.cells.npy"),
        np.load(codes_path),
        dx=dx,
        dy=dy,
        routing=terrain["routing"],
        cap=cap,
        threshold=thr,
        m_method=terrain["m_method"],
        s_method=terrain["s_method"],
        layers=TERRAIN_LAYERS,
    )
    _save(out, stack)


TERRAIN_LAYERS = ("slope_deg", "l_factor", "s_factor", "ls_factor")


def _mosaic(layout_path, paths: Sequence, template, *, layer=None, key=None, dtype="float32"):
    """A dask DataArray on ``template``'s grid assembled from per-tile files (lazy)."""
    import dask
    import dask.array as dsa
    import xarray as xr

    lay, _ = read_tile_layout(layout_path)

    def load(path):
        if key is not None:
            with np.load(path) as z:
                return z[key]
        arr = np.load(path, mmap_mode="r")
        return np.asarray(arr[layer] if layer is not None else arr)

    rows = {}
    for t, p in zip(lay.tiles, paths, strict=True):
        block = dsa.from_delayed(dask.delayed(load)(p), shape=t.shape, dtype=dtype)
        rows.setdefault(t.i, []).append(block)
    data = dsa.block([rows[i] for i in sorted(rows)])
    da = xr.DataArray(data, dims=("y", "x"), coords={"y": template["y"], "x": template["x"]})
    return da.rio.write_crs(template.rio.crs).rio.write_transform(template.rio.transform())


def make_terrain_mosaic(*, dem_path, layout_path, ls_paths: Sequence, terrain, out_slope, out_l,
                        out_s, out_ls) -> None:  # fmt: skip
    """The four terrain GeoTIFFs of the untiled ``terrain`` rule, from the tiles."""
    terrain = with_defaults("terrain", terrain)
    dem = open_raster(dem_path, chunks={"y": 2048, "x": 2048})
    tags = provenance("terrain", terrain=terrain)
    units = {"slope_deg": "degree"}
    for k, (var, path) in enumerate(
        zip(TERRAIN_LAYERS, (out_slope, out_l, out_s, out_ls), strict=True)
    ):
        da = _mosaic(layout_path, ls_paths, dem, layer=k)
        da.attrs["units"] = units.get(var, "1")
        write_cog(da, path, tags=tags)


# ----------------------------------------------------------------- per-pixel, per tile
def _tile_transform(template, t):
    transform = template.rio.transform()
    return transform * transform.translation(t.c0, t.r0)


def _tile_of(da, t, transform):
    w = da.isel(y=slice(t.r0, t.r1), x=slice(t.c0, t.c1)).load()
    return w.rio.write_transform(transform)


def make_tile_soil_loss(*, factors: Mapping[str, str], landcover_path, aoi_path,
                        zone_paths: Mapping[str, str], layout_path, tile: str, model: str,
                        classification: Mapping, compute: Mapping | None = None,
                        out) -> None:  # fmt: skip
    """Soil loss, intensity classes and the statistics' exact partial sums of one tile.

    The factors are read from the whole-grid GeoTIFFs, window by window; A and its class are
    per-pixel, so each tile's values equal those of the untiled ``soil_loss`` rule.
    """
    from pipeline.stages import statistics as st
    from pipeline.stages.soil_loss import class_breaks, read_aoi, soil_loss_classes

    ch = chunks_2d(compute)
    lay, tiles = read_tile_layout(layout_path)
    t = tiles[tile]
    full = {name: open_raster(path, chunks=ch) for name, path in factors.items()}
    template = full["R"]
    transform = _tile_transform(template, t)
    f = {name: _tile_of(da, t, transform) for name, da in full.items()}
    lc = None
    if model == "csle":
        lc = _tile_of(open_raster(landcover_path, chunks=ch), t, transform)
    aoi = read_aoi(aoi_path, template.rio.crs)
    inside = st._inside(aoi.geometry, f["R"], transform)
    breaks = class_breaks(classification)
    a, intensity = soil_loss_classes(f, lc=lc, inside=inside, model=model, breaks=breaks)
    # the values the statistics of the untiled run read back from the GeoTIFFs
    a32 = a.astype("float32").rio.write_transform(transform)
    cls = intensity.astype("float32").rio.write_transform(transform)
    cls = cls.where((cls >= 1) & (cls <= 6))
    zones = {
        layer: st._prepared_zones(path, template, layer)[0] for layer, path in zone_paths.items()
    }
    parts = st.statistics_partials(
        intensity=cls, soil_loss=a32, aoi_path=aoi_path, zones=zones, breaks=breaks,
        transform=transform,
    )  # fmt: skip
    arrays = {"soil_loss": a32.values, "intensity": cls.values}
    for name, p in parts.items():
        arrays |= p.to_arrays(name)
    _savez(out, **arrays)


def make_soil_loss_mosaic(*, layout_path, tile_paths: Sequence, factors: Mapping[str, str],
                          landcover_path, out_soil_loss, out_intensity, model: str,
                          classification: Mapping, class_colours: Mapping | None = None,
                          compute: Mapping | None = None) -> None:  # fmt: skip
    """soil_loss.tif and intensity.tif of the untiled ``soil_loss`` rule, from the tiles."""
    from pipeline.stages.soil_loss import class_breaks, write_soil_loss

    ch = chunks_2d(compute)
    template = open_raster(factors["R"], chunks=ch)
    a = _mosaic(layout_path, tile_paths, template, key="soil_loss")
    a.name = "soil_loss_t_ha_yr"
    a.attrs["units"] = "t ha-1 a-1"
    intensity = _mosaic(layout_path, tile_paths, template, key="intensity")
    lc = open_raster(landcover_path, chunks=ch) if model == "csle" else None
    write_soil_loss(
        a,
        intensity,
        lc=lc,
        factors=factors,
        out_soil_loss=out_soil_loss,
        out_intensity=out_intensity,
        model=model,
        classification=classification,
        breaks=class_breaks(classification),
        class_colours=class_colours,
    )


def make_tiles_statistics(*, tile_paths: Sequence, intensity_path, zone_paths: Mapping[str, str],
                          year: int, out_classes, out_summary, out_zones: Mapping[str, str],
                          aoi_path, factor_paths: Mapping[str, str] | None = None,
                          statistics: Mapping | None = None,
                          classification: Mapping | None = None,
                          compute: Mapping | None = None) -> None:  # fmt: skip
    """The statistics tables from the tiles' partial sums, merged exactly (tile order)."""
    from pipeline import exactsum
    from pipeline.stages import statistics as st

    template = open_raster(intensity_path, chunks=chunks_2d(compute))
    zones = {layer: st._prepared_zones(path, template, layer) for layer, path in zone_paths.items()}
    names = ["classes", "totals"] + [f"zone_{layer}" for layer in zone_paths]
    per_tile = []
    for p in tile_paths:
        with np.load(p) as z:
            per_tile.append({n: exactsum.Partial.from_arrays(z, n) for n in names})
    parts = {n: exactsum.merge([tp[n] for tp in per_tile]) for n in names}
    st.write_statistics(
        parts,
        template=template,
        zones=zones,
        year=year,
        out_classes=out_classes,
        out_summary=out_summary,
        out_zones=out_zones,
        aoi_path=aoi_path,
        factor_paths=factor_paths,
        statistics=statistics,
        classification=classification,
        compute=compute,
    )
