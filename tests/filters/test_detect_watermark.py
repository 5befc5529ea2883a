"""Watermark round trip: text from the reference generator is found with its key and only with it."""

from __future__ import annotations

import pytest

from tailguard.filters.detect.watermark import (
    BigramGenerator,
    WatermarkConfig,
    WatermarkDetector,
)
from tests.filters.detect_helpers import real_subset, synthetic_rows


@pytest.fixture(scope="module")
def generator() -> BigramGenerator:
    return BigramGenerator([r["text"] for r in synthetic_rows(200, seed=3)] * 2, vocab_size=500)


def test_watermarked_text_has_high_z(generator: BigramGenerator) -> None:
    config = WatermarkConfig(key="k1", gamma=0.25)
    for seed in range(3):
        text = generator.generate(200, seed=seed, config=config, delta=4.0)
        result = WatermarkDetector(config).test(text.upper().replace(" ", "\n"))  # survives case/newlines
        assert result.z > 4 and result.watermarked


def test_unwatermarked_and_wrong_key_give_small_z(generator: BigramGenerator) -> None:
    config = WatermarkConfig(key="k1")
    plain = generator.generate(200, seed=7)
    marked = generator.generate(200, seed=8, config=config, delta=4.0)
    assert abs(WatermarkDetector(config).test(plain).z) < 3
    assert abs(WatermarkDetector(WatermarkConfig(key="other")).test(marked).z) < 3


def test_human_text_from_shared_data_is_not_watermarked() -> None:
    rows = [r for r in real_subset("hc3plus_en_si", "test", 0.1) if r.label == 0][:200]
    detector = WatermarkDetector(WatermarkConfig(key="k1"))
    zs = [detector.test(r.text).z for r in rows]
    assert sum(z >= 4 for z in zs) <= 1
    assert abs(sum(zs) / len(zs)) < 0.5


def test_watermark_round_trip_on_real_text_lm() -> None:
    corpus = [r.text for r in real_subset("hc3plus_en_si", "train", 0.15) if r.label == 0]
    generator = BigramGenerator(corpus, vocab_size=1500)
    config = WatermarkConfig(key="secret", gamma=0.25)
    marked = generator.generate(200, seed=1, config=config, delta=2.0)
    assert WatermarkDetector(config).test(marked).z > 4
    assert abs(WatermarkDetector(config).test(generator.generate(200, seed=2)).z) < 3


def test_config_rejects_bad_gamma() -> None:
    with pytest.raises(ValueError, match="gamma"):
        WatermarkConfig(key="k", gamma=1.5)
