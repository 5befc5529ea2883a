"""The ``mix`` stage: token-exact weighted mixing with rarity up-weighting (two-pass plan).

Documents in; out: the sampled documents with ``tokens``, ``sample_weight`` and
``repeats`` set (WriteCorpus writes each ``repeats`` times, spread over shards
by hash) and ``lineage["mix"]``.  Documents no component selects are rejected as
``unselected``; documents the sampler leaves out as ``downsampled``.

Passes (every side input is small: per component or per bucket)::

    docs ─► PrepareMix (tokens, component, base weight)     [apply_stage_fn: rejected/dead letter]
         ─► language shares / domain sketch ─► ScoreRarity ─► (doc, MixItem)
    pass 1: CombinePerKey(component totals) ─► plan (targets, guarded gamma)
    pass 2: event-token histogram per (component, bucket) ─► boundary bucket
            events inside the boundary bucket ─► exact cutoff per component
            DecideCopies (copies = accepted events) ─► docs / downsampled   [apply_stage_fn]
            tallies ─► _work/stats/mixing.json (manifest section ``mixing``)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import AsSingleton, PCollection, TaggedOutput

from tailguard.filters.document import Document, evolve
from tailguard.filters.hashing import shard_of
from tailguard.filters.layout import OutputLayout
from tailguard.filters.mixing import (
    RARITY_SCALE,
    WEIGHT_SCALE,
    Boundary,
    ComponentTotals,
    CountMinSketch,
    MixDecision,
    MixItem,
    MixPlan,
    MixTally,
    RarityOptions,
    accept_copies,
    curriculum_violations,
    doc_events,
    event_bucket,
    final_weight,
    find_boundary,
    find_cutoff,
    importance_weight,
    mix_report,
    oov_share,
    plan_mix,
    quantise,
    rarity_score,
    select_component,
)
from tailguard.filters.tiers import label_from_lineage
from tailguard.filters.tokens import make_token_counter
from tailguard.transforms._files import WriteJsonFile
from tailguard.transforms._stage_configs import MixConfig, default_components
from tailguard.transforms.accounting import (
    StageOutputs,
    apply_stage_fn,
    make_counter,
    reject,
)

__all__ = ["STAGE", "MixByTokens", "MixConfig", "default_components"]

STAGE = "mix"
#: How far the target shares may sum from 1 without ``normalise`` (float rounding of e.g. 0.7 + 0.2 + 0.1).
_DECISIONS = "decisions"


def _load_vocabulary(path: str) -> frozenset[str]:
    if not path:
        return frozenset()
    with FileSystems.open(path) as handle:
        lines = handle.read().decode("utf-8").splitlines()
    return frozenset(line.split()[0].lower() for line in lines if line.strip())


class _PrepareMixFn(beam.DoFn):
    """Count tokens, pick the component, compute the base weight; reject unselected documents."""

    def __init__(self, config: MixConfig) -> None:
        self._config = config

    def setup(self) -> None:
        # Tokenizer and vocabulary are loaded once per worker.
        self._tokens = make_token_counter(self._config.tokenizer)
        self._vocabulary = _load_vocabulary(self._config.reference_vocabulary)
        self._inc = make_counter(STAGE)

    def process(self, doc: Document) -> Iterator[Any]:
        label = label_from_lineage(doc.lineage.get("tiers"))
        spec = select_component(self._config.components, doc.tier, label, doc.ai_score)
        if spec is None:
            self._inc("unselected")
            yield reject(
                STAGE,
                doc,
                "unselected",
                f"tier={doc.tier} label={label} ai_score={doc.ai_score}",
            )
            return
        if doc.tokens is None:
            doc = evolve(doc, tokens=self._tokens.count(doc.text))
        weight = (1.0 if doc.sample_weight is None else doc.sample_weight) * importance_weight(
            doc.ai_score, spec.importance_alpha
        )
        if self._config.dup_exponent and doc.dup_cluster_size and doc.dup_cluster_size > 1:
            weight *= doc.dup_cluster_size ** (-self._config.dup_exponent)
        # (doc, component, base weight fixed point, out-of-vocabulary share)
        yield (
            doc,
            spec.name,
            quantise(weight, WEIGHT_SCALE),
            oov_share(doc.text, self._vocabulary),
        )


class _ScoreRarityFn(beam.DoFn):
    """Turn rarity signals into ``r`` and build the sampler's MixItem."""

    def __init__(self, options: RarityOptions, use_domains: bool) -> None:
        self._options = options
        self._use_domains = use_domains

    def process(
        self,
        element: tuple[Document, str, int, float | None],
        languages: dict[str, float],
        domains: Any,
    ) -> Iterator[tuple[Document, MixItem]]:
        doc, component, weight_q, oov = element
        domain_docs = domains.estimate(doc.domain) if self._use_domains and doc.domain else None
        rarity, _ = rarity_score(
            self._options,
            language_share=languages.get(doc.lang) if doc.lang else None,
            domain_docs=domain_docs,
            oov=oov,
        )
        yield (
            doc,
            MixItem(
                doc.id,
                component,
                doc.tokens or 0,
                weight_q,
                quantise(rarity, RARITY_SCALE),
            ),
        )


