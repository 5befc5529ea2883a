"""Shared pieces of the quality rules: the verdict type and the word splitter."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["KEEP", "RuleVerdict", "drop", "split_words"]

# A regex word splitter: enough for rule statistics (BEAM_NOTES: datatrove's spaCy
# splitting costs ~10 ms/document for no gain here).
_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)


def split_words(text: str) -> list[str]:
    """Return the words of ``text`` (runs of word characters, inner hyphens/apostrophes kept)."""
    return _WORD.findall(text)


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """Outcome of one quality rule.

    Attributes:
        keep: Whether the document passes.
        reason: Snake-case drop reason (also the counter name), ``None`` when kept.
        detail: The measured value behind the decision, for the rejected record.
        signals: Measured statistics by name, recorded in ``Document.quality``.
    """

    keep: bool
    reason: str | None = None
    detail: str = ""
    signals: dict[str, float] = field(default_factory=dict)


KEEP = RuleVerdict(True)


def drop(reason: str, detail: str, signals: dict[str, float]) -> RuleVerdict:
    """Return a failing verdict."""
    return RuleVerdict(False, reason, detail, signals)
