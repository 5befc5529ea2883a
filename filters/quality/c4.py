"""C4 rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning ...", §2.2;
thresholds as in TFDS ``c4_utils.py``): line-level cleaning, then page filters.

``c4_clean_lines`` removes lines without terminal punctuation, lines with fewer
than 3 words, lines mentioning "javascript", cookie/privacy-policy boilerplate,
lines with a word longer than 1000 characters, and citation markers like
``[1]`` / ``[edit]``; ``c4_page_filter`` drops pages containing "lorem ipsum", a
curly bracket, fewer than 5 sentences, or a word from a bad-words file.

Bad words: C4 used the LDNOOBW list.  No maintained PyPI package ships that
list, so the rule runs only when ``bad_words_file`` names a file (one word or
phrase per line); by default it is off.  Elements in: text.  Out: cleaned text
and :class:`RuleVerdict`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tailguard.filters.quality.base import RuleVerdict, drop, split_words

__all__ = [
    "C4CleanedText",
    "C4Config",
    "c4_clean_lines",
    "c4_page_filter",
    "load_bad_words",
]

_TERMINAL_PUNCTUATION = (".", "?", "!", '"', "”", "'", "’", "。", "！", "？")
_POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?。！？]+[\"'”’)]*(?:\s|$)")


@dataclass(frozen=True)
class C4Config:
    """Options of the C4 rules (defaults: Raffel et al. 2020 §2.2 / TFDS ``c4_utils``).

    Attributes:
        enabled: Apply the C4 rules.
        clean_lines: Apply the line-level cleaning (changes the text).
        require_terminal_punctuation: Drop lines not ending in terminal punctuation.  FineWeb
            (Penedo et al. 2024, §3.3) found this line rule removes too much and dropped it;
            local.yaml follows FineWeb (false).
        min_words_per_line: Drop shorter lines (C4: 3).
        max_word_length: Drop lines with a longer word (TFDS: 1000).
        min_sentences: Pages with fewer sentences are dropped (C4: 5).
        drop_lorem_ipsum: Drop pages containing "lorem ipsum" (C4).
        drop_curly_bracket: Drop pages containing "{" (C4: code).
        bad_words_file: Optional word list (one per line); pages with any are dropped.
    """

    enabled: bool = True
    clean_lines: bool = True
    require_terminal_punctuation: bool = True
    min_words_per_line: int = 3
    max_word_length: int = 1000
    min_sentences: int = 5
    drop_lorem_ipsum: bool = True
    drop_curly_bracket: bool = True
    bad_words_file: str = ""

    def __post_init__(self) -> None:
        if self.min_words_per_line < 0 or self.max_word_length <= 0 or self.min_sentences < 0:
            raise ValueError("c4: min_words_per_line/min_sentences must be >= 0 and max_word_length > 0")


@dataclass(frozen=True, slots=True)
class C4CleanedText:
    """Text after C4 line cleaning and how many lines each line rule removed."""

    text: str
    removed: dict[str, int]


def c4_clean_lines(text: str, config: C4Config, inc: Callable[[str, int], None] | None = None) -> C4CleanedText:
    """Remove the lines C4 removes.

    Args:
        text: Document text.
        config: C4 options.
        inc: Optional counter callback (``c4_line_<rule>`` per removed line).

    Returns:
        Cleaned text and removed-line counts by rule.
    """
    kept: list[str] = []
    removed: dict[str, int] = {}

    def remove(rule: str) -> None:
        removed[rule] = removed.get(rule, 0) + 1
        if inc is not None:
            inc(f"c4_line_{rule}", 1)

    for raw_line in text.splitlines():
        line = _CITATION.sub("", raw_line).strip()
        if not line:
            continue
        lower = line.lower()
        words = line.split()
        if any(len(w) > config.max_word_length for w in words):
            remove("long_word")
        elif config.require_terminal_punctuation and not line.endswith(_TERMINAL_PUNCTUATION):
            remove("no_terminal_punctuation")
        elif len(words) < config.min_words_per_line:
            remove("too_few_words")
        elif "javascript" in lower:
            remove("javascript")
        elif any(p in lower for p in _POLICY_SUBSTRINGS):
            remove("policy")
        else:
            kept.append(line)
    return C4CleanedText("\n".join(kept), removed)


def parse_bad_words(lines: Iterable[str]) -> frozenset[str]:
    """Parse a bad-words list (one word or phrase per line, ``#`` comments)."""
    return frozenset(w.strip().lower() for w in lines if w.strip() and not w.startswith("#"))


def load_bad_words(path: str) -> frozenset[str]:
    """Read a local bad-words file (see :func:`parse_bad_words`)."""
    with open(path, encoding="utf-8") as handle:
        return parse_bad_words(handle)


def c4_page_filter(text: str, config: C4Config, bad_words: frozenset[str] = frozenset()) -> RuleVerdict:
    """Apply the C4 page-level filters to (already cleaned) ``text``.

    Args:
        text: Document text.
        config: C4 options.
        bad_words: Lower-case words/phrases; empty = rule off.

    Returns:
        The verdict; signal ``c4_sentences``.
    """
    lower = text.lower()
    sentences = len(_SENTENCE_END.findall(text))
    signals = {"c4_sentences": float(sentences)}
    if not text.strip():
        return drop("c4_empty_after_cleaning", "", signals)
    if config.drop_lorem_ipsum and "lorem ipsum" in lower:
        return drop("c4_lorem_ipsum", "", signals)
    if config.drop_curly_bracket and "{" in text:
        return drop("c4_curly_bracket", "", signals)
    if sentences < config.min_sentences:
        return drop("c4_too_few_sentences", f"{sentences} < {config.min_sentences}", signals)
    if bad_words:
        words = {w.lower() for w in split_words(text)}
        hit = next(
            (b for b in sorted(bad_words) if (b in words if " " not in b else b in lower)),
            None,
        )
        if hit is not None:
            return drop("c4_bad_words", hit, signals)
    return RuleVerdict(True, signals=signals)
