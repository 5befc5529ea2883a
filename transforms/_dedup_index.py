"""Beam side of the dedup indexes (``filters/dedup/index.py``): write one, read several.

:class:`WriteDedupIndex` takes entry lines and writes ``INDEX/part-SSSSS-of-NNNNN.jsonl.zst``
(every shard, sorted lines, shard = stable hash of the line, so the bytes do not
depend on the runner or worker count) and ``INDEX/index.json``.  :func:`read_dedup_indexes`
reads the entry files of the ``index_in`` directories as ``(position, line)``;
:func:`read_index_meta` reads and checks ``index.json`` when the pipeline is built
(a wrong or incompatible index fails at launch, naming the key).

Elements in: entry lines (``str``).  Out: files / ``(int, str)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import apache_beam as beam
import zstandard
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import PBegin, PCollection

from tailguard.filters.dedup.index import check_index_meta, entry_shard, index_meta
from tailguard.filters.errors import ConfigError
from tailguard.filters.layout import join_path, shard_name
from tailguard.transforms._files import WriteJsonFile

__all__ = ["WriteDedupIndex", "read_dedup_indexes", "read_index_meta"]

_META = "index.json"
_EXT = "jsonl.zst"


def read_index_meta(directory: str, stage: str, params: Mapping[str, Any], key: str) -> str:
    """Read ``directory/index.json`` and check it against this run; return the index's run id.

    Raises:
        ConfigError: Naming ``key`` when the index is missing or incompatible.
    """
    path = join_path(directory, _META)
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            meta = json.loads(handle.read().decode("utf-8"))
        return check_index_meta(meta, stage, params, directory)
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"{key}: {directory!r} is not a usable dedup index ({error})") from error


class _WriteShardFn(beam.DoFn):
    """(shard, lines) → one sorted, zstd-compressed entry file; yields its entry count."""

    def __init__(self, directory: str, shards: int) -> None:
        self._directory = directory
        self._shards = shards

    def process(self, element: tuple[int, Iterable[str | None]]) -> Iterator[int]:
        shard, lines = element
        entries = sorted(line for line in lines if line is not None)
        path = join_path(self._directory, shard_name(shard, self._shards, _EXT))
        data = zstandard.ZstdCompressor(level=3).compress("".join(line + "\n" for line in entries).encode("utf-8"))
        with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            handle.write(data)
        yield len(entries)


class WriteDedupIndex(beam.PTransform):
    """Write entry lines as an index directory (see the module docstring).

    Args:
        directory: The index directory (created; existing shard files are replaced).
        stage: Writing stage.
        run_id: Id of this run (recorded in ``index.json``).
        params: Parameters the entries depend on.
        shards: Number of entry files.
    """

    def __init__(self, directory: str, stage: str, run_id: str, params: Mapping[str, Any], shards: int) -> None:
        super().__init__()
        self._directory = directory
        self._stage = stage
        self._run_id = run_id
        self._params = dict(params)
        self._shards = shards

    def expand(self, lines: PCollection[str]) -> beam.pvalue.PDone:
        shards = self._shards
        # Both inputs of the Flatten get the same (untyped) coder: Flink refuses to union
        # PCollections whose coders differ.
        keyed = lines | "ShardEntries" >> beam.Map(lambda line: (entry_shard(line, shards), line)).with_output_types(
            Any
        )
        every = lines.pipeline | "EveryShard" >> beam.Create([(s, None) for s in range(shards)]).with_output_types(Any)
        counts = (
            (keyed, every)
            | "WithEveryShard" >> beam.Flatten()
            | "GroupShards" >> beam.GroupByKey()
            | "WriteShards" >> beam.ParDo(_WriteShardFn(self._directory, shards))
        )
        meta = self._stage, self._run_id, self._params, shards
        return (
            counts
            | "CountEntries" >> beam.CombineGlobally(sum)
            | "Meta"
            >> beam.Map(lambda n: json.dumps(index_meta(meta[0], meta[1], meta[2], meta[3], n), sort_keys=True))
            | "WriteMeta" >> WriteJsonFile(join_path(self._directory, _META))
        )


# A composite built from a function (its labels stay scoped under the caller's label), so
# that this private helper module keeps one public PTransform class: WriteDedupIndex.
@beam.ptransform_fn
def read_dedup_indexes(begin: PBegin, directories: Sequence[str]) -> PCollection[tuple[int, str]]:
    """Read the entry lines of several indexes as ``(position in the list, line)``.

    Args:
        begin: The pipeline's start.
        directories: The ``index_in`` directories, in order.

    Returns:
        ``(index position, entry line)`` for every entry of every index.
    """
    parts = []
    for i, directory in enumerate(directories):
        pattern = join_path(directory, f"part-*.{_EXT}")
        parts.append(
            begin
            | f"ReadIndex{i}" >> beam.io.ReadFromText(pattern, validate=False)
            | f"TagIndex{i}" >> beam.Map(lambda line, i=i: (i, line))
        )
    return parts | "AllIndexEntries" >> beam.Flatten()
