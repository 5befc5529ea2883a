"""ApplyQualityRules on the in-process FnApiRunner: one reason per rule family, blocklist, signals."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tailguard.filters.document import Document
from tailguard.filters.quality.c4 import C4Config
from tailguard.transforms.quality import ApplyQualityRules, QualityConfig

GOOD = """The river rose again this week and the town prepared for a flood.
Volunteers filled sandbags with the help of the local school on Tuesday.
The mayor said that the old bridge would stay open to traffic for now.
Residents have been asked to move their cars to higher ground tonight.
Forecasters expect the water to peak on Friday, with more rain to come.
The council will publish updates online and by radio every few hours.
Shops near the quay closed early, and several families left to stay with relatives.
Engineers checked the flood walls twice and found no new cracks in them."""


def _doc(doc_id: str, text: str, url: str | None = None, lang: str = "en") -> Document:
    doc = Document(doc_id, text, url=url)
    doc.lang = lang
    return doc


def _count(result: beam.runners.runner.PipelineResult, name: str) -> int:
    counters = result.metrics().query(MetricsFilter().with_namespace("tailguard.quality").with_name(name))["counters"]
    return sum(c.committed for c in counters)


def test_each_rule_family_drops_with_its_own_reason(tmp_path: Path) -> None:
    blocklist = tmp_path / "blocklist.txt"
    blocklist.write_text("spam.example\n")
    docs = [
        _doc("good", GOOD, "HTTP://WWW.Example.org/a?utm_source=x"),
        _doc("blocked", GOOD, "https://www.spam.example/x"),
        _doc("repeated", "\n".join(["Buy now and save big on everything today."] * 8)),
        _doc("short", "Too short to be a document."),
        _doc("curly", GOOD + "\nvar config = { a: 1 };"),
        _doc("german", "kurz", lang="de"),
    ]
    config = QualityConfig(
        languages=("en",), url_blocklist_file=str(blocklist), c4=C4Config(require_terminal_punctuation=False)
    )
    p = TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]), blocking=True)
    out = p | beam.Create(docs) | ApplyQualityRules(config)
    kept = out.docs | "Kept" >> beam.Map(lambda d: (d.id, d.url, d.lineage["quality"]))
    assert_that(
        kept,
        equal_to([("good", "http://www.example.org/a", "kept"), ("german", None, "not_applicable:de")]),
        label="kept",
    )
    rejected = out.rejected | "Rejected" >> beam.Map(lambda r: (r.id, r.reason))
    assert_that(
        rejected,
        equal_to(
            [
                ("blocked", "url_blocklisted"),
                ("repeated", "gopher_dup_lines"),
                ("short", "gopher_too_few_words"),
                ("curly", "c4_curly_bracket"),
            ]
        ),  # fmt: skip
        label="rejected",
    )
    signals = out.docs | "Signals" >> beam.Map(lambda d: (d.id, "gopher_words" in d.quality))
    assert_that(signals, equal_to([("good", True), ("german", False)]), label="signals")
    result = p.run()
    assert _count(result, "passed") == 2 and _count(result, "url_blocklisted") == 1
    assert _count(result, "gopher_dup_lines") == 1 and _count(result, "c4_curly_bracket") == 1


def test_missing_blocklist_file_fails_at_config_time(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="url_blocklist_file"):
        QualityConfig(url_blocklist_file=str(tmp_path / "missing.txt"))
