"""IdentifyLanguage on the in-process FnApiRunner: lang/score set, allowed languages and threshold."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tailguard.filters.document import Document
from tailguard.transforms.langid import IdentifyLanguage, LangIdConfig

DOCS = [
    Document("en", "The committee published its annual report on water quality in the region yesterday."),
    Document("de", "Der Ausschuss hat gestern seinen Jahresbericht über die Wasserqualität veröffentlicht."),
    Document("fr", "Le comité a publié hier son rapport annuel sur la qualité de l'eau dans la région."),
    Document("mixed", "ok 123 xyz"),
]


def _count(result: beam.runners.runner.PipelineResult, name: str) -> int:
    counters = result.metrics().query(MetricsFilter().with_namespace("tailguard.langid").with_name(name))["counters"]
    return sum(c.committed for c in counters)


def test_allowed_languages_and_threshold_route_documents() -> None:
    p = TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]), blocking=True)
    out = p | beam.Create(DOCS) | IdentifyLanguage(LangIdConfig(allowed_languages=("en", "de"), min_score=0.9))
    kept = out.docs | "Kept" >> beam.Map(lambda d: (d.id, d.lang, d.lang_score is not None and d.lang_score >= 0.9))
    assert_that(kept, equal_to([("en", "en", True), ("de", "de", True)]), label="kept")
    rejected = out.rejected | "Rejected" >> beam.Map(lambda r: (r.id, r.stage, r.reason))
    expected = [("fr", "langid", "language_not_allowed"), ("mixed", "langid", "low_language_score")]
    assert_that(rejected, equal_to(expected), label="rejected")
    result = p.run()
    assert _count(result, "passed") == 2 and _count(result, "language_not_allowed") == 1
    assert _count(result, "low_language_score") == 1


def test_low_score_is_its_own_reason() -> None:
    p = TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]), blocking=True)
    out = p | beam.Create(DOCS[:1]) | IdentifyLanguage(LangIdConfig(min_score=1.0))
    assert_that(out.docs, equal_to([]), label="kept")
    rejected = out.rejected | "Rejected" >> beam.Map(lambda r: (r.id, r.reason))
    assert_that(rejected, equal_to([("en", "low_language_score")]), label="rejected")
    p.run()


def test_score_threshold_is_validated() -> None:
    with pytest.raises(ValueError, match="min_score"):
        LangIdConfig(min_score=2.0)
