"""DecideAIContent (stage ``decide_ai``): act on the stored AI scores; never rescore.

Only ``ai_score`` and ``detector_scores["watermark_z"]`` are read, so changing
a threshold or an action never runs a model again.  Documents at or above the
threshold (or with ``watermark_z`` at or above the watermark threshold) are
dropped (reason ``ai_generated``), tagged as synthetic in
``lineage["decide_ai"]``, or down-weighted (``sample_weight`` × factor).  The
verdict itself is ``filters/detect/ai_decision.decide_ai``.

Elements in: :class:`Document`.  Out: :class:`StageOutputs`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import apache_beam as beam
from apache_beam.pvalue import PCollection

from tailguard.filters.detect.ai_decision import AIDecision, decide_ai
from tailguard.filters.detect.model_dir import (
    MODEL_FILE,
    localize_model_dir,
    read_model_info,
)
from tailguard.filters.document import Document, evolve
from tailguard.transforms._files import file_exists, open_file
from tailguard.transforms.accounting import (
    StageOutputs,
    apply_stage_fn,
    make_counter,
    reject,
)

__all__ = ["DECIDE_STAGE", "DecideAIConfig", "DecideAIContent"]

DECIDE_STAGE = "decide_ai"
STAGE = DECIDE_STAGE


@dataclass(frozen=True)
class DecideAIConfig:
    """Options of :class:`DecideAIContent` (config section ``decide_ai``).

    Attributes:
        enabled: Run the stage.
        action: ``drop`` (reason ``ai_generated``), ``tag`` (``lineage["decide_ai"] = "synthetic ..."``)
            or ``downweight`` (``sample_weight`` × ``downweight_factor``).
        threshold: Explicit ai_score threshold; when unset the model's threshold calibrated at
            ``target_fpr`` on held-out human text is read from ``model_dir``.
        model_dir: Model directory whose ``model.json`` holds the calibrated thresholds.
        target_fpr: Which calibrated threshold to use (the model has 0.01 and 0.05 by default).
        downweight_factor: Multiplier of ``sample_weight`` for the ``downweight`` action.
        watermark_z_threshold: ``detector_scores["watermark_z"]`` at or above this also counts as AI
            (Kirchenbauer et al. 2023, Sec. 4: z = 4).
        unscored: What to do with documents without an ai_score: ``keep`` or ``drop`` (reason ``unscored``).
    """

    enabled: bool = False
    action: Literal["drop", "tag", "downweight"] = "tag"
    threshold: float | None = None
    model_dir: str = ""
    target_fpr: float = 0.01
    downweight_factor: float = 0.1
    watermark_z_threshold: float = 4.0
    unscored: Literal["keep", "drop"] = "keep"

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be in [0, 1]")
        if not 0.0 <= self.downweight_factor <= 1.0:
            raise ValueError("downweight_factor must be in [0, 1]")
        if self.enabled and self.threshold is None:
            if not self.model_dir:
                raise ValueError("decide_ai needs either threshold or model_dir (for the calibrated threshold)")
            if not file_exists(self.model_dir, MODEL_FILE):
                raise ValueError(f"model_dir {self.model_dir!r} holds no {MODEL_FILE}")

    def resolve_threshold(self) -> float:
        """Return the explicit threshold or the model's calibrated one at ``target_fpr``."""
        if self.threshold is not None:
            return self.threshold
        local = localize_model_dir(self.model_dir, open_file)
        return read_model_info(local).threshold(self.target_fpr)


class _DecideFn(beam.DoFn):
    """Apply the threshold to the stored scores (no model is loaded here)."""

    def __init__(self, config: DecideAIConfig, threshold: float) -> None:
        self._config = config
        self._threshold = threshold

    def setup(self) -> None:
        self._inc = make_counter(DECIDE_STAGE)

    def process(self, doc: Document) -> Iterator[Any]:
        decision: AIDecision = decide_ai(
            doc.ai_score,
            doc.detector_scores.get("watermark_z"),
            self._threshold,
            self._config.watermark_z_threshold,
        )
        if decision.reason is None:
            if doc.ai_score is None and self._config.unscored == "drop":
                self._inc("unscored")
                yield reject(DECIDE_STAGE, doc, "unscored", "no ai_score")
                return
            self._inc("passed")
            yield evolve(doc, lineage={DECIDE_STAGE: decision.detail})
            return
        self._inc(decision.reason)
        if self._config.action == "drop":
            yield reject(DECIDE_STAGE, doc, decision.reason, decision.detail)
            return
        if self._config.action == "downweight":
            factor = self._config.downweight_factor
            weight = (1.0 if doc.sample_weight is None else doc.sample_weight) * factor
            out = evolve(
                doc, sample_weight=weight, lineage={DECIDE_STAGE: f"downweighted x{factor:g} ({decision.detail})"}
            )
        else:
            out = evolve(doc, lineage={DECIDE_STAGE: f"synthetic ({decision.detail})"})
        self._inc("tagged" if self._config.action == "tag" else "downweighted")
        yield out


# Typed, so that wiring anything but Documents into the stage fails while the pipeline is built.
@beam.typehints.with_input_types(Document)
class DecideAIContent(beam.PTransform):
    """Stage ``decide_ai``: drop / tag / down-weight documents whose stored ai_score is over the threshold."""

    def __init__(self, config: DecideAIConfig) -> None:
        super().__init__()
        self._config = config
        self._threshold = config.resolve_threshold()

    def expand(self, docs: PCollection[Document]) -> StageOutputs:
        return apply_stage_fn(docs, "Decide", DECIDE_STAGE, _DecideFn(self._config, self._threshold))
