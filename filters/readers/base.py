"""Reader interface and registry (see the package docstring)."""

from __future__ import annotations

import dataclasses
import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeAlias

import zstandard

from tailguard.filters.document import Document

__all__ = [
    "CorruptStreamError",
    "FileFailure",
    "ReadItem",
    "ReaderOptions",
    "RecordError",
    "Skip",
    "UnsupportedFormatError",
    "open_decompressed",
    "read_records",
    "reader_for",
    "register_reader",
    "stream_size",
    "supported_suffixes",
    "undecoded_offset",
]


@dataclass(frozen=True, slots=True)
class ReaderOptions:
    """Options every reader honours.

    Attributes:
        text_field: Name of the text field in JSONL / Parquet records.
        id_field: Name of the id field; when absent, ids are derived.
        max_record_bytes: Records larger than this are skipped (``oversized_record``)
            without being held in memory whole.
    """

    text_field: str = "text"
    id_field: str = "id"
    max_record_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Skip:
    """A record that was read but is not wanted: counted under ``reason``."""

    reason: str
    source: str
    position: int
    id: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RecordError:
    """A record (or the unreadable rest of a file) that could not be read."""

    error: str
    source: str
    position: int
    snippet: str = ""


@dataclass(frozen=True, slots=True)
class FileFailure(RecordError):
    """The unreadable rest of a file: reading stopped at ``position`` and did not resume.

    Every record before it was yielded; what follows could not be read.  It is
    always the last item of its file.  The pipeline counts it as one failed
    *file* (not as a record) and records how much was lost.

    Attributes:
        bytes_not_read: Stored bytes from where decoding stopped to the end of
            the file (0 for a file cut short: all it holds was decoded);
            ``None`` when the stream cannot tell.
        records_not_read: Records not read, where the format says how many
            there are (Parquet's footer); ``None`` when unknown.
    """

    bytes_not_read: int | None = None
    records_not_read: int | None = None


ReadItem: TypeAlias = Document | Skip | RecordError
Reader = Callable[[str, BinaryIO, ReaderOptions], Iterator[ReadItem]]


class UnsupportedFormatError(ValueError):
    """No reader is registered for a file name (a configuration problem)."""


@dataclass(frozen=True, slots=True)
class _Registration:
    suffixes: tuple[str, ...]
    reader: Reader
    decompress: bool


_REGISTRY: list[_Registration] = []


def register_reader(suffixes: tuple[str, ...], reader: Reader, *, decompress: bool = True) -> None:
    """Register ``reader`` for file names ending in one of ``suffixes``.

    Args:
        suffixes: Lower-case name endings without compression suffix
            (``.jsonl``); ``.gz`` and ``.zst`` variants match too when
            ``decompress`` is true.
        reader: Generator taking ``(path, binary_stream, options)``.
        decompress: Whether :func:`read_records` should undo ``.gz`` / ``.zst``
            compression before calling the reader (WARC readers do it themselves
            because each record is its own gzip member).
    """
    _REGISTRY.append(_Registration(tuple(s.lower() for s in suffixes), reader, decompress))


def supported_suffixes() -> list[str]:
    """Return every file-name ending a registered reader accepts."""
    out: list[str] = []
    for reg in _REGISTRY:
        for suffix in reg.suffixes:
            out.append(suffix)
            if reg.decompress:
                out.extend([suffix + ".gz", suffix + ".zst"])
    return sorted(set(out))


def _strip_compression(name: str) -> tuple[str, str | None]:
    for ext in (".gz", ".zst", ".zstd"):
        if name.endswith(ext):
            return name[: -len(ext)], ext
    return name, None


def reader_for(path: str) -> tuple[Reader, str | None]:
    """Find the reader for ``path``.

    Args:
        path: File path or URL; only its name is looked at.

    Returns:
        ``(reader, compression)`` where compression is ``.gz``, ``.zst`` or
        ``None`` and must be undone before the reader sees the bytes.

    Raises:
        UnsupportedFormatError: When no reader accepts the file name.
    """
    name = path.rsplit("/", 1)[-1].lower()
    base, compression = _strip_compression(name)
    # Longest suffix first, so ``.warc.wet`` wins over ``.wet`` style overlaps.
    candidates = sorted(((s, reg) for reg in _REGISTRY for s in reg.suffixes), key=lambda x: -len(x[0]))
    for suffix, reg in candidates:
        if not reg.decompress and name.endswith(suffix):
            return reg.reader, None
        if reg.decompress and base.endswith(suffix):
            return reg.reader, compression
    raise UnsupportedFormatError(f"no reader for {path!r}; supported file endings: {', '.join(supported_suffixes())}")


def open_decompressed(raw: BinaryIO, compression: str | None) -> BinaryIO:
    """Wrap ``raw`` so that reads return decompressed bytes.

    Multi-member gzip and multi-frame zstd are read to the end.  Everything
    decoded before damage is returned first; then ``read`` raises
    :class:`CorruptStreamError` (an ``OSError``), and the wrapper's
    :func:`undecoded_offset` tells where in the stored bytes decoding stopped.
    """
    if compression == ".gz":
        return io.BufferedReader(_FramedDecoder(raw, "gzip"))
    if compression in (".zst", ".zstd"):
        return io.BufferedReader(_FramedDecoder(raw, "zstd"))
    return raw


class CorruptStreamError(OSError):
    """A compressed stream is damaged or cut short (raised after everything before it was returned)."""


