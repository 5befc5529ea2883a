"""The ``detect_ai`` and ``decide_ai`` stages: score documents for machine authorship, then act on it.

``ScoreAIContent`` (stage ``detect_ai``) batches documents with ``beam.BatchElements``, runs the
trained detector ensemble of a model directory (``tailguard detector train``) and writes
``doc.ai_score`` (calibrated P(AI)) and ``doc.detector_scores`` (each detector's own score, plus
``watermark_z`` when a watermark key is configured).  Nothing is dropped.

``DecideAIContent`` (stage ``decide_ai``) only reads those fields, so changing a threshold or an
action never rescores: documents at or above the threshold (or with ``watermark_z`` at or above
the watermark threshold) are dropped (reason ``ai_generated``), tagged as synthetic in
``lineage["decide_ai"]``, or down-weighted (``sample_weight`` × factor), as configured.

Documents in, documents out (plus rejected / dead-letter records).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import PCollection

from tailguard.filters.detect.ai_decision import AIDecision, decide_ai
from tailguard.filters.detect.ensemble import load_detector
from tailguard.filters.detect.model_dir import (
    MODEL_FILE,
    localize_model_dir,
    read_model_info,
)
from tailguard.filters.detect.watermark import WatermarkConfig, WatermarkDetector
from tailguard.filters.document import Document
from tailguard.transforms.accounting import (
    DEAD_LETTER,
    DeadLetter,
    StageOutputs,
    apply_stage_fn,
    format_exception,
    make_counter,
    reject,
)

__all__ = [
    "DECIDE_STAGE",
    "SCORE_STAGE",
    "DecideAIConfig",
    "DecideAIContent",
    "ScoreAIConfig",
    "ScoreAIContent",
]

SCORE_STAGE = "detect_ai"
DECIDE_STAGE = "decide_ai"


def _model_file_exists(model_dir: str) -> bool:
    try:
        return bool(FileSystems.exists(FileSystems.join(model_dir, MODEL_FILE)))
    except Exception:  # noqa: BLE001 - any filesystem failure means "cannot load"
        return False


@dataclass(frozen=True)
class ScoreAIConfig:
    """Options of :class:`ScoreAIContent` (config section ``detect_ai``).

    Attributes:
        enabled: Run the stage.
        model_dir: Model directory from ``tailguard detector train`` (local or ``gs://``); required.
        min_batch_size: Smallest batch handed to the detectors.
        max_batch_size: Largest batch (the n-gram model scores a whole batch in one numpy pass).
        watermark_key: When set, also run the keyed green-list z-test (``detector_scores["watermark_z"]``).
        watermark_gamma: Green-list fraction of that watermark scheme.
    """

    enabled: bool = False
    model_dir: str = ""
    min_batch_size: int = 32
    max_batch_size: int = 512
    watermark_key: str = ""
    watermark_gamma: float = 0.25

    def __post_init__(self) -> None:
        if not 1 <= self.min_batch_size <= self.max_batch_size:
            raise ValueError("min_batch_size must be >= 1 and <= max_batch_size")
        if self.watermark_key:
            WatermarkConfig(self.watermark_key, self.watermark_gamma)
        if not self.enabled:
            return
        if not self.model_dir:
            raise ValueError(
                "model_dir is required when detect_ai is enabled (train one with `tailguard detector train`)"
            )
        if not _model_file_exists(self.model_dir):
            raise ValueError(
                f"model_dir {self.model_dir!r} holds no {MODEL_FILE}: not a trained detector model"
            )
        if "://" not in self.model_dir:
            read_model_info(
                self.model_dir
            )  # format check at launch, not on the workers


def _open_remote(path: str) -> Any:
    return FileSystems.open(path)


def _list_remote(directory: str) -> list[str]:
    matched = FileSystems.match([FileSystems.join(directory, "*")])[0].metadata_list
    return [m.path.rsplit("/", 1)[-1] for m in matched]


class _ScoreBatchFn(beam.DoFn):
    """Score a batch of documents; on a batch failure score one by one and dead-letter the failures."""

    def __init__(
        self, config: ScoreAIConfig, scorer_factory: Callable[[], Any] | None = None
    ) -> None:
        self._config = config
        self._scorer_factory = scorer_factory

    def setup(self) -> None:
        # The model (fastText, n-gram tables, dictionaries) is loaded once per worker, not per bundle.
        if self._scorer_factory is not None:
            self._detector = self._scorer_factory()
        else:
            self._detector = load_detector(
                localize_model_dir(self._config.model_dir, _open_remote, _list_remote)
            )
        self._watermark = (
            WatermarkDetector(
                WatermarkConfig(
                    self._config.watermark_key, self._config.watermark_gamma
                )
            )
            if self._config.watermark_key
            else None
        )
        self._inc = make_counter(SCORE_STAGE)

    def _score(self, docs: list[Document]) -> None:
        results = self._detector.score_batch([d.text for d in docs])
        for doc, result in zip(docs, results, strict=True):
            doc.ai_score = result.ai_score
            doc.detector_scores.update(result.detector_scores)
            if self._watermark is not None:
                doc.detector_scores["watermark_z"] = self._watermark.test(doc.text).z

    def process(self, batch: list[Document]) -> Iterator[Any]:
        try:
            self._score(batch)
            scored = batch
        except Exception:  # noqa: BLE001 - isolate the failing document(s) below
            scored = []
            for doc in batch:
                try:
                    self._score([doc])
                    scored.append(doc)
                except Exception as exc:  # noqa: BLE001 - one bad document must not sink the batch
                    self._inc("dead_letter")
                    yield beam.pvalue.TaggedOutput(
                        DEAD_LETTER,
                        DeadLetter(
                            SCORE_STAGE,
                            format_exception(exc),
                            doc.source,
                            doc.provenance.position,
                            doc.id,
                            doc.text[:200],
                        ),
                    )
        for doc in scored:
            self._inc("passed")
            yield doc


class ScoreAIContent(beam.PTransform):
    """Stage ``detect_ai``: add ``ai_score`` and ``detector_scores`` to every document."""

    def __init__(
        self, config: ScoreAIConfig, scorer_factory: Callable[[], Any] | None = None
    ) -> None:
        """Args:
        config: Stage options.
        scorer_factory: Builds the batch scorer on each worker instead of loading ``model_dir``
            (anything with ``score_batch(texts) -> list[AIScore]``; used by tests).
        """
        super().__init__()
        if not config.model_dir and scorer_factory is None:
            raise ValueError("ScoreAIContent needs config.model_dir")
        self._config = config
        self._scorer_factory = scorer_factory

    def expand(self, docs: PCollection[Document]) -> StageOutputs:
        batches = docs | "Batch" >> beam.BatchElements(
            min_batch_size=self._config.min_batch_size,
            max_batch_size=self._config.max_batch_size,
        )
        return apply_stage_fn(
            batches,
            "Score",
            SCORE_STAGE,
            _ScoreBatchFn(self._config, self._scorer_factory),
        )


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
                raise ValueError(
                    "decide_ai needs either threshold or model_dir (for the calibrated threshold)"
                )
            if not _model_file_exists(self.model_dir):
                raise ValueError(f"model_dir {self.model_dir!r} holds no {MODEL_FILE}")

    def resolve_threshold(self) -> float:
        """Return the explicit threshold or the model's calibrated one at ``target_fpr``."""
        if self.threshold is not None:
            return self.threshold
        local = localize_model_dir(self.model_dir, _open_remote)
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
            doc.lineage[DECIDE_STAGE] = decision.detail
            yield doc
            return
        self._inc(decision.reason)
        if self._config.action == "drop":
            yield reject(DECIDE_STAGE, doc, decision.reason, decision.detail)
            return
        if self._config.action == "downweight":
            doc.sample_weight = (
                1.0 if doc.sample_weight is None else doc.sample_weight
            ) * self._config.downweight_factor
            doc.lineage[DECIDE_STAGE] = (
                f"downweighted x{self._config.downweight_factor:g} ({decision.detail})"
            )
        else:
            doc.lineage[DECIDE_STAGE] = f"synthetic ({decision.detail})"
        self._inc(
            f"{self._config.action}ged"
            if self._config.action == "tag"
            else "downweighted"
        )
        yield doc


class DecideAIContent(beam.PTransform):
    """Stage ``decide_ai``: drop / tag / down-weight documents whose stored ai_score is over the threshold."""

    def __init__(self, config: DecideAIConfig) -> None:
        super().__init__()
        self._config = config
        self._threshold = config.resolve_threshold()

    def expand(self, docs: PCollection[Document]) -> StageOutputs:
        return apply_stage_fn(
            docs, "Decide", DECIDE_STAGE, _DecideFn(self._config, self._threshold)
        )