class _DecideCopiesFn(beam.DoFn):
    """Keep a document ``copies`` times or reject it as ``downsampled``; emit a decision record."""

    def __init__(self, num_shards: int, shard_seed: int, tail_threshold_q: int) -> None:
        self._num_shards = num_shards
        self._shard_seed = shard_seed
        self._tail_q = tail_threshold_q

    def setup(self) -> None:
        self._inc = make_counter(STAGE)

    def process(
        self,
        element: tuple[Document, MixItem],
        plan: MixPlan,
        boundaries: dict[str, Boundary],
        cutoffs: dict[str, Any],
    ) -> Iterator[Any]:
        doc, item = element
        weight_q = final_weight(item, plan.gamma)
        events = doc_events(item.id, plan.seed, weight_q, plan.max_repeats.get(item.component, 0))
        copies = accept_copies(item.id, events, boundaries.get(item.component), cutoffs.get(item.component))
        upweighted = weight_q > item.weight_q
        tail = item.rarity_q > 0 and item.rarity_q >= self._tail_q
        shards = tuple(shard_of(doc.id, self._shard_seed, self._num_shards, c) for c in range(copies))
        yield TaggedOutput(
            _DECISIONS,
            MixDecision(item.component, item.tokens, copies, upweighted, tail, shards),
        )
        detail = (
            f"component={item.component} weight={weight_q / WEIGHT_SCALE:.6g} rarity={item.rarity_q / RARITY_SCALE:.3g}"
        )
        if copies == 0:
            self._inc("downsampled")
            yield reject(STAGE, doc, "downsampled", detail)
            return
        self._inc("passed")
        self._inc(f"component:{item.component}")
        yield evolve(
            doc,
            repeats=copies,
            sample_weight=weight_q / WEIGHT_SCALE,
            lineage={STAGE: f"kept copies={copies} {detail}"},
        )


class _TotalsCombineFn(beam.CombineFn):
    """Exact integer totals of a component's pool."""

    def __init__(self, tail_threshold_q: int) -> None:
        self._tail_q = tail_threshold_q

    def create_accumulator(self) -> ComponentTotals:
        return ComponentTotals()

    def add_input(self, acc: ComponentTotals, item: MixItem) -> ComponentTotals:
        return acc.add(item, self._tail_q)

    def merge_accumulators(self, accs: Any) -> ComponentTotals:
        out = ComponentTotals()
        for acc in accs:
            out.merge(acc)
        return out

    def extract_output(self, acc: ComponentTotals) -> ComponentTotals:
        return acc


class _SketchCombineFn(beam.CombineFn):
    """Count-min sketch of documents per domain."""

    def create_accumulator(self) -> CountMinSketch:
        return CountMinSketch()

    def add_input(self, acc: CountMinSketch, domain: str) -> CountMinSketch:
        acc.add(domain)
        return acc

    def merge_accumulators(self, accs: Any) -> CountMinSketch:
        out = CountMinSketch()
        for acc in accs:
            out.merge(acc)
        return out

    def extract_output(self, acc: CountMinSketch) -> CountMinSketch:
        return acc


