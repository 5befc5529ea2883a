"""Reading inputs and writing the corpus, rejected records, dead letters and the ledger.

* :class:`ReadCrawl` — file globs (local or ``gs://``) → :class:`Document` s.  A file
  is the unit of work: ``MatchAll → ReadMatches → Reshuffle → ParDo(read)``.
* :class:`WriteCorpus` — Documents → ``OUTPUT/corpus/part-SSSSS-of-NNNNN.<ext>``.
  Shard and row order are pure functions of (id, seed), so output bytes do not
  depend on runner, bundle sizes or worker count.
* :class:`WriteRejected`, :class:`WriteDeadLetter` — JSONL.zst side outputs.
* :class:`WriteLedger` — the counts the manifest's ledger is built from.

All paths go through Beam's ``FileSystems``, so every one may be ``gs://``.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PBegin, PCollection, TaggedOutput

from tailguard.filters.document import ARROW_SCHEMA, Document
from tailguard.filters.hashing import shard_of, stable_hash64
from tailguard.filters.readers import ReaderOptions, RecordError, Skip, UnsupportedFormatError, read_records
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

__all__ = [
    "CorpusFormat",
    "ReadConfig",
    "ReadCrawl",
    "WriteConfig",
    "WriteCorpus",
    "WriteDeadLetter",
    "WriteJsonFile",
    "WriteLedger",
    "WriteRejected",
    "local_copy",
    "read_text",
    "work_path",
]

CorpusFormat = Literal["parquet", "jsonl.zst"]
READ_STAGE = "read"


def read_text(path: str) -> str:
    """Read a small UTF-8 side file (blocklist, word list) from any Beam filesystem (local, ``gs://``)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return handle.read().decode("utf-8")


def local_copy(path: str, names: Sequence[str] = ()) -> str:
    """Return a local path for ``path``: itself when local, else a per-process temp copy.

    Args:
        path: A file, or with ``names`` a directory, on any Beam filesystem.
        names: Files of the directory ``path`` to copy (e.g. a reference snapshot's).

    Returns:
        The local file, or the local directory holding ``names``.
    """
    if "://" not in path:
        return path
    import os
    import tempfile

    local_dir = tempfile.mkdtemp(prefix="tailguard-")
    sources = [FileSystems.join(path, n) for n in names] if names else [path]
    for source in sources:
        target = os.path.join(local_dir, source.rstrip("/").rsplit("/", 1)[-1])
        with FileSystems.open(source, compression_type=CompressionTypes.UNCOMPRESSED) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    return local_dir if names else os.path.join(local_dir, sources[0].rstrip("/").rsplit("/", 1)[-1])


def work_path(output_dir: str, *parts: str) -> str:
    """Return a path under ``OUTPUT/_work`` (intermediate files the manifest is built from)."""
    return FileSystems.join(output_dir, "_work", *parts)


# ----------------------------------------------------------------------------- reading


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
        self._report_inputs = report_inputs

    def setup(self) -> None:
        # Counters and the progress tally are per worker; build them once.
        namespace = counter_namespace(READ_STAGE)
        self._passed = Metrics.counter(namespace, "passed")
        self._files = Metrics.counter(namespace, "files")
        self._bytes = Metrics.counter(namespace, "bytes")
        self._dead = Metrics.counter(namespace, DEAD_LETTER)
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
                    records += 1
                    yield output
            except UnsupportedFormatError as exc:
                records += 1
                self._dead.inc()
                self._progress.add("dead_letter")
                yield TaggedOutput(DEAD_LETTER, DeadLetter(READ_STAGE, f"UnsupportedFormat: {exc}", path, 0))
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
                item.lineage[READ_STAGE] = "kept"
                yield item
            elif isinstance(item, Skip):
                Metrics.counter(counter_namespace(READ_STAGE), item.reason).inc()
                self._progress.add(f"dropped:{READ_STAGE}/{item.reason}")
                yield TaggedOutput(
                    REJECTED, Rejection(READ_STAGE, item.reason, item.id, item.source, item.position, item.detail)
                )
            elif isinstance(item, RecordError):
                self._dead.inc()
                self._progress.add("dead_letter")
                yield TaggedOutput(
                    DEAD_LETTER, DeadLetter(READ_STAGE, item.error, item.source, item.position, None, item.snippet)
                )
            else:  # pragma: no cover - a reader bug, surfaced loudly
                raise TypeError(f"reader yielded {type(item).__name__}")


def _first(values: Iterable[Any]) -> Any:
    return next(iter(values))


class _FileInfoFn(beam.DoFn):
    """Emit one JSON line per matched input file (for the manifest's ``inputs``)."""

    def process(self, metadata: Any) -> Iterator[str]:
        yield json.dumps({"path": metadata.path, "bytes": metadata.size_in_bytes}, sort_keys=True)


class ReadCrawl(beam.PTransform):
    """Read every record of the files matching ``patterns`` as Documents.

    Args:
        config: Reader options.
        patterns: File globs on any Beam filesystem (local, ``gs://``).
        output_dir: Run output directory; the list of matched files is written
            under ``_work/`` for the manifest.
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
        output_dir: str,
        total_files: int | None = None,
        report_inputs: bool = True,
    ) -> None:
        super().__init__()
        if not patterns:
            raise ValueError("ReadCrawl needs at least one input pattern")
        self._config = config
        self._patterns = list(patterns)
        self._output_dir = output_dir
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
            | "WriteInputList" >> WriteJsonFile(work_path(self._output_dir, "inputs.jsonl"))
        )
        files = (
            matched
            | "ReadMatches" >> fileio.ReadMatches(compression=CompressionTypes.UNCOMPRESSED)
            # One file per work item: spread files across workers before parsing.
            | "SpreadFiles" >> beam.Reshuffle()
        )
        outputs, input_counts = apply_stage_fn(
            files, "ParseFiles", READ_STAGE, _ReadFileFn(self._config, self._total_files, self._report_inputs),
            with_input_count=True,
        )
        _ = (
            input_counts
            | "SumInputRecords" >> beam.CombineGlobally(sum)
            | "InputRecordsJson" >> beam.Map(lambda n: json.dumps({"key": ["input"], "count": n}))
            | "WriteInputRecords" >> WriteJsonFile(work_path(self._output_dir, "input_records.jsonl"))
        )
        return outputs


# ----------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class WriteConfig:
    """Options of :class:`WriteCorpus` and the side outputs.

    Attributes:
        format: ``parquet`` (default) or ``jsonl.zst``.
        num_shards: Number of corpus shards; 0 = one per ``shard_target_mb`` of input.
        shard_target_mb: Input megabytes per shard when ``num_shards`` is 0.
        rejected_text: Keep the text of rejected documents (counts are always kept).
        parquet_row_group_rows: Rows per Parquet row group.
        zstd_level: Compression level of ``.zst`` outputs.
    """

    format: CorpusFormat = "parquet"
    num_shards: int = 0
    shard_target_mb: int = 256
    rejected_text: bool = True
    parquet_row_group_rows: int = 10_000
    zstd_level: int = 3

    def __post_init__(self) -> None:
        if self.format not in ("parquet", "jsonl.zst"):
            raise ValueError(f"write.format must be 'parquet' or 'jsonl.zst', got {self.format!r}")
        if self.num_shards < 0 or self.shard_target_mb <= 0 or self.parquet_row_group_rows <= 0:
            raise ValueError("write.num_shards must be >= 0; shard_target_mb and parquet_row_group_rows > 0")

    def resolve_shards(self, input_bytes: int) -> int:
        """Return the shard count for a run reading ``input_bytes`` of input."""
        if self.num_shards:
            return self.num_shards
        return max(1, -(-input_bytes // (self.shard_target_mb * 1024 * 1024)))


class _HashingWriter(io.RawIOBase):
    """A write-only stream that forwards to ``sink`` and hashes what passes through."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._sink.write(view)
        self.sha256.update(view)
        self.size += len(view)
        return len(view)

    def tell(self) -> int:
        return self.size


class _WriteShardFn(beam.DoFn):
    """Write one shard file (sorted by hash) and emit a description of it."""

    def __init__(self, config: WriteConfig, corpus_dir: str, num_shards: int) -> None:
        self._config = config
        self._corpus_dir = corpus_dir
        self._num_shards = num_shards

    def setup(self) -> None:
        self._rows = Metrics.counter(counter_namespace("write"), "rows")
        self._progress = ProgressTally.get()

    def process(self, element: tuple[int, dict[str, list[Any]]]) -> Iterator[str]:
        shard, grouped = element
        rows = sorted(grouped["docs"], key=lambda item: (item[0], item[1].id))
        ext = "parquet" if self._config.format == "parquet" else "jsonl.zst"
        name = f"part-{shard:05d}-of-{self._num_shards:05d}.{ext}"
        final = FileSystems.join(self._corpus_dir, name)
        temp = FileSystems.join(self._corpus_dir, f".tmp-{name}")
        with FileSystems.create(temp, compression_type=CompressionTypes.UNCOMPRESSED) as sink:
            writer = _HashingWriter(sink)
            if self._config.format == "parquet":
                self._write_parquet(writer, [doc for _, doc in rows])
            else:
                self._write_jsonl_zst(writer, [doc for _, doc in rows])
        if FileSystems.exists(final):
            FileSystems.delete([final])
        FileSystems.rename([temp], [final])
        self._rows.inc(len(rows))
        self._progress.add("kept", len(rows))
        yield json.dumps(
            {"path": name, "records": len(rows), "bytes": writer.size, "sha256": writer.sha256.hexdigest()},
            sort_keys=True,
        )

    def _write_parquet(self, writer: _HashingWriter, docs: list[Document]) -> None:
        step = self._config.parquet_row_group_rows
        with pq.ParquetWriter(pa.PythonFile(writer, mode="w"), ARROW_SCHEMA, compression="zstd") as out:
            for start in range(0, len(docs), step) or [0]:
                chunk = [doc.to_row() for doc in docs[start : start + step]]
                out.write_table(pa.Table.from_pylist(chunk, schema=ARROW_SCHEMA))

    def _write_jsonl_zst(self, writer: _HashingWriter, docs: list[Document]) -> None:
        compressor = zstandard.ZstdCompressor(level=self._config.zstd_level)
        with compressor.stream_writer(writer, closefd=False) as out:  # type: ignore[arg-type]
            for doc in docs:
                out.write(json.dumps(doc.to_json_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
                out.write(b"\n")


def _copies(doc: Document, seed: int, num_shards: int) -> Iterator[tuple[int, tuple[int, Document]]]:
    """Key each copy of ``doc`` (``repeats`` of them) by shard and in-shard sort key."""
    for copy in range(max(1, doc.repeats or 1)):
        yield shard_of(doc.id, seed, num_shards, copy), (stable_hash64("order", seed, doc.id, copy), doc)


class WriteCorpus(beam.PTransform):
    """Write Documents as ``num_shards`` deterministic shards under ``OUTPUT/corpus/``.

    Every shard file exists, even when empty, so ``-of-NNNNN`` is always true.
    A document with ``repeats = k`` is written ``k`` times (spread over shards).

    Args:
        config: Write options.
        output_dir: Run output directory.
        num_shards: Resolved shard count (see :meth:`WriteConfig.resolve_shards`).
        seed: The run seed (shard assignment and in-shard order hash it with the id).

    Returns (from ``expand``):
        A PCollection of JSON lines describing the written shards.
    """

    def __init__(self, config: WriteConfig, output_dir: str, num_shards: int, seed: int = 0) -> None:
        super().__init__()
        if num_shards <= 0:
            raise ValueError("WriteCorpus needs num_shards > 0")
        self._config = config
        self._output_dir = output_dir
        self._num_shards = num_shards
        self._seed = seed

    def expand(self, docs: PCollection) -> PCollection:
        seed, n = self._seed, self._num_shards
        # (shard, (order_key, doc))
        keyed = docs | "KeyByShard" >> beam.FlatMap(_copies, seed, n)
        every_shard = docs.pipeline | "AllShards" >> beam.Create([(i, None) for i in range(n)])
        shards = (
            {"docs": keyed, "all": every_shard}
            | "GroupShards" >> beam.CoGroupByKey()
            | "WriteShards" >> beam.ParDo(_WriteShardFn(self._config, FileSystems.join(self._output_dir, "corpus"), n))
        )
        _ = shards | "WriteShardList" >> WriteJsonFile(work_path(self._output_dir, "shards.jsonl"))
        return shards


class WriteJsonFile(beam.PTransform):
    """Write a PCollection of JSON lines to exactly one (possibly empty) file at ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def expand(self, lines: PCollection) -> Any:
        return lines | "WriteOneFile" >> beam.io.WriteToText(self._path, num_shards=1, shard_name_template="")


class WriteRejected(beam.PTransform):
    """Write one stage's rejected records to ``OUTPUT/rejected/<stage>/*.jsonl.zst``."""

    def __init__(self, output_dir: str, stage: str, with_text: bool = True) -> None:
        super().__init__()
        self._prefix = FileSystems.join(output_dir, "rejected", stage, "part")
        self._with_text = with_text

    def expand(self, rejected: PCollection) -> Any:
        with_text = self._with_text
        return (
            rejected
            | "ToJson" >> beam.Map(lambda r: json.dumps(r.to_json_dict(with_text=with_text), ensure_ascii=False))
            | "Write" >> beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl.zst")
        )


class WriteDeadLetter(beam.PTransform):
    """Write dead-letter records to ``OUTPUT/dead_letter/*.jsonl.zst``."""

    def __init__(self, output_dir: str) -> None:
        super().__init__()
        self._prefix = FileSystems.join(output_dir, "dead_letter", "part")

    def expand(self, letters: PCollection) -> Any:
        return (
            letters
            | "ToJson" >> beam.Map(lambda d: json.dumps(d.to_json_dict(), ensure_ascii=False))
            | "Write" >> beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl.zst")
        )


def _ledger_key_rejected(r: Rejection) -> tuple[str, int]:
    return json.dumps(["dropped", r.stage, r.reason]), 1


def _ledger_key_dead(d: DeadLetter) -> tuple[str, int]:
    return json.dumps(["dead_letter", d.stage]), 1


class WriteLedger(beam.PTransform):
    """Count kept, dropped (by stage and reason) and dead-letter records into one file.

    The counts are computed from the data streams themselves, so they are exact
    on every runner.  ``input_records`` is counted separately by the reader
    (records per file, ``_work/input_records.jsonl``) plus whole files that
    raised; a stage that loses a record therefore unbalances the ledger.
    """

    def __init__(self, output_dir: str, kept: PCollection) -> None:
        super().__init__()
        self._output_dir = output_dir
        self._kept = kept

    def expand(self, stages: dict[str, StageOutputs]) -> Any:
        read = stages[READ_STAGE]
        parts = [
            # A file that raised as a whole is one input record, dead-lettered.
            read.dead_letter
            | "FilesThatRaised" >> beam.Filter(lambda d: d.unit == "element")
            | "CountRaisedFiles" >> beam.Map(lambda _: ('["input"]', 1)),
            self._kept | "CountKept" >> beam.Map(lambda _: ('["kept"]', 1)),
        ]
        for name, out in stages.items():
            parts.append(out.rejected | f"CountDropped{name}" >> beam.Map(_ledger_key_rejected))
            parts.append(out.dead_letter | f"CountDead{name}" >> beam.Map(_ledger_key_dead))
        return (
            parts
            | "FlattenCounts" >> beam.Flatten()
            | "SumCounts" >> beam.CombinePerKey(sum)
            | "ToJson" >> beam.MapTuple(lambda key, n: json.dumps({"key": json.loads(key), "count": n}))
            | "WriteLedgerCounts" >> WriteJsonFile(work_path(self._output_dir, "ledger.jsonl"))
        )
