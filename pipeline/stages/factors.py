"""Stages for the RUSLE/CSLE factors: R, K, LS (terrain), C (or B), P (or E, T)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from pipeline import landcover
from pipeline.errors import InputDataError
from pipeline.io import open_raster, write_cog, write_csv
from pipeline.stages.common import chunks_2d, provenance, table_by_code

log = logging.getLogger("shuibao.factors")


# ----------------------------------------------------------------------------- R
def _open_rain(rain_path: str | Path) -> xr.DataArray:
    path = Path(rain_path)
    if not path.exists():
        raise InputDataError(f"rainfall file not found: {path}")
    ds = xr.open_dataset(path, decode_coords="all")
    if "precipitation" not in ds:
        raise InputDataError(f"{path}: expected a variable 'precipitation' (mm/day)")
    rain = ds["precipitation"]
    if rain.rio.crs is None and "spatial_ref" in ds.variables:
        attrs = ds["spatial_ref"].attrs
        wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
        if wkt:
            rain = rain.rio.write_crs(wkt)
    if rain.rio.crs is None:
        raise InputDataError(f"{path}: the rainfall grid has no CRS (write it with rioxarray)")
    rain.attrs.setdefault("units", "mm d-1")
    return rain


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
    rain_year = rain.sel(time=rain["time"].dt.year == int(year))
    method = rainfall.get("method", "zhang_wenbo")
    threshold = float(rainfall.get("threshold_mm", 12.0))
    mode = rainfall.get("mode", "reference_mean")
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
    from pipeline.io import atomic_path

    with atomic_path(out_halfmonth) as tmp:
        ds.to_netcdf(tmp)
    log.info("R %s: mean %.0f MJ mm ha-1 h-1 a-1 on the grid", year, float(r_grid.mean()))


# ----------------------------------------------------------------------------- K
def make_k(*, soil_path, out_k, soil: Mapping, compute: Mapping | None = None) -> None:
    """K (t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹) from sand/silt/clay/organic carbon (EPIC, SI)."""
    from pipeline.factors import soil as sf

    texture = open_raster(soil_path, chunks={"band": -1, **chunks_2d(compute)})
    bands = [str(b) for b in texture["band"].values]
    need = ["sand_pct", "silt_pct", "clay_pct", "organic_carbon_pct"]
    missing = [b for b in need if b not in bands]
    if missing:
        raise InputDataError(f"{soil_path}: missing soil band(s) {missing}; bands are {bands}")
    k = sf.k_epic(
        sand_pct=texture.sel(band="sand_pct", drop=True),
        silt_pct=texture.sel(band="silt_pct", drop=True),
        clay_pct=texture.sel(band="clay_pct", drop=True),
        organic_carbon_pct=texture.sel(band="organic_carbon_pct", drop=True),
        units="si",
    )
    k = k.rio.write_crs(texture.rio.crs).rio.write_transform(texture.rio.transform())
    write_cog(k.rename("K"), out_k, tags=provenance("factor_k", soil=soil, method="epic"))


# ------------------------------------------------------------------------ terrain
def make_terrain(
    *, dem_path, out_slope, out_l, out_s, out_ls, terrain: Mapping, compute: Mapping | None = None
) -> None:
    """Slope (°), L, S and LS (dimensionless) from the DEM."""
    from pipeline.factors import terrain as tf

    dem = open_raster(dem_path, chunks=chunks_2d(compute))
    ds = tf.terrain_factors(
        dem,
        routing=terrain.get("routing", "d8"),
        m_method=terrain.get("m_method", "china"),
        s_method=terrain.get("s_method", "china"),
        max_slope_length_m=float(terrain.get("max_slope_length_m", 300.0)),
        channel_threshold_m2=terrain.get("channel_threshold_m2"),
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
    ndvi = open_raster(ndvi_path, chunks={"band": -1, **chunks_2d(compute)})
    if "band" not in ndvi.dims or ndvi.sizes["band"] != 24:
        raise InputDataError(
            f"{ndvi_path}: expected 24 half-month NDVI bands, got {dict(ndvi.sizes)}"
        )
    ndvi = ndvi.rename(band="period").assign_coords(period=np.arange(1, 25))
    ndvi.attrs["units"] = "1"
    return ndvi


def _shares(shares_path) -> xr.DataArray:
    df = pd.read_csv(shares_path, encoding="utf-8-sig")
    return xr.DataArray(
        df["r_share"].to_numpy(float), dims="period", coords={"period": df["period"].to_numpy(int)}
    )


ENDMEMBER_SAMPLE_PIXELS = 2_000_000


def endmember_sample(ndvi: xr.DataArray, *, max_pixels: int = ENDMEMBER_SAMPLE_PIXELS):
    """A systematic (strided) sample of ≤ ``max_pixels`` pixels per period, in memory.

    The NDVI percentiles of the pixel dichotomy are global statistics; reading the
    whole cube once and taking a regular grid sample keeps memory bounded for any
    grid size. With ≥ 10⁶ pixels per period the 5/95 % percentiles of the sample
    differ from those of the full scene by far less than 0.01 NDVI; below
    ``max_pixels`` the sample is the whole scene (exact).
    """
    n = ndvi.sizes["y"] * ndvi.sizes["x"]
    stride = max(1, int(np.ceil(np.sqrt(n / max_pixels))))
    return ndvi.isel(y=slice(None, None, stride), x=slice(None, None, stride)).compute()


def cover_factor(
    *,
    ndvi: xr.DataArray,
    lc: xr.DataArray,
    shares: xr.DataArray,
    cover: Mapping,
    what: str = "C",
    endmembers: Mapping | None = None,
) -> xr.DataArray:
    """Annual C (or CSLE B): R-weighted mean of half-month values, table overrides.

    ``endmembers``: the assessment's pooled NDVI end-members
    (:func:`pipeline.factors.cover.pooled_ndvi_endmembers`); None = per-scene percentiles.
    """
    from pipeline.factors import cover as cf

    method = cover.get("method", "cai2000")
    table = table_by_code(cover.get("table", {}), key="cover.table")
    if method == "table":
        out = cf.c_from_table(lc, table)
    else:
        if method == "cai2000":
            lo, hi = cover.get("endmember_percentiles", [5.0, 95.0])
            if endmembers is not None:
                ndvi_soil, ndvi_veg = cf.endmember_maps(lc, endmembers=endmembers)
            else:
                ndvi_soil, ndvi_veg = cf.ndvi_endmembers(
                    endmember_sample(ndvi), percentiles=(float(lo), float(hi))
                )
            fvc = cf.fvc_pixel_dichotomy(ndvi, ndvi_soil=ndvi_soil, ndvi_veg=ndvi_veg)
            per_period = cf.c_cai2000(fvc)
        else:
            per_period = cf.c_van_der_knijff(ndvi)
        out = cf.r_weighted_mean(per_period, weights=shares)
        for code, value in table.items():
            out = out.where(lc != code, value)
    out = out.where(np.isfinite(lc) & (lc != landcover.NODATA))
    out.name = what
    out.attrs["units"] = "1"
    return out


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
) -> None:
    # cover.method table needs no NDVI (the rule then passes no NDVI file)
    ndvi = None if cover.get("method") == "table" else _ndvi_periods(ndvi_path, compute)
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
    out = out.rio.write_crs(lc.rio.crs).rio.write_transform(lc.rio.transform())
    write_cog(out.astype("float32"), out_c, tags=tags)


# ----------------------------------------------------------------------------- P
def make_p(*, landcover_path, out_p, support: Mapping, compute: Mapping | None = None) -> None:
    from pipeline.factors import support as sp

    lc = open_raster(landcover_path, chunks=chunks_2d(compute))
    p = sp.p_from_table(lc, table_by_code(support.get("table", {}), key="support.table"))
    p = p.rio.write_crs(lc.rio.crs).rio.write_transform(lc.rio.transform())
    write_cog(p.rename("P").astype("float32"), out_p, tags=provenance("factor_p", support=support))


def make_e_t(
    *, landcover_path, out_e, out_t, csle: Mapping, compute: Mapping | None = None
) -> None:
    """CSLE E (engineering measures) and T (tillage) from land-cover tables."""
    from pipeline.factors import csle as cs

    lc = open_raster(landcover_path, chunks=chunks_2d(compute))
    e = cs.e_from_table(
        lc, table_by_code(csle.get("engineering_table", {}), key="csle.engineering_table")
    )
    t = cs.t_from_table(
        lc,
        table_by_code(csle.get("tillage_table", {}), key="csle.tillage_table"),
        cropland_codes=landcover.CROPLAND_CODES,
    )
    tags = provenance("factor_e_t", csle=csle)
    for da, path, nm in ((e, out_e, "E"), (t, out_t, "T")):
        da = da.where(np.isfinite(lc) & (lc != landcover.NODATA))
        da = da.rio.write_crs(lc.rio.crs).rio.write_transform(lc.rio.transform())
        write_cog(da.rename(nm).astype("float32"), path, tags=tags)
