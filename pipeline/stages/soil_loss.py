"""Stage: soil loss A (t·ha⁻¹·a⁻¹) and SL 190-2007 intensity classes."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import geopandas as gpd

from pipeline import classify, landcover, layout, raster_style
from pipeline.config import with_defaults
from pipeline.io import open_raster, write_cog
from pipeline.stages.common import aoi_mask, chunks_2d, provenance

log = logging.getLogger("shuibao.soil_loss")


def read_aoi(aoi_path, crs) -> gpd.GeoDataFrame:
    """``aoi.gpkg`` in ``crs``: :func:`pipeline.layout.read_aoi`."""
    return layout.read_aoi(aoi_path, crs)


def class_breaks(classification: Mapping) -> tuple[float, ...]:
    """The five class breaks (t·ha⁻¹·a⁻¹) of the ``classification`` config section:
    ``breaks_t_ha_yr`` when set, else those of the SL 190-2007 type ``region``. Written
    into ``intensity.tif``'s tags; everything downstream reads them from there."""
    classification = with_defaults("classification", classification)
    breaks = classification.get("breaks_t_ha_yr") or classify.class_breaks(classification["region"])
    return tuple(float(b) for b in breaks)


def make_soil_loss(
    *,
    factors: Mapping[str, str],
    landcover_path,
    aoi_path,
    out_soil_loss,
    out_intensity,
    model: str,
    classification: Mapping,
    compute: Mapping | None = None,
    class_colours: Mapping | None = None,
) -> None:
    """A = R·K·LS·C·P (rusle) or R·K·L·S·B·E·T (csle), masked to the AOI, and its classes."""
    ch = chunks_2d(compute)
    f = {name: open_raster(path, chunks=ch) for name, path in factors.items()}
    lc = open_raster(landcover_path, chunks=ch) if model == "csle" else None
    template = f["R"]
    aoi = read_aoi(aoi_path, template.rio.crs)
    inside = aoi_mask(aoi.geometry, template)
    breaks = class_breaks(classification)
    a, intensity = soil_loss_classes(f, lc=lc, inside=inside, model=model, breaks=breaks)
    write_soil_loss(
        a,
        intensity,
        lc=lc,
        factors=factors,
        out_soil_loss=out_soil_loss,
        out_intensity=out_intensity,
        model=model,
        classification=classification,
        breaks=breaks,
        class_colours=class_colours,
    )


def soil_loss_classes(f: Mapping, *, lc, inside, model: str, breaks):
    """(A, intensity) from the factor arrays ``f`` (whole grid or one tile), masked to
    ``inside``; ``lc`` = land cover (CSLE only)."""
    from pipeline.factors import soil_loss as sl

    if model == "csle":
        from pipeline.factors import csle

        a = csle.soil_loss_csle(
            r=f["R"],
            k=f["K"],
            l=f["L"],
            s=f["S"],
            b=f["B"],
            e=f["E"],
            t=f["T"],
            landcover=lc,
            cropland_codes=landcover.CROPLAND_CODES,
        )
    else:
        a = sl.soil_loss_rusle(r=f["R"], k=f["K"], ls=f["LS"], c=f["C"], p=f["P"])
    template = f["R"]
    a = a.where(inside)
    a = a.rio.write_crs(template.rio.crs).rio.write_transform(template.rio.transform())
    a.name = "soil_loss_t_ha_yr"
    a.attrs["units"] = "t ha-1 a-1"
    intensity = classify.classify_intensity(a, breaks=breaks)
    intensity = intensity.rio.write_crs(template.rio.crs).rio.write_transform(
        template.rio.transform()
    )
    return a, intensity


def write_soil_loss(
    a,
    intensity,
    *,
    lc,
    factors: Mapping[str, str],
    out_soil_loss,
    out_intensity,
    model: str,
    classification: Mapping,
    breaks,
    class_colours: Mapping | None = None,
) -> None:
    """Write soil_loss.tif and the styled intensity.tif (whole grid)."""
    tags = provenance("soil_loss", model=model, classification=classification)
    write_cog(a.astype("float32"), out_soil_loss, tags=tags)
    tags[layout.INTENSITY_BREAKS_TAG] = ",".join(f"{b:.17g}" for b in breaks)
    tags["class_convention"] = "lower <= A < upper"
    # Styled for GIS users: colour table, RAT sidecar and QGIS style (pipeline.raster_style).
    colours = raster_style.class_colours(class_colours)
    write_cog(
        intensity,
        out_intensity,
        dtype="uint8",
        nodata=classify.NODATA,
        tags=tags,
        colormap=raster_style.gdal_colormap(colours, nodata=classify.NODATA),
    )
    raster_style.write_intensity_sidecars(out_intensity, colours=colours, breaks=breaks)
    if model == "csle":
        _warn_defaulted_severe(factors, intensity, lc)
    log.info("soil loss written; breaks %s", breaks)


def _warn_defaulted_severe(factors: Mapping[str, str], intensity, lc) -> None:
    """Warn when a class whose E or T is 1 by default turns mostly 剧烈 (CSLE)."""
    import rasterio

    from pipeline.factors.measures import mostly_severe_classes

    for name in ("E", "T"):
        with rasterio.open(factors[name]) as src:
            text = src.tags().get("defaulted_codes", "")
        codes = [int(c) for c in text.split(",") if c.strip()]
        if not codes:
            continue
        severe = mostly_severe_classes(intensity, lc, codes=codes)
        for code, share in severe.items():
            log.warning(
                "CSLE: %.0f %% of %s (code %d) is 剧烈, and its %s is 1 by default "
                "(no value in csle.%s): supply measured %s values before reading the classes",
                100 * share,
                landcover.name(code, "zh"),
                code,
                name,
                "engineering_table / csle.measures"
                if name == "E"
                else "tillage_table / csle.tillage",
                name,
            )
