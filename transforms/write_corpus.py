"""WriteCorpus: Documents → ``OUTPUT/corpus/part-SSSSS-of-NNNNN.<ext>``.

Shard and in-shard row order are pure functions of (id, seed, copy), so the
output bytes do not depend on the runner, bundle sizes or the worker count.

No shuffle record holds a whole shard (Flink's batch GroupByKey turns each key's
values into one record, which must fit a sort buffer): a shard's order-key range
is cut into chunks of about ``chunk_mb`` of text (counted per shard first, so the
cut depends on the data only), each chunk is grouped, sorted and spilled to
``_work/write_chunks/``, and one merge per shard streams its chunks, in order,
into the final file.  The chunk count does not change a byte of the output (the
merge re-cuts Parquet row groups at ``parquet_row_group_rows``).  Every shard is
written to a temporary name and renamed, and its sha256 is recorded for the
manifest; the chunk files are deleted once every shard is written.

With ``write.per_tier`` (or ``write.ensembles``) the same kept documents are also
written as *views*: ``OUTPUT/tiers/<tier>/part-*`` per provenance tier and
``OUTPUT/tiers/<recipe>/part-*`` per named ensemble recipe (a list of tiers), one
row per document (the mix's repeats belong to the mixed corpus), for training one
model per tier (the seed's multi-model ensembles).  Views are not new records:
the ledger counts each document once, in the mixed corpus.  Their shard lists and
token totals go to ``layout.stats("tiers_written")`` → ``manifest["tiers_written"]``.

In: Documents.  Out: one JSON line per written shard of the mixed corpus.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsDict, PCollection

from tailguard.filters.document import ARROW_SCHEMA, Document
from tailguard.filters.hashing import shard_of, stable_hash64
from tailguard.filters.layout import OutputLayout, join_path, shard_name
from tailguard.filters.tiers import TIERS
from tailguard.transforms._files import WriteJsonFile
from tailguard.transforms.accounting import counter_namespace
from tailguard.transforms.progress import ProgressTally

__all__ = ["CorpusFormat", "WriteConfig", "WriteCorpus"]

CorpusFormat = Literal["parquet", "jsonl.zst"]
#: View name of documents without a tier (the same name MeasureCollapse uses for their group).
UNTIERED = "untiered"
_VIEW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


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
        per_tier: Also write every provenance tier's kept documents to ``OUTPUT/tiers/<tier>/``.
        tier_num_shards: Shards of each view; 0 = the corpus's shard count.
        ensembles: Named ensemble recipes, ``{name: [tier, ...]}``: one view per recipe under
            ``OUTPUT/tiers/<name>/`` (e.g. ``A: [tier1]``, ``D: [curated_synthetic]``).
        chunk_mb: Megabytes of text per write chunk, the unit one worker groups and sorts
            in memory (see the module docstring); output bytes do not depend on it.
    """

    format: CorpusFormat = "parquet"
    num_shards: int = 0
    shard_target_mb: int = 256
    rejected_text: bool = True
    parquet_row_group_rows: int = 10_000
    zstd_level: int = 3
    per_tier: bool = False
    tier_num_shards: int = 0
    ensembles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    chunk_mb: float = 4.0

    def __post_init__(self) -> None:
        if self.tier_num_shards < 0:
            raise ValueError("write.tier_num_shards must be >= 0")
        known = (*TIERS, UNTIERED)
        for name, tiers in self.ensembles.items():
            if not _VIEW_NAME.fullmatch(name) or name in known:
                raise ValueError(
                    f"write.ensembles: recipe name {name!r} must match [A-Za-z0-9][A-Za-z0-9_.-]* and not be a tier"
                )
            unknown = [t for t in tiers if t not in known]
            if not tiers or unknown:
                raise ValueError(f"write.ensembles.{name}: needs a non-empty list of tiers from {known}, got {tiers}")
        if self.format not in ("parquet", "jsonl.zst"):
            raise ValueError(f"write.format must be 'parquet' or 'jsonl.zst', got {self.format!r}")
        if self.num_shards < 0 or self.shard_target_mb <= 0 or self.parquet_row_group_rows <= 0:
            raise ValueError("write.num_shards must be >= 0; shard_target_mb and parquet_row_group_rows > 0")
        if not self.chunk_mb > 0:
            raise ValueError(f"write.chunk_mb must be > 0, got {self.chunk_mb}")

    def resolve_shards(self, input_bytes: int) -> int:
        """Return the shard count for a run reading ``input_bytes`` of input."""
        if self.num_shards:
            return self.num_shards
        return max(1, -(-input_bytes // (self.shard_target_mb * 1024 * 1024)))

    def chunks_for(self, text_bytes: int) -> int:
        """Return the number of chunks a shard holding ``text_bytes`` of text is written in."""
        return max(1, -(-text_bytes // max(1, int(self.chunk_mb * 1024 * 1024))))


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


#: ``(chunk index, chunk file, records, tokens, documents without tokens)``: one spilled chunk.
_ChunkInfo = tuple[int, str, int, int, int]


def _chunk_of(order_key: int, chunks: int) -> int:
    """The chunk of ``order_key`` (a uint64): chunks cut the order-key range in increasing order."""
    return (order_key * chunks) >> 64


def _target_label(target: int | tuple[str, int]) -> tuple[str, int]:
    """``(label, shard)`` of a write target: a corpus shard, or a ``(view, shard)``."""
    return ("corpus", target) if isinstance(target, int) else target


def _text_bytes(item: tuple[Any, tuple[int, Document]]) -> tuple[Any, int]:
    return item[0], len(item[1][1].text.encode("utf-8"))


def _key_by_chunk(
    item: tuple[Any, tuple[int, Document]], sizes: dict[Any, int], config: WriteConfig
) -> tuple[tuple[Any, int], tuple[int, Document]]:
    """``(target, (order_key, doc))`` → ``((target, chunk), (order_key, doc))`` (typed: Documents keep their coder)."""
    target, ordered = item
    return (target, _chunk_of(ordered[0], config.chunks_for(sizes[target]))), ordered


class _WriteChunkFn(beam.DoFn):
    """Sort one chunk of one shard and spill it to ``chunk_dir``; emit ``(target, _ChunkInfo)``.

    A Parquet-bound chunk is an Arrow IPC file of the rows; a JSONL-bound one is a zstd frame
    of the lines.  Both hold the rows already encoded, so the merge only streams bytes.
    """

    def __init__(self, config: WriteConfig, chunk_dir: str) -> None:
        self._config = config
        self._chunk_dir = chunk_dir

    def process(self, element: tuple[tuple[Any, int], Iterable[tuple[int, Document]]]) -> Iterator[Any]:
        (target, chunk), items = element
        rows = sorted(items, key=lambda item: (item[0], item[1].id))
        docs = [doc for _, doc in rows]
        label, shard = _target_label(target)
        path = join_path(self._chunk_dir, f"{label}-{shard:05d}-{chunk:06d}.chunk")
        with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as sink:
            if self._config.format == "parquet":
                table = pa.Table.from_pylist([doc.to_row() for doc in docs], schema=ARROW_SCHEMA)
                options = pa.ipc.IpcWriteOptions(compression="zstd")
                with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), ARROW_SCHEMA, options=options) as out:
                    out.write_table(table)
            else:
                lines = b"".join(
                    json.dumps(doc.to_json_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
                    for doc in docs
                )
                sink.write(zstandard.ZstdCompressor(level=1).compress(lines))
        tokens = sum(doc.tokens or 0 for doc in docs)
        untokened = sum(1 for doc in docs if doc.tokens is None)
        yield target, (chunk, path, len(docs), tokens, untokened)


class _WriteShardFn(beam.DoFn):
    """Merge one shard's chunks, in chunk order, into its file; emit a description of it."""

    def __init__(self, config: WriteConfig, corpus_dir: str, num_shards: int, report_progress: bool = True) -> None:
        self._config = config
        self._corpus_dir = corpus_dir
        self._num_shards = num_shards
        self._report_progress = report_progress

    def setup(self) -> None:
        self._rows = Metrics.counter(counter_namespace("write"), "rows")
        self._progress = ProgressTally.get()

    def process(self, element: tuple[int, dict[str, list[Any]]]) -> Iterator[str]:
        shard, grouped = element
        description = self._write(self._corpus_dir, shard, grouped["chunks"])
        self._rows.inc(description["records"])
        if self._report_progress:  # checkpoints are not corpus rows
            self._progress.add("kept", description["records"])
        yield json.dumps(description, sort_keys=True)

    def _write(self, directory: str, shard: int, chunks: Iterable[_ChunkInfo]) -> dict[str, Any]:
        """Write one shard from its spilled ``chunks`` under ``directory``; return its description."""
        ordered = sorted(chunks)
        ext = "parquet" if self._config.format == "parquet" else "jsonl.zst"
        name = shard_name(shard, self._num_shards, ext)
        final = join_path(directory, name)
        temp = join_path(directory, f".tmp-{name}")
        with FileSystems.create(temp, compression_type=CompressionTypes.UNCOMPRESSED) as sink:
            writer = _HashingWriter(sink)
            paths = [path for _, path, *_ in ordered]
            if self._config.format == "parquet":
                self._merge_parquet(writer, paths)
            else:
                self._merge_jsonl_zst(writer, paths)
        if FileSystems.exists(final):
            FileSystems.delete([final])
        FileSystems.rename([temp], [final])
        return {
            "path": name,
            "records": sum(info[2] for info in ordered),
            "bytes": writer.size,
            "sha256": writer.sha256.hexdigest(),
        }

    def _merge_parquet(self, writer: _HashingWriter, paths: list[str]) -> None:
        step = self._config.parquet_row_group_rows
        with pq.ParquetWriter(pa.PythonFile(writer, mode="w"), ARROW_SCHEMA, compression="zstd") as out:
            # Row groups are cut every `step` rows of the whole shard, wherever the chunk edges fall,
            # and written from contiguous arrays: the bytes do not depend on the chunk count.
            # An empty shard gets no row group at all: HF datasets fails on a 0-row row group
            # ("BatchSize must be greater than 0"), while a file with none loads as 0 rows.
            pending: list[pa.RecordBatch] = []
            held = 0
            for path in paths:
                with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
                    for batch in pa.ipc.open_stream(pa.PythonFile(handle, mode="r")):
                        pending.append(batch)
                        held += batch.num_rows
                        while held >= step:
                            table = pa.Table.from_batches(pending, schema=ARROW_SCHEMA)
                            out.write_table(table.slice(0, step).combine_chunks())
                            pending = table.slice(step).combine_chunks().to_batches()
                            held -= step
            if held:
                out.write_table(pa.Table.from_batches(pending, schema=ARROW_SCHEMA).combine_chunks())

    def _merge_jsonl_zst(self, writer: _HashingWriter, paths: list[str]) -> None:
        compressor = zstandard.ZstdCompressor(level=self._config.zstd_level)
        with compressor.stream_writer(writer, closefd=False) as out:  # type: ignore[arg-type]
            for path in paths:
                with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
                    with zstandard.ZstdDecompressor().stream_reader(handle) as lines:
                        while block := lines.read(1 << 20):
                            out.write(block)


class _WriteViewShardFn(_WriteShardFn):
    """Merge one shard of one per-tier / recipe view; emit ``(view, description with tokens)``.

    Views are not counted as written rows or kept records (the mixed corpus holds the records).
    """

    def __init__(self, config: WriteConfig, layout: OutputLayout, num_shards: int) -> None:
        super().__init__(config, layout.corpus_dir, num_shards)
        self._layout = layout

    def process(self, element: tuple[tuple[str, int], dict[str, list[Any]]]) -> Iterator[Any]:  # type: ignore[override]
        (view, shard), grouped = element
        chunks = list(grouped["chunks"])
        description = self._write(self._layout.tier_dir(view), shard, chunks)
        description["tokens"] = sum(info[3] for info in chunks)
        description["documents_without_tokens"] = sum(info[4] for info in chunks)
        yield view, description


def _delete_chunks(_: int, chunk_dir: str) -> None:
    """Delete the spilled chunks once every shard is written (a retried delete finds nothing)."""
    matched = FileSystems.match([join_path(chunk_dir, "*.chunk")])[0].metadata_list
    if matched:
        FileSystems.delete([m.path for m in matched])


class _WriteShards(beam.PTransform):
    """``(target, (order_key, doc))`` → chunks → one merged file per target; every target in ``every`` exists."""

    def __init__(self, config: WriteConfig, chunk_dir: str, merge_fn: beam.DoFn) -> None:
        super().__init__()
        self._config = config
        self._chunk_dir = chunk_dir
        self._merge_fn = merge_fn

    def expand(self, pcolls: tuple[PCollection, PCollection]) -> PCollection:
        keyed, every = pcolls
        # Text bytes per target (combined before the shuffle: one small record per target and worker).
        sizes = keyed | "TextBytes" >> beam.Map(_text_bytes) | "SumTextBytes" >> beam.CombinePerKey(sum)
        spilled = (
            keyed
            | "KeyByChunk" >> beam.Map(_key_by_chunk, AsDict(sizes), self._config)
            | "GroupChunks" >> beam.GroupByKey()
            | "SpillChunks" >> beam.ParDo(_WriteChunkFn(self._config, self._chunk_dir))
        )
        # Joining with every target makes empty shards exist too: (target, {"chunks": [...], "all": [None]})
        written = (
            {"chunks": spilled, "all": every}
            | "GroupShards" >> beam.CoGroupByKey()
            | "MergeShards" >> beam.ParDo(self._merge_fn)
        )
        _ = (
            written
            | "CountShards" >> beam.combiners.Count.Globally()
            | "DeleteChunks" >> beam.Map(_delete_chunks, self._chunk_dir)
        )
        return written


def _view_names(doc: Document, per_tier: bool, ensembles: dict[str, tuple[str, ...]]) -> list[str]:
    """The views a kept document belongs to: its tier (with ``per_tier``) and every recipe listing it."""
    tier = doc.tier or UNTIERED
    return ([tier] if per_tier else []) + [name for name, tiers in sorted(ensembles.items()) if tier in tiers]


def _view_keys(
    doc: Document, per_tier: bool, ensembles: dict[str, tuple[str, ...]], seed: int, num_shards: int
) -> Iterator[tuple[tuple[str, int], tuple[int, Document]]]:
    """Key one row of ``doc`` per view by (view, shard): copy 0's shard and order, as in the corpus."""
    for view in _view_names(doc, per_tier, ensembles):
        yield (view, shard_of(doc.id, seed, num_shards, 0)), (stable_hash64("order", seed, doc.id, 0), doc)


def _views_json(
    described: list[tuple[str, dict[str, Any]]],
    layout: OutputLayout,
    per_tier: bool,
    ensembles: dict[str, tuple[str, ...]],
    num_shards: int,
) -> str:
    """All view shard descriptions → the ``tiers_written`` manifest section (one entry per view)."""
    out: dict[str, dict[str, Any]] = {}
    for view, shard in sorted(described, key=lambda vs: (vs[0], vs[1]["path"])):
        kind = "recipe" if view in ensembles else "tier"
        entry = out.setdefault(
            view,
            {
                "kind": kind,
                "tiers": list(ensembles[view]) if kind == "recipe" else [view],
                "dir": layout.tier_dir(view)[len(layout.root) :].lstrip("/"),
                "num_shards": num_shards,
                "rows": 0,
                "tokens": 0,
                "documents_without_tokens": 0,
                "shards": [],
            },
        )
        entry["rows"] += shard["records"]
        entry["tokens"] += shard["tokens"]
        entry["documents_without_tokens"] += shard["documents_without_tokens"]
        entry["shards"].append(shard)
    return json.dumps(out, sort_keys=True)


def _all_view_shards(view: str, num_shards: int) -> list[tuple[tuple[str, int], None]]:
    return [((view, i), None) for i in range(num_shards)]


class _WriteViews(beam.PTransform):
    """Kept documents → per-tier and recipe views under ``OUTPUT/tiers/`` + the ``tiers_written`` section."""

    def __init__(self, config: WriteConfig, layout: OutputLayout, num_shards: int, seed: int) -> None:
        super().__init__()
        self._config = config
        self._layout = layout
        self._num_shards = num_shards
        self._seed = seed

    def expand(self, docs: PCollection[Document]) -> PCollection[str]:
        cfg, n = self._config, self._num_shards
        # ((view, shard), (order_key, doc))
        keyed = docs | "KeyByView" >> beam.FlatMap(_view_keys, cfg.per_tier, cfg.ensembles, self._seed, n)
        # Every shard of every view that holds a document exists, even when empty.
        every_shard = (
            keyed
            | "ViewNames" >> beam.Map(lambda item: item[0][0])
            | "DistinctViews" >> beam.Distinct()
            | "AllViewShards" >> beam.FlatMap(_all_view_shards, n)
        )
        described = (keyed, every_shard) | "WriteViewShards" >> _WriteShards(
            cfg, self._layout.work("write_chunks", "views"), _WriteViewShardFn(cfg, self._layout, n)
        )
        return (
            described
            | "CollectViewShards" >> beam.combiners.ToList()
            | "ViewsJson" >> beam.Map(_views_json, self._layout, cfg.per_tier, cfg.ensembles, n)
            | "WriteViewStats" >> WriteJsonFile(self._layout.stats("tiers_written"))
        )


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
        report_progress: Count the rows in the progress lines' ``written`` (false
            for a resumable run's ingest checkpoints, which are not the corpus).

    Returns (from ``expand``):
        A PCollection of JSON lines describing the written shards.
    """

    def __init__(
        self, config: WriteConfig, layout: OutputLayout, num_shards: int, seed: int = 0, report_progress: bool = True
    ) -> None:
        super().__init__()
        if num_shards <= 0:
            raise ValueError("WriteCorpus needs num_shards > 0")
        self._config = config
        self._layout = layout
        self._num_shards = num_shards
        self._seed = seed
        self._report_progress = report_progress

    def expand(self, docs: PCollection[Document]) -> PCollection[str]:
        seed, n = self._seed, self._num_shards
        # (shard, (order_key, doc))
        keyed = docs | "KeyByShard" >> beam.FlatMap(_copies, seed, n)
        every_shard = docs.pipeline | "AllShards" >> beam.Create([(i, None) for i in range(n)])
        shards = (keyed, every_shard) | "WriteShards" >> _WriteShards(
            self._config,
            self._layout.work("write_chunks", "corpus"),
            _WriteShardFn(self._config, self._layout.corpus_dir, n, self._report_progress),
        )
        _ = shards | "WriteShardList" >> WriteJsonFile(self._layout.shard_list)
        if self._config.per_tier or self._config.ensembles:
            views = self._config.tier_num_shards or n
            _ = docs | "WriteTierViews" >> _WriteViews(self._config, self._layout, views, seed)
        return shards
