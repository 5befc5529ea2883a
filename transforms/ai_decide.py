"""DecideAIContent (stage ``decide_ai``): act on the stored AI scores; never rescore.

Only ``ai_score`` and ``detector_scores["watermark_z"]`` are read, so changing
a threshold or an action never runs a model again.  Documents at or above the
threshold (or with ``watermark_z`` at or above the watermark threshold) are
dropped (reason ``ai_generated``), tagged as synthetic in
``lineage["decide_ai"]``, or down-weighted (``sample_weight`` × factor).  The
verdict itself is ``filters/detect/ai_decision.decide_ai``.

Two lines (issue 16): with ``action: drop`` only the *confident* end (ai_score at or above the
model's threshold at ``confident_fpr``, 0.1 % by default) is dropped; the uncertain band between
the ``target_fpr`` threshold and that one gets ``uncertain_action`` (``downweight`` by default, or
``tag``), so a wrong call costs a weight, not a human document.

In-run calibration: with a ``calibrate_*`` rule the thresholds are re-calibrated on this run's own
documents whose provenance makes them human (captured before ``calibrate_crawl_before``, from a
``calibrate_sources`` file, or with ``calibrate_metadata``): their stored ai_scores (at most
``calibrate_max_docs``, the smallest id hashes: deterministic) reach the decision as a side input,
and the values used go to the manifest section ``decide_ai`` (``_work/stats/decide_ai.json``).
The documents whose scores were the calibration evidence are *not* thresholded themselves
(issue 16: "calibrate on the run's human-provenance documents and threshold the rest"): they pass
unchanged, with ``lineage["decide_ai"] = "calibration_human ..."`` (counter ``calibration_human``).
When too few human-provenance documents are found (``calibrate_min_docs``) the model's thresholds
are used, nothing served as evidence, and every document is thresholded.

Decision breakdown (issue 16 §3): every decided document also yields one small record
``(domain, length bucket, outcome, words, chars)``; a ``CombinePerKey`` per domain, a bounded
``CombineGlobally`` keeping the ``breakdown_top_domains`` largest domains (the rest as ``(other)``)
and a ``CombineGlobally`` per word-count bucket sum them (no Document is shuffled for it).  The
result goes to the same stats file as ``breakdown`` (rows built by
``filters/detect/ai_decision.decision_breakdown``) and from the manifest into the run report.

Elements in: :class:`Document`.  Out: :class:`StageOutputs`.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection

from tailguard.filters.detect.ai_decision import (
    AIDecision,
    HumanProvenance,
    Tally,
    add_outcome,
    breakdown_domain,
    decide_ai,
    decision_breakdown,
    length_bucket,
    merge_tallies,
    new_tally,
    top_domains,
    word_count,
)
from tailguard.filters.detect.ensemble import calibrate_threshold
from tailguard.filters.document import Document, evolve
from tailguard.filters.hashing import stable_hash64
from tailguard.filters.layout import OutputLayout
from tailguard.transforms._files import WriteJsonFile
from tailguard.transforms._stage_configs import DecideAIConfig
from tailguard.transforms.accounting import (
    StageOutputs,
    apply_stage_fn,
    make_counter,
    reject,
)

__all__ = ["DECIDE_STAGE", "DecideAIConfig", "DecideAIContent"]

DECIDE_STAGE = "decide_ai"
STAGE = DECIDE_STAGE
#: Tagged output of the per-document breakdown records ``(domain, length bucket, outcome, words, chars)``.
BREAKDOWN = "ai_breakdown"
#: The calibration side input's key of the largest ``(id hash, id, score)`` used as evidence (not in the stats).
_CUTOFF = "calibration_cutoff"
_NO_CONFIDENT = "no confident threshold (none explicit, none in the model at confident_fpr): every AI call is confident"


class _HumanScoresFn(beam.CombineFn):
    """Keep the ai_scores of the ``limit`` human-provenance documents with the smallest id hashes."""

    def __init__(self, limit: int) -> None:
        self._limit = limit

    def create_accumulator(self) -> list[tuple[int, str, float]]:
        return []

    def add_input(self, acc: list[tuple[int, str, float]], item: tuple[str, float]) -> list[tuple[int, str, float]]:
        acc.append(_calibration_key(item[0], item[1]))
        if len(acc) > 2 * self._limit:
            acc = heapq.nsmallest(self._limit, acc)
        return acc

    def merge_accumulators(self, accs: Iterable[list[tuple[int, str, float]]]) -> list[tuple[int, str, float]]:
        return heapq.nsmallest(self._limit, (x for acc in accs for x in acc))

    def extract_output(self, acc: list[tuple[int, str, float]]) -> list[tuple[int, str, float]]:
        return sorted(heapq.nsmallest(self._limit, acc))


def _calibration_key(doc_id: str, score: float) -> tuple[int, str, float]:
    """The order in which human-provenance scores are kept (smallest first)."""
    return stable_hash64("calib", doc_id), doc_id, score


def _calibrated(
    evidence: list[tuple[int, str, float]], static: dict[str, Any], config: DecideAIConfig
) -> dict[str, Any]:
    """Thresholds from the run's human-provenance scores (or the static ones when too few)."""
    out = {**static, "calibration_docs": len(evidence), "target_fpr": config.target_fpr}
    if len(evidence) < config.calibrate_min_docs:
        out["note"] = (
            f"only {len(evidence)} human-provenance documents (< {config.calibrate_min_docs}): model thresholds"
        )
        return out
    human = [float(score) for _, _, score in evidence]
    out.update(
        threshold=calibrate_threshold(human, config.target_fpr),
        confident_threshold=calibrate_threshold(human, config.confident_fpr),
        source="in_run",
        thresholds_before={k: static[k] for k in ("threshold", "confident_threshold")},
        calibration_exempt="the calibration documents pass undecided (lineage calibration_human)",
    )
    out.pop("confident_note", None)  # the in-run calibration sets a confident threshold
    out[_CUTOFF] = evidence[-1]  # the largest key used: every key at or below it was evidence
    return out


