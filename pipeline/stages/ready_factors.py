"""Stages for ready-made R and K and for R from several rain gauges (paths in, paths out).

- :func:`make_r_ready`: R from a ready map (``rainfall.method: raster``) or a constant
  (``constant``); the half-month shares that weight C/B still come from the rain record
  (the Zhang Wenbo model over ``rainfall.reference_period``), which also cross-checks the
  map's level (a ratio beyond 5, e.g. a map in US units, stops the run).
- :func:`make_r_stations`: R per gauge (``rainfall.stations``) with the configured
  method, interpolated onto the grid (:mod:`pipeline.factors.station_r`).
- :func:`make_k_ready`: K from a ready map, a constant or a soil-class table
  (``soil.method: raster | constant | table``).

The analysis grid and the AOI footprint are the DEM's (its finite pixels).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from pipeline import layout
from pipeline.config import with_defaults
from pipeline.errors import ConfigError, InputDataError
from pipeline.io import open_raster, write_cog, write_csv
from pipeline.stages.common import chunks_2d, provenance

log = logging.getLogger("shuibao.factors")

R_UNITS = "MJ mm ha-1 h-1 a-1"
#: a ready R map and the rain record's R may differ (map vs one gauge, other period), but
#: not by this factor: 17.02 (US units) and 100/1000 (per km², J) are far beyond it
MAX_R_RATIO = 5.0


def _need(section: Mapping, key: str, prefix: str):
    value = section.get(key)
    if value is None:
        raise ConfigError(
            f"{prefix}.method {section['method']!r} needs {prefix}.{key} (see configs/schema.yaml)"
        )
    return value


def _map_or_constant(section: Mapping, prefix: str, factor: str, template, units: str):
    """``(field, source, key)`` from ``{prefix}.{f}_raster`` (bilinear onto ``template``'s
    grid) or ``{prefix}.{f}_constant``, ``f`` = ``factor`` in lower case; None for another
    method."""
    from pipeline.factors.ready import constant_field
    from pipeline.sources.ready_inputs import read_onto_grid

    f = factor.lower()
    if section["method"] == "raster":
        cfg = _need(section, f"{f}_raster", prefix)
        field = read_onto_grid(
            cfg["path"],
            template=template,
            key=f"{prefix}.{f}_raster",
            resampling="bilinear",
            band=cfg.get("band"),
            nodata=cfg.get("nodata"),
            scale=float(cfg.get("scale", 1.0)),
        )
        return field, str(cfg["path"]), f"{prefix}.{f}_raster"
    if section["method"] == "constant":
        value = _need(section, f"{f}_constant", prefix)
        field = constant_field(template, value=value, name=factor, units=units)
        return field, f"constant {value:g}", f"{prefix}.{f}_constant"
    return None


def ready_r_field(*, rainfall: Mapping, template: xr.DataArray) -> tuple[xr.DataArray, str]:
    """The R field of ``rainfall.method`` raster or constant on ``template``'s grid, checked."""
    from pipeline.factors.ready import check_plausible

    method = rainfall["method"]
    ready = _map_or_constant(rainfall, "rainfall", "R", template, R_UNITS)
    if ready is not None:
        r, source, key = ready
    else:
        raise ConfigError(f"rainfall.method {method!r} is not a ready R (raster or constant)")
    r = r.load()
    check_plausible(
        r,
        factor="R",
        plausible_range=rainfall["r_plausible_range"],
        source=source,
        key=key,
        scale_key="rainfall.r_raster.scale" if method == "raster" else None,
    )
    return r.rename("R").assign_attrs(units=R_UNITS), source


