"""The demo generator's driver: writes the inputs-contract files (``generate_demo``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from pipeline import layout
from pipeline.errors import ConfigError
from pipeline.sources import _memo
from pipeline.sources.demo.climate import make_rain_daily
from pipeline.sources.demo.common import SYNTHETIC_NOTE, _tags, make_aoi, make_grid
from pipeline.sources.demo.landscape import make_landcover, make_ndvi, make_soil
from pipeline.sources.demo.survey import make_survey
from pipeline.sources.demo.terrain import make_dem, terrain
from pipeline.sources.demo.zones import TOWNSHIP_NAMES, make_townships, make_watersheds, town_sites

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------- writers


def write_gpkg(gdf: gpd.GeoDataFrame, path: str | Path, *, key: str) -> Path:
    """Write a contract GeoPackage: :func:`pipeline.layout.write_vector`."""
    return layout.write_vector(gdf, path, key=key)


def encode_ndvi(ndvi: xr.DataArray) -> xr.DataArray:
    """NDVI → int16 NDVI × 10000 (NaN → −32768), as the inputs contract stores it."""
    scaled = np.asarray(ndvi.values, np.float32) * np.float32(10000.0)  # a new array
    np.rint(scaled, out=scaled)  # = np.round, in place (half to even)
    scaled[~np.isfinite(scaled)] = -32768
    return ndvi.copy(data=scaled.astype(np.int16))


# ------------------------------------------------------------------------ driver
def generate_demo(
    out_dir: str | Path,
    *,
    seed: int = 20240601,
    size_km: float = 20.0,
    resolution_m: float = 10.0,
    years: Sequence[int] = (2023, 2024),
    rain_record_years: int = 10,
    center_lon: float = 116.4,
    center_lat: float = 25.7,
    n_townships: int = 8,
    n_survey_points: int = 400,
    progress: bool = True,
    rain_last_year: int | None = None,
    write: Collection[str] | None = None,
    cache_dir: str | Path | None = None,
) -> dict[str, Path]:
    """Generate the synthetic demo district and write the inputs-contract files to ``out_dir``.

    Returns ``{key: path}`` with keys ``grid``, ``aoi``, ``dem``, ``soil``,
    ``rain_daily``, ``townships``, ``watersheds`` and ``landcover_{year}``,
    ``ndvi_{year}``, ``survey_{year}`` for each year. The rain record covers the
    ``rain_record_years`` years ending with the last assessment year. The same
    arguments give the same bytes.

    ``rain_last_year`` fixes the end of the rain record (default: the last assessment
    year). ``write`` limits the files written to these keys (e.g. ``{"rain_daily"}`` or
    ``{"landcover_2024", "ndvi_2024", "survey_2024"}``): what they need is still
    computed in memory, so each file has the same bytes as in a full run with the same
    ``years``; the workflow writes the year-independent part and each year in separate
    jobs this way. ``cache_dir`` (optional) memoises the DEM, its flow routing, the town
    sites and the land cover on disk (``pipeline.sources._memo``), so that those jobs
    compute them once; the files are the same bytes with or without it.

    Examples
    --------
    >>> paths = generate_demo("/tmp/demo_small", size_km=3, resolution_m=30, progress=False)
    >>> sorted(paths)[:3]
    ['aoi', 'dem', 'grid']
    """
    from tqdm.auto import tqdm

    years = sorted({int(y) for y in years})
    if not years:
        raise ConfigError("demo years must name at least one year")
    if rain_record_years < 1:
        raise ConfigError(f"demo rain_record_years must be >= 1, got {rain_record_years!r}")
    if not 1 <= n_townships <= len(TOWNSHIP_NAMES):
        raise ConfigError(
            f"demo n_townships must be in [1, {len(TOWNSHIP_NAMES)}], got {n_townships!r}"
        )
    if n_survey_points < 1:
        raise ConfigError(f"demo n_survey_points must be >= 1, got {n_survey_points!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    steps = 9 + 3 * len(years)
    bar = tqdm(total=steps, desc="demo district", disable=not progress, unit="step")
    started = time.perf_counter()
    cpu_started = time.process_time()

    def step(message: str) -> None:
        log.info(
            "demo: %s (%.1f s, CPU %.1f s)",
            message,
            time.perf_counter() - started,
            time.process_time() - cpu_started,
        )
        bar.set_postfix_str(message)
        bar.update(1)

    tags = _tags(seed, size_km=size_km, resolution_m=resolution_m)
    paths: dict[str, Path] = {}

    def want(key: str) -> bool:
        return write is None or key in write

    per_year = ("landcover", "ndvi", "survey")
    want_year = {y: any(want(f"{k}_{y}") for k in per_year) for y in years}
    need_land = any(want_year.values()) or any(
        want(k) for k in ("dem", "soil", "townships", "watersheds")
    )
    rain_end = years[-1] if rain_last_year is None else int(rain_last_year)
    try:
        grid = make_grid(
            size_km=size_km, resolution_m=resolution_m, center_lon=center_lon, center_lat=center_lat
        )
        aoi = make_aoi(grid, seed=seed)
        if want("grid"):
            paths["grid"] = layout.write_grid(grid, out / "grid.json")
        if want("aoi"):
            paths["aoi"] = write_gpkg(
                gpd.GeoDataFrame(
                    {
                        "name": ["汀南示范区（合成数据）"],
                        "name_en": ["Tingnan demo district (synthetic)"],
                        "note": [f"{SYNTHETIC_NOTE}; seed={seed}"],
                    },
                    geometry=[aoi],
                    crs=grid.crs,
                ),
                out / "aoi.gpkg",
                key="aoi",
            )
        step("grid and AOI")
        if need_land:
            memo_key = _memo.code_key("pipeline.sources.demo.generate", grid, seed, n_townships)

            def land():
                dem = make_dem(grid, seed=seed)
                terr = terrain(dem)
                return dem, terr, town_sites(terr, grid, aoi, n=n_townships, seed=seed)

            dem, terr, sites = _memo.memoised(cache_dir, "demo_terrain", memo_key, land)
            if want("dem"):
                paths["dem"] = layout.write_dem(dem, out / "dem.tif", tags=tags)
            step("DEM")
            step("flow routing")
            landcover = _memo.memoised(
                cache_dir,
                "demo_landcover",
                [memo_key, years],
                lambda: make_landcover(dem, aoi, years=years, seed=seed, terr=terr, sites=sites),
                latest_only=False,
            )
            for year in years:
                if want(f"landcover_{year}"):
                    paths[f"landcover_{year}"] = layout.write_landcover(
                        landcover[year], out / f"landcover_{year}.tif", tags=tags | {"year": year}
                    )
            step("land cover")
        first_rain_year = rain_end - rain_record_years + 1
        need_rain = want("rain_daily") or any(want(f"survey_{y}") for y in years)
        if need_rain and (years[0] < first_rain_year or years[-1] > rain_end):
            raise ConfigError(
                f"config keys 'source.demo.rain_last_year' ({rain_end}) and "
                f"'source.demo.rain_record_years' ({rain_record_years}): the synthetic rain "
                f"record {first_rain_year}–{rain_end} does not cover the years {years}"
            )
        if need_rain:
            rain = make_rain_daily(
                grid, last_year=rain_end, record_years=max(rain_record_years, 1), seed=seed
            )
            if want("rain_daily"):
                # update (not replace) the encoding: it carries rioxarray's grid_mapping
                layout.write_rain_daily(
                    rain,
                    out / "rain_daily.nc",
                    attrs=tags,
                    time_units=f"days since {first_rain_year}-01-01",
                )
                paths["rain_daily"] = out / "rain_daily.nc"
            step("daily rain")
        if need_land:
            soil = make_soil(dem, landcover[years[0]], seed=seed)
            if want("soil"):
                paths["soil"] = layout.write_soil(soil, out / "soil.tif", tags=tags)
            step("soil")
        if want("townships"):
            paths["townships"] = write_gpkg(
                make_townships(aoi, grid=grid, sites=sites),
                out / "townships.gpkg",
                key="townships",
            )
            step("townships")
        if want("watersheds"):
            paths["watersheds"] = write_gpkg(
                make_watersheds(dem, aoi, seed=seed, terr=terr),
                out / "watersheds.gpkg",
                key="watersheds",
            )
            step("small watersheds")
        for i, year in enumerate(years):
            if not (want(f"ndvi_{year}") or want(f"survey_{year}")):
                continue
            ndvi = make_ndvi(landcover[year], year_index=i, seed=seed, year=year)
            step(f"NDVI {year}")
            if want(f"ndvi_{year}"):
                paths[f"ndvi_{year}"] = layout.write_ndvi(
                    encode_ndvi(ndvi),
                    out / f"ndvi_{year}.tif",
                    tags=tags | {"year": year, "units": "1"},
                    encoded=True,
                )
                step(f"NDVI {year} written")
            if want(f"survey_{year}"):
                survey = make_survey(
                    landcover[year],
                    aoi,
                    year=year,
                    terr=terr,
                    soil=soil,
                    rain=rain,
                    ndvi=ndvi,
                    n_points=n_survey_points,
                    seed=seed,
                )
                paths[f"survey_{year}"] = write_gpkg(
                    survey, out / f"survey_{year}.gpkg", key="survey"
                )
                step(f"survey {year}")
            del ndvi
        step("done")
    finally:
        bar.close()
    log.info("demo district written to %s in %.1f s", out, time.perf_counter() - started)
    return paths
