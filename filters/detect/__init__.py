"""AI-generated text detection: detectors, stacked ensemble, calibration, model directory, watermark.

Beam-free core of the ``detect_ai`` / ``decide_ai`` stages and of ``tailguard detector``.

The names below load their submodule on first use (PEP 562), so importing a light submodule such as
``tailguard.filters.detect.model_dir`` (as config validation does) does not load the ensemble and its
detectors (fastText, the n-gram and language-model tiers).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from tailguard.filters.detect.model_dir import ModelInfo, localize_model_dir, read_model_info

_EXPORTS = {
    "DETECTORS": "base",
    "PreparedText": "base",
    "Scorer": "base",
    "normalize_text": "base",
    "prepare": "base",
    "tokenize": "base",
    "AIDetector": "ensemble",
    "AIScore": "ensemble",
    "EnsembleConfig": "ensemble",
    "calibrate_threshold": "ensemble",
    "load_detector": "ensemble",
    "train_detector": "ensemble",
    "ModelInfo": "model_dir",
    "localize_model_dir": "model_dir",
    "read_model_info": "model_dir",
}

__all__ = [
    "AIDetector",
    "AIScore",
    "DETECTORS",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
