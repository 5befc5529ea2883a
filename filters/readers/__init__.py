"""Format readers: one generator per input format, all behind :func:`read_records`.

A reader turns one input file (an open binary stream plus its path) into a
stream of :data:`ReadItem` values.  Every record in the file becomes exactly one
item, so the pipeline can account for it:

* a :class:`~tailguard.filters.document.Document` — the record was read;
* a :class:`Skip` — the record is well-formed but not wanted (a WARC request
  record, an empty text); it is counted and written to ``rejected/read``;
* a :class:`RecordError` — the record could not be read; it goes to the
  dead-letter output with the error and position;
* a :class:`FileFailure` (a ``RecordError``, always last) — the rest of the
  file could not be read: every record before the damage was yielded, and it
  says how many stored bytes (and, where the format tells, records) were not
  read.  gzip members / zstd blocks before a bad one, Parquet row groups
  before a broken one and WARC records before a broken one are all salvaged.

Readers never raise for bad input.  Adding a format = one module with a
generator plus one :func:`register_reader` call.
"""

# Importing the format modules registers them.
from tailguard.filters.readers import jsonl as _jsonl  # noqa: F401,E402
from tailguard.filters.readers import parquet as _parquet  # noqa: F401,E402
from tailguard.filters.readers import warc as _warc  # noqa: F401,E402
from tailguard.filters.readers.base import (
    CorruptStreamError,
    FileFailure,
    ReaderOptions,
    ReadItem,
    RecordError,
    Skip,
    UnsupportedFormatError,
    read_records,
    reader_for,
    register_reader,
    supported_suffixes,
)

__all__ = [
    "CorruptStreamError",
    "FileFailure",
    "ReadItem",
    "ReaderOptions",
    "RecordError",
    "Skip",
    "UnsupportedFormatError",
    "read_records",
    "reader_for",
    "register_reader",
    "supported_suffixes",
]
