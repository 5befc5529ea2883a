"""Readers: every record becomes exactly one Document, Skip or RecordError; nothing raises."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from tailguard.filters.document import Document
from tailguard.filters.readers import (
    ReaderOptions,
    RecordError,
    Skip,
    UnsupportedFormatError,
    read_records,
    reader_for,
)


def _kinds(items):
    return [type(item).__name__ for item in items]


def _read(name, data, **options):
    return list(read_records(name, io.BytesIO(data), ReaderOptions(**options)))


def test_jsonl_reads_documents_with_own_and_derived_ids():
    data = b'{"id": "a", "text": "hello", "url": "https://www.x.org/p"}\n{"text": "world"}\n'
    first, second = _read("in.jsonl", data)
    assert first.id == "a" and first.domain == "x.org" and first.provenance.position == 1
    assert isinstance(second, Document) and len(second.id) == 24 and second.provenance.position == 2


def test_jsonl_keeps_unknown_fields_as_metadata():
    (doc,) = _read("in.jsonl", b'{"text": "t", "score": 0.5, "tags": ["a"]}\n')
    assert doc.metadata == {"score": "0.5", "tags": '["a"]'}


@pytest.mark.parametrize(
    ("line", "kind", "fragment"),
    [
        (b"{not json", "RecordError", "invalid JSON"),
        (b"\xff\xfe\x00", "RecordError", "invalid UTF-8"),
        (b'{"body": "x"}', "RecordError", "no 'text' field"),
        (b'{"text": 5}', "RecordError", "not a string"),
        (b'["a"]', "RecordError", "not an object"),
        (b'{"text": "   "}', "Skip", "empty_text"),
    ],
    ids=["bad-json", "bad-utf8", "no-text", "text-not-string", "not-object", "empty-text"],
)
def test_jsonl_bad_lines_are_items_not_exceptions(line, kind, fragment):
    items = _read("in.jsonl", b'{"text": "ok"}\n' + line + b'\n{"text": "after"}\n')
    assert _kinds(items) == ["Document", kind, "Document"]
    bad = items[1]
    assert fragment in (bad.error if isinstance(bad, RecordError) else bad.reason)
    assert bad.position == 2


def test_blank_lines_are_not_records():
    assert _kinds(_read("in.jsonl", b'\n\n{"text": "a"}\n  \n')) == ["Document"]


def test_empty_file_yields_nothing():
    assert _read("in.jsonl", b"") == []
    assert _read("in.jsonl.gz", gzip.compress(b"")) == []


def test_oversized_record_is_skipped_without_losing_the_next_line():
    big = json.dumps({"text": "x" * 5000}).encode()
    items = _read("in.jsonl", big + b'\n{"text": "small"}\n', max_record_bytes=1000)
    assert _kinds(items) == ["Skip", "Document"]
    assert items[0].reason == "oversized_record" and items[1].text == "small"


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_compressed_jsonl_is_decompressed(suffix):
    payload = b"".join(json.dumps({"text": f"doc {i}"}).encode() + b"\n" for i in range(50))
    blob = gzip.compress(payload) if suffix.endswith(".gz") else zstandard.ZstdCompressor().compress(payload)
    assert [d.text for d in _read("in" + suffix, blob)] == [f"doc {i}" for i in range(50)]


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_truncated_compressed_stream_ends_with_one_record_error(suffix):
    # Large enough to span several zstd blocks (128 KiB each): a cut frame decodes up to the last whole block.
    n = 3000
    payload = b"".join(json.dumps({"text": f"document number {i} {i * 7919} " * 20}).encode() + b"\n" for i in range(n))
    blob = gzip.compress(payload) if suffix.endswith(".gz") else zstandard.ZstdCompressor().compress(payload)
    items = _read("in" + suffix, blob[: len(blob) // 2])
    errors = [i for i in items if isinstance(i, RecordError)]
    docs = [i for i in items if isinstance(i, Document)]
    assert docs, "records before the truncation point are kept"
    assert len(errors) >= 1 and isinstance(items[-1], RecordError)
    assert len(docs) < n


def test_parquet_rows_become_documents():
    table = pa.Table.from_pylist([{"id": "p1", "text": "a", "lang": "en"}, {"id": "p2", "text": ""}])
    sink = io.BytesIO()
    pq.write_table(table, sink)
    items = _read("in.parquet", sink.getvalue())
    assert _kinds(items) == ["Document", "Skip"]
    assert items[0].lang == "en" and items[0].provenance.record_type == "parquet"


def test_corrupt_parquet_is_one_file_failure_with_every_byte_unread():
    data = b"PAR1 this is not parquet"
    items = _read("in.parquet", data)
    assert _kinds(items) == ["FileFailure"]
    assert items[0].bytes_not_read == len(data) and items[0].records_not_read is None


def test_reading_tailguard_output_back_is_lossless():
    doc = Document(id="z", text="t", tier="tier1", quality={"a": 1.0}, lineage={"read": "kept"})
    (back,) = _read("in.jsonl", json.dumps(doc.to_json_dict()).encode() + b"\n")
    assert back == doc


def test_unknown_format_is_a_clear_error():
    with pytest.raises(UnsupportedFormatError, match="supported file endings"):
        reader_for("data.csv")


def test_skip_and_error_carry_source():
    items = _read("gs://b/x.jsonl", b'{"text": ""}\n{bad\n')
    assert all(i.source == "gs://b/x.jsonl" for i in items)
    assert isinstance(items[0], Skip) and isinstance(items[1], RecordError)
