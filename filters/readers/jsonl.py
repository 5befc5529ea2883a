"""JSON Lines reader (``.jsonl``, ``.json``, ``.ndjson``; ``.gz`` / ``.zst`` compressed).

One record per line.  Bad lines (invalid UTF-8, invalid JSON, no text field)
become :class:`RecordError` items and the rest of the file is still read; a
damaged or truncated compressed stream ends the file with one
:class:`FileFailure` at the line where reading stopped, after every line
decoded before the damage (``read_records`` fills in the stored bytes not read).  Lines over ``max_record_bytes`` are skipped as
``oversized_record`` without being held in memory whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import BinaryIO

from tailguard.filters.readers._fields import record_to_item
from tailguard.filters.readers.base import (
    STREAM_ERRORS,
    FileFailure,
    ReaderOptions,
    ReadItem,
    RecordError,
    Skip,
    register_reader,
)

_CHUNK = 1 << 20


def _skip_rest_of_line(stream: BinaryIO) -> int:
    """Consume bytes up to and including the next newline; return how many."""
    skipped = 0
    while True:
        chunk = stream.readline(_CHUNK)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def read_jsonl(path: str, stream: BinaryIO, options: ReaderOptions) -> Iterator[ReadItem]:
    """Yield one item per non-blank line of a JSON Lines stream.

    Args:
        path: Source file (recorded on every item).
        stream: Decompressed bytes.
        options: Field names and size limit.

    Yields:
        Documents, skips and record errors (see the package docstring).
    """
    line_no = 0
    while True:
        line_no += 1
        try:
            line = stream.readline(options.max_record_bytes + 1)
            if len(line) > options.max_record_bytes and not line.endswith(b"\n"):
                size = len(line) + _skip_rest_of_line(stream)
                yield Skip("oversized_record", path, line_no, detail=f"{size} bytes > {options.max_record_bytes}")
                continue
        except STREAM_ERRORS as exc:
            yield FileFailure(f"unreadable input stream ({type(exc).__name__}: {exc})", path, line_no)
            return
        if not line:
            return
        if not line.strip():
            continue  # blank lines are not records
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield RecordError(f"invalid UTF-8: {exc}", path, line_no, line[:200].decode("utf-8", "replace"))
            continue
        try:
            row = json.loads(text)
        # ValueError: also integers over Python's 4,300-digit limit; RecursionError: nesting too deep.
        except (ValueError, RecursionError) as exc:
            yield RecordError(f"invalid JSON: {type(exc).__name__}: {str(exc)[:200]}", path, line_no, text[:200])
            continue
        yield record_to_item(row, path, line_no, "jsonl", options)


register_reader((".jsonl", ".json", ".ndjson"), read_jsonl)
