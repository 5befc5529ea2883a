"""The AI-score verdict: does a stored ai_score / watermark z put a document over the line, and how surely?

Pure and Beam-free; ``transforms/ai_decide.py`` turns the verdict into drop / tag / down-weight.
Two lines (issue 16): at or above ``threshold`` (calibrated at the target FPR, 1 % by default) a
document counts as AI; only at or above ``confident_threshold`` (calibrated at a much lower FPR,
0.1 % by default) is the call *confident*.  The pipeline drops only confident calls and down-weights
(or tags) the uncertain band between the two, so a wrong call costs a weight, not a human document.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AI_GENERATED", "AIDecision", "HumanProvenance", "decide_ai"]

AI_GENERATED = "ai_generated"


@dataclass(frozen=True, slots=True)
class AIDecision:
    """Verdict on one document.

    Attributes:
        reason: ``ai_generated`` when the document counts as machine-written, else ``None``.
        detail: Human-readable values behind the verdict (goes to lineage / rejected detail).
        confident: The call is at or above the confident threshold (or a watermark hit).
    """

    reason: str | None
    detail: str
    confident: bool = False


def decide_ai(
    ai_score: float | None,
    watermark_z: float | None,
    threshold: float,
    watermark_z_threshold: float,
    confident_threshold: float | None = None,
) -> AIDecision:
    """Compare stored scores with the thresholds.

    Args:
        ai_score: Calibrated P(AI) written by the ``detect_ai`` stage (``None`` = not scored).
        watermark_z: Watermark z statistic, when a watermark key was configured.
        threshold: ai_score at or above which the document counts as AI.
        watermark_z_threshold: z at or above which the document counts as (our own) watermarked AI text.
        confident_threshold: ai_score at or above which the call is confident (``None``: every AI call is).

    Returns:
        The :class:`AIDecision`.
    """
    if watermark_z is not None and watermark_z >= watermark_z_threshold:
        return AIDecision(AI_GENERATED, f"watermark_z={watermark_z:.2f}>={watermark_z_threshold:g}", True)
    if ai_score is None:
        return AIDecision(None, "unscored")
    if ai_score >= threshold:
        confident = confident_threshold is None or ai_score >= max(confident_threshold, threshold)
        band = "" if confident_threshold is None else (" confident" if confident else " uncertain")
        return AIDecision(AI_GENERATED, f"ai_score={ai_score:.4f}>={threshold:.4f}{band}", confident)
    return AIDecision(None, f"kept ai_score={ai_score:.4f}<{threshold:.4f}")


@dataclass(frozen=True, slots=True)
class HumanProvenance:
    """Which documents of a run count as human by provenance (in-run calibration of ``decide_ai``).

    Attributes:
        crawl_before: ISO date; documents captured before it count as human (e.g. ``2022-11-30``,
            before ChatGPT).  Empty: not used.
        sources: ``fnmatch`` patterns of input files holding verified-human text.
        metadata: ``key=value``: documents whose ``metadata[key]`` (JSON-decoded) equals ``value``.
    """

    crawl_before: str = ""
    sources: tuple[str, ...] = ()
    metadata: str = ""

    @property
    def enabled(self) -> bool:
        """Whether any rule is set."""
        return bool(self.crawl_before or self.sources or self.metadata)

    def matches(self, crawl_date: str | None, source: str, metadata: dict[str, str]) -> bool:
        """Whether a document with these fields counts as human by provenance."""
        import fnmatch
        import json

        if self.crawl_before and crawl_date and crawl_date[:10] < self.crawl_before[:10]:
            return True
        if any(fnmatch.fnmatch(source, pattern) for pattern in self.sources):
            return True
        if self.metadata:
            key, _, value = self.metadata.partition("=")
            raw = metadata.get(key)
            if raw is not None:
                try:
                    decoded = json.loads(raw)
                except ValueError:
                    decoded = raw
                return str(decoded) == value
        return False
