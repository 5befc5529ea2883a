"""WARC/WET/WAT/ARC reader: record routing, provenance, broken input (tiny fixtures written with warcio)."""

from __future__ import annotations

import gzip
import io
from collections import Counter
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tailguard.filters.document import Document
from tailguard.filters.readers import ReaderOptions, RecordError, Skip, read_records
from tailguard.filters.readers.warc import decode_chunked, decode_content, is_html_payload
from tests.conftest import shared_data

HTML = b"<!doctype html><html><head><title>t</title></head><body><p>Hello world, this is a page.</p></body></html>"


def _response(writer: WARCWriter, url: str, body: bytes, content_type: str = "text/html; charset=utf-8",
              status: str = "200 OK", extra: list[tuple[str, str]] | None = None) -> None:  # fmt: skip
    http = StatusAndHeaders(status, [("Content-Type", content_type), *(extra or [])], protocol="HTTP/1.1")
    record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
    writer.write_record(record)


def _warc(gzip_records: bool = True) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=gzip_records)
    writer.write_record(writer.create_warcinfo_record("x.warc.gz", {"software": "test"}))
    request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.org")], is_http_request=True)
    writer.write_record(writer.create_warc_record("http://www.example.org/", "request", http_headers=request))
    _response(writer, "http://www.example.org/a", HTML)
    _response(writer, "http://example.org/logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "image/png")
    _response(writer, "http://example.org/moved", b"", status="301 Moved Permanently")
    revisit = writer.create_revisit_record(
        "http://example.org/a2", digest="sha1:AAAA", refers_to_uri="http://www.example.org/a", refers_to_date="2020"
    )
    writer.write_record(revisit)
    return out.getvalue()


def _items(data: bytes, name: str = "crawl.warc.gz", **options: int) -> list:
    return list(read_records(name, io.BytesIO(data), ReaderOptions(**options)))


def _kinds(items: list) -> list[str]:
    return ["doc" if isinstance(i, Document) else f"skip:{i.reason}" if isinstance(i, Skip) else "error" for i in items]


def test_every_record_becomes_one_item_with_a_reason() -> None:
    assert _kinds(_items(_warc())) == [
        "skip:warc_warcinfo",
        "skip:warc_request",
        "doc",
        "skip:non_html_payload",
        "skip:http_status_not_ok",
        "skip:revisit",
    ]


def test_html_response_keeps_body_bytes_and_fills_provenance() -> None:
    doc = next(i for i in _items(_warc()) if isinstance(i, Document))
    assert doc.html == HTML and doc.text == ""
    assert doc.url == "http://www.example.org/a" and doc.domain == "example.org"
    assert doc.crawl_date and doc.crawl_date.startswith("20")
    prov = doc.provenance
    assert prov.record_type == "response" and prov.record_id and prov.record_id.startswith("<urn:uuid:")
    assert prov.content_type == "text/html" and prov.charset == "utf-8"
    assert prov.payload_digest and prov.payload_digest.startswith("sha1:")
    assert prov.original_length == len(HTML) and prov.position and prov.position > 0


def test_revisit_records_its_payload_digest_for_exact_dedup() -> None:
    revisit = next(i for i in _items(_warc()) if isinstance(i, Skip) and i.reason == "revisit")
    assert "payload_digest=sha1:AAAA" in revisit.detail and "refers_to=http://www.example.org/a" in revisit.detail


def test_uncompressed_warc_reads_the_same_records() -> None:
    assert _kinds(_items(_warc(gzip_records=False), "crawl.warc")) == _kinds(_items(_warc()))


def test_oversized_payload_is_skipped() -> None:
    assert "skip:oversized_record" in _kinds(_items(_warc(), max_record_bytes=20))


def test_corrupt_gzip_member_is_dead_lettered_and_later_records_still_read() -> None:
    data = _warc()
    members = [i for i in range(len(data)) if data.startswith(b"\x1f\x8b\x08", i)]
    broken = data[: members[2] + 20] + b"GARBAGE" * 10 + data[members[2] + 20 :]
    items = _items(broken)
    assert _kinds(items) == [
        "skip:warc_warcinfo", "skip:warc_request", "error", "skip:non_html_payload", "skip:http_status_not_ok",
        "skip:revisit",
    ]  # fmt: skip
    assert items[2].position == members[2]


def test_truncated_last_gzip_member_is_dead_lettered() -> None:
    data = _warc()
    members = [i for i in range(len(data)) if data.startswith(b"\x1f\x8b\x08", i)]
    items = _items(data[: members[-1] + 30])
    assert isinstance(items[-1], RecordError) and items[-1].position == members[-1]
    assert "truncated" in items[-1].error


def test_garbage_before_the_first_record_is_reported_and_skipped() -> None:
    items = _items(b"not a warc at all\n" * 5 + _warc())
    assert isinstance(items[0], RecordError) and items[0].position == 0
    assert _kinds(items[1:])[:3] == ["skip:warc_warcinfo", "skip:warc_request", "doc"]


def test_payload_digest_mismatch_is_dead_lettered() -> None:
    data = _warc(gzip_records=False)
    tampered = data.replace(b"Hello world", b"Hello WORLD")
    assert "error" in _kinds(_items(tampered, "crawl.warc"))


def test_wet_conversion_records_go_straight_to_text() -> None:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    text = "Une page en français.\nDeuxième ligne.".encode()
    record = writer.create_warc_record(
        "http://example.fr/", "conversion", payload=io.BytesIO(text),
        warc_headers_dict={"Content-Type": "text/plain", "WARC-Identified-Content-Language": "fra"},
    )  # fmt: skip
    writer.write_record(record)
    (doc,) = _items(out.getvalue(), "x.warc.wet.gz")
    assert isinstance(doc, Document) and doc.html is None and doc.text.startswith("Une page")
    assert doc.provenance.identified_language == "fra" and doc.provenance.record_type == "conversion"


def test_wat_metadata_records_are_skipped_as_wat_metadata() -> None:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    writer.write_record(writer.create_warc_record("http://e.org/", "metadata", payload=io.BytesIO(b"{}"),
                                                  warc_content_type="application/json"))  # fmt: skip
    assert _kinds(_items(out.getvalue(), "x.warc.wat.gz")) == ["skip:wat_metadata"]


def test_chunked_and_gzip_encoded_bodies_are_decoded() -> None:
    chunked = b"5\r\nHello\r\n6\r\n world\r\n0\r\n\r\n"
    assert decode_chunked(chunked) == b"Hello world"
    assert decode_chunked(b"<html>already de-chunked</html>") is None
    assert decode_content(gzip.compress(HTML), "gzip", 10_000) == HTML
    assert decode_content(HTML, "gzip", 10_000) == HTML  # header says gzip, body is plain


def test_broken_chunked_body_is_dead_lettered() -> None:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    body = b"5\r\nHello\r\nZZ\r\nbroken"
    _response(writer, "http://e.org/", body, extra=[("Transfer-Encoding", "chunked")])
    (item,) = _items(out.getvalue(), "x.warc")
    assert isinstance(item, RecordError) and "chunk" in item.error


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/html", b"anything", True),
        ("application/pdf", b"%PDF-1.4", False),
        (None, b"  <!DOCTYPE html><html>", True),
        ("application/octet-stream", b"\x00\x01binary", False),
    ],
    ids=["declared-html", "pdf", "sniffed-html", "binary"],
)
def test_html_payload_detection(content_type: str | None, body: bytes, expected: bool) -> None:
    assert is_html_payload(content_type, body) is expected


