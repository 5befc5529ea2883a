"""DedupExact: exact duplicates by WARC revisit, URL, payload digest, text hash and (optionally) line.

WARC revisits are dropped first; then one document survives per normalised
URL (latest crawl by default), per payload digest and per normalised-text
hash; optionally C4/CS336-style line dedup across the corpus.  Every grouping
is keyed, no step gathers all keys on one worker, and the verdicts join back
to the documents with a ``CoGroupByKey`` on the id.

Elements in: :class:`Document`.  Out: :class:`StageOutputs`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection, TaggedOutput

from tailguard.filters.dedup import (
    document_label,
    label_id,
    line_key,
    normalize_url,
    text_key,
)
from tailguard.filters.dedup.index import (
    DUPLICATE_OF_PREVIOUS_RUN,
    INDEX_PREFIX,
    IndexNode,
    index_label,
    parse_index_id,
)
from tailguard.filters.document import Document, evolve
from tailguard.filters.document_codec import decode_document, keyed_by_id
from tailguard.filters.layout import OutputLayout
from tailguard.transforms import _coders  # noqa: F401  (registers the Document coder on workers too)
from tailguard.transforms._dedup_index import WriteDedupIndex, read_dedup_indexes, read_index_meta
from tailguard.transforms._files import WriteJsonFile
from tailguard.transforms._stage_configs import EXACT_STAGE, DedupExactConfig
from tailguard.transforms.accounting import StageOutputs, apply_stage_fn, make_counter, reject

__all__ = ["DedupExact", "DedupExactConfig"]

STAGE = EXACT_STAGE
_VERDICT = "verdict"
_INDEX = "index"
PREVIOUS_RUN = DUPLICATE_OF_PREVIOUS_RUN


class _ExactKeysFn(beam.DoFn):
    """Document → small key record; revisits become verdicts at once."""

    def __init__(self, config: DedupExactConfig) -> None:
        self._config = config

    def process(self, doc: Document) -> Iterator[Any]:
        cfg = self._config
        label = document_label(doc, cfg.tier_preference, cfg.quality_key, cfg.survivor_order)
        prov = doc.provenance
        if cfg.drop_revisits and prov.record_type == "revisit":
            yield TaggedOutput(
                _VERDICT, (doc.id, ("exact_duplicate", f"revisit_of:{prov.revisit_of or prov.payload_digest}"))
            )
            return
        url = normalize_url(doc.url) if (cfg.by_url and doc.url) else None
        digest = prov.payload_digest if cfg.by_payload_digest else None
        text = text_key(doc.text, cfg.normalization) if cfg.by_text else None
        # (label, url_key, crawl_date, payload_digest, text_hash)
        yield (label, url, doc.crawl_date or "", digest, text)


class _RouteByFn(beam.DoFn):
    """Key records that have field ``index`` set; pass the others through untouched."""

    def __init__(self, index: int) -> None:
        self._index = index

    def process(self, record: tuple[Any, ...]) -> Iterator[Any]:
        key = record[self._index]
        if key:
            yield TaggedOutput("keyed", (key, record))
        else:
            yield record


class _PickSurvivorFn(beam.DoFn):
    """One group of records sharing a key → the survivor (main) + verdicts for the rest.

    A group that holds an earlier run's index record has no survivor here: every
    document of this run in it is a ``duplicate_of_previous_run`` verdict.  With
    ``kind`` set, each other group also yields its index line (kind, key, survivor).
    """

    def __init__(
        self, reason: str, latest: bool | None, kind: str | None = None, run_ids: tuple[str, ...] = ()
    ) -> None:
        self._reason = reason
        self._latest = latest  # None: label order only; True/False: by crawl date first
        self._kind = kind
        self._run_ids = run_ids

    def process(self, element: tuple[str, Iterable[tuple[Any, ...]]]) -> Iterator[Any]:
        key, grouped = element
        records = list(grouped)
        earlier = sorted(r[0] for r in records if r[0].startswith(INDEX_PREFIX))
        if earlier:
            node = parse_index_id(label_id(earlier[0]))
            for record in records:
                if not record[0].startswith(INDEX_PREFIX):
                    verdict = (PREVIOUS_RUN, node.representative, self._run_ids[node.index])
                    yield TaggedOutput(_VERDICT, (label_id(record[0]), verdict))
            return
        if self._latest is None:
            best = min(records, key=lambda r: r[0])
        elif self._latest:
            best = min(records, key=lambda r: (not r[2], _negate(r[2]), r[0]))
        else:
            best = min(records, key=lambda r: (not r[2], r[2], r[0]))
        yield best
        survivor = label_id(best[0])
        if self._kind:
            yield TaggedOutput(_INDEX, json.dumps([self._kind, key, survivor]))
        # Compare labels, not identity: a second pass over grouped values may deserialize new
        # objects on distributed runners, and identity would then drop the survivor too.
        for record in records:
            if record[0] != best[0]:
                yield TaggedOutput(_VERDICT, (label_id(record[0]), (self._reason, survivor)))


def _negate(date: str) -> tuple[int, ...]:
    """Sort key that orders ISO dates latest first."""
    return tuple(-ord(c) for c in date) + (1,)


class _LineOccurrencesFn(beam.DoFn):
    """Document → (line key, (label, line index)) for every non-blank line."""

    def __init__(self, config: DedupExactConfig) -> None:
        self._config = config

    def process(self, doc: Document) -> Iterator[tuple[str, tuple[str, int]]]:
        cfg = self._config
        label = document_label(doc, cfg.tier_preference, cfg.quality_key, cfg.survivor_order)
        for index, line in enumerate(doc.text.split("\n")):
            key = line_key(line, cfg.line_normalization)
            if key is not None:
                yield key, (label, index)


class _DuplicateLinesFn(beam.DoFn):
    """One line key with all its occurrences → (doc id, line index) to remove."""

    def __init__(self, keep_first: bool) -> None:
        self._keep_first = keep_first

    def process(self, element: tuple[str, Iterable[tuple[str, int]]]) -> Iterator[tuple[str, int]]:
        _, occurrences = element
        items = sorted(occurrences)
        if len(items) < 2:
            return
        for label, index in items[1:] if self._keep_first else items:
            yield label_id(label), index


class _ApplyExactFn(beam.DoFn):
    """(id, {doc, verdict, lines}) → kept document or rejection."""

    def __init__(self) -> None:
        self._inc: Any = None

    def setup(self) -> None:
        self._inc = make_counter(EXACT_STAGE)  # Beam counters are per worker

    def process(self, element: tuple[str, dict[str, list[Any]]]) -> Iterator[Any]:
        _, grouped = element
        verdicts = sorted(grouped["verdict"])
        drop_lines = set(grouped.get("lines", ()))
        for doc in map(decode_document, grouped["doc"]):
            if verdicts:
                reason, detail, *previous_run = verdicts[0]
                self._inc(reason, 1)
                if previous_run:  # (duplicate_of_previous_run, representative, run id)
                    doc = evolve(doc, lineage={f"{EXACT_STAGE}.previous_run": previous_run[0]})
                yield reject(EXACT_STAGE, doc, reason, detail)
                continue
            if drop_lines:
                lines = doc.text.split("\n")
                kept = [line for i, line in enumerate(lines) if i not in drop_lines]
                self._inc("lines_removed", len(lines) - len(kept))
                doc = evolve(doc, text="\n".join(kept))
                if not doc.text.strip():
                    self._inc("duplicate_lines", 1)
                    yield reject(EXACT_STAGE, doc, "duplicate_lines", f"{len(lines)} lines all duplicated")
                    continue
                lineage = f"kept:lines_removed={len(lines) - len(kept)}"
            else:
                lineage = "kept"
            self._inc("passed", 1)
            yield evolve(doc, lineage={EXACT_STAGE: lineage})


# Typed, so that wiring anything but Documents into the stage fails while the pipeline is built.
@beam.typehints.with_input_types(Document)
class DedupExact(beam.PTransform):
    """Drop exact duplicates: WARC revisits, repeated URLs, payload digests, normalised text.

    The checks run in that order on small key records (never on full documents),
    each seeing only the survivors of the previous one, so every dropped
    document's ``detail`` names a document that is kept by this stage.  Verdicts
    join the documents with one ``CoGroupByKey`` on the id.

    Args:
        config: Stage config.
        layout: The run's output layout: the stage's manifest section (indexes used
            and written) goes to ``layout.stats("dedup_exact")``, and its root is the
            run id written into ``index_out`` (optional).
    """

    def __init__(self, config: DedupExactConfig, layout: OutputLayout | None = None) -> None:
        super().__init__()
        self._config = config
        self._stats_path = layout.stats(STAGE) if layout and (config.index_in or config.index_out) else None
        self._run_id = layout.root if layout else ""
        # Read (and check) index.json of every earlier run now: a bad index fails at launch.
        self._index_runs = tuple(
            read_index_meta(path, STAGE, config.index_params(), "dedup_exact.index_in") for path in config.index_in
        )

    def expand(self, docs: PCollection) -> StageOutputs:
        cfg = self._config
        keys = docs | "ExactKeys" >> beam.ParDo(_ExactKeysFn(cfg)).with_outputs(_VERDICT, main="records")
        records, verdicts, index_lines = keys.records, [keys[_VERDICT]], []
        indexed = (
            docs.pipeline
            | "ReadIndexes" >> read_dedup_indexes(cfg.index_in)
            | "IndexRecords" >> beam.FlatMap(_index_record)
            if cfg.index_in
            else None
        )
        # record = (label, url_key, crawl_date, payload_digest, text_hash)
        steps = [
            ("Url", cfg.by_url, 1, "duplicate_url", cfg.url_keep == "latest"),
            ("Digest", cfg.by_payload_digest, 3, "exact_duplicate", None),
            ("Text", cfg.by_text, 4, "exact_duplicate", None),
        ]
        for name, on, index, reason, latest in steps:
            if not on:
                continue
            kind = name.lower()
            routed = records | f"Route{name}" >> beam.ParDo(_RouteByFn(index)).with_outputs("keyed", main="unkeyed")
            keyed = routed.keyed
            if indexed is not None:
                # untyped like routed.keyed: Flink only unions PCollections with one coder
                earlier = indexed | f"Earlier{name}Keys" >> beam.FlatMap(_of_kind, kind).with_output_types(Any)
                keyed = (keyed, earlier) | f"With{name}Index" >> beam.Flatten()
            pick = _PickSurvivorFn(reason, latest, kind if cfg.index_out else None, self._index_runs)
            picked = (
                keyed
                | f"GroupBy{name}" >> beam.GroupByKey()
                | f"Pick{name}Survivor" >> beam.ParDo(pick).with_outputs(_VERDICT, _INDEX, main="kept")
            )
            verdicts.append(picked[_VERDICT])
            index_lines.append(picked[_INDEX])
            records = (picked.kept, routed.unkeyed) | f"{name}Survivors" >> beam.Flatten()
        if cfg.index_out and index_lines:
            _ = (
                index_lines
                | "AllIndexLines" >> beam.Flatten()
                | "WriteIndex"
                >> WriteDedupIndex(cfg.index_out, STAGE, self._run_id, cfg.index_params(), cfg.index_shards)
            )
        # (doc id, (reason, survivor id))
        all_verdicts = verdicts | "AllExactVerdicts" >> beam.Flatten()
        joined: dict[str, PCollection] = {"doc": docs | "KeyById" >> beam.Map(keyed_by_id), "verdict": all_verdicts}
        if cfg.line_dedup != "off":
            # (doc id, index of a line to remove)
            joined["lines"] = (
                docs
                | "LineOccurrences" >> beam.ParDo(_LineOccurrencesFn(cfg))
                | "GroupLines" >> beam.GroupByKey()
                | "DuplicateLines" >> beam.ParDo(_DuplicateLinesFn(cfg.line_dedup == "keep_first"))
            )
        # The one shuffle of whole documents in this stage: verdicts (and line removals) join by id.
        grouped = joined | "JoinVerdicts" >> beam.CoGroupByKey()
        if self._stats_path:
            section = {
                "index_in": [{"path": p, "run_id": r} for p, r in zip(cfg.index_in, self._index_runs)],
                "index_out": cfg.index_out or None,
            }
            _ = (
                all_verdicts
                | "PreviousRunOnly" >> beam.Filter(lambda v: v[1][0] == PREVIOUS_RUN)
                | "CountPreviousRun" >> beam.combiners.Count.Globally()
                | "SectionJson" >> beam.Map(lambda n: json.dumps({**section, PREVIOUS_RUN: n}, sort_keys=True))
                | "WriteStats" >> WriteJsonFile(self._stats_path)
            )
        return apply_stage_fn(grouped, "ApplyExactVerdicts", EXACT_STAGE, _ApplyExactFn())


def _index_record(element: tuple[int, str]) -> Iterator[tuple[str, tuple[str, tuple[Any, ...]]]]:
    """(index position, line) → (kind, (key, record)) with a record shaped like a key record."""
    position, line = element
    kind, key, representative = json.loads(line)
    label = index_label(IndexNode(position, str(representative), str(representative)))
    yield kind, (key, (label, None, "", None, None))


def _of_kind(element: tuple[str, tuple[str, Any]], kind: str) -> Iterator[tuple[str, Any]]:
    if element[0] == kind:
        yield element[1]
