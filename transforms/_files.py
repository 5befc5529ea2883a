"""Filesystem helpers shared by the stage modules (private to ``transforms/``).

Everything here goes through Beam's ``FileSystems``, so every path may be
``gs://``: side files (blocklists, word lists, models) are read on workers, and
small JSON results are written as exactly one file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import BinaryIO

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import PCollection, PDone

__all__ = ["WriteJsonFile", "file_exists", "list_dir", "local_copy", "open_file", "read_text"]


def read_text(path: str) -> str:
    """Read a small UTF-8 side file (blocklist, word list) from any Beam filesystem (local, ``gs://``)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return handle.read().decode("utf-8")


def open_file(path: str) -> BinaryIO:
    """Open a file on any Beam filesystem for reading (bytes)."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def file_exists(directory: str, name: str) -> bool:
    """Whether ``directory/name`` exists; any filesystem failure (no credentials, bad bucket) counts as no."""
    try:
        return bool(FileSystems.exists(FileSystems.join(directory, name)))
    except Exception:  # noqa: BLE001 - "cannot check" must read as "cannot load" at launch
        return False


def list_dir(directory: str) -> list[str]:
    """Return the names of the files directly in ``directory`` (any Beam filesystem)."""
    matched = FileSystems.match([FileSystems.join(directory, "*")])[0].metadata_list
    return [m.path.rsplit("/", 1)[-1] for m in matched]


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
    local_dir = tempfile.mkdtemp(prefix="tailguard-")
    sources = [FileSystems.join(path, n) for n in names] if names else [path]
    for source in sources:
        target = os.path.join(local_dir, source.rstrip("/").rsplit("/", 1)[-1])
        with FileSystems.open(source, compression_type=CompressionTypes.UNCOMPRESSED) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    return local_dir if names else os.path.join(local_dir, sources[0].rstrip("/").rsplit("/", 1)[-1])


class WriteJsonFile(beam.PTransform):
    """Write a PCollection of JSON lines to exactly one (possibly empty) file at ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def expand(self, lines: PCollection[str]) -> PDone:
        return lines | "WriteOneFile" >> beam.io.WriteToText(self._path, num_shards=1, shard_name_template="")
