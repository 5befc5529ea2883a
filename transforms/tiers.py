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
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection

from tailguard.filters.document import Document, evolve
from tailguard.filters.layout import OutputLayout
from tailguard.filters.tiers import (
    TIERS,
    assign_tier,
    format_lineage,
)
from tailguard.filters.tokens import make_token_counter
from tailguard.transforms._files import WriteJsonFile
from tailguard.transforms._stage_configs import TiersConfig
from tailguard.transforms.accounting import StageOutputs, apply_stage_fn, make_counter

__all__ = ["STAGE", "AssignTier", "TiersConfig"]

STAGE = "tiers"


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
