"""Optimization failure: where training from random initialisation ends, observed against the
gradient-flow basins of the catalogue's critical points (docs/failure.md).

``analysis`` (training, matching, the gradient-flow prediction) and ``plot`` (its figures).
"""

from theory.failure.analysis import (
    DEFAULT_LR,
    BasinPrediction,
    FailureConfig,
    FailureResult,
    analyze_failure,
    fractions,
    gradient_flow,
    match_endpoints,
    predict_basins,
    random_starts,
)

__all__ = ["DEFAULT_LR", "BasinPrediction", "FailureConfig", "FailureResult", "analyze_failure", "fractions",
           "gradient_flow", "match_endpoints", "predict_basins", "random_starts"]
