"""Parquet reader: one record per row, read row group by row group in bounded batches.

Rows go through the same field mapping as JSONL.  A file whose footer cannot
be read ends as one :class:`FileFailure` (no row is readable without the
footer; its size is the bytes not read).  When a row group breaks, the row
groups before it are kept and the failure says how many rows (from the footer)
and stored bytes were not read.  A row whose values Python cannot represent
(e.g. a timestamp outside ``datetime``'s range) is one :class:`RecordError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from tailguard.filters.readers._fields import record_to_item
from tailguard.filters.readers.base import (
    STREAM_ERRORS,
    FileFailure,
    ReaderOptions,
    ReadItem,
    RecordError,
    register_reader,
    stream_size,
)

_BATCH_ROWS = 1024
#: What pyarrow raises on a broken file (ArrowException covers ArrowInvalid / ArrowIOError ...);
#: ValueError / UnicodeDecodeError and friends come from footers whose metadata is garbage.
_ARROW_ERRORS: tuple[type[BaseException], ...] = (
    pa.ArrowException,
    *STREAM_ERRORS,
    MemoryError,
    ValueError,
    TypeError,
    OverflowError,
    IndexError,
    KeyError,
)
#: What converting Arrow values to Python may raise for one bad value.
_VALUE_ERRORS: tuple[type[Exception], ...] = (pa.ArrowException, ValueError, OverflowError, TypeError)


def _rows(batch: pa.RecordBatch) -> Iterator[dict[str, Any] | Exception]:
    """Yield the rows of ``batch`` as dicts; a row that cannot be converted yields its error."""
    try:
        yield from batch.to_pylist()
        return
    except _VALUE_ERRORS:
        pass  # one bad value spoils the whole batch: convert row by row to find it
    for i in range(batch.num_rows):
        try:
            yield batch.slice(i, 1).to_pylist()[0]
        except _VALUE_ERRORS as exc:
            yield exc


def read_parquet(path: str, stream: BinaryIO, options: ReaderOptions) -> Iterator[ReadItem]:
    """Yield one item per row of a Parquet file.

    Args:
        path: Source file (recorded on every item).
        stream: A seekable binary stream of the file.
        options: Field names and size limit.

    Yields:
        Documents, skips and record errors; a :class:`FileFailure` last when
        the file (or a row group) could not be read.
    """
    size = stream_size(stream)
    try:
        parquet = pq.ParquetFile(stream)
        meta = parquet.metadata
        groups = [(meta.row_group(i).num_rows, meta.row_group(i).total_byte_size) for i in range(meta.num_row_groups)]
        compressed = [
            sum(meta.row_group(i).column(c).total_compressed_size for c in range(meta.row_group(i).num_columns))
            for i in range(meta.num_row_groups)
        ]
    except _ARROW_ERRORS as exc:
        yield FileFailure(f"unreadable Parquet ({type(exc).__name__}: {str(exc)[:300]})", path, 1, "", size, None)
        return
    row_no = 0
    for index, (group_rows, _) in enumerate(groups):
        group_start = row_no
        try:
            for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, row_groups=[index]):
                for row in _rows(batch):
                    row_no += 1
                    if isinstance(row, Exception):
                        yield RecordError(f"unreadable Parquet value ({type(row).__name__}: {row})", path, row_no)
                    else:
                        yield record_to_item(row, path, row_no, "parquet", options)
        except _ARROW_ERRORS as exc:
            total_rows = sum(n for n, _ in groups)
            yield FileFailure(
                f"unreadable Parquet row group {index} of {len(groups)} ({type(exc).__name__}: {str(exc)[:300]})",
                path,
                row_no + 1,
                "",
                sum(compressed[index:]),
                max(0, total_rows - row_no),
            )
            return
        if row_no - group_start != group_rows:  # the footer and the data disagree: say so, do not guess
            yield FileFailure(
                f"Parquet row group {index} holds {row_no - group_start} rows, its footer says {group_rows}",
                path,
                row_no + 1,
                "",
                sum(compressed[index + 1 :]),
                max(0, sum(n for n, _ in groups) - row_no),
            )
            return


register_reader((".parquet",), read_parquet, decompress=False)