def make_r_ready(
    *,
    rain_path,
    dem_path,
    year: int,
    out_r,
    out_shares,
    out_halfmonth,
    rainfall: Mapping,
    compute: Mapping | None = None,
) -> None:
    """R from a ready map or a constant; half-month shares from the rain record."""
    from pipeline.stages.factors import make_r

    rainfall = with_defaults("rainfall", rainfall)
    template = open_raster(dem_path, chunks=chunks_2d(compute))
    r, source = ready_r_field(rainfall=rainfall, template=template)
    # shares (and the record's R for a cross-check) from the rain record, Zhang Wenbo model
    with tempfile.TemporaryDirectory() as tmp:
        record_r_path = Path(tmp) / "R_record.tif"
        make_r(
            rain_path=rain_path,
            dem_path=dem_path,
            year=int(year),
            out_r=record_r_path,
            out_shares=out_shares,
            out_halfmonth=out_halfmonth,
            rainfall={**rainfall, "method": "zhang_wenbo"},
            compute=compute,
        )
        record_r = float(np.nanmedian(open_raster(record_r_path).values))
    ready_r = float(np.nanmedian(r.values))
    ratio = ready_r / record_r if record_r > 0 else np.inf
    if not (1 / MAX_R_RATIO <= ratio <= MAX_R_RATIO):
        raise InputDataError(
            f"{source} (rainfall.method {rainfall['method']}): median R {ready_r:.0f} is "
            f"{ratio:.3g} × the R of the rain record {rain_path} ({record_r:.0f} "
            f"MJ mm ha-1 h-1 a-1); a map in US units is 17.02 × too small (set "
            f"rainfall.r_raster.scale: 17.02), per km² 100 × too large; check the map's units"
        )
    tags = provenance("factor_r", rainfall=rainfall, method=rainfall["method"], year=int(year))
    tags.update({"r_mode": rainfall["method"], "r_source": source})
    write_cog(r.astype("float32"), out_r, tags=tags)
    log.info(
        "R %s: %s, median %.0f MJ mm ha-1 h-1 a-1 (rain record %.0f; shares from the record)",
        year,
        source,
        ready_r,
        record_r,
    )


def make_r_stations(
    *,
    dem_path,
    year: int,
    out_r,
    out_shares,
    out_halfmonth,
    rainfall: Mapping,
    compute: Mapping | None = None,
) -> None:
    """R per rain gauge (``rainfall.stations``), interpolated onto the grid."""
    from pipeline.factors.ready import check_plausible
    from pipeline.factors.station_r import interpolate_stations, station_erosivity
    from pipeline.sources.ready_inputs import read_stations

    rainfall = with_defaults("rainfall", rainfall)
    cfg = with_defaults("rainfall", {"stations": rainfall["stations"]})["stations"]
    method = rainfall["method"]
    if method not in ("zhang_wenbo", "renard_freimund"):
        raise ConfigError(
            f"rainfall.stations needs rainfall.method zhang_wenbo or renard_freimund, "
            f"got {method!r}"
        )
    template = open_raster(dem_path, chunks=chunks_2d(compute))
    stations, rain = read_stations(cfg, grid_crs=template.rio.crs)
    n_years = len(np.unique(rain["time"].dt.year.values))
    if n_years < 10 and method == "zhang_wenbo":
        log.warning(
            "%s: the station records have %d year(s); the Zhang Wenbo α/β are meant for "
            ">= 10 years and are computed from what is there",
            cfg["rain_csv"],
            n_years,
        )
    period = rainfall.get("reference_period")
    res = station_erosivity(
        rain,
        year=int(year),
        method=method,
        mode=rainfall["mode"],
        reference_period=tuple(period) if period else None,
        threshold_mm=float(rainfall["threshold_mm"]),
    )
    if res["period_defaulted"]:
        log.warning(
            "rainfall.reference_period is not set: R uses all complete years %s–%s of the "
            "station records; extending the records will change past years' results",
            *res["period"],
        )
    r_station = res["r_factor"].sel(station=list(stations.index))
    check_plausible(
        r_station,
        factor="R",
        plausible_range=rainfall["r_plausible_range"],
        source=str(cfg["rain_csv"]),
        key="rainfall.stations",
        hint=(
            "R per station: "
            + ", ".join(
                f"{s} {float(v):.0f}" for s, v in zip(stations.index, r_station.values, strict=True)
            )
            + "; check that the daily rain is in mm/day and the threshold_mm; if the R is "
            "right, widen rainfall.r_plausible_range"
        ),
    )
    r = interpolate_stations(
        stations["x"].to_numpy(), stations["y"].to_numpy(), r_station.values, template=template
    )
    r = r.rio.write_crs(template.rio.crs).rio.write_transform(template.rio.transform())
    tags = provenance("factor_r", rainfall=rainfall, method=method, year=int(year))
    tags.update(
        {
            "r_mode": rainfall["mode"] if method == "zhang_wenbo" else "year",
            "r_stations": ",".join(
                f"{s}={float(v):.1f}" for s, v in zip(stations.index, r_station.values, strict=True)
            ),
            "r_interpolator": r.attrs["interpolator"],
            "r_clipped_to": r.attrs["clipped_to"],
        }
    )
    if res["period"]:
        tags["r_reference_period"] = "{}-{}".format(*res["period"])
        tags["r_reference_period_defaulted"] = str(res["period_defaulted"])
    write_cog(r.astype("float32"), out_r, tags=tags)
    share = res["r_share"].mean("station")
    total = float(share.sum())
    share = share / total if total > 0 else share * 0 + 1 / 24
    write_csv(
        pd.DataFrame(
            {"period": share["period"].values.astype(int), "r_share": share.values.astype(float)}
        ),
        out_shares,
    )
    ds = xr.Dataset(
        {
            "r_halfmonth": res["r_halfmonth"].astype("float32"),
            "r_share": res["r_share"].astype("float32"),
        },
        coords={"station_x": ("station", stations["x"].to_numpy()),
                "station_y": ("station", stations["y"].to_numpy())},
    )  # fmt: skip
    ds["r_halfmonth"].attrs["units"] = "MJ mm ha-1 h-1"
    ds["r_share"].attrs["units"] = "1"
    layout.write_netcdf(ds, out_halfmonth)
    log.info(
        "R %s: %d station(s) %s → %s, grid mean %.0f MJ mm ha-1 h-1 a-1",
        year,
        len(stations),
        tags["r_stations"],
        r.attrs["interpolator"],
        float(r.mean()),
    )


