"""The synthetic demo district as a source of single inputs for another AOI.

With ``source.inputs.<name>: demo`` (and a ``source.kind`` other than ``demo``), the demo
district is generated in ``out_dir/.demo`` and the chosen inputs are resampled onto the
AOI's analysis grid. (With ``source.kind: demo`` the whole district is the AOI.)
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence

from pipeline.errors import ConfigError
from pipeline.layout import INPUT_NAMES

log = logging.getLogger("shuibao.inputs")

PROVIDES = frozenset(INPUT_NAMES)


def prepare_inputs(
    out_dir, source: Mapping, *, years: Sequence[int], only, history: Sequence[int] = ()
) -> None:
    """Inputs taken from the synthetic demo district, resampled onto the analysis grid.

    The demo district is generated in a scratch folder of ``out_dir`` (one per call,
    removed afterwards) with ``source.demo`` (centre, size, seed …), which must cover
    the AOI's grid. ``history`` are the assessment years up to the last of ``years``
    (the demo's land cover of a year applies the changes of the years before it);
    default ``years``.
    """
    from pipeline.sources.base import begin

    req = begin(
        out_dir,
        source,
        years=years,
        only=only,
        provides=PROVIDES,
        refuse="the demo source: unknown inputs {unsupported}",
    )
    out_dir, names, years, grid = req.out_dir, req.names, req.years, req.grid
    tag = "-".join(map(str, years)) or "common"
    scratch = out_dir / f".demo-{tag}-{'-'.join(sorted(names))}"
    params = {k: v for k, v in dict(source.get("demo") or {}).items() if v is not None}
    log.info("inputs %s from the synthetic demo district (%s)", sorted(names), params)
    try:
        _from_demo(out_dir, scratch, grid, params, years, names, history or years)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _from_demo(out_dir, scratch, grid, params, years, names, history) -> None:
    import geopandas as gpd

    from pipeline import layout
    from pipeline.sources import local
    from pipeline.sources.demo import generate_demo

    gen_years = sorted({*map(int, history), *map(int, years)})
    generate_demo(scratch, years=tuple(gen_years), progress=False, **params)
    demo_grid = local.read_grid_json(scratch / "grid.json")
    from pyproj import Transformer

    w, s, e, n = Transformer.from_crs(grid.crs, demo_grid.crs, always_xy=True).transform_bounds(
        *grid.bounds, densify_pts=21
    )
    dw, ds, de, dn = demo_grid.bounds
    if w < dw or s < ds or e > de or n > dn:
        raise ConfigError(
            "config key 'source.demo': the demo district does not cover the AOI's grid; set "
            "source.demo.center_lon/center_lat/size_km around the AOI"
        )
    tags = {"source": "demo (synthetic)"}
    if "dem" in names:
        dem = local.reproject_to_grid(scratch / "dem.tif", grid, kind="continuous")
        local.write_dem(dem, out_dir / "dem.tif", grid=grid, tags=tags)
    for year in years:
        if "landcover" in names:
            lc = local.reproject_to_grid(
                scratch / f"landcover_{year}.tif", grid, kind="categorical"
            )
            local.write_landcover(lc, out_dir / f"landcover_{year}.tif", grid=grid, tags=tags)
        if "ndvi" in names:
            local.write_local_ndvi(
                scratch / f"ndvi_{year}.tif", grid, out_dir / f"ndvi_{year}.tif", scale=1e-4
            )
    if "soil" in names:
        soil = local.reproject_to_grid(scratch / "soil.tif", grid, kind="continuous")
        soil = soil.assign_coords(band=list(local.SOIL_BANDS))
        local.write_soil(soil, out_dir / "soil.tif", grid=grid, tags=tags)
    if "rain" in names:  # already on its own coarse lon/lat lattice
        shutil.copyfile(scratch / "rain_daily.nc", out_dir / "rain_daily.nc")
    aoi = layout.read_aoi(out_dir / "aoi.gpkg")
    if "zones" in names:
        for layer in ("townships", "watersheds"):
            zones = layout.read_zones(scratch / f"{layer}.gpkg", grid.crs)
            zones = gpd.clip(zones, aoi).explode(index_parts=False).dissolve("zone_id")
            zones = zones.reset_index()[["zone_id", "name", "name_en", "geometry"]]
            if zones.empty:
                local.write_aoi_as_zone(out_dir / "aoi.gpkg", out_dir / f"{layer}.gpkg", grid=grid)
            else:
                local.write_zones(zones, out_dir / f"{layer}.gpkg")
    if "survey" in names:
        for year in years:
            path = scratch / f"survey_{year}.gpkg"
            pts = layout.read_vector(path, what="demo survey layer").to_crs(grid.crs)
            pts = pts[pts.within(aoi.geometry.union_all())]
            local.write_survey(
                pts[["survey_id", "year", "intensity_class", "geometry"]].reset_index(drop=True),
                out_dir / f"survey_{year}.gpkg",
            )
