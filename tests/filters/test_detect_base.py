"""Normalisation removes the dataset shortcuts; metrics and calibration behave as documented."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.filters.detect.ai_decision import decide_ai
from tailguard.filters.detect.base import DETECTORS, normalize_text, prepare, tokenize
from tailguard.filters.detect.ensemble import (
    EnsembleConfig,
    _features_with_progress,
    calibrate_threshold,
    stack_columns,
)
from tailguard.filters.detect.logistic import fit_logistic
from tailguard.filters.detect.metrics import auroc, tpr_at_fpr


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("He said\nhello.\n\nThen left.", "he said hello. then left."),
        ("I do n't know , he said .", "I don't know, he said."),
        ("It 's fine", "It's fine"),
        ("Great food.nnThe staff", "Great food. The staff"),
        ("zero\u200bwidth", "zerowidth"),
    ],
    ids=[
        "newlines_and_case",
        "split_contraction",
        "split_clitic",
        "yelp_nn_marker",
        "zero_width",
    ],
)
def test_normalize_text_removes_shortcut(a: str, b: str) -> None:
    assert normalize_text(a) == normalize_text(b)


def test_tokenize_keeps_contractions_and_splits_punctuation() -> None:
    assert tokenize("don't stop, now.") == ["don't", "stop", ",", "now", "."]


def test_auroc_perfect_random_and_ties() -> None:
    assert auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auroc([0.5, 0.5], [0, 1]) == 0.5
    assert auroc([0.3], [1]) is None


def test_tpr_at_fpr_uses_strict_threshold_above_allowed_negatives() -> None:
    scores = np.r_[np.linspace(0, 1, 100), np.full(10, 0.995)]
    labels = np.r_[np.zeros(100), np.ones(10)]
    assert tpr_at_fpr(scores, labels, 0.005) == 0.0  # no negative may score above: threshold > 1.0
    assert tpr_at_fpr(scores, labels, 0.01) == 1.0  # one negative (1.0) allowed above: threshold > 0.9899


def test_calibrate_threshold_bounds_fpr() -> None:
    human = np.random.default_rng(0).random(1000)
    for fpr in (0.01, 0.05):
        t = calibrate_threshold(human, fpr)
        assert (human >= t).mean() <= fpr
        assert (human >= t).mean() > fpr - 0.002


def test_logistic_regression_separates_shifted_gaussians() -> None:
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(0, 1, (300, 3)), rng.normal(1.5, 1, (300, 3))]
    y = np.r_[np.zeros(300), np.ones(300)]
    model = fit_logistic(x, y)
    assert auroc(model.predict_proba(x), y) > 0.9


_NAMES = [
    "fasttext_p_ai",
    "fasttext_logit",
    "ngram_llr_mean",
    "ngram_oov_rate",
    "compression_dict_gain",
    "stylometry_score",
    "ttr_100",
    "fw_the",
]


@pytest.mark.parametrize(
    ("feature_set", "kept"),
    [
        ("all", _NAMES),
        ("no_fasttext", _NAMES[2:]),
        ("scores", ["fasttext_logit", "ngram_llr_mean", "compression_dict_gain", "stylometry_score"]),
        ("lr_compression", ["ngram_llr_mean", "ngram_oov_rate", "compression_dict_gain"]),
        ("no_stylometry_raw", _NAMES[:6]),
    ],
)
def test_stack_columns_select_feature_set(feature_set: str, kept: list[str]) -> None:
    assert [_NAMES[i] for i in stack_columns(_NAMES, feature_set)] == kept


def test_ensemble_config_rejects_unknown_stack_feature_set() -> None:
    with pytest.raises(ValueError, match="stack_features"):
        EnsembleConfig(stack_features="everything")


@pytest.mark.parametrize(
    ("score", "z", "reason"),
    [
        (0.9, None, "ai_generated"),
        (0.1, None, None),
        (0.1, 5.0, "ai_generated"),
        (None, None, None),
    ],
    ids=["over_threshold", "under_threshold", "watermarked", "unscored"],
)
def test_decide_ai_verdict(score: float | None, z: float | None, reason: str | None) -> None:
    assert decide_ai(score, z, threshold=0.5, watermark_z_threshold=4.0).reason == reason


def test_decide_ai_marks_only_the_confident_end_confident() -> None:
    def verdict(score: float) -> tuple[str | None, bool]:
        decision = decide_ai(score, None, threshold=0.5, watermark_z_threshold=4.0, confident_threshold=0.9)
        return decision.reason, decision.confident

    assert verdict(0.4) == (None, False)
    assert verdict(0.6) == ("ai_generated", False)
    assert verdict(0.95) == ("ai_generated", True)
    assert decide_ai(0.1, 5.0, 0.5, 4.0, 0.9).confident  # a watermark hit is always confident


def test_features_with_progress_matches_one_call_and_says_how_far() -> None:
    texts = [f"Document {i} says {'very ' * (i % 7)}little about item {i * 13 % 29}." for i in range(23)]
    docs = prepare(texts)
    detector = DETECTORS["stylometry"].train(docs, [i % 2 for i in range(len(texts))], {})
    said: list[str] = []
    got = _features_with_progress(detector, docs, said.append, every=5)
    assert np.array_equal(got, detector.features(docs))
    assert len(said) == 4  # after 5, 10, 15 and 20 of 23 texts; nothing once done
    assert said[0].startswith("stylometry features: 5/23 texts")
