"""AI-generated text detection: detectors, stacked ensemble, calibration, model directory, watermark.

Beam-free core of the ``detect_ai`` / ``decide_ai`` stages and of ``tailguard detector``.
"""

from tailguard.filters.detect.base import (
    DETECTORS,
    PreparedText,
    Scorer,
    normalize_text,
    prepare,
    tokenize,
)
from tailguard.filters.detect.ensemble import (
    AIDetector,
    AIScore,
    EnsembleConfig,
    calibrate_threshold,
    load_detector,
    train_detector,
)
from tailguard.filters.detect.model_dir import (
    ModelInfo,
    localize_model_dir,
    read_model_info,
)

__all__ = [
    "DETECTORS",
    "AIDetector",
    "AIScore",
    "EnsembleConfig",
    "ModelInfo",
    "PreparedText",
    "Scorer",
    "calibrate_threshold",
    "load_detector",
    "localize_model_dir",
    "normalize_text",
    "prepare",
    "read_model_info",
    "tokenize",
    "train_detector",
]
