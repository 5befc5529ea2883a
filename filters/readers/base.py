"""Reader interface and registry (see the package docstring)."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeAlias

import zstandard

from tailguard.filters.document import Document

__all__ = [
    "ReadItem",
    "ReaderOptions",
    "RecordError",
    "Skip",
    "UnsupportedFormatError",
    "open_decompressed",
    "read_records",
    "reader_for",
    "register_reader",
    "supported_suffixes",
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
    raise UnsupportedFormatError(
        f"no reader for {path!r}; supported file endings: {', '.join(supported_suffixes())}"
    )


def open_decompressed(raw: BinaryIO, compression: str | None) -> BinaryIO:
    """Wrap ``raw`` so that reads return decompressed bytes.

    Multi-member gzip and multi-frame zstd are read to the end.  Truncated
    streams raise ``EOFError`` / ``zstandard.ZstdError`` from ``read``; readers
    turn that into a :class:`RecordError`.
    """
    if compression == ".gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if compression in (".zst", ".zstd"):
        return io.BufferedReader(_ZstdFramesReader(raw))
    return raw


class _ZstdFramesReader(io.RawIOBase):
    """Decompress a multi-frame zstd stream; raise ``EOFError`` when the last frame is cut.

    ``zstandard``'s own stream reader ends silently on a truncated frame, which
    would lose the tail of a file without a trace.
    """

    _CHUNK = 1 << 17

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._decompressor = zstandard.ZstdDecompressor()
        self._obj = self._decompressor.decompressobj()
        self._pending = b""
        self._in_frame = False
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._eof:
            chunk = self._raw.read(self._CHUNK)
            if not chunk:
                self._eof = True
                if self._in_frame:
                    raise EOFError("zstd stream ends in the middle of a frame (file truncated)")
                break
            self._feed(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _feed(self, chunk: bytes) -> None:
        while chunk:
            self._in_frame = True
            self._pending += self._obj.decompress(chunk)
            if not self._obj.eof:
                return
            # Frame finished: the rest of the chunk starts the next frame.
            chunk = self._obj.unused_data
            self._obj = self._decompressor.decompressobj()
            self._in_frame = False


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
    yield from reader(path, open_decompressed(raw, compression), options or ReaderOptions())


#: Exceptions that mean "the byte stream itself is broken" (truncated gzip/zstd, bad CRC, I/O).
STREAM_ERRORS: tuple[type[BaseException], ...] = (EOFError, OSError, zstandard.ZstdError, gzip.BadGzipFile)
