"""Dedup indexes: what a run persists so later runs (later crawl dumps) deduplicate against it.

An index is a directory (any Beam filesystem) written by ``dedup_exact`` or
``dedup_near`` when their ``index_out`` is set::

    INDEX/index.json                       format, stage, run id, parameters, entry count
    INDEX/part-SSSSS-of-NNNNN.jsonl.zst    entries, sharded by a stable hash, sorted

Entries (one JSON array per line):

* ``dedup_exact``: ``[kind, key, representative id]`` with kind ``url`` /
  ``digest`` / ``text`` — every key a check of the run saw, and the document the
  run kept for it.
* ``dedup_near``: ``[doc id, representative id, signature]`` — every signed
  document, the survivor of its cluster (itself when it was kept) and its MinHash
  signature (``uint32`` little endian, base64).  Band keys are recomputed from
  the signature, so only parameters that change signatures or bands must match.

A later run lists the directories in ``index_in``; its documents that duplicate an
indexed one are dropped as ``duplicate_of_previous_run``.  Indexed documents
take part in the run as *index nodes* whose labels sort before every document of
the run (:func:`index_label`), so the survivor of a mixed cluster is always the
earlier dump's document, and everything else (buckets, verification, connected
components) is unchanged.  Pure functions; no Beam.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tailguard.filters.hashing import stable_hash64

__all__ = [
    "DUPLICATE_OF_PREVIOUS_RUN",
    "INDEX_FORMAT",
    "INDEX_PREFIX",
    "IndexNode",
    "check_index_meta",
    "decode_near_entry",
    "encode_near_entry",
    "entry_shard",
    "index_label",
    "index_meta",
    "is_index_id",
    "parse_index_id",
]

#: Drop reason of documents that duplicate a document of an earlier run's index (both dedup stages).
DUPLICATE_OF_PREVIOUS_RUN = "duplicate_of_previous_run"

#: Version of the index layout; bumped when entries change shape.
INDEX_FORMAT = "tailguard-dedup-index/1"
#: First character of every index node id and label: sorts before any printable id.
INDEX_PREFIX = "\x00"
_SEP = "\x1f"  # the survivor-label field separator (filters/dedup/components.py)


def index_meta(stage: str, run_id: str, params: Mapping[str, Any], shards: int, entries: int) -> dict[str, Any]:
    """Return the ``index.json`` object of an index.

    Args:
        stage: ``dedup_exact`` or ``dedup_near``.
        run_id: Id of the run that wrote it (its output directory).
        params: Parameters the entries depend on (compared by :func:`check_index_meta`).
        shards: Number of entry files.
        entries: Number of entries.

    Returns:
        A JSON-serialisable dict.
    """
    return {
        "format": INDEX_FORMAT,
        "stage": stage,
        "run_id": run_id,
        "params": dict(params),
        "shards": shards,
        "entries": entries,
    }


def check_index_meta(meta: Mapping[str, Any], stage: str, params: Mapping[str, Any], where: str) -> str:
    """Check that an index can be used by this run; return its run id.

    Args:
        meta: The parsed ``index.json``.
        stage: The reading stage.
        params: The reading stage's parameters (same keys as when writing).
        where: The index directory, for messages.

    Returns:
        The ``run_id`` of the index.

    Raises:
        ValueError: Naming the first mismatch (format, stage or a parameter).
    """
    if meta.get("format") != INDEX_FORMAT:
        raise ValueError(f"{where}: not a {INDEX_FORMAT} index (format {meta.get('format')!r})")
    if meta.get("stage") != stage:
        raise ValueError(f"{where}: written by {meta.get('stage')!r}, not {stage!r}")
    written = meta.get("params", {})
    for key, value in params.items():
        if written.get(key) != value:
            raise ValueError(
                f"{where}: written with {key}={written.get(key)!r}, this run has {key}={value!r} "
                "(signatures or keys would not be comparable)"
            )
    return str(meta["run_id"])


@dataclass(frozen=True)
class IndexNode:
    """An indexed document seen from a later run.

    Attributes:
        index: Position of its index in ``index_in``.
        representative: The document the earlier run kept for its cluster / key.
        doc_id: Its own id in the earlier run.
    """

    index: int
    representative: str
    doc_id: str


def index_label(node: IndexNode) -> str:
    """Return the survivor label of an index node: sorts before every label of the run.

    The label's last field (what ``label_id`` returns) is the node id (JSON, so it
    holds no U+001F whatever the ids contain); earlier indexes sort first.
    """
    return f"{INDEX_PREFIX}{node.index:04d}{_SEP}{INDEX_PREFIX}{json.dumps([node.index, node.representative, node.doc_id])}"


def is_index_id(node_id: str) -> bool:
    """Whether a node id (``label_id`` of a label) is an index node rather than a document of the run."""
    return node_id.startswith(INDEX_PREFIX)


def parse_index_id(node_id: str) -> IndexNode:
    """Return the :class:`IndexNode` of an index node id."""
    index, representative, doc_id = json.loads(node_id[len(INDEX_PREFIX) :])
    return IndexNode(int(index), str(representative), str(doc_id))


def encode_near_entry(doc_id: str, representative: str, signature: bytes) -> str:
    """Return one ``dedup_near`` index line."""
    return json.dumps([doc_id, representative, base64.b64encode(signature).decode("ascii")])


def decode_near_entry(line: str, num_perm: int) -> tuple[str, str, bytes]:
    """Parse one ``dedup_near`` index line into ``(doc id, representative, signature bytes)``.

    Raises:
        ValueError: When the signature does not have ``num_perm`` slots.
    """
    doc_id, representative, signature = json.loads(line)
    raw = base64.b64decode(signature)
    if len(raw) != 4 * num_perm:
        raise ValueError(f"index entry of {doc_id!r}: {len(raw) // 4} signature slots, expected {num_perm}")
    return str(doc_id), str(representative), np.frombuffer(raw, dtype="<u4").tobytes()


def entry_shard(line: str, shards: int) -> int:
    """Return the index shard of an entry line (a stable hash, so shards do not depend on the runner)."""
    return stable_hash64("dedup-index", line) % shards
