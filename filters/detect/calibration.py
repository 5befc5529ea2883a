"""Re-calibrate a trained detector on text its user knows is human, and audit the human side.

Thresholds calibrated on the development data do not transfer to another crawl (issue 16: 4 % FPR
instead of 1 % on unseen sources).  :func:`recalibrate` re-fits, per tier, the Platt scaling and the
FPR thresholds on the user's own human text, e.g. a pre-2022 slice of the same crawl:

* Platt: a weighted logistic fit of the human texts' stacker logits (label 0) against the 101
  quantiles of the calib-fold AI logits stored in the model (label 1), both classes at equal total
  weight (the balance of training) — human text alone cannot place the AI side;
* thresholds: the ai_score above which at most ``fpr`` of the human texts fall
  (:func:`~.ensemble.calibrate_threshold`), at every target FPR;
* with an LM tier: the full tier the same way, then the alignment onto the cheap tier's thresholds
  and the cascade band (same width in logit units, re-centred on the new threshold).

:func:`human_registers` names the human registers the eval and calibrate reports audit (short
texts, learner / non-native writing, student essays, technical abstracts, simple prose).

Elements in: texts (+ optional domains).  Out: a new :class:`~.model_dir.ModelInfo`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from tailguard.filters.detect.base import PreparedText, prepare
from tailguard.filters.detect.ensemble import (
    AIDetector,
    TierModel,
    _fit_platt,
    _logit,
    calibrate_threshold,
    threshold_alignment,
)
from tailguard.filters.detect.logistic import sigmoid
from tailguard.filters.detect.model_dir import ModelInfo

__all__ = [
    "HUMAN_REGISTERS",
    "human_registers",
    "recalibrate",
    "register_fpr_report",
]

#: Domains of ``shared/data/detect`` (and any user data using the same names) by register.
_LEARNER = {"learner_essay_ellipse", "learner_short_answer_cefrasag"}
_STUDENT = {"student_essay_persuade"}
_TECHNICAL = {"arxiv_abstract", "academic_research", "technical_writing", "pubmedqa_answer", "medical_text"}
HUMAN_REGISTERS = ("short_text", "learner_nonnative", "student_essay", "technical_abstract", "simple_prose")

_SENTENCE = re.compile(r"[.!?]+(?:\s|$)")
_WORD = re.compile(r"[A-Za-z]+")


def _is_simple_prose(text: str) -> bool:
    # "Simple prose" by readability: short sentences of short words (mean sentence length <= 14
    # words and mean word length <= 4.3 letters, roughly Flesch-Kincaid grade <= 6 territory).
    words = _WORD.findall(text)
    if len(words) < 50:
        return False
    sentences = max(len(_SENTENCE.findall(text)), 1)
    return len(words) / sentences <= 14 and sum(map(len, words)) / len(words) <= 4.3


def human_registers(text: str, domain: str) -> list[str]:
    """Return the :data:`HUMAN_REGISTERS` a document belongs to (possibly several, possibly none)."""
    out = []
    if len(text.split()) < 50:
        out.append("short_text")
    if domain in _LEARNER:
        out.append("learner_nonnative")
    if domain in _STUDENT:
        out.append("student_essay")
    if domain in _TECHNICAL:
        out.append("technical_abstract")
    if _is_simple_prose(text):
        out.append("simple_prose")
    return out


def register_fpr_report(
    scores: np.ndarray, labels: np.ndarray, texts: Sequence[str], domains: Sequence[str], threshold: float
) -> dict[str, Any]:
    """FPR at ``threshold`` per human register and its ratio to the overall FPR.

    Returns:
        ``{"overall_fpr", "per_register": {name: {n_human, threshold_fpr, ratio_to_overall}},
        "worst_ratio": {register, ratio} | None}`` (registers with < 20 humans get no ratio).
    """
    human = labels == 0
    overall = float((scores[human] >= threshold).mean()) if human.any() else None
    members: dict[str, list[int]] = {name: [] for name in HUMAN_REGISTERS}
    for i in (int(j) for j in np.flatnonzero(human)):
        for name in human_registers(texts[i], domains[i]):
            members[name].append(int(i))
    per: dict[str, Any] = {}
    for name in HUMAN_REGISTERS:
        idx = np.array(members[name], dtype=int)
        fpr = float((scores[idx] >= threshold).mean()) if len(idx) else None
        ratio = None
        if fpr is not None and overall and len(idx) >= 20:
            ratio = round(fpr / overall, 3)
        per[name] = {
            "n_human": len(idx),
            "threshold_fpr": None if fpr is None else round(fpr, 4),
            "ratio_to_overall": ratio,
        }
    rated = [(v["ratio_to_overall"], k) for k, v in per.items() if v["ratio_to_overall"] is not None]
    worst = max(rated) if rated else None
    return {
        "overall_fpr": None if overall is None else round(overall, 4),
        "per_register": per,
        "worst_ratio": None if worst is None else {"register": worst[1], "ratio": worst[0]},
    }


def _refit_tier(
    logits: np.ndarray, ai_logits: Sequence[float], target_fprs: Sequence[float]
) -> tuple[tuple[float, float], dict[str, float]]:
    ai = np.asarray(ai_logits, dtype=np.float64)
    if len(ai) == 0:
        raise ValueError("the model stores no calib-fold AI logits (trained before calibrate existed): retrain it")
    x = np.concatenate([logits, ai])
    y = np.concatenate([np.zeros(len(logits)), np.ones(len(ai))])
    w = np.concatenate([np.full(len(logits), 1.0 / len(logits)), np.full(len(ai), 1.0 / len(ai))])
    platt = _fit_platt(x, y, w)
    scores = sigmoid(platt[0] * logits + platt[1])
    return platt, {f"{f:g}": calibrate_threshold(scores, f) for f in target_fprs}


def recalibrate(
    detector: AIDetector,
    human_docs: Sequence[PreparedText],
    target_fprs: Sequence[float],
    default_fpr: float,
    lm_docs: Sequence[PreparedText] | None = None,
    provenance: dict[str, Any] | None = None,
) -> ModelInfo:
    """Return a copy of ``detector.info`` re-calibrated on human text (see the module docstring).

    Args:
        detector: The loaded model.
        human_docs: Prepared human texts (calibration set).
        target_fprs: FPRs to calibrate thresholds at (must include ``default_fpr``).
        default_fpr: The threshold the pipeline uses by default afterwards.
        lm_docs: Human texts the LM tier scores to re-calibrate the full tier (default: ``human_docs``;
            a subsample keeps the cost down).  Ignored without an LM tier.
        provenance: What to record under ``tiers["calibration"]`` / ``metrics["calibration"]``.

    Returns:
        The new :class:`ModelInfo` (the caller saves it next to copies of the detector files).

    Raises:
        ValueError: Fewer than 100 human texts, or the model lacks what re-calibration needs.
    """
    if len(human_docs) < 100:
        raise ValueError(f"calibration needs at least 100 human texts, got {len(human_docs)}")
    if default_fpr not in target_fprs:
        raise ValueError("target_fprs must include default_fpr")
    info = copy.deepcopy(detector.info)
    before = dict(info.thresholds)
    cheap_names = [d.name for d in detector.detectors if d.name not in detector.lm_names]
    blocks = [
        d.features(human_docs) if d.name in cheap_names else np.zeros((len(human_docs), len(d.feature_names)))
        for d in detector.detectors
    ]
    feats = np.hstack(blocks)
    record: dict[str, Any] = {"human_rows": len(human_docs), "thresholds_before": before, **(provenance or {})}
    if not detector.has_lm:
        logits = detector.stacker.decision(feats)
        ai_logits = info.tiers.get("ai_logits", [])
        platt, thresholds = _refit_tier(logits, ai_logits, target_fprs)
        info.platt = {"a": platt[0], "b": platt[1]}
        info.thresholds = thresholds
    else:
        assert detector.cheap is not None
        cheap = detector.cheap
        logits = cheap.stacker.decision(feats)
        platt, thresholds = _refit_tier(logits, cheap.ai_logits, target_fprs)
        old_t = float(_logit(cheap.thresholds[f"{info.default_fpr:g}"]))
        new_cheap = TierModel(cheap.stacker, platt, thresholds, cheap.ai_logits)
        # full tier on the LM subsample
        docs = list(lm_docs) if lm_docs is not None else list(human_docs)
        full_feats = np.hstack([d.features(docs) for d in detector.detectors])
        full_logits = detector.stacker.decision(full_feats)
        full_platt, full_thresholds = _refit_tier(full_logits, info.tiers["ai_logits"], target_fprs)
        info.platt = {"a": full_platt[0], "b": full_platt[1]}
        info.thresholds = thresholds
        tiers = info.tiers
        tiers["cheap"] = new_cheap.to_json()
        tiers["full"] = {**tiers["full"], "thresholds": full_thresholds}
        tiers["alignment"] = threshold_alignment(full_thresholds, thresholds)
        # cascade band: same width in (old) ai_score logit units, re-centred on the new threshold
        lo, hi = tiers["cascade"]["band"]
        new_t = float(_logit(thresholds[f"{default_fpr:g}"]))
        tiers["cascade"]["band"] = [
            float(sigmoid(np.array(new_t - (old_t - float(_logit(lo)))))),
            float(sigmoid(np.array(new_t + (float(_logit(hi)) - old_t)))),
        ]
        record["lm_rows"] = len(docs)
    info.default_fpr = default_fpr
    info.config = {**info.config, "target_fprs": sorted(set(target_fprs)), "default_fpr": default_fpr}
    record["thresholds_after"] = dict(info.thresholds)
    info.tiers = {**info.tiers, "calibration": record}
    info.metrics = {**info.metrics, "calibration": record}
    return info


def prepare_texts(texts: Sequence[str], detector: AIDetector) -> list[PreparedText]:
    """Prepare ``texts`` the way ``detector`` scores them."""
    return prepare(texts, detector.max_chars)
