"""WARC / WET / WAT / ARC reader (``.warc``, ``.warc.gz``, ``.wet``, ``.wat``, ``.arc``, ``.arc.gz``).

Every record of the file becomes exactly one :data:`ReadItem`:

* ``response`` records with an HTML payload → a :class:`Document` whose ``html``
  holds the de-chunked, content-decoded body bytes and whose ``text`` is empty
  (the extract stage fills it); ``text/plain`` responses and WET ``conversion``
  records → a Document with ``text`` set directly;
* ``request``, ``metadata``, ``warcinfo``, ``resource``, ``revisit`` records,
  non-HTML payloads and oversized payloads → :class:`Skip` with a reason
  (``warc_request`` …, ``wat_metadata`` for WAT files, ``revisit`` with the
  payload digest in ``detail`` — a revisit is an exact duplicate by digest);
* truncated records, payload-digest mismatches, bad chunked encodings, broken
  content encodings and unparseable stretches of the file → :class:`RecordError`
  at the byte offset (compressed offset for ``.gz``) where the problem is.

Parser choice (measured, see ``docs/ingest.md``): fastwarc (resiliparse 2.0.1)
reads the 28 MB derived WARC at ~150–200 MB/s vs ~90 MB/s for warcio, and reads
more of the broken warcio test files; it does not read ARC, so ARC goes through
warcio (``arc2warc``).  When fastwarc raises in the middle of a file, the reader
resynchronises at the next gzip member (``.gz``) or ``WARC/`` header line and
keeps reading.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from tailguard.filters.document import Document, Provenance, derive_id, domain_of
from tailguard.filters.readers.base import (
    ReaderOptions,
    ReadItem,
    RecordError,
    Skip,
    register_reader,
)

__all__ = [
    "HTML_TYPES",
    "decode_chunked",
    "decode_content",
    "is_html_payload",
    "read_warc",
]

#: Content types whose payload is sent to HTML extraction.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml+html", "text/xhtml"})
#: Content types whose payload is already text (kept with ``text`` set, no extraction).
TEXT_TYPES = frozenset({"text/plain"})
_GZIP_MAGIC = b"\x1f\x8b\x08"
_MAX_RESYNCS = 10_000
_SCAN_CHUNK = 1 << 20
_SNIFF_BYTES = 1024


#: What the parsers raise on broken input (warcio's ArchiveLoadFailed is an Exception subclass, added lazily).
_FASTWARC_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    EOFError,
    RuntimeError,
)
_WARCIO_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    EOFError,
    zlib.error,
    # warcio dereferences headers it assumes present: a response record without a target URI
    # raised AttributeError out of the reader (found by fuzzing, issue 14).
    AttributeError,
    TypeError,
    IndexError,
    KeyError,
)


class PayloadError(ValueError):
    """A payload encoding (chunked, gzip, ...) is broken."""


# ----------------------------------------------------------------------------- payload decoding


def decode_chunked(body: bytes) -> bytes | None:
    """Undo HTTP chunked transfer encoding.

    Args:
        body: The HTTP entity body as stored.

    Returns:
        The de-chunked body, or ``None`` when ``body`` does not start with a
        chunk-size line (crawlers often store the body already de-chunked but
        keep the ``Transfer-Encoding`` header).

    Raises:
        PayloadError: When the body starts as chunked but a later chunk is broken.
    """
    first_line = body[: body.find(b"\r\n")] if b"\r\n" in body[:64] else b""
    size_text = first_line.split(b";", 1)[0].strip()
    if not size_text or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
        return None
    out, pos = bytearray(), 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            raise PayloadError(f"chunk header missing at body offset {pos}")
        size_text = body[pos:end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise PayloadError(f"invalid chunk size {size_text[:20]!r} at body offset {pos}") from None
        if size == 0:
            return bytes(out)
        start = end + 2
        if start + size > len(body):
            raise PayloadError(f"chunk of {size} bytes at body offset {pos} runs past the end of the record")
        out += body[start : start + size]
        pos = start + size
        if body[pos : pos + 2] == b"\r\n":
            pos += 2


def decode_content(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo an HTTP ``Content-Encoding`` (gzip, deflate, br).

    Bodies that do not look encoded are returned unchanged: many crawlers store
    the decoded body but keep the header.

    Args:
        body: The de-chunked entity body.
        encoding: The ``Content-Encoding`` header value.
        limit: Maximum decoded size in bytes (decompression bombs).

    Returns:
        The decoded body.

    Raises:
        PayloadError: When the body is encoded but cannot be decoded, or decodes
            to more than ``limit`` bytes.
    """
    encoding = encoding.strip().lower()
    if encoding not in ("gzip", "x-gzip", "deflate", "br") or body.lstrip()[:1] == b"<":
        return body  # unknown coding, or the header says encoded but the body is plain markup
    if encoding == "br":
        out = _decode_brotli(body)
    else:
        # 47 = auto-detect gzip or zlib header; raw deflate (no header) needs -15.
        wbits = 47 if body[:2] == b"\x1f\x8b" or body[:1] == b"\x78" else -15
        try:
            out = zlib.decompressobj(wbits).decompress(body, limit + 1)
        except zlib.error as exc:  # the body is not what the header says
            raise PayloadError(f"bad {encoding} content encoding: {exc}") from None
    if len(out) > limit:
        raise PayloadError(f"{encoding} body decodes to more than {limit} bytes")
    return out


