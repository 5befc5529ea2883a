"""The AI-score verdict: does a stored ai_score / watermark z put a document over the line?

Pure and Beam-free; ``transforms/ai_text.py`` turns the verdict into drop / tag / down-weight.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AI_GENERATED", "AIDecision", "decide_ai"]

AI_GENERATED = "ai_generated"


@dataclass(frozen=True, slots=True)
class AIDecision:
    """Verdict on one document.

    Attributes:
        reason: ``ai_generated`` when the document counts as machine-written, else ``None``.
        detail: Human-readable values behind the verdict (goes to lineage / rejected detail).
    """

    reason: str | None
    detail: str


def decide_ai(
    ai_score: float | None,
    watermark_z: float | None,
    threshold: float,
    watermark_z_threshold: float,
) -> AIDecision:
    """Compare stored scores with the thresholds.

    Args:
        ai_score: Calibrated P(AI) written by the ``detect_ai`` stage (``None`` = not scored).
        watermark_z: Watermark z statistic, when a watermark key was configured.
        threshold: ai_score at or above which the document counts as AI.
        watermark_z_threshold: z at or above which the document counts as (our own) watermarked AI text.

    Returns:
        The :class:`AIDecision`.
    """
    if watermark_z is not None and watermark_z >= watermark_z_threshold:
        return AIDecision(AI_GENERATED, f"watermark_z={watermark_z:.2f}>={watermark_z_threshold:g}")
    if ai_score is None:
        return AIDecision(None, "unscored")
    if ai_score >= threshold:
        return AIDecision(AI_GENERATED, f"ai_score={ai_score:.4f}>={threshold:.4f}")
    return AIDecision(None, f"kept ai_score={ai_score:.4f}<{threshold:.4f}")
