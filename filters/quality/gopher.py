"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models:
Methods, Analysis & Insights from Training Gopher", Appendix A.1.1 and Table A1).

``gopher_quality`` checks word counts, word length, symbol ratios, bullet/ellipsis
lines, alphabetic words and stop words; ``gopher_repetition`` checks duplicated
lines/paragraphs and n-gram repetition.  Statistics follow datatrove's
implementation (``gopher_quality_filter.py`` / ``gopher_repetition_filter.py``).
Elements in: text.  Out: :class:`RuleVerdict`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from tailguard.filters.quality.base import KEEP, RuleVerdict, drop, split_words

__all__ = [
    "GopherQualityConfig",
    "GopherRepetitionConfig",
    "gopher_quality",
    "gopher_repetition",
]

_BULLETS = (
    "•",
    "‣",
    "⁃",
    "◦",
    "⁌",
    "⁍",
    "∙",
    "●",
    "○",
    "■",
    "□",
    "▪",
    "▫",
    "-",
    "*",
    "–",
    "—",
)
_ELLIPSES = ("...", "…")


@dataclass(frozen=True)
class GopherQualityConfig:
    """Thresholds of the Gopher quality rules (defaults: Rae et al. 2021, App. A.1.1).

    Attributes:
        enabled: Apply these rules.
        min_words: Fewer words → ``gopher_too_few_words`` (paper: 50).
        max_words: More words → ``gopher_too_many_words`` (paper: 100,000).
        min_mean_word_length: Mean word length below → drop (paper: 3).
        max_mean_word_length: Mean word length above → drop (paper: 10).
        max_symbol_word_ratio: ``#`` and ellipsis per word above → drop (paper: 0.1).
        max_bullet_lines_ratio: Share of lines starting with a bullet above → drop (paper: 0.9).
        max_ellipsis_lines_ratio: Share of lines ending with an ellipsis above → drop (paper: 0.3).
        min_alpha_words_ratio: Share of words with a letter below → drop (paper: 0.8).
        min_stop_words: Fewer distinct stop words (the, be, to, of, and, that, have, with) → drop (paper: 2).
    """

    enabled: bool = True
    min_words: int = 50
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8
    min_stop_words: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.min_words <= self.max_words:
            raise ValueError("gopher_quality: need 0 <= min_words <= max_words")
        if not 0 < self.min_mean_word_length <= self.max_mean_word_length:
            raise ValueError("gopher_quality: need 0 < min_mean_word_length <= max_mean_word_length")
        for name in (
            "max_symbol_word_ratio",
            "max_bullet_lines_ratio",
            "max_ellipsis_lines_ratio",
            "min_alpha_words_ratio",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"gopher_quality.{name} must be in [0, 1]")


_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})


def gopher_quality(text: str, config: GopherQualityConfig) -> RuleVerdict:
    """Apply the Gopher quality rules to ``text``.

    Args:
        text: Document text.
        config: Thresholds.

    Returns:
        The verdict; signals ``gopher_words``, ``gopher_mean_word_length`` and ratios.
    """
    words = split_words(text)
    n_words = len(words)
    signals: dict[str, float] = {"gopher_words": float(n_words)}
    if n_words < config.min_words:
        return drop("gopher_too_few_words", f"{n_words} words < {config.min_words}", signals)
    if n_words > config.max_words:
        return drop("gopher_too_many_words", f"{n_words} words > {config.max_words}", signals)
    mean_length = sum(len(w) for w in words) / n_words
    signals["gopher_mean_word_length"] = mean_length
    if not config.min_mean_word_length <= mean_length <= config.max_mean_word_length:
        return drop("gopher_mean_word_length", f"{mean_length:.2f}", signals)
    symbols = text.count("#") + sum(text.count(e) for e in _ELLIPSES)
    signals["gopher_symbol_word_ratio"] = symbols / n_words
    if symbols / n_words > config.max_symbol_word_ratio:
        return drop("gopher_symbol_word_ratio", f"{symbols / n_words:.3f}", signals)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines:
        bullets = sum(1 for line in lines if line.startswith(_BULLETS)) / len(lines)
        ellipses = sum(1 for line in lines if line.endswith(_ELLIPSES)) / len(lines)
        signals["gopher_bullet_lines_ratio"] = bullets
        signals["gopher_ellipsis_lines_ratio"] = ellipses
        if bullets > config.max_bullet_lines_ratio:
            return drop("gopher_bullet_lines", f"{bullets:.3f}", signals)
        if ellipses > config.max_ellipsis_lines_ratio:
            return drop("gopher_ellipsis_lines", f"{ellipses:.3f}", signals)
    alpha = sum(1 for w in words if any(c.isalpha() for c in w)) / n_words
    signals["gopher_alpha_words_ratio"] = alpha
    if alpha < config.min_alpha_words_ratio:
        return drop("gopher_alpha_words", f"{alpha:.3f}", signals)
    stop_words = len(_STOP_WORDS.intersection(w.lower() for w in words))
    signals["gopher_stop_words"] = float(stop_words)
    if stop_words < config.min_stop_words:
        return drop("gopher_stop_words", f"{stop_words} < {config.min_stop_words}", signals)
    return RuleVerdict(True, signals=signals)