class _DecideFn(beam.DoFn):
    """Apply the thresholds (a side input: static or calibrated in this run) to the stored scores.

    Besides the document (or its rejection) it yields one breakdown record on :data:`BREAKDOWN`.
    """

    def __init__(self, config: DecideAIConfig) -> None:
        self._config = config

    def setup(self) -> None:
        self._inc = make_counter(DECIDE_STAGE)
        self._rule = self._config.provenance

    def process(self, doc: Document, thresholds: dict[str, Any]) -> Iterator[Any]:
        outcome, out = self._decide(doc, thresholds)
        yield out
        words = word_count(doc.text)
        record = (breakdown_domain(doc.domain, doc.url), length_bucket(words), outcome, words, len(doc.text))
        yield beam.pvalue.TaggedOutput(BREAKDOWN, record)

    def _is_evidence(self, doc: Document, cutoff: tuple[int, str, float] | None) -> bool:
        """Whether ``doc``'s score was one of the in-run calibration scores."""
        if cutoff is None or doc.ai_score is None:
            return False
        if not self._rule.matches(doc.crawl_date, doc.source, doc.metadata):
            return False
        return _calibration_key(doc.id, float(doc.ai_score)) <= tuple(cutoff)

    def _decide(self, doc: Document, thresholds: dict[str, Any]) -> tuple[str, Any]:
        """(outcome, what to yield) for one document."""
        if self._is_evidence(doc, thresholds.get(_CUTOFF)):
            # Calibration evidence is human by provenance: thresholding it would judge the ruler by itself.
            self._inc("calibration_human")
            detail = f"calibration_human (ai_score={doc.ai_score:.4f}; in-run calibration evidence, not decided)"
            return "calibration_human", evolve(doc, lineage={DECIDE_STAGE: detail})
        confident = thresholds.get("confident_threshold")
        decision: AIDecision = decide_ai(
            doc.ai_score,
            doc.detector_scores.get("watermark_z"),
            float(thresholds["threshold"]),
            self._config.watermark_z_threshold,
            None if confident is None else float(confident),
        )
        if decision.reason is None:
            if doc.ai_score is None and self._config.unscored == "drop":
                self._inc("unscored")
                return "dropped_unscored", reject(DECIDE_STAGE, doc, "unscored", "no ai_score")
            self._inc("passed")
            return "kept", evolve(doc, lineage={DECIDE_STAGE: decision.detail})
        self._inc(decision.reason)
        action = self._config.action
        if action == "drop" and not decision.confident:
            action = self._config.uncertain_action
            self._inc(f"uncertain_{action}")
        if action == "drop":
            return "dropped", reject(DECIDE_STAGE, doc, decision.reason, decision.detail)
        if action == "downweight":
            factor = self._config.downweight_factor
            weight = (1.0 if doc.sample_weight is None else doc.sample_weight) * factor
            lineage = f"downweighted x{factor:g} ({decision.detail})"
            self._inc("downweighted")
            return "downweighted", evolve(doc, sample_weight=weight, lineage={DECIDE_STAGE: lineage})
        self._inc("tagged")
        return "tagged", evolve(doc, lineage={DECIDE_STAGE: f"synthetic ({decision.detail})"})


class _TallyFn(beam.CombineFn):
    """Sum ``(outcome, words, chars)`` records into a :data:`Tally`."""

    def create_accumulator(self) -> Tally:
        return new_tally()

    def add_input(self, acc: Tally, item: tuple[str, int, int]) -> Tally:
        return add_outcome(acc, *item)

    def merge_accumulators(self, accs: Iterable[Tally]) -> Tally:
        return merge_tallies(accs)

    def extract_output(self, acc: Tally) -> Tally:
        return acc


