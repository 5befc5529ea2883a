"""Salvage: records before damage are kept, and a file-level failure says what was not read (issue 14)."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from tailguard.filters.document import Document
from tailguard.filters.readers import FileFailure, ReaderOptions, RecordError, read_records


def _read(name: str, data: bytes) -> list:
    return list(read_records(name, io.BytesIO(data), ReaderOptions()))


def _lines(start: int, n: int) -> bytes:
    # Hash-like words compress about evenly, so a stored offset maps onto a proportional record count.
    def text(i: int) -> str:
        return " ".join(f"{(i * 7919 + j * 104729) % 1000003:x}" for j in range(20))

    return b"".join(json.dumps({"id": f"d{i}", "text": text(i)}).encode() + b"\n" for i in range(start, start + n))


def _compress(kind: str, payload: bytes) -> bytes:
    return gzip.compress(payload, mtime=0) if kind == "gz" else zstandard.ZstdCompressor().compress(payload)


def _damage(blob: bytes, at: int, length: int = 16) -> bytes:
    out = bytearray(blob)
    for i in range(at, min(len(out), at + length)):
        out[i] ^= 0xA5
    return bytes(out)


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_members_before_a_bad_one_are_all_kept(kind):
    members = [_compress(kind, _lines(100 * k, 100)) for k in range(4)]
    # Damage just after the magic number: zstd frames carry no checksum by default, so damage in
    # the middle of literals would decode silently to other bytes; header damage is detectable.
    bad = _damage(members[2], 4)
    blob = members[0] + members[1] + bad + members[3]
    items = _read(f"in.jsonl.{kind}", blob)
    docs = [i for i in items if isinstance(i, Document)]
    assert [d.id for d in docs[:200]] == [f"d{i}" for i in range(200)]
    failure = items[-1]
    assert isinstance(failure, FileFailure) and "corrupt" in failure.error
    assert sum(isinstance(i, FileFailure) for i in items) == 1
    # the stored bytes not read start inside the bad member and include the member after it
    after_good = len(members[0]) + len(members[1])
    assert len(members[3]) < failure.bytes_not_read <= len(blob) - after_good


def test_zstd_damaged_mid_file_keeps_the_blocks_before_the_damage():
    # One frame of many 128 KiB blocks, as zstandard's one-shot compress writes it.
    n = 12_000  # ~1.9 MB: 15 blocks, so losing the block the damage is in costs < 10 % of the records
    payload = _lines(0, n)
    blob = zstandard.ZstdCompressor().compress(payload)
    items = _read("in.jsonl.zst", _damage(blob, len(blob) * 6 // 10))
    docs = [i for i in items if isinstance(i, Document)]
    assert [d.id for d in docs] == [f"d{i}" for i in range(len(docs))]
    assert len(docs) >= n * 5 // 10, f"only {len(docs)} of {n} records before the damage were kept"
    assert isinstance(items[-1], FileFailure) and 0 < items[-1].bytes_not_read <= len(blob) * 5 // 10


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_truncated_stream_is_a_file_failure_after_the_records_it_holds(kind):
    blob = _compress(kind, _lines(0, 12_000))
    items = _read(f"in.jsonl.{kind}", blob[: len(blob) // 2])
    assert isinstance(items[-1], FileFailure) and "truncated" in items[-1].error
    assert items[-1].bytes_not_read == 0  # every stored byte was decoded; the rest of the file is missing
    assert sum(isinstance(i, Document) for i in items) > 5000


def test_gzip_padding_after_the_last_member_is_not_an_error():
    blob = _compress("gz", _lines(0, 5)) + b"\x00" * 64
    assert [type(i).__name__ for i in _read("in.jsonl.gz", blob)] == ["Document"] * 5


def test_garbage_after_the_last_gzip_member_is_a_file_failure_not_an_exception():
    blob = _compress("gz", _lines(0, 5)) + b"this is not gzip"
    items = _read("in.jsonl.gz", blob)
    assert [type(i).__name__ for i in items] == ["Document"] * 5 + ["FileFailure"]
    assert items[-1].bytes_not_read == len(b"this is not gzip")


def _parquet(rows: int, group: int) -> bytes:
    table = pa.Table.from_pylist([{"id": f"r{i}", "text": f"row {i} " * 30} for i in range(rows)])
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=group, compression="zstd", use_dictionary=False)
    return sink.getvalue()


def test_parquet_row_groups_before_a_broken_one_are_kept_and_the_rest_counted():
    data = bytearray(_parquet(60, 20))
    group = pq.ParquetFile(io.BytesIO(bytes(data))).metadata.row_group(2)
    for c in range(group.num_columns):  # damage the end of each column chunk of row group 2
        col = group.column(c)
        end = (col.dictionary_page_offset or col.data_page_offset) + col.total_compressed_size
        data[end - 30 : end] = bytes(b ^ 0x55 for b in data[end - 30 : end])
    items = _read("in.parquet", bytes(data))
    assert [i.id for i in items[:-1]] == [f"r{i}" for i in range(40)]
    failure = items[-1]
    assert isinstance(failure, FileFailure) and failure.records_not_read == 20 and failure.position == 41
    assert failure.bytes_not_read == sum(group.column(c).total_compressed_size for c in range(group.num_columns))


def test_parquet_cut_in_half_is_one_file_failure_with_its_bytes():
    data = _parquet(20, 20)
    cut = data[: len(data) // 2]
    items = _read("in.parquet", cut)
    assert len(items) == 1 and isinstance(items[0], FileFailure)
    assert items[0].bytes_not_read == len(cut) and items[0].records_not_read is None


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "RecursionError"),
        (b'{"text": "t", "n": ' + b"9" * 5000 + b"}", "invalid JSON"),
        (b'{"text": "bad \\ud800 surrogate"}', "unpaired surrogate"),
        (b'{"text": "t", "provenance": {"nope": 1}, "lineage": {}}', "does not fit its schema"),
        (b'{"text": "t", "provenance": {}, "lineage": {}, "lang_score": "high"}', "does not fit its schema"),
    ],
    ids=["deep-nesting", "huge-integer", "lone-surrogate", "foreign-provenance", "wrong-field-type"],
)
def test_hostile_json_lines_are_record_errors_not_exceptions(line, fragment):
    # Each of these raised out of the reader (or out of the corpus writer) before issue 14's fuzzing.
    items = _read("in.jsonl", b'{"text": "before"}\n' + line + b'\n{"text": "after"}\n')
    assert [type(i).__name__ for i in items] == ["Document", "RecordError", "Document"]
    assert fragment in items[1].error and isinstance(items[1], RecordError)
