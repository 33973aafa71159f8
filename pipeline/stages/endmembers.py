"""Stage: NDVI end-members of the pixel dichotomy, fixed for the whole assessment.

Reads every assessment year's half-month NDVI (a strided sample, bounded memory), keeps
the pixels inside the AOI, and writes one JSON that each year's C (or B) job reads, so
FVC — and hence C — is comparable across periods and years.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np

from pipeline.io import atomic_path, open_raster
from pipeline.stages.common import aoi_mask, chunks_2d, provenance
from pipeline.stages.factors import ENDMEMBER_SAMPLE_PIXELS, _ndvi_periods


def make_fvc_endmembers(
    *,
    ndvi_paths: Sequence,
    landcover_paths: Sequence,
    aoi_path,
    out_json,
    cover: Mapping,
    compute: Mapping | None = None,
) -> None:
    """Write ``{ndvi_soil, ndvi_veg, by_class, …}`` pooled over all years' NDVI in the AOI."""
    from pipeline.factors import cover as cf

    by_class = bool(cover.get("endmember_by_landcover", False))
    lo, hi = (float(v) for v in cover.get("endmember_percentiles", [5.0, 95.0]))
    geoms = gpd.read_file(aoi_path).geometry
    per_year = max(1, ENDMEMBER_SAMPLE_PIXELS // max(1, len(ndvi_paths)))
    scenes, inside, lcs = [], [], []
    for i, path in enumerate(ndvi_paths):
        ndvi = _ndvi_periods(path, compute)
        n = ndvi.sizes["y"] * ndvi.sizes["x"]
        stride = max(1, int(np.ceil(np.sqrt(n / per_year))))
        sub = {"y": slice(None, None, stride), "x": slice(None, None, stride)}
        mask = aoi_mask(geoms.to_crs(ndvi.rio.crs), ndvi.isel(period=0))
        scenes.append(ndvi.isel(**sub).compute())
        inside.append(mask.isel(**sub).compute())
        if by_class:
            lc = open_raster(landcover_paths[i], chunks=chunks_2d(compute))
            lcs.append(lc.isel(**sub).compute())
    em = cf.pooled_ndvi_endmembers(
        scenes,
        inside=inside,
        landcover=lcs if by_class else None,
        percentiles=(lo, hi),
    )
    em["by_landcover"] = by_class
    em["provenance"] = provenance("fvc_endmembers", cover=cover)
    em["ndvi_files"] = [str(p) for p in ndvi_paths]
    with atomic_path(out_json) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(em, fh, ensure_ascii=False, indent=1)
