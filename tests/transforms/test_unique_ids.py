"""AssignUniqueIds: repeated ids are renamed (all occurrences, deterministically); unique ids pass."""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from tailguard.filters.document import Document, Provenance, namespaced_id
from tailguard.transforms.unique_ids import AssignUniqueIds
from tests.conftest import beam_options


def _doc(doc_id: str, source: str, position: int, text: str = "t") -> Document:
    return Document(id=doc_id, text=text, source=source, provenance=Provenance(record_id=doc_id, position=position))


def test_repeated_ids_across_and_within_files_are_renamed_and_unique_ids_kept(tmp_path):
    docs = [_doc("7", "a.jsonl", 1), _doc("7", "b.jsonl", 1), _doc("7", "b.jsonl", 2), _doc("x", "a.jsonl", 2)]
    stats = tmp_path / "stats.json"
    with beam.Pipeline(options=beam_options()) as p:
        out = p | beam.Create(docs) | AssignUniqueIds(str(stats))
        ids = out | "Ids" >> beam.Map(lambda d: (d.id, d.provenance.record_id, d.lineage.get("unique_ids")))
        assert_that(
            ids,
            equal_to(
                [
                    (namespaced_id("7", "a.jsonl", 1), "7", "renamed_from:7"),
                    (namespaced_id("7", "b.jsonl", 1), "7", "renamed_from:7"),
                    (namespaced_id("7", "b.jsonl", 2), "7", "renamed_from:7"),
                    ("x", "x", None),
                ]
            ),
        )
    assert json.loads(stats.read_text()) == {"colliding_ids": 1, "renamed_documents": 3}


def test_same_file_and_position_twice_still_gives_distinct_ids():
    docs = [_doc("7", "a.jsonl", 1, "one"), _doc("7", "a.jsonl", 1, "two")]
    with beam.Pipeline(options=beam_options()) as p:
        ids = p | beam.Create(docs) | AssignUniqueIds() | beam.Map(lambda d: d.id)
        assert_that(ids | beam.combiners.Count.Globally(), equal_to([2]))
        assert_that(
            ids | "Distinct" >> beam.Distinct() | "N" >> beam.combiners.Count.Globally(),
            equal_to([2]),
            label="distinct",
        )