def make_k_ready(*, dem_path, out_k, soil: Mapping, compute: Mapping | None = None) -> None:
    """K (t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹) from a ready map, a constant or a soil-class table."""
    from pipeline.factors.ready import K_SI_UNITS, check_plausible
    from pipeline.factors.soil import k_from_table
    from pipeline.sources.ready_inputs import read_k_table, read_onto_grid

    soil = with_defaults("soil", soil)
    method = soil["method"]
    lo, hi = (float(v) for v in soil["k_plausible_range"])
    template = open_raster(dem_path, chunks=chunks_2d(compute))
    ready = _map_or_constant(soil, "soil", "K", template, K_SI_UNITS)
    if ready is not None:
        k, source, key = ready
    elif method == "table":
        cfg = _need(soil, "k_table", "soil")
        cfg = {"code_col": "code", "k_col": "k", "scale": 1.0, **cfg}
        table = read_k_table(
            cfg["csv"], code_col=cfg["code_col"], k_col=cfg["k_col"], key="soil.k_table.csv"
        )
        scale = float(cfg["scale"])
        table = {c: v * scale for c, v in table.items()}
        classes = read_onto_grid(
            cfg["classes"],
            template=template,
            key="soil.k_table.classes",
            resampling="mode",
            band=cfg.get("band"),
            nodata=cfg.get("nodata"),
        )
        source, key = f"{cfg['classes']} + {cfg['csv']}", "soil.k_table"
        k = k_from_table(
            classes,
            table,
            table_name=f"{cfg['csv']} (soil.k_table.csv, column {cfg['k_col']!r}; range "
            f"soil.k_plausible_range)",
            value_range=(0.0, hi),
            input_name=f"{cfg['classes']} (soil.k_table.classes)",
        )
        k = k.rio.write_crs(template.rio.crs).rio.write_transform(template.rio.transform())
    else:
        raise ConfigError(f"soil.method {method!r} is not a ready K (raster, constant or table)")
    k = k.load()
    stats = check_plausible(
        k,
        factor="K",
        plausible_range=(lo, hi),
        source=source,
        key=key,
        scale_key=f"{key}.scale" if method != "constant" else None,
    )
    k = k.rename("K").assign_attrs(units=K_SI_UNITS)
    tags = provenance("factor_k", soil=soil, method=method)
    tags["k_source"] = source
    write_cog(k.astype("float32"), out_k, tags=tags)
    log.info("K: %s, median %.4f t ha h ha-1 MJ-1 mm-1", source, stats["median"])