@dataclass(frozen=True)
class GopherRepetitionConfig:
    """Thresholds of the Gopher repetition rules (defaults: Rae et al. 2021, Table A1).

    Attributes:
        enabled: Apply these rules.
        max_dup_line_fraction: Duplicate lines / lines (0.30).
        max_dup_para_fraction: Duplicate paragraphs / paragraphs (0.30).
        max_dup_line_char_fraction: Characters in duplicate lines / characters (0.20).
        max_dup_para_char_fraction: Characters in duplicate paragraphs / characters (0.20).
        max_top_ngram_char_fraction: n → max share of characters in the most frequent n-gram
            (2: 0.20, 3: 0.18, 4: 0.16).
        max_dup_ngram_char_fraction: n → max share of characters in duplicated n-grams
            (5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10).
    """

    enabled: bool = True
    max_dup_line_fraction: float = 0.30
    max_dup_para_fraction: float = 0.30
    max_dup_line_char_fraction: float = 0.20
    max_dup_para_char_fraction: float = 0.20
    max_top_ngram_char_fraction: dict[str, float] | None = None
    max_dup_ngram_char_fraction: dict[str, float] | None = None

    def __post_init__(self) -> None:
        for name, value in self.thresholds():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"gopher_repetition.{name} must be in [0, 1]")

    def top_ngrams(self) -> dict[int, float]:
        """Return the top-n-gram thresholds by n."""
        table = self.max_top_ngram_char_fraction or {"2": 0.20, "3": 0.18, "4": 0.16}
        return {int(n): float(v) for n, v in table.items()}

    def dup_ngrams(self) -> dict[int, float]:
        """Return the duplicate-n-gram thresholds by n."""
        table = self.max_dup_ngram_char_fraction or {
            "5": 0.15, "6": 0.14, "7": 0.13, "8": 0.12, "9": 0.11, "10": 0.10,
        }  # fmt: skip
        return {int(n): float(v) for n, v in table.items()}

    def thresholds(self) -> list[tuple[str, float]]:
        """Return every fraction threshold with its name (for validation)."""
        out = [
            ("max_dup_line_fraction", self.max_dup_line_fraction),
            ("max_dup_para_fraction", self.max_dup_para_fraction),
            ("max_dup_line_char_fraction", self.max_dup_line_char_fraction),
            ("max_dup_para_char_fraction", self.max_dup_para_char_fraction),
        ]
        out += [(f"max_top_ngram_char_fraction.{n}", v) for n, v in self.top_ngrams().items()]
        out += [(f"max_dup_ngram_char_fraction.{n}", v) for n, v in self.dup_ngrams().items()]
        return out


_PARAGRAPH_SPLIT = re.compile(r"\n{2,}")


def _duplicates(elements: list[str]) -> tuple[int, int]:
    """Return (number of repeated elements, characters in them), counting every copy after the first."""
    seen: set[str] = set()
    count = chars = 0
    for element in elements:
        if element in seen:
            count += 1
            chars += len(element)
        else:
            seen.add(element)
    return count, chars


def _top_ngram_char_fraction(words: list[str], n: int, total_chars: int) -> float:
    ngrams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    if not ngrams:
        return 0.0
    gram, count = ngrams.most_common(1)[0]
    if count <= 1:
        return 0.0
    return sum(len(w) for w in gram) * count / total_chars


def _dup_ngram_char_fraction(words: list[str], n: int, total_chars: int) -> float:
    seen: set[tuple[str, ...]] = set()
    covered = [False] * len(words)
    i = 0
    while i <= len(words) - n:
        gram = tuple(words[i : i + n])
        if gram in seen:
            for j in range(i, i + n):
                covered[j] = True
            i += n  # non-overlapping marking, as in datatrove
        else:
            seen.add(gram)
            i += 1
    return sum(len(w) for w, c in zip(words, covered, strict=True) if c) / total_chars


def gopher_repetition(text: str, config: GopherRepetitionConfig) -> RuleVerdict:
    """Apply the Gopher repetition rules to ``text``.

    Args:
        text: Document text.
        config: Thresholds.

    Returns:
        The verdict; signals with the measured fractions.
    """
    if not text.strip():
        return KEEP
    signals: dict[str, float] = {}
    paragraphs = [p.strip() for p in _PARAGRAPH_SPLIT.split(text.strip()) if p.strip()]
    count, chars = _duplicates(paragraphs)
    signals["gopher_dup_para_fraction"] = count / len(paragraphs)
    signals["gopher_dup_para_char_fraction"] = chars / len(text)
    if count / len(paragraphs) > config.max_dup_para_fraction:
        return drop("gopher_dup_paragraphs", f"{count / len(paragraphs):.3f}", signals)
    if chars / len(text) > config.max_dup_para_char_fraction:
        return drop("gopher_dup_paragraph_chars", f"{chars / len(text):.3f}", signals)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    count, chars = _duplicates(lines)
    signals["gopher_dup_line_fraction"] = count / max(1, len(lines))
    signals["gopher_dup_line_char_fraction"] = chars / len(text)
    if lines and count / len(lines) > config.max_dup_line_fraction:
        return drop("gopher_dup_lines", f"{count / len(lines):.3f}", signals)
    if chars / len(text) > config.max_dup_line_char_fraction:
        return drop("gopher_dup_line_chars", f"{chars / len(text):.3f}", signals)
    words = [w.lower() for w in split_words(text)]
    total_chars = sum(len(w) for w in words)
    if not total_chars:
        return RuleVerdict(True, signals=signals)
    for n, limit in sorted(config.top_ngrams().items()):
        value = _top_ngram_char_fraction(words, n, total_chars)
        signals[f"gopher_top_{n}gram_char_fraction"] = value
        if value > limit:
            return drop(f"gopher_top_{n}gram", f"{value:.3f}", signals)
    for n, limit in sorted(config.dup_ngrams().items()):
        value = _dup_ngram_char_fraction(words, n, total_chars)
        signals[f"gopher_dup_{n}gram_char_fraction"] = value
        if value > limit:
            return drop(f"gopher_dup_{n}gram", f"{value:.3f}", signals)
    return RuleVerdict(True, signals=signals)
