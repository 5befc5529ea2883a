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


def test_schema_has_no_arrow_map_columns_and_records_its_version():
    # HF datasets has no dtype for Arrow ``map`` (issue 14): maps are lists of {key, value} structs.
    def has_map(tp: pa.DataType) -> bool:
        if pa.types.is_map(tp):
            return True
        return any(has_map(tp.field(i).type) for i in range(tp.num_fields))

    assert not [f.name for f in ARROW_SCHEMA if has_map(f.type)]
    assert ARROW_SCHEMA.metadata[b"tailguard.schema"] == b"document_v2"
    assert ARROW_SCHEMA.metadata[b"tailguard.map_encoding"] == b"list<struct<key,value>>"


def test_maps_are_key_value_structs_in_arrow():
    table = pa.Table.from_pylist([_full_document().to_row()], schema=ARROW_SCHEMA)
    assert table.to_pylist()[0]["quality"] == [{"key": "alpha_ratio", "value": 1.0}, {"key": "words", "value": 2.0}]


def test_document_v1_map_pairs_still_read_back():
    row = {"id": "x", "text": "t", "quality": [("a", 1.0)], "lineage": [("read", "kept")]}
    assert Document.from_row(row) == Document(id="x", text="t", quality={"a": 1.0}, lineage={"read": "kept"})


@pytest.mark.parametrize(
    "row",
    [
        {"id": "x", "text": "t", "provenance": {"not_a_field": 1}},
        {"id": "x", "text": "t", "provenance": "a string"},
        {"id": "x", "text": "t", "quality": 5},
        {"id": "x", "text": "t", "lineage": [1, 2, 3]},
    ],
    ids=["unknown-provenance-key", "provenance-not-mapping", "map-not-mapping", "map-items-not-pairs"],
)
def test_from_row_rejects_foreign_shapes_with_value_error(row):
    with pytest.raises(ValueError):
        Document.from_row(row)
