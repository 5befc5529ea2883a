"""MixByTokens on the in-process FnApiRunner."""

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
from tailguard.filters.mixing import ComponentSpec
from tailguard.transforms.mix import MixByTokens, MixConfig

COMPONENTS = (
    ComponentSpec("human", 0.5, tiers=("tier1",)),
    ComponentSpec("web", 0.5, tiers=("tier3",)),
)


def _docs() -> list[Document]:
    docs = [Document(f"h{i}", f"human text {i} " * 3, tier="tier1", tokens=10) for i in range(20)]
    docs += [Document(f"w{i}", f"web text {i} " * 3, tier="tier3", tokens=10) for i in range(60)]
    docs.append(Document("x", "flagged", tier="synthetic_detected", tokens=5))
    return docs


def _counters(result: beam.runners.runner.PipelineResult) -> dict[str, int]:
    counters = result.metrics().query(MetricsFilter().with_namespace("tailguard.mix"))["counters"]
    return {c.key.metric.name: c.committed for c in counters}


def test_mix_downsamples_the_large_pool_to_the_token_target(tmp_path: Path) -> None:
    config = MixConfig(components=COMPONENTS, tokenizer="estimate")
    p = TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]), blocking=True)
    out = p | beam.Create(_docs()) | MixByTokens(config, OutputLayout(str(tmp_path)), seed=1, num_shards=2)
    kept_by_component = (
        out.docs | beam.Map(lambda d: (d.id[0], d.repeats * d.tokens)) | "SumKept" >> beam.CombinePerKey(sum)
    )
    # Human (200 tokens) limits the total: 200 human + 200 web tokens, no repeats.
    assert_that(
        kept_by_component,
        equal_to([("h", 200), ("w", 200)]),
        label="TokensPerComponent",
    )
    reasons = out.rejected | beam.Map(lambda r: r.reason) | beam.combiners.Count.PerElement()
    assert_that(reasons, equal_to([("downsampled", 40), ("unselected", 1)]), label="Rejected")
    result = p.run()
    counters = _counters(result)
    assert counters["passed"] == 40 and counters["downsampled"] == 40 and counters["unselected"] == 1
    report = json.loads((tmp_path / "_work" / "stats" / "mixing.json").read_text())
    assert report["components"]["web"]["realized_token_share"] == 0.5
    assert report["components"]["web"]["downsampled_documents"] == 40
    assert report["curriculum"]["num_shards"] == 2


def test_mix_with_an_empty_component_renormalises_and_reports_it(
    tmp_path: Path,
) -> None:
    components = (
        *COMPONENTS,
        ComponentSpec("synthetic", 0.2, tiers=("curated_synthetic",)),
    )
    config = MixConfig(components=components, tokenizer="estimate", normalise=True)  # 0.5 + 0.5 + 0.2
    p = TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]), blocking=True)
    out = p | beam.Create(_docs()) | MixByTokens(config, OutputLayout(str(tmp_path)), seed=1, num_shards=1)
    assert_that(out.docs | beam.combiners.Count.Globally(), equal_to([40]), label="KeptCount")
    p.run()
    report = json.loads((tmp_path / "_work" / "stats" / "mixing.json").read_text())
    assert report["empty_components"] == ["synthetic"] and report["renormalised"] is True
    assert report["components"]["synthetic"]["documents"] == 0
