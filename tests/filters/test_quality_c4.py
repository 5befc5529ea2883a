"""C4 line cleaning and page filters (Raffel et al. 2020)."""

from __future__ import annotations

import pytest

from tailguard.filters.quality.c4 import C4Config, c4_clean_lines, c4_page_filter

SENTENCES = " ".join(f"This is sentence number {i} of the page." for i in range(6))


def test_line_cleaning_removes_each_kind_of_line_and_counts_it() -> None:
    counts: dict[str, int] = {}

    def inc(name: str, n: int = 1) -> None:
        counts[name] = counts.get(name, 0) + n

    text = "\n".join([
        "A proper sentence that ends well.",
        "Menu Home About",
        "Too short.",
        "Please enable JavaScript to view this page.",
        "Read our privacy policy before you continue.",
        "A cited claim about rivers.[1]",
    ])  # fmt: skip
    cleaned = c4_clean_lines(text, C4Config(), inc)
    assert cleaned.text == "A proper sentence that ends well.\nA cited claim about rivers."
    assert cleaned.removed == {"no_terminal_punctuation": 1, "too_few_words": 1, "javascript": 1, "policy": 1}
    assert counts["c4_line_javascript"] == 1


def test_terminal_punctuation_rule_can_be_switched_off() -> None:
    cleaned = c4_clean_lines("Menu Home About Contact", C4Config(require_terminal_punctuation=False))
    assert cleaned.text == "Menu Home About Contact"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (SENTENCES + " Lorem ipsum dolor sit amet.", "c4_lorem_ipsum"),
        (SENTENCES + " function() { return 1; }", "c4_curly_bracket"),
        ("Only one sentence here.", "c4_too_few_sentences"),
        ("", "c4_empty_after_cleaning"),
    ],
    ids=["lorem", "curly", "few-sentences", "empty"],
)
def test_page_filter_drops_with_its_reason(text: str, reason: str) -> None:
    verdict = c4_page_filter(text, C4Config())
    assert (verdict.keep, verdict.reason) == (False, reason)


def test_page_with_enough_sentences_passes() -> None:
    verdict = c4_page_filter(SENTENCES, C4Config())
    assert verdict.keep and verdict.signals["c4_sentences"] == 6


def test_bad_words_rule_runs_only_with_a_list() -> None:
    text = SENTENCES + " It was a darnation mess."
    assert c4_page_filter(text, C4Config()).keep
    verdict = c4_page_filter(text, C4Config(), frozenset({"darnation"}))
    assert (verdict.reason, verdict.detail) == ("c4_bad_words", "darnation")
