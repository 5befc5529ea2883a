"""AssignUniqueIds: make every document id unique within the run before stages key on it.

Two input files that both hold ``{"id": "7", ...}`` (per-file integer ids,
overlapping dumps) would otherwise reach dedup as one key: exact dedup and the
near-duplicate join would mix them up and both copies of one text could reach
the corpus.  Documents are grouped by ``id``; an id seen once passes unchanged,
and every occurrence of a repeated id is renamed with
:func:`~tailguard.filters.document.namespaced_id` (the original stays in
``provenance.record_id``; ``lineage["unique_ids"]`` says ``renamed_from:<id>``).
Nothing is dropped, so the ledger is unchanged; exact and near dedup then see
every copy.

Elements in: :class:`Document`.  Out: :class:`Document` (same count) plus one
statistics line (``colliding_ids``, ``renamed_documents``) for the manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection

from tailguard.filters.document import Document, evolve, namespaced_id
from tailguard.transforms._files import WriteJsonFile
from tailguard.transforms.accounting import counter_namespace

__all__ = ["STAGE", "AssignUniqueIds"]

STAGE = "unique_ids"


def _occurrence_key(doc: Document) -> tuple[str, int, str]:
    position = doc.provenance.position if doc.provenance.position is not None else -1
    return doc.source, position, hashlib.sha1(doc.text.encode("utf-8", "surrogatepass")).hexdigest()


class _RenameCollidingFn(beam.DoFn):
    """Pass a unique id through; rename every occurrence of a repeated one."""

    def setup(self) -> None:
        # Counters are per worker; build them once.
        self._renamed = Metrics.counter(counter_namespace(STAGE), "renamed")
        self._colliding = Metrics.counter(counter_namespace(STAGE), "colliding_ids")

    def process(self, element: tuple[str, Iterable[Document]]) -> Iterator[Document]:
        doc_id, group = element
        docs = list(group)
        if len(docs) == 1:
            yield docs[0]
            return
        self._colliding.inc()
        seen: set[str] = set()
        # Sorted by where each copy was read, so the new ids never depend on arrival order.
        for doc in sorted(docs, key=_occurrence_key):
            new_id = namespaced_id(doc_id, doc.source, doc.provenance.position)
            while new_id in seen:  # the same file and position twice: still one id each
                new_id = namespaced_id(new_id, doc.source, len(seen))
            seen.add(new_id)
            self._renamed.inc()
            yield evolve(doc, id=new_id, lineage={STAGE: f"renamed_from:{doc_id}"})


def _stats_line(counts: tuple[int, int]) -> str:
    return json.dumps({"colliding_ids": counts[0], "renamed_documents": counts[1]}, sort_keys=True)


class _CountCollisions(beam.CombineFn):
    """(colliding ids, renamed documents) over the renamed documents."""

    def create_accumulator(self) -> tuple[set[str], int]:
        return set(), 0

    def add_input(self, acc: tuple[set[str], int], doc: Document) -> tuple[set[str], int]:
        ids, n = acc
        ids.add(doc.lineage.get(STAGE, ""))
        return ids, n + 1

    def merge_accumulators(self, accs: Iterable[tuple[set[str], int]]) -> tuple[set[str], int]:
        ids: set[str] = set()
        n = 0
        for part, count in accs:
            ids |= part
            n += count
        return ids, n

    def extract_output(self, acc: tuple[set[str], int]) -> tuple[int, int]:
        return len(acc[0]), acc[1]


class AssignUniqueIds(beam.PTransform):
    """Rename documents whose ``id`` occurs more than once in the run (see the module docstring).

    Args:
        stats_path: Where to write the one-line statistics file (a manifest
            section); empty = do not write it.

    Returns (from ``expand``):
        The documents, with unique ids.
    """

    def __init__(self, stats_path: str = "") -> None:
        super().__init__()
        self._stats_path = stats_path

    def expand(self, docs: PCollection[Document]) -> PCollection[Document]:
        unique = (
            docs
            # (id, doc)
            | "KeyById" >> beam.Map(lambda doc: (doc.id, doc))
            | "GroupById" >> beam.GroupByKey()
            | "RenameColliding" >> beam.ParDo(_RenameCollidingFn()).with_output_types(Document)
        )
        if self._stats_path:
            _ = (
                unique
                | "OnlyRenamed" >> beam.Filter(lambda doc: STAGE in doc.lineage)
                | "CountCollisions" >> beam.CombineGlobally(_CountCollisions())
                | "StatsJson" >> beam.Map(_stats_line)
                | "WriteStats" >> WriteJsonFile(self._stats_path)
            )
        return unique
