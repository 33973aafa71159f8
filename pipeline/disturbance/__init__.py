"""Construction-disturbance supervision (扰动图斑): detection, patches and compliance.

Science layer: imports only the base modules and other science (``pipeline.stats``).

- :mod:`pipeline.disturbance.indices` — NDVI and BSI of seasonal Sentinel-2 composites and
  the per-year surface state (vegetated / bare) from several seasons.
- :mod:`pipeline.disturbance.detect` — change classes between two years, morphological
  clean-up, minimum mapping unit, patches (labels, polygons, attributes).
- :mod:`pipeline.disturbance.compliance` — overlay with the approved projects'
  prevention-responsibility boundaries (防治责任范围), human-induced soil loss with bare-soil
  C, and the optional 水土保持补偿费 estimate.
"""

from pipeline.disturbance.compliance import (
    COMPLIANCE_CATEGORIES,
    assess_compliance,
    compensation_fee_yuan,
    patch_soil_loss_t,
)
from pipeline.disturbance.detect import (
    CHANGE_CODES,
    change_classes,
    clean_mask,
    detect_patches,
    first_visible_period,
    label_patches,
    patch_polygons,
)
from pipeline.disturbance.indices import (
    BANDS,
    SEASONS,
    bsi,
    ndvi,
    stack_seasons,
    year_state,
)

__all__ = [
    "BANDS",
    "CHANGE_CODES",
    "COMPLIANCE_CATEGORIES",
    "SEASONS",
    "assess_compliance",
    "bsi",
    "change_classes",
    "clean_mask",
    "compensation_fee_yuan",
    "detect_patches",
    "first_visible_period",
    "label_patches",
    "ndvi",
    "patch_polygons",
    "patch_soil_loss_t",
    "stack_seasons",
    "year_state",
]