def undecoded_offset(stream: BinaryIO) -> int | None:
    """Return the stored-byte offset where decoding of ``stream`` stopped, or ``None`` when unknown.

    Args:
        stream: A stream from :func:`open_decompressed`.

    Returns:
        For a damaged gzip / zstd stream, the offset of the first stored byte
        whose content was not returned; for an uncompressed stream, its
        position; ``None`` when the stream cannot tell.
    """
    inner = getattr(stream, "raw", None)
    if isinstance(inner, _FramedDecoder):
        return inner.failed_at
    try:
        return stream.tell()
    except (OSError, ValueError, AttributeError):
        return None


class _FramedDecoder(io.RawIOBase):
    """Decode a multi-member gzip or multi-frame zstd stream, salvaging what precedes damage.

    Stored bytes are fed to the decoder in small pieces, so the output of every
    complete block before a bad one is returned before the error is raised
    (``zstandard`` and ``zlib`` discard the output of a call that fails, and
    ``zstandard``'s own stream reader ends silently on a truncated frame).  The
    small pieces also bound how much one call can decompress (a zstd RLE block
    of 4 stored bytes expands to 128 KiB), so a decompression bomb cannot take
    more than :data:`_MAX_STEP_OUTPUT` per step.
    """

    _FEED = 2048  # stored bytes per decoder call (zstd worst case: 512 RLE blocks = 64 MiB)
    _MAX_STEP_OUTPUT = 1 << 20  # gzip: decoded bytes per call (zlib honours max_length)
    _READ = 1 << 16

    def __init__(self, raw: BinaryIO, kind: str) -> None:
        super().__init__()
        self._raw = raw
        self._kind = kind
        self._zstd = zstandard.ZstdDecompressor() if kind == "zstd" else None
        self._decoder: Any = None
        self._input = b""  # stored bytes read but not yet given to a decoder
        self._consumed = 0  # stored offset of the first byte of ``_input``
        self._raw_eof = False
        self._pending = bytearray()
        self._pending_pos = 0
        self._error: CorruptStreamError | None = None
        self._done = False
        self._capped = False  # the last gzip call hit its output limit: zlib may hold more output
        #: Stored offset where decoding stopped because of damage (``None`` = no damage seen).
        self.failed_at: int | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._pending_pos >= len(self._pending) and not self._done:
            self._pending.clear()
            self._pending_pos = 0
            self._step()
        available = len(self._pending) - self._pending_pos
        if available <= 0:
            if self._error is not None:
                raise self._error
            return 0
        n = min(len(buffer), available)
        buffer[:n] = self._pending[self._pending_pos : self._pending_pos + n]
        self._pending_pos += n
        return n

    def _fill(self) -> None:
        if not self._input and not self._raw_eof:
            self._input = self._raw.read(self._READ) or b""
            self._raw_eof = not self._input

    def _fail(self, message: str, at: int) -> None:
        self.failed_at = at
        self._error = CorruptStreamError(f"{message} (stored byte {at})")
        self._done = True

    def _step(self) -> None:
        self._fill()
        if self._decoder is None:
            if self._kind == "gzip":  # gzip files may be padded with zero bytes after the last member
                stripped = self._input.lstrip(b"\x00")
                self._consumed += len(self._input) - len(stripped)
                self._input = stripped
                if not self._input and not self._raw_eof:
                    return
            if not self._input:
                self._done = True
                return
            self._decoder = self._zstd.decompressobj() if self._zstd is not None else zlib.decompressobj(31)
        if not self._input and not self._capped:  # the stored bytes end inside a frame / member
            name = "zstd frame" if self._kind == "zstd" else "gzip member"
            self._fail(f"{self._kind} stream ends in the middle of a {name} (file truncated)", self._consumed)
            return
        piece, self._input = self._input[: self._FEED], self._input[self._FEED :]
        try:
            if self._zstd is not None:
                out = self._decoder.decompress(piece)
                tail = b""
            else:
                out = self._decoder.decompress(piece, self._MAX_STEP_OUTPUT)
                tail = self._decoder.unconsumed_tail
                self._capped = len(out) >= self._MAX_STEP_OUTPUT
        except (zstandard.ZstdError, zlib.error) as exc:
            self._fail(f"corrupt {self._kind} data: {exc}", self._consumed)
            return
        self._pending += out
        leftover = tail
        if self._decoder.eof:  # frame / member finished: what follows starts the next one
            leftover = self._decoder.unused_data + tail
            self._decoder = None
        self._consumed += len(piece) - len(leftover)
        self._input = leftover + self._input


def read_records(path: str, raw: BinaryIO, options: ReaderOptions | None = None) -> Iterator[ReadItem]:
    """Read every record of one input file.

    Args:
        path: The file's path or URL (recorded as ``Document.source``).
        raw: The file's raw bytes, as stored.
        options: Reader options; defaults when ``None``.

    Yields:
        One :data:`ReadItem` per record; never raises for bad content.

    Raises:
        UnsupportedFormatError: When no reader is registered for ``path``.
    """
    reader, compression = reader_for(path)
    stream = open_decompressed(raw, compression)
    for item in reader(path, stream, options or ReaderOptions()):
        if isinstance(item, FileFailure) and item.bytes_not_read is None and stream is not raw:
            size, stopped = stream_size(raw), undecoded_offset(stream)
            if size is not None and stopped is not None:
                item = dataclasses.replace(item, bytes_not_read=max(0, size - stopped))
        yield item


def stream_size(raw: BinaryIO) -> int | None:
    """Return the size in bytes of a seekable stream (its position is kept), else ``None``."""
    try:
        here = raw.tell()
        size = raw.seek(0, io.SEEK_END)
        raw.seek(here)
    except (OSError, ValueError, AttributeError):
        return None
    return int(size)


#: Exceptions that mean "the byte stream itself is broken" (truncated gzip/zstd, bad CRC, I/O).
STREAM_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    OSError,
    zstandard.ZstdError,
    gzip.BadGzipFile,
    zlib.error,
)
