"""Town sites, townships and small watersheds of the synthetic demo district."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.features
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from scipy import ndimage

from pipeline.errors import ConfigError
from pipeline.grid import AnalysisGrid
from pipeline.sources.demo._terrain import (
    Terrain,
)
from pipeline.sources.demo.common import _aoi_mask, _cell_xy, _rng
from pipeline.sources.demo.terrain import STREAM_AREA_KM2, terrain

TOWNSHIP_NAMES: list[tuple[str, str]] = [
    ("汀州镇", "Tingzhou"),
    ("大同镇", "Datong"),
    ("岭口镇", "Lingkou"),
    ("梅林镇", "Meilin"),
    ("溪源乡", "Xiyuan"),
    ("石坑镇", "Shikeng"),
    ("桃坑乡", "Taokeng"),
    ("青岗镇", "Qinggang"),
    ("龙湖镇", "Longhu"),
    ("竹溪乡", "Zhuxi"),
    ("上坪乡", "Shangping"),
    ("白沙镇", "Baisha"),
    ("枫林镇", "Fenglin"),
    ("杉坊乡", "Shanfang"),
    ("朱田镇", "Zhutian"),
    ("罗地乡", "Luodi"),
]
# fmt: off
_WATERSHED_FIRST = {
    "黄": "Huang", "石": "Shi", "罗": "Luo", "朱": "Zhu", "游": "You", "陈": "Chen",
    "刘": "Liu", "高": "Gao", "桐": "Tong", "柏": "Bai", "枫": "Feng", "杉": "Shan",
    "竹": "Zhu", "梅": "Mei", "李": "Li", "下": "Xia", "上": "Shang", "新": "Xin",
    "松": "Song", "洋": "Yang",
}
_WATERSHED_SECOND = {
    "坑": "keng", "溪": "xi", "坊": "fang", "岭": "ling", "田": "tian", "坪": "ping",
    "背": "bei", "塘": "tang", "排": "pai", "岗": "gang", "寨": "zhai", "湖": "hu",
}
# fmt: on


# ------------------------------------------------------------------------ town sites
def town_sites(
    terr: Terrain, grid: AnalysisGrid, aoi, *, n: int = 8, seed: int = 20240601
) -> np.ndarray:
    """(row, col) of ``n`` town sites on flat valley floors inside the AOI, spread apart.

    The first is the county seat: the floor cell beside the largest river away from
    the grid edge. Townships are the Voronoi cells of these sites.
    """
    if not 1 <= n <= len(TOWNSHIP_NAMES):
        raise ConfigError(f"demo n_townships must be in [1, {len(TOWNSHIP_NAMES)}], got {n!r}")
    rng = _rng(seed, "sites")
    inside = _aoi_mask(grid, aoi)
    edge_dist = ndimage.distance_transform_edt(inside) * grid.res[0]
    size_m = max(grid.shape) * grid.res[0]
    interior = inside & (edge_dist > 0.1 * size_m)
    floor = interior & (terr.hand_m < 4.0) & (terr.slope_deg < 6.0) & ~terr.stream
    cand = np.flatnonzero(floor)
    if cand.size < 4 * n:  # very small districts: fall back to the lowest interior cells
        cand = np.flatnonzero(interior if interior.any() else inside)
    weight = np.log1p(terr.near_stream_km2.ravel()[cand] / STREAM_AREA_KM2)
    seat = cand[np.argmax(weight + 1e-9 * (edge_dist.ravel()[cand] > 0.2 * size_m) * 1e9)]
    chosen = [seat]
    aoi_area = float(inside.sum()) * grid.res[0] * grid.res[1]
    d_min = 0.6 * np.sqrt(aoi_area / n)
    rows, cols = np.divmod(cand, grid.width)
    prob = weight / weight.sum() if weight.sum() > 0 else None
    while len(chosen) < n:
        ok = np.ones(cand.size, bool)
        for c in chosen:
            r0, c0 = divmod(int(c), grid.width)
            ok &= np.hypot(rows - r0, cols - c0) * grid.res[0] >= d_min
        if not ok.any():
            d_min *= 0.8
            continue
        p = None if prob is None else prob * ok / (prob * ok).sum()
        chosen.append(int(rng.choice(cand, p=p if p is not None else ok / ok.sum())))
    return np.array([divmod(int(c), grid.width) for c in chosen], dtype=np.int64)


# ----------------------------------------------------------------------- zones
def _pinyin_title(s: str) -> str:
    return s[:1].upper() + s[1:]


def make_townships(aoi, *, grid: AnalysisGrid, sites: np.ndarray) -> gpd.GeoDataFrame:
    """Township (镇街) polygons: Voronoi cells of the town sites clipped to the AOI.

    They tile the AOI (no gaps, no overlaps). Names are invented (``TOWNSHIP_NAMES``).

    Examples
    --------
    >>> from pipeline.sources.demo import make_aoi, make_grid
    >>> g = make_grid(size_km=3, resolution_m=30)
    >>> aoi = make_aoi(g, seed=1)
    >>> sites = np.array([[20, 20], [50, 60], [80, 30]])
    >>> len(make_townships(aoi, grid=g, sites=sites))
    3
    """
    xs, ys = _cell_xy(grid, sites[:, 0] + 0.5, sites[:, 1] + 0.5)
    points = shapely.MultiPoint(np.column_stack([xs, ys]))
    envelope = shapely.box(*grid.bounds).buffer(grid.res[0] * 10)
    cells = shapely.voronoi_polygons(points, extend_to=envelope)
    rows = []
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        cell = next(c for c in cells.geoms if c.contains(shapely.Point(x, y)))
        zh, en = TOWNSHIP_NAMES[i]
        kind = "Town" if zh.endswith("镇") else "Township"
        rows.append(
            {
                "zone_id": f"T{i + 1:02d}",
                "name": zh,
                "name_en": f"{en} {kind}",
                "geometry": shapely.make_valid(cell.intersection(aoi)),
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=grid.crs)


def make_watersheds(
    dem: xr.DataArray,
    aoi,
    *,
    seed: int = 20240601,
    terr: Terrain | None = None,
    target_count: int = 20,
) -> gpd.GeoDataFrame:
    """Small watersheds (小流域): pyflwdir sub-basins of the DEM, polygonised, clipped to the AOI.

    Sub-basins start at tributaries draining more than AOI area / ``target_count``
    (``FlwdirRaster.subbasins_area``); pieces smaller than a quarter of that inside
    the AOI are merged into their nearest neighbour. They tile the AOI.

    Examples
    --------
    >>> from pipeline.sources.demo import make_aoi, make_dem, make_grid
    >>> g = make_grid(size_km=3, resolution_m=30)
    >>> ws = make_watersheds(make_dem(g, seed=1), make_aoi(g, seed=1), seed=1)
    >>> bool(ws["name"].str.endswith("小流域").all())
    True
    """
    grid = AnalysisGrid.from_dataarray(dem)
    terr = terr if terr is not None else terrain(dem)
    inside = _aoi_mask(grid, aoi)
    cell_km2 = grid.res[0] * grid.res[1] / 1e6
    area_min = aoi.area / 1e6 / target_count
    labels, _ = terr.flwdir.subbasins_area(area_min, uparea=terr.upstream_km2)
    labels = np.asarray(labels, np.int64)
    ids, counts = np.unique(labels[inside], return_counts=True)
    keep = set(ids[counts * cell_km2 >= area_min / 4].tolist()) - {0}
    big = np.isin(labels, list(keep))
    if not big.any():
        big = inside
        labels = np.where(inside, 1, 0)
    _, (iy, ix) = ndimage.distance_transform_edt(~big, return_indices=True)
    labels = labels[iy, ix]
    geoms: dict[int, list] = {}
    for geom, value in rasterio.features.shapes(
        labels.astype(np.int32), transform=grid.transform, connectivity=4
    ):
        geoms.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    pieces = []
    for value in sorted(geoms):
        g = shapely.make_valid(shapely.union_all(geoms[value]).intersection(aoi))
        if not g.is_empty and g.area > 0:
            pieces.append(g)
    # order from north-west to south-east for stable ids
    pieces.sort(key=lambda g: (-round(g.centroid.y, -2), round(g.centroid.x, -2)))
    rng = _rng(seed, "watersheds")
    first = list(_WATERSHED_FIRST)
    second = list(_WATERSHED_SECOND)
    combos = [(a, b) for a in first for b in second]
    order = rng.permutation(len(combos))
    rows = []
    for i, g in enumerate(pieces):
        a, b = combos[order[i % len(combos)]]
        rows.append(
            {
                "zone_id": f"W{i + 1:02d}",
                "name": f"{a}{b}小流域",
                "name_en": f"{_pinyin_title(_WATERSHED_FIRST[a] + _WATERSHED_SECOND[b])} "
                "small watershed",
                "geometry": g,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=grid.crs)
