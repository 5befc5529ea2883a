"""FineWeb's own quality rules (Penedo et al. 2024, "The FineWeb Datasets", §3.3 and
Appendix; defaults as in datatrove ``FineWebQualityFilter``).

Drops a page when too few lines end in punctuation, too many lines are short,
too many characters sit in duplicated lines, or it is list-like (many newlines
per word).  Elements in: text.  Out: :class:`RuleVerdict`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tailguard.filters.quality.base import RuleVerdict, drop, split_words

__all__ = ["FineWebConfig", "fineweb_quality"]

_STOP_CHARS = (".", "'", '"', "!", "?", "”", "’", "。", "！", "？", ";", ":")


@dataclass(frozen=True)
class FineWebConfig:
    """Thresholds of the FineWeb rules (defaults: Penedo et al. 2024 / datatrove).

    Attributes:
        enabled: Apply these rules.
        min_line_punct_ratio: Share of lines ending in punctuation below → drop (0.12).
        max_short_line_ratio: Share of lines of <= ``short_line_length`` chars above → drop (0.67).
        short_line_length: What counts as a short line (30 characters).
        max_char_dup_ratio: Characters in duplicated lines / characters above → drop (0.01).
        max_newline_word_ratio: Newlines per word above → drop (0.3, "list_ratio").
    """

    enabled: bool = True
    min_line_punct_ratio: float = 0.12
    max_short_line_ratio: float = 0.67
    short_line_length: int = 30
    max_char_dup_ratio: float = 0.01
    max_newline_word_ratio: float = 0.3

    def __post_init__(self) -> None:
        for name in (
            "min_line_punct_ratio",
            "max_short_line_ratio",
            "max_char_dup_ratio",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"fineweb.{name} must be in [0, 1]")
        if self.short_line_length <= 0 or self.max_newline_word_ratio < 0:
            raise ValueError("fineweb: short_line_length must be > 0 and max_newline_word_ratio >= 0")


def fineweb_quality(text: str, config: FineWebConfig) -> RuleVerdict:
    """Apply the FineWeb rules to ``text``.

    Args:
        text: Document text.
        config: Thresholds.

    Returns:
        The verdict; signals with the measured ratios.
    """
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return drop("fineweb_empty", "", {})
    punct = sum(1 for line in lines if line.rstrip().endswith(_STOP_CHARS)) / len(lines)
    short = sum(1 for line in lines if len(line) <= config.short_line_length) / len(lines)
    seen: set[str] = set()
    dup_chars = 0
    for line in lines:
        if line in seen:
            dup_chars += len(line)
        seen.add(line)
    dup_ratio = dup_chars / max(1, len(text))
    words = split_words(text)
    newline_ratio = text.count("\n") / max(1, len(words))
    signals = {
        "fineweb_line_punct_ratio": punct,
        "fineweb_short_line_ratio": short,
        "fineweb_char_dup_ratio": dup_ratio,
        "fineweb_newline_word_ratio": newline_ratio,
    }
    if punct < config.min_line_punct_ratio:
        return drop("fineweb_line_punct_ratio", f"{punct:.3f}", signals)
    if short > config.max_short_line_ratio:
        return drop("fineweb_short_line_ratio", f"{short:.3f}", signals)
    if dup_ratio > config.max_char_dup_ratio:
        return drop("fineweb_char_dup_ratio", f"{dup_ratio:.3f}", signals)
    if newline_ratio > config.max_newline_word_ratio:
        return drop("fineweb_list_ratio", f"{newline_ratio:.3f}", signals)
    return RuleVerdict(True, signals=signals)