class _TallyByKeyFn(beam.CombineFn):
    """Sum ``(key, (outcome, words, chars))`` into ``{key: Tally}`` (few keys only: the length buckets)."""

    def create_accumulator(self) -> dict[str, Tally]:
        return {}

    def add_input(self, acc: dict[str, Tally], item: tuple[str, tuple[str, int, int]]) -> dict[str, Tally]:
        key, record = item
        add_outcome(acc.setdefault(key, new_tally()), *record)
        return acc

    def merge_accumulators(self, accs: Iterable[dict[str, Tally]]) -> dict[str, Tally]:
        out: dict[str, Tally] = {}
        for acc in accs:
            for key, tally in acc.items():
                out[key] = merge_tallies([out.get(key) or new_tally(), tally])
        return out

    def extract_output(self, acc: dict[str, Tally]) -> dict[str, Tally]:
        return acc


_TopAcc = tuple[list[tuple[str, Tally]], Tally, int]


class _TopDomainsFn(beam.CombineFn):
    """Keep the ``limit`` domains with the most documents from ``(domain, Tally)`` (each domain once)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit

    def create_accumulator(self) -> _TopAcc:
        return [], new_tally(), 0

    def add_input(self, acc: _TopAcc, item: tuple[str, Tally]) -> _TopAcc:
        top, other, n_other = acc
        top.append(item)
        if len(top) > 2 * self._limit:  # bounded memory: fold the tail now (exact, see top_domains)
            return top_domains(top, self._limit, other, n_other)
        return top, other, n_other

    def merge_accumulators(self, accs: Iterable[_TopAcc]) -> _TopAcc:
        accs = list(accs)
        entries = [kv for top, _, _ in accs for kv in top]
        other = merge_tallies(o for _, o, _ in accs)
        return top_domains(entries, self._limit, other, sum(n for _, _, n in accs))

    def extract_output(self, acc: _TopAcc) -> _TopAcc:
        return top_domains(acc[0], self._limit, acc[1], acc[2])


def _by_length(record: tuple[str, str, str, int, int]) -> tuple[str, tuple[str, int, int]]:
    return record[1], record[2:]


def _by_domain(record: tuple[str, str, str, int, int]) -> tuple[str, tuple[str, int, int]]:
    return record[0], record[2:]


def _stats(thresholds: dict[str, Any], by_length: dict[str, Tally], domains: _TopAcc) -> str:
    """The stats file's one JSON line: the thresholds used and the decision breakdown."""
    out = {k: v for k, v in thresholds.items() if k != _CUTOFF}
    out["breakdown"] = decision_breakdown(by_length, *domains)
    return json.dumps(out, sort_keys=True)


def _human_score(rule: HumanProvenance) -> Any:
    def select(doc: Document) -> Iterator[tuple[str, float]]:
        if doc.ai_score is not None and rule.matches(doc.crawl_date, doc.source, doc.metadata):
            yield doc.id, float(doc.ai_score)

    return select


# Typed, so that wiring anything but Documents into the stage fails while the pipeline is built.
@beam.typehints.with_input_types(Document)
class DecideAIContent(beam.PTransform):
    """Stage ``decide_ai``: drop / tag / down-weight documents whose stored ai_score is over the threshold."""

    def __init__(self, config: DecideAIConfig, layout: OutputLayout | None = None) -> None:
        """Args:
        config: Stage options.
        layout: The run's output layout; the thresholds used go to ``layout.stats("decide_ai")``.
        """
        super().__init__()
        self._config = config
        self._static = config.resolve_thresholds()
        self._layout = layout

    def expand(self, docs: PCollection[Document]) -> StageOutputs:
        rule = self._config.provenance
        static = {**self._static, "calibration": "none"}
        if static["confident_threshold"] is None:
            static["confident_note"] = _NO_CONFIDENT
        if rule.enabled:
            thresholds = (
                docs
                | "HumanProvenanceScores" >> beam.FlatMap(_human_score(rule))
                | "KeepCalibrationScores" >> beam.CombineGlobally(_HumanScoresFn(self._config.calibrate_max_docs))
                | "CalibrateInRun" >> beam.Map(_calibrated, static, self._config)
            )
        else:
            thresholds = docs.pipeline | "StaticThresholds" >> beam.Create([static])
        decided = apply_stage_fn(
            docs,
            "Decide",
            DECIDE_STAGE,
            _DecideFn(self._config),
            beam.pvalue.AsSingleton(thresholds),
            extra_tags=(BREAKDOWN,),
        )
        if self._layout is not None:
            # (domain, length bucket, outcome, words, chars): small records, never Documents
            records = decided.extra[BREAKDOWN]
            by_length = (
                records
                | "KeyByLength" >> beam.Map(_by_length)
                | "TallyByLength" >> beam.CombineGlobally(_TallyByKeyFn())
            )
            domains = (
                records
                | "KeyByDomain" >> beam.Map(_by_domain)
                | "TallyPerDomain" >> beam.CombinePerKey(_TallyFn())
                | "TopDomains" >> beam.CombineGlobally(_TopDomainsFn(self._config.breakdown_top_domains))
            )
            _ = (
                thresholds
                | "StatsToJson"
                >> beam.Map(_stats, beam.pvalue.AsSingleton(by_length), beam.pvalue.AsSingleton(domains))
                | "WriteStats" >> WriteJsonFile(self._layout.stats(DECIDE_STAGE))
            )
        return StageOutputs(decided.docs, decided.rejected, decided.dead_letter)
