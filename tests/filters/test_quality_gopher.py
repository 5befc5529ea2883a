"""Gopher quality and repetition rules (Rae et al. 2021): each reason on a minimal failing text."""

from __future__ import annotations

import pytest

from tailguard.filters.quality.gopher import (
    GopherQualityConfig,
    GopherRepetitionConfig,
    gopher_quality,
    gopher_repetition,
)

PROSE = (
    "The river rose again this week and the town prepared for the flood. Volunteers filled sandbags with "
    "the help of the local school, and the mayor said that the bridge would stay open. Residents have been "
    "asked to move cars to higher ground and to check on older neighbours. Forecasters expect the water to "
    "peak on Friday, with more rain to come over the weekend, and the council will publish updates online."
)


def test_ordinary_prose_passes_both_rule_sets() -> None:
    assert gopher_quality(PROSE, GopherQualityConfig()).keep
    assert gopher_repetition(PROSE, GopherRepetitionConfig()).keep


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Too short to keep.", "gopher_too_few_words"),
        (" ".join(["supercalifragilisticexpialidocious"] * 60), "gopher_mean_word_length"),
        (PROSE + " #tag" * 20, "gopher_symbol_word_ratio"),
        ("\n".join(f"- item number {i} in the list of things" for i in range(30)), "gopher_bullet_lines"),
        ("\n".join(f"and then line {i} trailed off into nothing ..." for i in range(30)), "gopher_symbol_word_ratio"),
        (" ".join(["12345 67890 !!!"] * 40) + " the and of", "gopher_alpha_words"),
        (" ".join(f"word{i} blue green" for i in range(30)), "gopher_stop_words"),
    ],
    ids=["few-words", "long-words", "hashes", "bullets", "ellipses", "non-alpha", "no-stop-words"],
)
def test_quality_rule_drops_with_its_reason(text: str, reason: str) -> None:
    verdict = gopher_quality(text, GopherQualityConfig())
    assert (verdict.keep, verdict.reason) == (False, reason)


def test_ellipsis_lines_rule_fires_when_symbol_rule_is_relaxed() -> None:
    text = "\n".join(f"and then line {i} of the story just trailed off ..." for i in range(30))
    verdict = gopher_quality(text, GopherQualityConfig(max_symbol_word_ratio=1.0))
    assert verdict.reason == "gopher_ellipsis_lines"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\n\n".join(["Same paragraph here."] * 5 + ["Other one."]), "gopher_dup_paragraphs"),
        ("\n".join(["Buy now!", "Buy now!", "Buy now!", "Unique line here."]), "gopher_dup_lines"),
        (" ".join(["spam eggs"] * 40), "gopher_top_2gram"),
    ],
    ids=["paragraphs", "lines", "top-2gram"],
)
def test_repetition_rule_drops_with_its_reason(text: str, reason: str) -> None:
    verdict = gopher_repetition(text, GopherRepetitionConfig())
    assert (verdict.keep, verdict.reason) == (False, reason)


def test_repetition_signals_are_recorded() -> None:
    signals = gopher_repetition(PROSE, GopherRepetitionConfig()).signals
    assert signals["gopher_dup_line_fraction"] == 0.0 and "gopher_dup_10gram_char_fraction" in signals


def test_invalid_threshold_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_dup_line_fraction"):
        GopherRepetitionConfig(max_dup_line_fraction=1.5)
