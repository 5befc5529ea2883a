"""WriteCorpus: Documents → ``OUTPUT/corpus/part-SSSSS-of-NNNNN.<ext>``.

Shard and in-shard row order are pure functions of (id, seed, copy), so the
output bytes do not depend on the runner, bundle sizes or the worker count.
Every shard is written to a temporary name and renamed, and its sha256 is
recorded for the manifest.

In: Documents.  Out: one JSON line per written shard.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection

from tailguard.filters.document import ARROW_SCHEMA, Document
from tailguard.filters.hashing import shard_of, stable_hash64
from tailguard.filters.layout import OutputLayout, join_path, shard_name
from tailguard.transforms._files import WriteJsonFile
from tailguard.transforms.accounting import counter_namespace
from tailguard.transforms.progress import ProgressTally

__all__ = ["CorpusFormat", "WriteConfig", "WriteCorpus"]

CorpusFormat = Literal["parquet", "jsonl.zst"]


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
        name = shard_name(shard, self._num_shards, ext)
        final = join_path(self._corpus_dir, name)
        temp = join_path(self._corpus_dir, f".tmp-{name}")
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


# Typed, so that wiring anything but Documents into the writer fails while the pipeline is built.
@beam.typehints.with_input_types(Document)
@beam.typehints.with_output_types(str)
class WriteCorpus(beam.PTransform):
    """Write Documents as ``num_shards`` deterministic shards under ``OUTPUT/corpus/``.

    Every shard file exists, even when empty, so ``-of-NNNNN`` is always true.
    A document with ``repeats = k`` is written ``k`` times (spread over shards).

    Args:
        config: Write options.
        layout: The run's output layout (shards go to ``layout.corpus_dir``).
        num_shards: Resolved shard count (see :meth:`WriteConfig.resolve_shards`).
        seed: The run seed (shard assignment and in-shard order hash it with the id).

    Returns (from ``expand``):
        A PCollection of JSON lines describing the written shards.
    """

    def __init__(self, config: WriteConfig, layout: OutputLayout, num_shards: int, seed: int = 0) -> None:
        super().__init__()
        if num_shards <= 0:
            raise ValueError("WriteCorpus needs num_shards > 0")
        self._config = config
        self._layout = layout
        self._num_shards = num_shards
        self._seed = seed

    def expand(self, docs: PCollection[Document]) -> PCollection[str]:
        seed, n = self._seed, self._num_shards
        # (shard, (order_key, doc))
        keyed = docs | "KeyByShard" >> beam.FlatMap(_copies, seed, n)
        every_shard = docs.pipeline | "AllShards" >> beam.Create([(i, None) for i in range(n)])
        # Joining with every shard number makes empty shards exist too: (shard, {"docs": [...], "all": [None]})
        shards = (
            {"docs": keyed, "all": every_shard}
            | "GroupShards" >> beam.CoGroupByKey()
            | "WriteShards" >> beam.ParDo(_WriteShardFn(self._config, self._layout.corpus_dir, n))
        )
        _ = shards | "WriteShardList" >> WriteJsonFile(self._layout.shard_list)
        return shards
