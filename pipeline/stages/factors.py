"""Stages for the RUSLE/CSLE factors: R, K, LS (terrain), C (or B), P (or E, T)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from pipeline import landcover, layout
from pipeline.config import with_defaults
from pipeline.errors import InputDataError
from pipeline.io import open_raster, write_cog, write_csv
from pipeline.landcover import table_by_code
from pipeline.stages.common import chunks_2d, provenance

log = logging.getLogger("shuibao.factors")


# ----------------------------------------------------------------------------- R
_open_rain = layout.read_rain


def _to_grid(coarse: xr.DataArray, template: xr.DataArray, *, name: str, units: str):
    """Bilinear regridding of a coarse field (e.g. 0.05° R) onto the analysis grid.

    odc-geo reprojects lazily into the template's dask chunks, so the fine-grid
    result is never held in memory whole (a province-sized grid stays bounded).
    """
    from odc.geo.geobox import GeoBox
    from odc.geo.xr import xr_reproject

    geobox = GeoBox(template.shape[-2:], template.rio.transform(), template.rio.crs)
    chunks = template.chunks
    out = xr_reproject(
        coarse.chunk({d: -1 for d in coarse.dims}),
        geobox,
        resampling="bilinear",
        chunks=(chunks[-2][0], chunks[-1][0]) if chunks else (1024, 1024),
    )
    out = out.where(np.isfinite(out))
    out = out.assign_coords(x=template.x.values, y=template.y.values)
    out = out.rio.write_crs(template.rio.crs).rio.write_transform(template.rio.transform())
    out.name = name
    out.attrs = {"units": units}
    return out


def make_r(
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
    """R (MJ·mm·ha⁻¹·h⁻¹·a⁻¹) for ``year`` on the analysis grid, and half-month shares.

    R is computed at the rainfall data's own (coarse) resolution, then put on
    the grid bilinearly; a year of daily rain at 10 m would not fit in memory.
    The half-month shares of annual R (used to weight C or B) are written as
    the AOI-mean share per period (CSV) and per coarse cell (NetCDF).
    """
    from pipeline.factors import rainfall as rf

    rain = _open_rain(rain_path).load()
    if (rain < 0).any():
        raise InputDataError(f"{rain_path}: negative rainfall values")
    years_in_record = np.unique(rain["time"].dt.year.values)
    if int(year) not in years_in_record:
        raise InputDataError(
            f"{rain_path}: no daily rainfall for {year} (record has {years_in_record.tolist()})"
        )
    if len(years_in_record) < 10 and rainfall.get("method", "zhang_wenbo") == "zhang_wenbo":
        log.warning(
            "%s: the daily rainfall record has %d year(s) (%s–%s); the Zhang Wenbo α/β are "
            "meant for >= 10 years and are computed from what is there",
            rain_path,
            len(years_in_record),
            years_in_record.min(),
            years_in_record.max(),
        )
    rainfall = with_defaults("rainfall", rainfall)
    rain_year = rain.sel(time=rain["time"].dt.year == int(year))
    method = rainfall["method"]
    threshold = float(rainfall["threshold_mm"])
    mode = rainfall["mode"]
    extra_tags = {}
    if method == "zhang_wenbo":
        from pipeline.factors.rainfall_reference import reference_erosivity

        period = rainfall.get("reference_period")
        ref = reference_erosivity(
            rain,
            year=int(year),
            mode=mode,
            reference_period=tuple(period) if period else None,
            threshold_mm=threshold,
        )
        if ref["period_defaulted"]:
            log.warning(
                "rainfall.reference_period is not set: R uses all complete years %s–%s; "
                "extending the rain record will change past years' results (set the period)",
                *ref["period"],
            )
        r_half, r_coarse = ref["r_halfmonth"], ref["r_factor"]
        extra_tags = {
            "r_mode": mode,
            "r_reference_period": "{}-{}".format(*ref["period"]),
            "r_reference_period_defaulted": str(ref["period_defaulted"]),
        }
    else:
        annual = rain_year.sum("time")
        r_coarse = rf.erosivity_renard_freimund(annual)
        # No intra-annual model: shares follow half-month rainfall totals.
        period = xr.DataArray(rf.halfmonth_index(rain_year["time"]), dims="time")
        r_half = rain_year.groupby(period.rename("period")).sum("time")
    shares = ref["r_share"] if method == "zhang_wenbo" else rf.halfmonth_share(r_half)
    template = open_raster(dem_path, chunks=chunks_2d(compute))
    r_grid = _to_grid(
        r_coarse.rio.write_crs(rain.rio.crs), template, name="R", units="MJ mm ha-1 h-1 a-1"
    )
    tags = provenance("factor_r", rainfall=rainfall, method=method, year=int(year))
    tags.update(extra_tags)
    write_cog(r_grid, out_r, tags=tags)
    share_source = ref["r_share"] if method == "zhang_wenbo" else r_half
    mean_share = share_source.sum([d for d in share_source.dims if d != "period"])
    mean_share = (
        mean_share / float(mean_share.sum())
        if float(mean_share.sum()) > 0
        else mean_share * 0 + 1 / 24
    )
    write_csv(
        pd.DataFrame(
            {
                "period": mean_share["period"].values.astype(int),
                "r_share": mean_share.values.astype(float),
            }
        ),
        out_shares,
    )
    ds = xr.Dataset({"r_halfmonth": r_half.astype("float32"), "r_share": shares.astype("float32")})
    ds["r_halfmonth"].attrs["units"] = "MJ mm ha-1 h-1"
    ds["r_share"].attrs["units"] = "1"
    layout.write_netcdf(ds, out_halfmonth)
    log.info("R %s: mean %.0f MJ mm ha-1 h-1 a-1 on the grid", year, float(r_grid.mean()))


# ----------------------------------------------------------------------------- K
def make_k(*, soil_path, out_k, soil: Mapping, compute: Mapping | None = None) -> None:
    """K (t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹) from sand/silt/clay/organic carbon (EPIC, SI)."""
    from pipeline.factors import soil as sf

    texture = layout.read_soil(soil_path, chunks={"band": -1, **chunks_2d(compute)})
    # float64, then float32 on writing: numpy's float32 exp takes CPU-specific SIMD paths
    # whose last bit differs between CPUs; float64's rarely survives the cast (same bytes)
    k = sf.k_epic(**{b: v.astype("float64") for b, v in texture.items()}, units="si")
    ref = texture["sand_pct"]
    k = k.rio.write_crs(ref.rio.crs).rio.write_transform(ref.rio.transform())
    k = k.astype("float32")
    write_cog(k.rename("K"), out_k, tags=provenance("factor_k", soil=soil, method="epic"))


# ------------------------------------------------------------------------ terrain
def make_terrain(
    *, dem_path, out_slope, out_l, out_s, out_ls, terrain: Mapping, compute: Mapping | None = None
) -> None:
    """Slope (°), L, S and LS (dimensionless) from the DEM."""
    from pipeline.factors import terrain as tf

    terrain = with_defaults("terrain", terrain)
    dem = open_raster(dem_path, chunks=chunks_2d(compute))
    ds = tf.terrain_factors(
        dem,
        routing=terrain["routing"],
        m_method=terrain["m_method"],
        s_method=terrain["s_method"],
        max_slope_length_m=float(terrain["max_slope_length_m"]),
        channel_threshold_m2=terrain["channel_threshold_m2"],
    )
    if dem.size <= 200_000_000:  # ≤ 3.2 GB of results: compute once for the four files
        ds = ds.persist()
    tags = provenance("terrain", terrain=terrain)
    crs, transform = dem.rio.crs, dem.rio.transform()
    for var, path in (
        ("slope_deg", out_slope),
        ("l_factor", out_l),
        ("s_factor", out_s),
        ("ls_factor", out_ls),
    ):
        da = ds[var].rio.write_crs(crs).rio.write_transform(transform)
        write_cog(da, path, tags=tags)


# ----------------------------------------------------------------------------- C
def _ndvi_periods(ndvi_path, compute) -> xr.DataArray:
    return layout.read_ndvi(ndvi_path, chunks={"band": -1, **chunks_2d(compute)})


_shares = layout.read_r_shares


# The recipe lives in the science layer (pipeline.factors.cover); kept here under the
# names the stage has always exported.
from pipeline.factors.cover import ENDMEMBER_SAMPLE_PIXELS, endmember_sample  # noqa: E402,F401


def cover_factor(
    *,
    ndvi: xr.DataArray,
    lc: xr.DataArray,
    shares: xr.DataArray,
    cover: Mapping,
    what: str = "C",
    endmembers: Mapping | None = None,
) -> xr.DataArray:
    """Annual C (or CSLE B) for the ``cover`` config section: see
    :func:`pipeline.factors.cover.cover_from_ndvi_periods`."""
    from pipeline.factors import cover as cf

    cover = with_defaults("cover", cover)
    return cf.cover_from_ndvi_periods(
        ndvi=ndvi,
        landcover=lc,
        r_shares=shares,
        method=cover["method"],
        endmember_percentiles=tuple(cover["endmember_percentiles"]),
        table=table_by_code(cover["table"], key="cover.table"),
        nodata_code=landcover.NODATA,
        name=what,
        endmembers=endmembers,
    )


def make_c(
    *,
    ndvi_path,
    landcover_path,
    shares_path,
    out_c,
    cover: Mapping,
    what: str = "C",
    compute: Mapping | None = None,
    endmembers_path=None,
    biophysical_table=None,
    landcover_codes_path=None,
) -> None:
    # cover.method table needs no NDVI (the rule then passes no NDVI file)
    method = with_defaults("cover", cover)["method"]
    if biophysical_table:
        # every code of the raster has a usle_c row (checked below), so a class without a
        # cover.table value is overridden wherever the code raster is valid; C = 1 (bare
        # soil, the conservative bound) is left only where the majority vote of the codes
        # fell to nodata at the AOI edge but the recoded classes' did not
        table = with_defaults("cover", cover).get("table") or {}
        cover = {**cover, "table": {**dict.fromkeys(landcover.CODE_BY_KEY, 1.0), **table}}
    ndvi = None if method == "table" else _ndvi_periods(ndvi_path, compute)
    lc = open_raster(landcover_path, chunks=chunks_2d(compute))
    em = None
    tags = provenance(f"factor_{what.lower()}", cover=cover)
    if endmembers_path:  # one pair for the assessment (all periods and years, inside the AOI)
        import json

        em = json.loads(Path(endmembers_path).read_text(encoding="utf-8"))
        tags["fvc_endmembers"] = json.dumps(
            {k: em[k] for k in ("ndvi_soil", "ndvi_veg", "percentiles", "by_class")}
        )
    out = cover_factor(
        ndvi=ndvi, lc=lc, shares=_shares(shares_path), cover=cover, what=what, endmembers=em
    )
    if biophysical_table:  # the user's own codes → usle_c (pipeline/stages/biophysical.py)
        from pipeline.stages.biophysical import apply_biophysical

        out = apply_biophysical(
            out, what=what, table_path=biophysical_table, codes_path=landcover_codes_path
        )
        tags["biophysical_table"] = str(biophysical_table)
    out = out.rio.write_crs(lc.rio.crs).rio.write_transform(lc.rio.transform())
    write_cog(out.astype("float32"), out_c, tags=tags)


# ----------------------------------------------------------------------------- P
def make_p(
    *,
    landcover_path,
    out_p,
    support: Mapping,
    compute: Mapping | None = None,
    measures_path=None,
    measure_factors: Mapping | None = None,
    biophysical_table=None,
    landcover_codes_path=None,
) -> None:
    from pipeline.factors import support as sp

    lc = open_raster(landcover_path, chunks=chunks_2d(compute))
    table = with_defaults("support", support)["table"]
    p = sp.p_from_table(lc, table_by_code(table, key="support.table"))
    if biophysical_table:  # the user's own codes → usle_p, then the #15 measures hook
        from pipeline.stages.biophysical import apply_biophysical

        p = apply_biophysical(
            p, what="P", table_path=biophysical_table, codes_path=landcover_codes_path
        )
        support = {**support, "biophysical_table": str(biophysical_table)}
    if measures_path:  # treatment (#15): measures completed <= year set P where tabled
        from pipeline.stages.treatment import apply_measures_to_factor

        mf = measure_factors or {}
        p = apply_measures_to_factor(
            p, measures_path=measures_path, table=mf.get("p_table", {}),
            combine=mf.get("combine", "replace"), name="p_factor",
        )  # fmt: skip
        support = {**support, "measure_factors": mf}
    p = p.rio.write_crs(lc.rio.crs).rio.write_transform(lc.rio.transform())
    write_cog(p.rename("P").astype("float32"), out_p, tags=provenance("factor_p", support=support))
