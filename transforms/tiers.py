"""The ``tiers`` stage: give every document a provenance tier, a label and a tier weight.

Documents in, the same documents out with ``tier``, ``sample_weight`` (times the
rule's weight), ``tokens`` and ``lineage["tiers"]`` set (``tier1 label=...
rule=... weight=... (why)``).  Nothing is dropped.  Writes the manifest section
``tiers``: ``{TIER: {documents, tokens}}`` for every tier in
:data:`~tailguard.filters.tiers.TIERS`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection

from tailguard.filters.document import Document, evolve
from tailguard.filters.layout import OutputLayout
from tailguard.filters.tiers import (
    CHATGPT_RELEASE_DATE,
    DEFAULT_REVIEW_THRESHOLD,
    DEFAULT_REVIEW_WEIGHT,
    DEFAULT_SYNTHETIC_THRESHOLD,
    TIERS,
    TierRule,
    assign_tier,
    default_rules,
    format_lineage,
)
from tailguard.filters.tokens import TokenizerName, make_token_counter
from tailguard.transforms._files import WriteJsonFile
from tailguard.transforms.accounting import StageOutputs, apply_stage_fn, make_counter

__all__ = ["STAGE", "AssignTier", "TiersConfig"]

STAGE = "tiers"


@dataclass(frozen=True)
class TiersConfig:
    """Options of :class:`AssignTier`.

    Attributes:
        enabled: Run the stage.
        source_labels: Label → globs on the input file (``verified_human``,
            ``peer_reviewed``, ``licensed``, ``curated_synthetic``, ``authenticated``
            are used by the default rules; any label may be used by custom rules).
        publisher_domains: Allowlisted publisher domains (tier2 by default).
        cutoff_date: Pre-AI cutoff for the default rules (ChatGPT release).
        synthetic_threshold: ``ai_score >=`` this → ``synthetic_detected``.
        review_threshold: ``ai_score`` in [review, synthetic) → tier3 at ``review_weight``.
        review_weight: Weight of the review band.
        rules: Ordered custom rules; empty = the seed's rules built from the values above.
        tokenizer: ``cl100k`` (offline tiktoken) or ``estimate``.
    """

    enabled: bool = True
    source_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    publisher_domains: tuple[str, ...] = ()
    cutoff_date: str = CHATGPT_RELEASE_DATE
    synthetic_threshold: float = DEFAULT_SYNTHETIC_THRESHOLD
    review_threshold: float = DEFAULT_REVIEW_THRESHOLD
    review_weight: float = DEFAULT_REVIEW_WEIGHT
    rules: tuple[TierRule, ...] = ()
    tokenizer: TokenizerName = "cl100k"

    def __post_init__(self) -> None:
        if not 0.0 <= self.review_threshold <= self.synthetic_threshold <= 1.0:
            raise ValueError("tiers: need 0 <= review_threshold <= synthetic_threshold <= 1")
        if self.review_weight < 0:
            raise ValueError("tiers.review_weight must be >= 0")
        if self.tokenizer not in ("cl100k", "estimate"):
            raise ValueError(f"tiers.tokenizer must be 'cl100k' or 'estimate', got {self.tokenizer!r}")
        # Validates the date and thresholds through TierRule's own checks.
        self.resolved_rules()

    def resolved_rules(self) -> tuple[TierRule, ...]:
        """Return the rules in force (the custom list, or the seed's defaults)."""
        if self.rules:
            return self.rules
        return default_rules(
            self.cutoff_date,
            self.synthetic_threshold,
            self.review_threshold,
            self.review_weight,
        )


class _AssignTierFn(beam.DoFn):
    """Assign tier, label and weight; count tokens."""

    def __init__(self, config: TiersConfig) -> None:
        self._config = config

    def setup(self) -> None:
        # The tokenizer loads its BPE table once per worker.
        self._tokens = make_token_counter(self._config.tokenizer)
        self._inc = make_counter(STAGE)
        self._rules = self._config.resolved_rules()

    def process(self, doc: Document) -> Iterator[Document]:
        verdict = assign_tier(
            self._rules,
            source=doc.source,
            domain=doc.domain,
            crawl_date=doc.crawl_date,
            ai_score=doc.ai_score,
            source_labels=self._config.source_labels,
            publisher_domains=self._config.publisher_domains,
            inc=self._inc,
        )
        # Multiplies, so an earlier stage's down-weighting (decide_ai: downweight) is kept.
        weight = (1.0 if doc.sample_weight is None else doc.sample_weight) * verdict.weight
        self._inc("passed")
        yield evolve(
            doc,
            tier=verdict.tier,
            sample_weight=weight,
            tokens=self._tokens.count(doc.text),
            lineage={STAGE: format_lineage(verdict)},
        )


def _tier_summary(pairs: list[tuple[str, tuple[int, int]]]) -> str:
    """``[(tier, (documents, tokens))]`` → the manifest's ``tiers`` JSON (every tier listed)."""
    out: dict[str, dict[str, int]] = {tier: {"documents": 0, "tokens": 0} for tier in TIERS}
    for tier, (documents, tokens) in pairs:
        out.setdefault(tier, {"documents": 0, "tokens": 0})
        out[tier] = {"documents": documents, "tokens": tokens}
    return json.dumps(out, sort_keys=True)


def _sum_pairs(values: Any) -> tuple[int, int]:
    docs = tokens = 0
    for d, t in values:
        docs += d
        tokens += t
    return docs, tokens


# Typed, so that wiring anything but Documents into the stage fails while the pipeline is built.
@beam.typehints.with_input_types(Document)
class AssignTier(beam.PTransform):
    """Give every document a provenance tier (stage ``tiers``) and write the tier summary.

    Args:
        config: Stage options.
        layout: The run's output layout (the summary goes to ``layout.stats("tiers")``).

    Returns (from ``expand``):
        :class:`StageOutputs` (nothing is rejected).
    """

    def __init__(self, config: TiersConfig, layout: OutputLayout) -> None:
        super().__init__()
        self._config = config
        self._layout = layout

    def expand(self, docs: PCollection) -> StageOutputs:
        outputs = apply_stage_fn(docs, "AssignTierFn", STAGE, _AssignTierFn(self._config))
        _ = (
            outputs.docs
            # (tier, (1, tokens))
            | "KeyByTier" >> beam.Map(lambda doc: (doc.tier, (1, doc.tokens or 0)))
            | "SumPerTier" >> beam.CombinePerKey(_sum_pairs)
            | "CollectTiers" >> beam.combiners.ToList()
            | "TiersJson" >> beam.Map(_tier_summary)
            | "WriteTierStats" >> WriteJsonFile(self._layout.stats("tiers"))
        )
        return outputs
