"""SL 190-2007 water-erosion intensity classification (水力侵蚀强度分级) of soil loss.

The tables (class codes, names, tolerable losses, breaks) live in the base layer,
:mod:`pipeline.sl190`, and are re-exported here; this module classifies rasters.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pipeline.sl190 import (  # noqa: F401  (re-exported: the public tables)
    BOUNDARY_CONVENTION,
    BOUNDARY_CONVENTION_ZH,
    CLASS_CODES,
    CLASSES,
    EROSION_CODES,
    NODATA,
    REGION_NAMES,
    TOLERABLE_LOSS_T_HA_YR,
    UPPER_BREAKS_T_HA_YR,
    _check_breaks,
    _check_code,
    class_breaks,
    class_en,
    class_key,
    class_zh,
)


def classify_intensity(
    soil_loss_t_ha_yr: xr.DataArray,
    *,
    region: str = "south_red_soil",
    breaks: tuple[float, ...] | None = None,
) -> xr.DataArray:
    """Classify soil loss (t·ha⁻¹·a⁻¹) into SL 190-2007 intensity codes 1–6.

    A pixel belongs to class k when ``breaks[k-2] <= A < breaks[k-1]`` (lower
    inclusive, upper exclusive); A below the first break is 微度 (1), A at or
    above 150 is 剧烈 (6). NaN (nodata) stays NaN. Elementwise, so dask inputs
    stay lazy and chunks are kept.

    Parameters
    ----------
    soil_loss_t_ha_yr : xarray.DataArray
        Mean annual soil loss A, t·ha⁻¹·a⁻¹; NaN for nodata.
    region : str
        SL 190-2007 type region; sets the 微度/轻度 break to its tolerable loss.
    breaks : sequence of 5 floats, optional
        Researcher override of all five breaks, t·ha⁻¹·a⁻¹, strictly ascending.

    Returns
    -------
    xarray.DataArray
        float32 class codes 1–6 (NaN for nodata; cast to uint8 with nodata 255
        when written), ``attrs["units"] = "1"`` and the breaks used in
        ``attrs["class_breaks_t_ha_yr"]``. Classes: SL 190-2007 (Ministry of
        Water Resources of the PRC, 2008, 土壤侵蚀分类分级标准, Table 水力侵蚀强度分级).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = xr.DataArray(np.array([[0.0, 5.0, 24.9, 25.0, 150.0, np.nan]]), dims=("y", "x"))
    >>> classify_intensity(a).values.tolist()
    [[1.0, 2.0, 2.0, 3.0, 6.0, nan]]
    """
    breaks_override = breaks
    breaks = _check_breaks(breaks) if breaks is not None else class_breaks(region)
    edges = np.asarray(breaks, dtype="float64")

    def _classify(a):
        codes = (np.digitize(a, edges, right=False) + 1).astype("float32")
        return np.where(np.isnan(a), np.float32(np.nan), codes)

    out = xr.apply_ufunc(
        _classify, soil_loss_t_ha_yr, dask="parallelized", output_dtypes=[np.float32]
    )
    out.name = "intensity_class"
    out.attrs = {
        "units": "1",
        "long_name": "SL 190-2007 water-erosion intensity class (1 微度 … 6 剧烈)",
        "class_breaks_t_ha_yr": list(breaks),
        "convention": BOUNDARY_CONVENTION,
        "type_region": region if breaks_override is None else "custom",
    }
    return out
