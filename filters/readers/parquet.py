"""Parquet reader: one record per row, read in bounded batches.

Rows go through the same field mapping as JSONL.  A file that is not valid
Parquet, or breaks while being read, ends with one :class:`RecordError` at the
row where reading stopped; rows before it are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from tailguard.filters.readers._fields import record_to_item
from tailguard.filters.readers.base import STREAM_ERRORS, ReaderOptions, ReadItem, RecordError, register_reader

_BATCH_ROWS = 1024


def read_parquet(path: str, stream: BinaryIO, options: ReaderOptions) -> Iterator[ReadItem]:
    """Yield one item per row of a Parquet file.

    Args:
        path: Source file (recorded on every item).
        stream: A seekable binary stream of the file.
        options: Field names and size limit.

    Yields:
        Documents, skips and record errors.
    """
    row_no = 0
    try:
        parquet = pq.ParquetFile(stream)
        for batch in parquet.iter_batches(batch_size=_BATCH_ROWS):
            for row in batch.to_pylist():
                row_no += 1
                yield record_to_item(row, path, row_no, "parquet", options)
    except (pa.ArrowException, *STREAM_ERRORS) as exc:
        yield RecordError(f"unreadable Parquet ({type(exc).__name__}: {exc})", path, row_no + 1)


register_reader((".parquet",), read_parquet, decompress=False)
