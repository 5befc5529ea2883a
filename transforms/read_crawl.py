"""ReadCrawl: file globs (local or ``gs://``) → :class:`Document` s.

A file is the unit of work: ``MatchAll → ReadMatches → Reshuffle → ParDo(parse)``.
The format parsers live in ``filters/readers`` (plain generators); this stage
routes what they yield — Documents to the main output, skips to ``rejected``,
bad records to the dead letter — and counts each file's records independently
of those three outputs, so the ledger catches any record a later stage loses.

In: file patterns.  Out: :class:`StageOutputs` of the ``read`` stage.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PBegin, TaggedOutput

from tailguard.filters.document import Document, evolve
from tailguard.filters.layout import OutputLayout
from tailguard.filters.readers import (
    FileFailure,
    ReaderOptions,
    RecordError,
    Skip,
    UnsupportedFormatError,
    read_records,
)
from tailguard.transforms._files import WriteJsonFile
from tailguard.transforms.accounting import (
    DEAD_LETTER,
    INPUT_COUNT,
    REJECTED,
    DeadLetter,
    Rejection,
    StageOutputs,
    apply_stage_fn,
    counter_namespace,
)
from tailguard.transforms.progress import ProgressTally

__all__ = ["READ_STAGE", "ReadConfig", "ReadCrawl"]

READ_STAGE = "read"


@dataclass(frozen=True)
class ReadConfig:
    """Options of :class:`ReadCrawl`.

    Attributes:
        text_field: Text field of JSONL/Parquet records.
        id_field: Id field of JSONL/Parquet records (derived when absent).
        max_record_bytes: Larger records are skipped as ``oversized_record``.
        progress_interval_s: Seconds between progress log lines.
    """

    text_field: str = "text"
    id_field: str = "id"
    max_record_bytes: int = 32 * 1024 * 1024
    progress_interval_s: float = 10.0

    def __post_init__(self) -> None:
        if self.max_record_bytes <= 0:
            raise ValueError("read.max_record_bytes must be > 0")
        if self.progress_interval_s <= 0:
            raise ValueError("read.progress_interval_s must be > 0")


class _ReadFileFn(beam.DoFn):
    """Parse one input file into Documents; skips → rejected, bad records → dead letter."""

    def __init__(self, config: ReadConfig, total_files: int | None, report_inputs: bool = True) -> None:
        self._config = config
        self._total_files = total_files
        self._report_inputs = report_inputs

    def setup(self) -> None:
        # Counters and the progress tally are per worker; build them once.
        namespace = counter_namespace(READ_STAGE)
        self._passed = Metrics.counter(namespace, "passed")
        self._files = Metrics.counter(namespace, "files")
        self._bytes = Metrics.counter(namespace, "bytes")
        self._dead = Metrics.counter(namespace, DEAD_LETTER)
        self._failed_files = Metrics.counter(namespace, "failed_files")
        self._progress = ProgressTally.get(self._config.progress_interval_s)
        if self._total_files:
            self._progress.set_total_files(self._total_files)
        self._options = ReaderOptions(
            text_field=self._config.text_field,
            id_field=self._config.id_field,
            max_record_bytes=self._config.max_record_bytes,
        )

    def process(self, readable: fileio.ReadableFile) -> Iterator[Any]:
        path = readable.metadata.path
        records = 0
        with readable.open(compression_type=CompressionTypes.UNCOMPRESSED) as raw:
            try:
                for output in self._route(read_records(path, raw, self._options)):
                    # A failed file is counted as a file (with what it did not yield), not as a record.
                    if not (isinstance(output, TaggedOutput) and getattr(output.value, "unit", "") == "file"):
                        records += 1
                    yield output
            except UnsupportedFormatError as exc:
                self._failed_files.inc()
                yield TaggedOutput(
                    DEAD_LETTER,
                    DeadLetter(
                        READ_STAGE,
                        f"UnsupportedFormat: {exc}",
                        path,
                        0,
                        unit="file",
                        bytes_not_read=readable.metadata.size_in_bytes,
                    ),
                )
        # Counted independently of the three outputs, so the ledger catches a lost record.
        yield TaggedOutput(INPUT_COUNT, records)
        self._files.inc()
        self._bytes.inc(readable.metadata.size_in_bytes)
        if self._report_inputs:
            self._progress.add("files")

    def _route(self, items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            if self._report_inputs:
                self._progress.add("records")
            if isinstance(item, Document):
                self._passed.inc()
                # Copy-on-write like every stage (the guard test checks it), though the reader made it.
                yield evolve(item, lineage={READ_STAGE: "kept"})
            elif isinstance(item, Skip):
                # Drops and dead letters reach the progress line through the ledger (every stage's do).
                Metrics.counter(counter_namespace(READ_STAGE), item.reason).inc()
                yield TaggedOutput(
                    REJECTED, Rejection(READ_STAGE, item.reason, item.id, item.source, item.position, item.detail)
                )
            elif isinstance(item, FileFailure):
                self._failed_files.inc()
                letter = DeadLetter(
                    READ_STAGE,
                    item.error,
                    item.source,
                    item.position,
                    None,
                    item.snippet,
                    unit="file",
                    bytes_not_read=item.bytes_not_read,
                    records_not_read=item.records_not_read,
                )
                yield TaggedOutput(DEAD_LETTER, letter)
            elif isinstance(item, RecordError):
                self._dead.inc()
                yield TaggedOutput(
                    DEAD_LETTER, DeadLetter(READ_STAGE, item.error, item.source, item.position, None, item.snippet)
                )
            else:  # pragma: no cover - a reader bug, surfaced loudly
                raise TypeError(f"reader yielded {type(item).__name__}")


def _first(values: Iterable[FileMetadata]) -> FileMetadata:
    return next(iter(values))


class _FileInfoFn(beam.DoFn):
    """Emit one JSON line per matched input file (for the manifest's ``inputs``)."""

    def process(self, metadata: FileMetadata) -> Iterator[str]:
        yield json.dumps({"path": metadata.path, "bytes": metadata.size_in_bytes}, sort_keys=True)


class ReadCrawl(beam.PTransform):
    """Read every record of the files matching ``patterns`` as Documents.

    Args:
        config: Reader options.
        patterns: File globs on any Beam filesystem (local, ``gs://``).
        layout: The run's output layout; the list of matched files and the
            per-file record counts are written under ``_work/`` for the manifest.
        total_files: Number of files, when known at launch (for progress lines).
        report_inputs: Count files and records in the progress lines (false when
            re-reading a resumable run's own checkpoints, which are not new input).

    Returns (from ``expand``):
        :class:`StageOutputs` of the ``read`` stage.
    """

    def __init__(
        self,
        config: ReadConfig,
        patterns: Sequence[str],
        layout: OutputLayout,
        total_files: int | None = None,
        report_inputs: bool = True,
    ) -> None:
        super().__init__()
        if not patterns:
            raise ValueError("ReadCrawl needs at least one input pattern")
        self._config = config
        self._patterns = list(patterns)
        self._layout = layout
        self._total_files = total_files
        self._report_inputs = report_inputs

    def expand(self, pbegin: PBegin) -> StageOutputs:
        matched = (
            pbegin
            | "Patterns" >> beam.Create(self._patterns)
            | "MatchFiles" >> fileio.MatchAll(fileio.EmptyMatchTreatment.ALLOW)
            # Overlapping globs may match a file twice: keep one match per path.
            | "KeyByPath" >> beam.Map(lambda metadata: (metadata.path, metadata))
            | "OnePerPath" >> beam.CombinePerKey(_first)
            | "DropPath" >> beam.Values()
        )
        _ = (
            matched
            | "DescribeInputs" >> beam.ParDo(_FileInfoFn())
            | "WriteInputList" >> WriteJsonFile(self._layout.inputs_list)
        )
        files = (
            matched
            | "ReadMatches" >> fileio.ReadMatches(compression=CompressionTypes.UNCOMPRESSED)
            # One file per work item: spread files across workers before parsing.
            | "SpreadFiles" >> beam.Reshuffle()
        )
        outputs = apply_stage_fn(
            files,
            "ParseFiles",
            READ_STAGE,
            _ReadFileFn(self._config, self._total_files, self._report_inputs),
            extra_tags=(INPUT_COUNT,),
        )
        _ = (
            outputs.extra[INPUT_COUNT]  # one int per file: records it held
            | "SumInputRecords" >> beam.CombineGlobally(sum)
            | "InputRecordsJson" >> beam.Map(lambda n: json.dumps({"key": ["input"], "count": n}))
            | "WriteInputRecords" >> WriteJsonFile(self._layout.input_records)
        )
        return outputs
