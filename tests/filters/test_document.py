"""Document record: Arrow schema round trip, stable ids, domains."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tailguard.filters.document import ARROW_SCHEMA, Document, Provenance, derive_id, domain_of


def _full_document() -> Document:
    return Document(
        id="d1",
        text="Some text",
        source="gs://bucket/in.jsonl",
        url="https://www.example.org/a?b=1",
        domain="example.org",
        crawl_date="2021-01-02T03:04:05Z",
        lang="en",
        lang_score=0.98,
        provenance=Provenance(record_id="<urn:uuid:1>", position=7, record_type="response", payload_digest="sha1:X"),
        quality={"words": 2.0, "alpha_ratio": 1.0},
        ai_score=0.1,
        detector_scores={"fasttext": 0.2},
        dup_cluster_id="d0",
        dup_cluster_size=3,
        tier="tier1",
        sample_weight=1.5,
        repeats=2,
        tokens=4,
        lineage={"read": "kept"},
        metadata={"foo": "[1, 2]"},
    )


def test_document_round_trips_through_arrow_schema():
    doc = _full_document()
    table = pa.Table.from_pylist([doc.to_row()], schema=ARROW_SCHEMA)
    back = Document.from_row(table.to_pylist()[0])
    assert back == doc


def test_document_round_trips_through_json_dict():
    doc = _full_document()
    assert Document.from_row(doc.to_json_dict()) == doc


def test_empty_slots_are_null_in_arrow():
    table = pa.Table.from_pylist([Document(id="x", text="t").to_row()], schema=ARROW_SCHEMA)
    row = table.to_pylist()[0]
    assert row["ai_score"] is None and row["tier"] is None and row["quality"] == []


def test_map_fields_are_written_in_key_order():
    a = Document(id="x", text="t", quality={"b": 1.0, "a": 2.0}).to_row()
    b = Document(id="x", text="t", quality={"a": 2.0, "b": 1.0}).to_row()
    assert a == b


def test_derived_id_is_stable_and_position_dependent():
    assert derive_id("f.jsonl", 1) == derive_id("f.jsonl", 1)
    assert derive_id("f.jsonl", 1) != derive_id("f.jsonl", 2)
    assert derive_id("f.jsonl", 1) != derive_id("g.jsonl", 1)


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://www.Example.org/x", "example.org"),
        ("http://sub.example.org:8080/", "sub.example.org"),
        ("not a url", None),
        (None, None),
        ("http://[bad", None),
    ],
    ids=["www-stripped", "port-dropped", "no-host", "none", "invalid"],
)
def test_domain_of(url, domain):
    assert domain_of(url) == domain
