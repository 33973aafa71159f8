"""Machine-learning erosion-intensity map and accuracy assessment.

- :mod:`pipeline.ml.features`: feature stack, survey-layer validation, sampling at points;
- :mod:`pipeline.ml.train`: scikit-learn classifiers (random forest, histogram gradient
  boosting) with class weighting and a fixed seed;
- :mod:`pipeline.ml.spatial_cv`: spatial (block) vs random cross-validation, block size from
  the variogram range;
- :mod:`pipeline.ml.predict`: chunked per-pixel prediction (dask ``map_blocks``);
- :mod:`pipeline.ml.model_io`: safe model files (skops) with a JSON metadata sidecar;
- :mod:`pipeline.ml.accuracy`: Olofsson et al. (2014) error-adjusted areas with 95 % CIs,
  and the agreement matrix of two class maps.
"""

from pipeline.ml.accuracy import (
    agreement_matrix,
    class_areas,
    confusion_counts,
    error_adjusted_areas,
)
from pipeline.ml.features import (
    build_feature_stack,
    read_survey,
    sample_at_points,
    validate_survey,
)
from pipeline.ml.model_io import load_model, save_model
from pipeline.ml.predict import predict_map
from pipeline.ml.spatial_cv import spatial_cv
from pipeline.ml.train import train_classifier, training_data_hash

__all__ = [
    "agreement_matrix",
    "build_feature_stack",
    "class_areas",
    "confusion_counts",
    "error_adjusted_areas",
    "load_model",
    "predict_map",
    "read_survey",
    "sample_at_points",
    "save_model",
    "spatial_cv",
    "train_classifier",
    "training_data_hash",
    "validate_survey",
]