class _TallyCombineFn(beam.CombineFn):
    """Integer tallies of all decisions (components, shards)."""

    def __init__(self, num_shards: int, reference_component: str) -> None:
        self._num_shards = num_shards
        self._reference = reference_component

    def create_accumulator(self) -> MixTally:
        return MixTally(self._num_shards)

    def add_input(self, acc: MixTally, decision: MixDecision) -> MixTally:
        return acc.add(decision, self._reference)

    def merge_accumulators(self, accs: Any) -> MixTally:
        out = MixTally(self._num_shards)
        for acc in accs:
            out.merge(acc)
        return out

    def extract_output(self, acc: MixTally) -> MixTally:
        return acc


def _language_shares(pairs: list[tuple[str, int]]) -> dict[str, float]:
    total = sum(tokens for _, tokens in pairs)
    return {lang: tokens / total for lang, tokens in pairs} if total else {}


def _events_to_buckets(element: tuple[Document, MixItem], plan: MixPlan) -> Iterator[tuple[tuple[str, int], int]]:
    _, item = element
    weight_q = final_weight(item, plan.gamma)
    for s in doc_events(item.id, plan.seed, weight_q, plan.max_repeats.get(item.component, 0)):
        yield (item.component, event_bucket(s)), item.tokens


def _boundary_events(
    element: tuple[Document, MixItem], plan: MixPlan, boundaries: dict[str, Boundary]
) -> Iterator[tuple[str, tuple[float, str, int, int]]]:
    _, item = element
    boundary = boundaries.get(item.component)
    if boundary is None or boundary.bucket is None:
        return
    weight_q = final_weight(item, plan.gamma)
    for k, s in enumerate(doc_events(item.id, plan.seed, weight_q, plan.max_repeats.get(item.component, 0))):
        if event_bucket(s) == boundary.bucket:
            yield item.component, (s, item.id, k, item.tokens)


def _boundaries(buckets: list[tuple[tuple[str, int], int]], plan: MixPlan) -> dict[str, Boundary]:
    histograms: dict[str, dict[int, int]] = {}
    for (component, bucket), tokens in buckets:
        histograms.setdefault(component, {})[bucket] = tokens
    return {name: find_boundary(histograms.get(name, {}), target) for name, target in plan.targets.items()}


def _cutoffs(groups: list[tuple[str, Any]], boundaries: dict[str, Boundary]) -> dict[str, Any]:
    return {name: find_cutoff(list(events), boundaries[name].residual) for name, events in groups}


def _plan(totals: list[tuple[str, ComponentTotals]], cfg: MixConfig, seed: int) -> MixPlan:
    return plan_mix(
        dict(totals),
        cfg.components,
        seed=seed,
        default_max_repeats=cfg.max_repeats,
        total_tokens=cfg.total_tokens,
        anchor_component=cfg.anchor_component,
        on_empty_component=cfg.on_empty_component,
        rarity=cfg.rarity,
    )


def _report(tally: MixTally, cfg: MixConfig, plan: MixPlan) -> str:
    report = mix_report(plan, tally, cfg.components, cfg.rarity.reference_component)
    report["tokenizer"] = cfg.tokenizer
    report["max_repeats"] = cfg.max_repeats
    spread = report["curriculum"]
    spread.update(
        curriculum_violations(
            spread["reference_target_token_share"],
            spread["shard_tokens"],
            spread["shard_reference_tokens"],
            spread["shard_upweighted_rows"],
            cfg.curriculum,
        )
    )
    spread["enforced"] = cfg.curriculum.enforce
    spread["human_share_tolerance"] = cfg.curriculum.human_share_tolerance
    return json.dumps(report, sort_keys=True)


