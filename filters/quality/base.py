"""Shared pieces of the quality rules: the verdict type and the word splitter."""

from __future__ import annotations

import re
from typing import TypeAlias

from tailguard.filters.verdict import KEEP, Verdict

__all__ = ["KEEP", "RuleVerdict", "drop", "split_words"]

# A regex word splitter: enough for rule statistics (BEAM_NOTES: datatrove's spaCy
# splitting costs ~10 ms/document for no gain here).
_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)


def split_words(text: str) -> list[str]:
    """Return the words of ``text`` (runs of word characters, inner hyphens/apostrophes kept)."""
    return _WORD.findall(text)


#: A quality rule's outcome is the shared :class:`~tailguard.filters.verdict.Verdict`.
RuleVerdict: TypeAlias = Verdict


def drop(reason: str, detail: str, signals: dict[str, float]) -> RuleVerdict:
    """Return a failing verdict."""
    return RuleVerdict(False, reason, detail, signals)
