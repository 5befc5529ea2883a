"""AssignTier on the in-process FnApiRunner."""

from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tailguard.filters.document import Document
from tailguard.filters.layout import OutputLayout
from tailguard.transforms.tiers import AssignTier, TiersConfig


def _docs() -> list[Document]:
    return [
        Document("h1", "A verified human book page.", source="/in/books/a.jsonl"),
        Document("s1", "Curated synthetic sample text.", source="/in/synthetic/b.jsonl"),
        Document(
            "w1",
            "An old web page from the archive.",
            source="/in/crawl/c.jsonl",
            crawl_date="2019-05-01",
        ),
        Document(
            "w2",
            "A page that a detector flags.",
            source="/in/crawl/c.jsonl",
            ai_score=0.97,
        ),
        Document(
            "w3",
            "A page of unknown provenance.",
            source="/in/crawl/c.jsonl",
            sample_weight=0.5,
        ),
    ]


def test_assign_tier_sets_tier_tokens_lineage_and_writes_the_summary(
    tmp_path: Path,
) -> None:
    config = TiersConfig(
        source_labels={
            "verified_human": ("*/books/*",),
            "curated_synthetic": ("*/synthetic/*",),
        },
        tokenizer="cl100k",
    )
    p = TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]), blocking=True)
    out = p | beam.Create(_docs()) | AssignTier(config, OutputLayout(str(tmp_path)))
    facts = out.docs | beam.Map(
        lambda d: (
            d.id,
            d.tier,
            d.sample_weight,
            d.tokens > 0,
            d.lineage["tiers"].split(" ")[1],
        )
    )
    assert_that(
        facts,
        equal_to(
            [
                ("h1", "tier1", 1.0, True, "label=verified_human"),
                ("s1", "curated_synthetic", 1.0, True, "label=curated_synthetic"),
                ("w1", "tier1", 1.0, True, "label=pre_cutoff"),
                ("w2", "synthetic_detected", 1.0, True, "label=ai_detected"),
                ("w3", "tier3", 0.5, True, "label=unknown_provenance"),
            ]
        ),
        label="Kept",
    )
    assert_that(out.rejected, equal_to([]), label="NoneRejected")
    result = p.run()
    counters = result.metrics().query(MetricsFilter().with_namespace("tailguard.tiers"))["counters"]
    by_name = {c.key.metric.name: c.committed for c in counters}
    assert by_name["passed"] == 5 and by_name["tier1"] == 2
    summary = json.loads((tmp_path / "_work" / "stats" / "tiers.json").read_text())
    assert summary["tier1"]["documents"] == 2
    assert summary["tier2"] == {"documents": 0, "tokens": 0}
    assert summary["curated_synthetic"]["tokens"] > 0
