"""ExtractText on the in-process FnApiRunner, fed by a warcio-written WARC through the WARC reader."""

from __future__ import annotations

import io

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tailguard.filters.document import Document
from tailguard.filters.readers import read_records
from tailguard.transforms.extract import ExtractConfig, ExtractText

PAGE = (
    "<html><body><nav>Home | About | Contact</nav><article><h1>Flood at the café</h1><p>The café by the river closed.</p>"
    + "".join(f"<p>Paragraph {i}: the river rose again and the town prepared sandbags.</p>" for i in range(5))
    + "</article></body></html>"
)


def _warc_docs() -> list[Document]:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    pages = {
        "http://example.org/good": PAGE.encode("cp1252"),
        "http://example.org/empty": b"<html><body><script>var x = 1;</script></body></html>",
    }
    for url, body in pages.items():
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
    return [i for i in read_records("demo.warc.gz", io.BytesIO(out.getvalue())) if isinstance(i, Document)]


def _counter(result: beam.runners.runner.PipelineResult, name: str) -> int:
    counters = result.metrics().query(MetricsFilter().with_namespace("tailguard.extract").with_name(name))["counters"]
    return sum(c.committed for c in counters)


@pytest.mark.parametrize("backend", ["trafilatura", "resiliparse"])
def test_html_from_a_warc_becomes_text_and_empty_pages_are_rejected(backend: str) -> None:
    docs = _warc_docs()
    by_url = {d.url: d.id for d in docs}
    p = TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]), blocking=True)
    out = p | beam.Create(docs) | ExtractText(ExtractConfig(extractor=backend))
    kept = out.docs | "Kept" >> beam.Map(
        lambda d: (d.id, d.html is None, "river rose again" in d.text and "café" in d.text, "About" in d.text)
    )
    assert_that(kept, equal_to([(by_url["http://example.org/good"], True, True, False)]), label="kept")
    rejected = out.rejected | "Rejected" >> beam.Map(lambda r: (r.id, r.stage, r.reason))
    assert_that(rejected, equal_to([(by_url["http://example.org/empty"], "extract", "extraction_empty")]), label="rej")
    result = p.run()
    assert _counter(result, "passed") == 1 and _counter(result, "extraction_empty") == 1
    assert _counter(result, "charset_redetected") == 1  # cp1252 bytes under a utf-8 header


def test_text_documents_are_normalised_and_invisible_characters_counted() -> None:
    docs = [Document("a", "cafÃ©\u200b menu"), Document("b", "\u200b\u200d")]
    p = TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]), blocking=True)
    out = p | beam.Create(docs) | ExtractText(ExtractConfig())
    kept = out.docs | "Kept" >> beam.Map(lambda d: (d.id, d.text, d.quality["invisible_chars"], d.lineage["extract"]))
    assert_that(kept, equal_to([("a", "café menu", 1.0, "normalized")]), label="kept")
    rejected = out.rejected | "Rejected" >> beam.Map(lambda r: (r.id, r.reason))
    assert_that(rejected, equal_to([("b", "empty_after_normalization")]), label="rejected")
    result = p.run()
    assert _counter(result, "invisible_chars_removed") == 3


def test_unknown_extractor_fails_at_config_time() -> None:
    with pytest.raises(ValueError, match="extract.extractor"):
        ExtractConfig(extractor="readability")  # type: ignore[arg-type]
