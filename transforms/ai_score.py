"""ScoreAIContent (stage ``detect_ai``): score documents for machine authorship; decide nothing.

Documents are batched with ``beam.BatchElements``; the trained detector
ensemble of a model directory (``tailguard detector train``) is loaded once per
worker in ``setup`` and writes ``ai_score`` (calibrated P(AI)) and
``detector_scores`` (each detector's own score, plus ``watermark_z`` when a
watermark key is configured) on a copy of each document.  Nothing is dropped:
``decide_ai`` acts on the stored scores, so rethresholding never rescores.

Elements in: :class:`Document`.  Out: :class:`StageOutputs`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection

from tailguard.filters.detect.ensemble import load_detector
from tailguard.filters.detect.model_dir import (
    MODEL_FILE,
    localize_model_dir,
    read_model_info,
)
from tailguard.filters.detect.watermark import WatermarkConfig, WatermarkDetector
from tailguard.filters.document import Document, evolve
from tailguard.transforms._files import file_exists, list_dir, open_file
from tailguard.transforms.accounting import (
    DEAD_LETTER,
    DeadLetter,
    StageOutputs,
    apply_stage_fn,
    format_exception,
    make_counter,
)

__all__ = ["SCORE_STAGE", "ScoreAIConfig", "ScoreAIContent"]

SCORE_STAGE = "detect_ai"
STAGE = SCORE_STAGE


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
        if not file_exists(self.model_dir, MODEL_FILE):
            raise ValueError(f"model_dir {self.model_dir!r} holds no {MODEL_FILE}: not a trained detector model")
        if "://" not in self.model_dir:
            read_model_info(self.model_dir)  # format check at launch, not on the workers


class _ScoreBatchFn(beam.DoFn):
    """Score a batch of documents; on a batch failure score one by one and dead-letter the failures."""

    def __init__(self, config: ScoreAIConfig, scorer_factory: Callable[[], Any] | None = None) -> None:
        self._config = config
        self._scorer_factory = scorer_factory

    def setup(self) -> None:
        # The model (fastText, n-gram tables, dictionaries) is loaded once per worker, not per bundle.
        if self._scorer_factory is not None:
            self._detector = self._scorer_factory()
        else:
            self._detector = load_detector(localize_model_dir(self._config.model_dir, open_file, list_dir))
        self._watermark = (
            WatermarkDetector(WatermarkConfig(self._config.watermark_key, self._config.watermark_gamma))
            if self._config.watermark_key
            else None
        )
        self._inc = make_counter(SCORE_STAGE)

    def _score(self, docs: list[Document]) -> list[Document]:
        """Return scored copies of ``docs`` (the input elements are never mutated)."""
        results = self._detector.score_batch([d.text for d in docs])
        scored = []
        for doc, result in zip(docs, results, strict=True):
            scores = dict(result.detector_scores)
            if self._watermark is not None:
                scores["watermark_z"] = self._watermark.test(doc.text).z
            scored.append(evolve(doc, ai_score=result.ai_score, detector_scores=scores))
        return scored

    def process(self, batch: list[Document]) -> Iterator[Any]:
        try:
            scored = self._score(batch)
        except Exception:  # noqa: BLE001 - isolate the failing document(s) below
            scored = []
            for doc in batch:
                try:
                    scored.extend(self._score([doc]))
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


# Typed, so that wiring anything but Documents into the stage fails while the pipeline is built.
@beam.typehints.with_input_types(Document)
class ScoreAIContent(beam.PTransform):
    """Stage ``detect_ai``: add ``ai_score`` and ``detector_scores`` to every document."""

    def __init__(self, config: ScoreAIConfig, scorer_factory: Callable[[], Any] | None = None) -> None:
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
