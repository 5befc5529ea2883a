"""DocumentCoder is registered with Beam (and pickle) and carries documents through shuffles."""

from __future__ import annotations

import pickle

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tailguard.filters.document import Document, Provenance
from tailguard.transforms._coders import DocumentCoder


def _doc(i: int) -> Document:
    return Document(
        f"id{i}",
        f"text {i} ünïcødé",
        url=f"https://example.com/{i}",
        provenance=Provenance(position=i, payload_digest=f"sha1:{i}"),
        quality={"score": i / 7, "words": float(i)},
        lineage={"extract": "kept"},
    )


def test_registry_returns_the_deterministic_document_coder() -> None:
    coder = beam.coders.registry.get_coder(Document)
    assert isinstance(coder, DocumentCoder) and coder.is_deterministic()
    assert coder.decode(coder.encode(_doc(3))) == _doc(3)
    keyed = beam.coders.registry.get_coder(beam.typehints.Tuple[str, Document])
    assert keyed.is_deterministic()


def test_pickle_of_untyped_documents_goes_through_the_codec() -> None:
    data = pickle.dumps(_doc(1), protocol=pickle.HIGHEST_PROTOCOL)
    assert b"document_codec" in data and pickle.loads(data) == _doc(1)


def test_documents_survive_a_typed_and_an_untyped_shuffle() -> None:
    docs = [_doc(i) for i in range(20)]
    options = PipelineOptions(["--runner=FnApiRunner"])
    with TestPipeline(options=options, blocking=True) as p:
        created = p | beam.Create(docs).with_output_types(Document)
        typed = (
            created
            | "KeyTyped" >> beam.Map(lambda d: (d.id[-1], d)).with_output_types(beam.typehints.Tuple[str, Document])
            | "GroupTyped" >> beam.GroupByKey()
            | "FlattenTyped" >> beam.FlatMap(lambda kv: kv[1]).with_output_types(Document)
        )
        untyped = (
            created
            | "KeyUntyped" >> beam.Map(lambda d: (d.id[-1], d))
            | "GroupUntyped" >> beam.GroupByKey()
            | "FlattenUntyped" >> beam.FlatMap(lambda kv: kv[1])
        )
        assert_that(typed, equal_to(docs), label="typed")
        assert_that(untyped, equal_to(docs), label="untyped")