# Typed, so that wiring anything but Documents into the stage fails while the pipeline is built.
@beam.typehints.with_input_types(Document)
class MixByTokens(beam.PTransform):
    """Sample documents so that each component gets its target share of tokens (stage ``mix``).

    Args:
        config: Stage options.
        layout: The run's output layout (the summary goes to ``layout.stats("mixing")``).
        seed: Run seed (sampling hash; also the shard hash of the spread report).
        num_shards: Corpus shard count (for the spread report).

    Returns (from ``expand``):
        :class:`StageOutputs`.
    """

    def __init__(self, config: MixConfig, layout: OutputLayout, seed: int, num_shards: int) -> None:
        super().__init__()
        if num_shards <= 0:
            raise ValueError("MixByTokens needs num_shards > 0")
        self._config = config
        self._layout = layout
        self._seed = seed
        self._num_shards = num_shards

    def expand(self, docs: PCollection) -> StageOutputs:
        cfg = self._config
        # (doc, component, base weight, oov share) tuples, not Documents, until DecideCopies.
        prepared = apply_stage_fn(docs, "PrepareMix", STAGE, _PrepareMixFn(cfg), main_type=Any)
        # (doc, component, weight_q, oov)
        candidates = prepared.docs
        languages = (
            candidates
            | "KeyByLanguage" >> beam.Map(lambda e: (e[0].lang or "", e[0].tokens or 0))
            | "SumLanguageTokens" >> beam.CombinePerKey(sum)
            | "CollectLanguages" >> beam.combiners.ToList()
            | "LanguageShares" >> beam.Map(_language_shares)
        )
        use_domains = cfg.rarity.rare_domain_docs > 0
        domains = (
            candidates
            | "Domains" >> beam.FlatMap(lambda e: [e[0].domain] if use_domains and e[0].domain else [])
            | "DomainSketch" >> beam.CombineGlobally(_SketchCombineFn())
        )
        # (doc, MixItem)
        items = candidates | "ScoreRarity" >> beam.ParDo(
            _ScoreRarityFn(cfg.rarity, use_domains),
            AsSingleton(languages),
            AsSingleton(domains),
        )
        # Pass 1: exact integer totals per component -> plan.
        tail_q = quantise(cfg.rarity.tail_threshold, RARITY_SCALE)
        plan = (
            items
            | "KeyByComponent" >> beam.Map(lambda e: (e[1].component, e[1]))
            | "ComponentTotals" >> beam.CombinePerKey(_TotalsCombineFn(tail_q))
            | "CollectTotals" >> beam.combiners.ToList()
            | "PlanMix" >> beam.Map(_plan, cfg, self._seed)
        )
        # Pass 2: token histogram of sampler events -> boundary bucket -> exact cutoff.
        boundaries = (
            items
            | "EventBuckets" >> beam.FlatMap(_events_to_buckets, AsSingleton(plan))
            | "SumBucketTokens" >> beam.CombinePerKey(sum)
            | "CollectBuckets" >> beam.combiners.ToList()
            | "FindBoundaries" >> beam.Map(_boundaries, AsSingleton(plan))
        )
        cutoffs = (
            items
            | "BoundaryEvents" >> beam.FlatMap(_boundary_events, AsSingleton(plan), AsSingleton(boundaries))
            | "GroupBoundaryEvents" >> beam.GroupByKey()
            | "CollectBoundaryEvents" >> beam.combiners.ToList()
            | "FindCutoffs" >> beam.Map(_cutoffs, AsSingleton(boundaries))
        )
        # An exception here dead-letters the document instead of failing the run.
        decided = apply_stage_fn(
            items,
            "DecideCopies",
            STAGE,
            _DecideCopiesFn(self._num_shards, self._seed, tail_q),
            AsSingleton(plan),
            AsSingleton(boundaries),
            AsSingleton(cutoffs),
            extra_tags=(_DECISIONS,),
        )
        _ = (
            decided.extra[_DECISIONS]  # one decision record per document
            | "TallyDecisions"
            >> beam.CombineGlobally(_TallyCombineFn(self._num_shards, cfg.rarity.reference_component))
            | "MixingJson" >> beam.Map(_report, cfg, AsSingleton(plan))
            | "WriteMixStats" >> WriteJsonFile(self._layout.stats("mixing"))
        )
        rejected = (prepared.rejected, decided.rejected) | "MixRejected" >> beam.Flatten()
        dead = (prepared.dead_letter, decided.dead_letter) | "MixDeadLetters" >> beam.Flatten()
        return StageOutputs(decided.docs, rejected, dead)