def _decode_brotli(body: bytes) -> bytes:
    try:
        import brotli  # optional: only brotli-encoded bodies need it
    except ImportError:
        raise PayloadError("br content encoding needs the 'brotli' package") from None
    try:
        return bytes(brotli.decompress(body))
    except brotli.error as exc:
        raise PayloadError(f"bad br content encoding: {exc}") from None


def is_html_payload(content_type: str | None, body: bytes) -> bool:
    """Return whether a payload is HTML (by declared type, or sniffed when undeclared).

    Args:
        content_type: Declared media type without parameters (lower case), or ``None``.
        body: The decoded body.

    Returns:
        ``True`` for HTML / XHTML payloads.
    """
    if content_type in HTML_TYPES:
        return True
    if content_type and content_type not in (
        "application/octet-stream",
        "unknown",
        "text/x-unknown",
    ):
        return False
    head = body[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") and any(tag in head for tag in (b"<!doctype html", b"<html", b"<head", b"<body"))


def _check_digest(declared: str | None, body: bytes) -> bool | None:
    """Return whether ``body`` matches a ``sha1:`` payload digest (``None`` = not checkable)."""
    if not declared or ":" not in declared:
        return None
    algorithm, value = declared.split(":", 1)
    if algorithm.strip().lower() != "sha1":
        return None
    value = value.strip()
    digest = hashlib.sha1(body).digest()
    if len(value) == 32:
        return value.upper() == base64.b32encode(digest).decode()
    if len(value) == 40:
        return value.lower() == digest.hex()
    return None


# ----------------------------------------------------------------------------- records → items


@dataclass(frozen=True, slots=True)
class _Record:
    """A parser-neutral view of one WARC record (built from fastwarc or warcio)."""

    record_type: str
    position: int
    headers: dict[str, str]
    http_headers: dict[str, str] | None
    content_length: int
    warc_version: str
    read_body: Callable[[], bytes]
    http_status: int | None = None


def _media_type(value: str | None) -> tuple[str | None, str | None]:
    """Split a Content-Type header into (media type, charset)."""
    if not value:
        return None, None
    parts = [p.strip() for p in value.split(";")]
    media = parts[0].lower() or None
    charset = None
    for part in parts[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip("\"'").lower()
    return media, charset


def _skip_reason(record_type: str, is_wat: bool) -> str:
    if record_type == "metadata" and is_wat:
        return "wat_metadata"
    return f"warc_{record_type or 'unknown'}"


class _FileState:
    """Per-file bookkeeping: unique ids and the source name."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.is_wat = ".wat" in path.rsplit("/", 1)[-1].lower()
        self.seen_ids: set[str] = set()

    def doc_id(self, record_id: str | None, position: int) -> str:
        key = record_id or f"@{position}"
        if key in self.seen_ids:  # broken files may repeat record ids: keep ids unique
            key = f"{key}@{position}#{len(self.seen_ids)}"
        elif record_id:
            # WARC-Record-IDs are globally unique (ISO 28500): the id survives moving the
            # file (local -> gs://), so reruns and incremental dedup see the same ids.
            self.seen_ids.add(key)
            return derive_id("warc-record-id", record_id)
        self.seen_ids.add(key)
        return derive_id(self.path, key)


def _record_to_item(rec: _Record, state: _FileState, options: ReaderOptions) -> ReadItem:
    """Turn one record into a Document, Skip or RecordError (never raises for bad content)."""
    path, pos, headers = state.path, rec.position, rec.headers
    record_id = headers.get("warc-record-id")
    rtype = rec.record_type
    if rtype == "revisit":
        digest = headers.get("warc-payload-digest", "")
        refers = headers.get("warc-refers-to-target-uri") or headers.get("warc-target-uri", "")
        return Skip("revisit", path, pos, None, f"payload_digest={digest} refers_to={refers}")
    if rtype not in ("response", "conversion"):
        return Skip(_skip_reason(rtype, state.is_wat), path, pos, None, record_id or "")
    if rec.content_length > options.max_record_bytes:
        return Skip(
            "oversized_record",
            path,
            pos,
            None,
            f"{rec.content_length} bytes > {options.max_record_bytes}",
        )
    http = rec.http_headers
    if rtype == "response" and http is None:
        return Skip("non_http_response", path, pos, None, headers.get("content-type", ""))
    if http is not None and rec.http_status is not None and not 200 <= rec.http_status < 300:
        # Redirects and error pages carry no page text (Common Crawl's WET keeps 200s only).
        return Skip("http_status_not_ok", path, pos, None, str(rec.http_status))
    content_type, charset = _media_type(http.get("content-type") if http is not None else headers.get("content-type"))
    if rtype == "conversion" and content_type is None:
        content_type = "text/plain"
    body = rec.read_body()
    if len(body) < rec.content_length:
        return RecordError(
            f"truncated record: body has {len(body)} of {rec.content_length} bytes",
            path,
            pos,
        )
    if rec.warc_version.startswith("WARC/1") and _check_digest(headers.get("warc-payload-digest"), body) is False:
        return RecordError(
            "payload digest mismatch (truncated or corrupt record)",
            path,
            pos,
            body[:200].hex(),
        )
    if http is not None:
        try:
            if "chunked" in http.get("transfer-encoding", "").lower():
                body = decode_chunked(body) or body
            encoding = http.get("content-encoding", "")
            if encoding and encoding.lower() != "identity":
                body = decode_content(body, encoding, options.max_record_bytes)
        except PayloadError as exc:
            return RecordError(str(exc), path, pos, body[:200].hex())
    if not body.strip():
        return Skip("empty_payload", path, pos, None, rtype)
    url = (headers.get("warc-target-uri") or "").strip().strip("<>") or None
    provenance = Provenance(
        record_id=record_id,
        position=pos,
        record_type=rtype,
        payload_digest=headers.get("warc-payload-digest"),
        content_type=content_type,
        charset=charset,
        identified_language=headers.get("warc-identified-content-language"),
        original_length=len(body),
    )
    html: bytes | None = None
    text = ""
    if rtype == "conversion" or content_type in TEXT_TYPES:
        text = body.decode(charset or "utf-8", "replace") if _known_codec(charset) else body.decode("utf-8", "replace")
    elif is_html_payload(content_type, body):
        html = body
    else:
        return Skip("non_html_payload", path, pos, None, content_type or "unknown")
    if html is None and not text.strip():
        return Skip("empty_text", path, pos, None, rtype)
    return Document(
        id=state.doc_id(record_id, pos),
        text=text,
        source=path,
        url=url,
        domain=domain_of(url),
        crawl_date=headers.get("warc-date"),
        html=html,
        provenance=provenance,
    )


def _known_codec(charset: str | None) -> bool:
    if not charset:
        return False
    try:
        "".encode(charset)
    except LookupError:
        return False
    return True


# ----------------------------------------------------------------------------- fastwarc


class _ViewStream(io.RawIOBase):
    """A seekable, non-closing view of the input stream that remembers reaching EOF.

    fastwarc closes its input when done and needs ``seek``; the reader keeps
    using the stream after a parse error (resynchronisation), so it gets this.
    """

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self.at_eof = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        if not data:
            self.at_eof = True
            return 0
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        self.at_eof = False
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def close(
        self,
    ) -> None:  # fastwarc closes its input; the caller owns the real stream
        pass


def _fastwarc_records(view: _ViewStream, start: int) -> Iterator[_Record]:
    """Yield parser-neutral records from ``start``; parse errors propagate to the caller."""
    # Imported lazily: the registry imports every reader module.
    from fastwarc.warc import ArchiveIterator

    view.seek(start)
    for rec in ArchiveIterator(view, parse_http=True, quirks_mode=True, auto_decode="none", strict_mode=False):
        headers = {k.lower(): v for k, v in rec.headers.items()}
        http = {k.lower(): v for k, v in rec.http_headers.items()} if rec.is_http and rec.is_http_parsed else None
        yield _Record(
            record_type=str(rec.record_type),
            position=rec.stream_pos,
            headers=headers,
            http_headers=http,
            content_length=rec.content_length,
            warc_version=rec.headers.status_line or "",
            read_body=rec.reader.read,
            http_status=rec.http_headers.status_code if http is not None else None,
        )


def _next_boundary(raw: BinaryIO, after: int, compressed: bool) -> int | None:
    """Return the offset of the next gzip member / ``WARC/`` header line strictly after ``after``."""
    marker = _GZIP_MAGIC if compressed else b"\nWARC/"
    pos = after + 1
    raw.seek(pos)
    carry = b""
    while True:
        chunk = raw.read(_SCAN_CHUNK)
        if not chunk:
            return None
        data = carry + chunk
        hit = data.find(marker)
        if hit >= 0:
            found = pos - len(carry) + hit
            return found + (0 if compressed else 1)
        carry = data[-(len(marker) - 1) :]
        pos += len(chunk)


def _truncated_tail(raw: BinaryIO, last_start: int) -> int | None:
    """Return the offset of an incomplete gzip member at or after ``last_start`` (``None`` if all complete).

    fastwarc silently stops at a gzip member cut short at the end of a file; the
    record in it would vanish without this check.
    """
    raw.seek(last_start)
    data = raw.read()
    pos = 0
    while pos < len(data) and data.startswith(_GZIP_MAGIC, pos):
        member_start, decoder, pending = pos, zlib.decompressobj(31), data[pos:]
        try:
            while not decoder.eof:
                decoder.decompress(pending, _SCAN_CHUNK)
                pending = decoder.unconsumed_tail
                if not decoder.eof and not pending:
                    return last_start + member_start
        except zlib.error:
            return last_start + member_start
        pos = len(data) - len(decoder.unused_data)
    return None


def _read_fastwarc(path: str, raw: BinaryIO, options: ReaderOptions) -> Iterator[ReadItem]:
    state = _FileState(path)
    compressed = path.lower().endswith(".gz")
    view = _ViewStream(raw)
    start, last_pos = 0, -1
    for _ in range(_MAX_RESYNCS):
        try:
            for rec in _fastwarc_records(view, start):
                last_pos = rec.position
                yield _record_to_item(rec, state, options)
        # fastwarc raises OSError for broken gzip/headers (it panics on non-seekable input: _ViewStream seeks).
        except _FASTWARC_ERRORS as exc:
            failed_at = _next_boundary(raw, last_pos, compressed) if last_pos >= 0 else start
            failed_at = start if failed_at is None else max(failed_at, start)
            yield RecordError(f"unparseable WARC data ({type(exc).__name__}: {exc})", path, failed_at)
            resume = _next_boundary(raw, failed_at, compressed)
            if resume is None:
                return
            start, last_pos = resume, resume - 1
            continue
        if compressed and last_pos >= start:
            truncated_at = _truncated_tail(raw, last_pos)
            if truncated_at is not None and truncated_at > last_pos:
                yield RecordError("truncated gzip member at end of file", path, truncated_at)
            return
        if last_pos >= start and view.at_eof or last_pos < start and not _has_data(raw, start):
            return
        # fastwarc stopped quietly on data it does not recognise: report it and look further on.
        failed_at = max(last_pos, start)
        yield RecordError(
            "unrecognised data: the parser stopped before the end of the file",
            path,
            failed_at,
        )
        resume = _next_boundary(raw, failed_at, compressed)
        if resume is None:
            return
        start, last_pos = resume, resume - 1
    yield RecordError(f"gave up after {_MAX_RESYNCS} resynchronisations", path, start)


def _has_data(raw: BinaryIO, start: int) -> bool:
    raw.seek(start)
    return bool(raw.read(1))


# ----------------------------------------------------------------------------- warcio (ARC)


def _read_warcio(path: str, raw: BinaryIO, options: ReaderOptions) -> Iterator[ReadItem]:
    from warcio.archiveiterator import (  # ARC support; fastwarc has none
        ArchiveIterator,
        ArchiveLoadFailed,
    )

    errors = (*_WARCIO_ERRORS, ArchiveLoadFailed)

    state = _FileState(path)
    is_arc = path.rsplit("/", 1)[-1].lower().endswith((".arc", ".arc.gz"))
    iterator = ArchiveIterator(raw, arc2warc=True)
    position = 0
    while True:
        try:
            rec = next(iterator)
        except StopIteration:
            return
        except errors as exc:
            yield RecordError(
                f"unparseable ARC/WARC data ({type(exc).__name__}: {str(exc).strip()[:300]})",
                path,
                position,
            )
            return
        headers = {k.lower(): v for k, v in rec.rec_headers.headers}
        if is_arc:
            # ARC records have no ids: warcio's arc2warc makes up a random uuid, which would give
            # the same file new document ids on every run.  Ids derive from the byte offset instead.
            headers.pop("warc-record-id", None)
        http = {k.lower(): v for k, v in rec.http_headers.headers} if rec.http_headers is not None else None
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            position = iterator.get_record_offset()
            yield RecordError(f"invalid Content-Length {headers.get('content-length', '')[:40]!r}", path, position)
            continue
        try:
            # Read the body before asking for the offset: warcio's get_record_offset() consumes the record.
            body = rec.raw_stream.read() if length <= options.max_record_bytes else None
        except errors as exc:  # a broken body stream (bad gzip inside the record)
            yield RecordError(f"unreadable record ({type(exc).__name__}: {exc})", path, position)
            return
        position = iterator.get_record_offset()
        if body is None:
            yield Skip("oversized_record", path, position, None, f"{length} bytes > {options.max_record_bytes}")
            continue
        version = headers.get("warc-version", "WARC/1.0")
        record = _Record(rec.rec_type, position, headers, http, 0, version, _returning(body), _warcio_status(rec))
        yield _record_to_item(record, state, options)


def _returning(body: bytes) -> Callable[[], bytes]:
    return lambda: body


def _warcio_status(rec: Any) -> int | None:
    if rec.http_headers is None:
        return None
    try:
        return int(rec.http_headers.get_statuscode())
    except (TypeError, ValueError):
        return None


def read_warc(path: str, stream: BinaryIO, options: ReaderOptions) -> Iterator[ReadItem]:
    """Yield one item per record of a WARC, WET, WAT or ARC file.

    Args:
        path: Source file (recorded on every item; its name picks ARC vs WARC).
        stream: The file's raw (still compressed) bytes; must be seekable.
        options: Size limit (``max_record_bytes``).

    Yields:
        Documents, skips and record errors (see the module docstring).
    """
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith((".arc", ".arc.gz")):
        yield from _read_warcio(path, stream, options)
    else:
        yield from _read_fastwarc(path, stream, options)


register_reader(
    (".warc", ".warc.gz", ".wet", ".wet.gz", ".wat", ".wat.gz", ".arc", ".arc.gz"),
    read_warc,
    decompress=False,
)
