"""Stage: sediment delivery ratio, sediment export and the comparison with gauges (#18).

Paths in, paths out. The science is in :mod:`pipeline.factors.sediment` (Borselli IC,
Vigiak SDR, export, catchments) and :mod:`pipeline.factors.gauges` (rating curve,
annual loads, comparison, plausibility flag).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from pyproj import Transformer

from pipeline.errors import ConfigError
from pipeline.factors import gauges as gauge_science
from pipeline.factors import sediment as sed
from pipeline.io import open_raster, write_cog, write_csv, write_text
from pipeline.stages.common import provenance

log = logging.getLogger("shuibao.sediment")


def _corners(ic, params: Mapping):
    """Export range from IC0 and k varied by ± the configured relative change."""
    rel = float(params.get("sensitivity", 0.5))
    ic0, k = float(params["ic0"]), float(params["k"])
    for f0 in (1 - rel, 1 + rel):
        for fk in (1 - rel, 1 + rel):
            yield sed.sediment_delivery_ratio(ic, sdr_max=params["sdr_max"], ic0=ic0 * f0, k=k * fk)


def observed_for_gauge(gauge: Mapping, params: Mapping) -> tuple[pd.DataFrame, dict]:
    """Observed annual loads of one gauge (rating curve or an annual table)."""
    gid = str(gauge["id"])
    if "annual_load" in gauge:
        spec = gauge["annual_load"]
        df = pd.read_csv(spec["path"], comment="#", encoding="utf-8-sig")
        out = pd.DataFrame(
            {
                "year": df[spec.get("year_col", "year")].astype(int),
                "kind": "annual_table",
                "load_t": df[spec.get("load_col", "load_t")].astype(float),
            }
        )
        out["load_low_t"] = df[spec["low_col"]] if "low_col" in spec else out["load_t"]
        out["load_high_t"] = df[spec["high_col"]] if "high_col" in spec else out["load_t"]
        out["gauge_id"] = gid
        return out, {"method": "annual table", "path": str(spec["path"])}
    if "discharge" not in gauge or "ssc" not in gauge:
        raise ConfigError(
            f"sediment.gauges[{gid}]: give either annual_load or both discharge and ssc tables"
        )

    def series(spec):
        keys = ("date_col", "value_col", "station_col", "station")
        return gauge_science.read_daily_series(
            spec["path"], **{k: spec[k] for k in keys if k in spec}
        )

    table, curve = gauge_science.annual_loads(
        series(gauge["discharge"]),
        series(gauge["ssc"]),
        min_q_days=params["min_q_days"],
        min_samples=params["min_samples"],
        n_boot=params["n_boot"],
    )
    table["gauge_id"] = gid
    return table, curve


def make_sediment(
    *,
    dem_path,
    soil_loss_path,
    weight_path,
    year: int,
    params: Mapping,
    out_export,
    out_sdr,
    out_csv,
    out_json,
    out_chart,
    model: str = "rusle",
) -> None:
    """SDR and export rasters for one year, and the gauge comparison table + chart.

    ``weight_path`` is the IC weighting factor W: the C factor for ``model="rusle"``, the
    CSLE B factor for ``model="csle"`` (see :mod:`pipeline.factors.sediment`).
    """
    weight_name = {"rusle": "C", "csle": "B"}.get(model)
    if weight_name is None:
        raise ConfigError(f"model: expected 'rusle' or 'csle', got {model!r}")
    dem = open_raster(dem_path)
    soil_loss = open_raster(soil_loss_path)
    w = open_raster(weight_path)
    ic = sed.connectivity_index(
        dem,
        weight=w.where(dem.notnull(), 0.0).fillna(0.0),
        stream_threshold_cells=params["stream_threshold_cells"],
        weight_name=weight_name,
    )
    kw = {k: params[k] for k in ("sdr_max", "ic0", "k")}
    sdr = sed.sediment_delivery_ratio(ic.ic, **kw).where(soil_loss.notnull())
    export = sed.sediment_export(soil_loss, sdr)
    exports_range = [sed.sediment_export(soil_loss, s) for s in _corners(ic.ic, params)]
    crs, transform = dem.rio.crs, dem.rio.transform()
    tags = provenance("sediment", sediment=dict(params))
    for arr, path in ((export, out_export), (sdr, out_sdr)):
        arr = arr.rio.write_crs(crs).rio.write_transform(transform)
        write_cog(arr.astype("float32"), path, tags=tags)

    acc = ic.upslope_area_m2
    rows, observed, meta = [], [], {"year": year, "sdr": kw, "weight": weight_name, "gauges": {}}
    for gauge in params.get("gauges", []):
        gid = str(gauge["id"])
        to_grid = Transformer.from_crs(gauge["crs"], crs, always_xy=True)
        gx, gy = to_grid.transform(float(gauge["x"]), float(gauge["y"]))
        snap = sed.snap_to_accumulation(acc, x=gx, y=gy, radius_m=params["snap_radius_m"])
        d8_mask = sed.catchment_mask(ic.flow_direction_d8, row=snap["row"], col=snap["col"])
        aoi_mask = soil_loss.notnull()
        overlap = float((d8_mask & aoi_mask).sum()) / max(float(aoi_mask.sum()), 1.0)
        catchment = gauge.get("catchment", "d8")
        if catchment == "aoi":
            # the AOI is the gauge's own watershed (e.g. a delineated small watershed)
            mask = aoi_mask
        elif catchment == "d8":
            mask = d8_mask
        else:
            raise ConfigError(
                f"sediment.gauges[{gid}].catchment: expected 'd8' or 'aoi', got {catchment!r}"
            )
        snap["catchment"] = catchment
        snap["d8_share_of_aoi"] = overlap
        log.info(
            "gauge %s: the D8 catchment of the snapped cell covers %.1f %% of the AOI; "
            "catchment used: %s",
            gid,
            100 * overlap,
            catchment,
        )
        tot = sed.catchment_totals(soil_loss=soil_loss, export=export, mask=mask)
        ranges = [
            sed.catchment_totals(soil_loss=soil_loss, export=e, mask=mask)["export_t"]
            for e in exports_range
        ]
        rows.append(
            {
                "gauge_id": gid,
                "gauge_name": gauge.get("name", gid),
                "year": int(year),
                "area_ha": tot["area_ha"],
                "gross_t": tot["gross_t"],
                "export_t": tot["export_t"],
                "export_low_t": min(ranges + [tot["export_t"]]),
                "export_high_t": max(ranges + [tot["export_t"]]),
            }
        )
        obs, curve = observed_for_gauge(gauge, params)
        observed.append(obs)
        meta["gauges"][gid] = {"snap": snap, "observed_method": curve, **tot}
    if rows:
        obs_all = pd.concat(observed, ignore_index=True)
        table = gauge_science.compare_with_model(pd.DataFrame(rows), obs_all)
        meta["observed_all_years"] = obs_all.replace({np.nan: None}).to_dict("records")
    else:
        table = pd.DataFrame(columns=["gauge_id", "year", "warning"])
    if params.get("calibrate_c") and rows:
        ratio = table["load_t"] / table["export_t"]
        meta["c_calibration_factor"] = {
            "note": "explicit option sediment.calibrate_c: C would have to be multiplied by about "
            "this factor for the modelled export to equal the observed load (export is not "
            "linear in C through the IC; indicative only). Not applied.",
            "by_gauge_year": {
                f"{r.gauge_id}/{r.year}": (None if pd.isna(v) else float(v))
                for r, v in zip(table.itertuples(), ratio, strict=True)
            },
        }
        log.warning("sediment.calibrate_c is on: C calibration factors reported, not applied")
    meta["warnings"] = [w for w in table.get("warning", []) if w]
    write_csv(table, out_csv)
    write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str), out_json)
    from pipeline.report.sediment import plot_gauge_comparison

    plot_gauge_comparison(table, meta.get("observed_all_years", []), out_chart)
    log.info("sediment: %d gauge(s), %d warning(s)", len(rows), len(meta["warnings"]))