def test_every_shared_crawl_file_reads_without_an_exception() -> None:
    root = shared_data("crawl", "warc")
    counts: Counter[str] = Counter()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            counts.update(_kinds(list(read_records(str(path), handle))))
    assert counts["doc"] > 100 and counts["skip:revisit"] == 134 and counts["error"] >= 3


def test_broken_shared_files_are_dead_lettered_at_their_offsets() -> None:
    root = shared_data("crawl", "warc")
    expected = {
        "warcio/broken/example-trunc.warc": 1197,  # truncated Content-Length: digest mismatch
        "resiliparse/clipped.warc.gz": 0,  # body shorter than declared
        "ia-web-commons/IAH-20080430204825-00000-blackbook-truncated.arc": 0,  # warcio stops after the header
    }
    for name, position in expected.items():
        with (root / name).open("rb") as handle:
            errors = [i for i in read_records(str(root / name), handle) if isinstance(i, RecordError)]
        assert [e.position for e in errors] == [position], name


def test_arc_file_reads_through_warcio() -> None:
    path = shared_data("crawl", "warc", "warcio", "example.arc.gz")
    with Path(path).open("rb") as handle:
        items = list(read_records(str(path), handle))
    assert _kinds(items) == ["skip:warc_warcinfo", "doc"]
    assert items[1].url == "http://example.com/"


def test_arc_document_ids_are_the_same_on_every_read():
    # warcio's arc2warc invents a random WARC-Record-ID per ARC record; ids must not follow it (issue 14).
    body = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body><p>Hello arc world</p></body></html>"
    version = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n\n"
    arc = b"filedesc://t.arc 0.0.0.0 20000101000000 text/plain " + str(len(version)).encode() + b"\n" + version + b"\n"
    arc += b"http://example.com/ 1.2.3.4 20000101000000 text/html " + str(len(body)).encode() + b"\n" + body + b"\n"

    def read() -> list:
        return list(read_records("in.arc", io.BytesIO(arc), ReaderOptions()))

    first, second = read(), read()
    assert first == second
    assert [type(i).__name__ for i in first] == ["Skip", "Document"]
    assert first[1].provenance.record_id is None


def test_warc_style_record_without_target_uri_in_an_arc_file_is_a_record_error():
    # Found by benchmarks/fuzz_readers.py: warcio raised AttributeError on a response without a URI.
    data = bytes.fromhex(
        "574152432f312e300d0a78742f706c61696e2036360a574152432d547970653a20726573706f6e73650d0a3120302054657374"
        "0a55524c706c61696e2036360a574152432d547970653a20726573706f6e73650d0a31203020546573740a55524c"
    )
    items = list(read_records("in.arc", io.BytesIO(data), ReaderOptions()))
    assert items and isinstance(items[-1], RecordError)
