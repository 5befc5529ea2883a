"""The verdict every keep/drop decision returns (STYLE §26: a small type, not ``bool | tuple``).

Extraction, language ID, quality rules and the dedup choices are pure
functions in ``filters/`` that return a :class:`Verdict`; the stage DoFns only
count it and route the document (``transforms/accounting.emit_verdict``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["KEEP", "Verdict", "drop", "keep"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of one decision about one document.

    Attributes:
        keep: Whether the document passes.
        reason: Snake-case drop reason (also the counter name), ``None`` when kept.
        detail: The measured value behind the decision: the rejected record's
            detail when dropped, the lineage entry when kept.
        signals: Measured statistics by name, recorded in ``Document.quality``.
    """

    keep: bool
    reason: str | None = None
    detail: str = ""
    signals: dict[str, float] = field(default_factory=dict)


KEEP = Verdict(True)


def drop(reason: str, detail: str = "", signals: dict[str, float] | None = None) -> Verdict:
    """Return a failing verdict."""
    return Verdict(False, reason, detail, dict(signals or {}))


def keep(detail: str = "", signals: dict[str, float] | None = None) -> Verdict:
    """Return a passing verdict (``detail`` becomes the stage's lineage entry)."""
    return Verdict(True, None, detail, dict(signals or {}))
