"""Deduplication stages: exact (``dedup_exact``) and MinHash-LSH near-duplicates (``dedup_near``).

Both stages are pure Beam graphs: no step gathers all signatures, keys or edges
on one worker.  Every grouping is keyed (URL, digest, text hash, band key, node,
document id) and the join back to documents is a ``CoGroupByKey`` on the id.

* :class:`DedupExact` — WARC revisits, then one document per normalised URL
  (latest crawl by default), per payload digest and per normalised-text hash;
  optionally C4/CS336-style line dedup across the corpus.
* :class:`DedupNearDuplicates` — sign → band → group → star edges (verified)
  → connected components (large-star / small-star, unrolled) → one survivor
  per cluster → join back.  Survivors carry ``dup_cluster_id`` and
  ``dup_cluster_size``; removed documents go to ``rejected`` as
  ``near_duplicate`` with the survivor id as detail.

Elements in: :class:`Document`.  Out: :class:`StageOutputs`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import apache_beam as beam
import numpy as np
from apache_beam.pvalue import AsList, AsSingleton, PCollection, TaggedOutput
from apache_beam.transforms.window import GlobalWindows

from tailguard.filters.dedup import (
    SURVIVOR_CRITERIA,
    LshParams,
    MinHasher,
    ShingleType,
    TextNormalization,
    band_hashes,
    bucket_edges,
    candidate_buckets,
    cap_bucket,
    label_id,
    large_star,
    line_key,
    normalize_url,
    optimal_params,
    settle_children,
    shingles,
    small_star,
    survivor_label,
    text_key,
    verify_cutoff,
)
from tailguard.filters.document import Document
from tailguard.transforms.accounting import StageOutputs, apply_stage_fn, make_counter, reject
from tailguard.transforms.io import WriteJsonFile, work_path

__all__ = ["DedupExact", "DedupExactConfig", "DedupNearConfig", "DedupNearDuplicates"]

EXACT_STAGE = "dedup_exact"
NEAR_STAGE = "dedup_near"
_VERDICT = "verdict"
_STATS = "stats"
_SIGS = "signatures"
_EDGES = "edges"


def _check_survivor_fields(order: tuple[str, ...], section: str) -> None:
    unknown = [c for c in order if c not in SURVIVOR_CRITERIA]
    if unknown:
        raise ValueError(f"{section}.survivor_order: unknown {unknown}; allowed: {list(SURVIVOR_CRITERIA)}")


def _label(doc: Document, tier_preference: tuple[str, ...], quality_key: str, order: tuple[str, ...]) -> str:
    return survivor_label(
        doc.id,
        tier=doc.tier,
        quality=doc.quality.get(quality_key),
        crawl_date=doc.crawl_date,
        tier_preference=tier_preference,
        order=order,
    )


def _key_by_id(doc: Document) -> tuple[str, Document]:
    return doc.id, doc


# ============================================================================ exact


@dataclass(frozen=True)
class DedupExactConfig:
    """Config of the ``dedup_exact`` stage.

    Attributes:
        enabled: Run the stage.
        normalization: Text normalisation before hashing (see ``normalize_text``).
        by_text: Drop documents whose normalised text hash was seen (``exact_duplicate``).
        by_url: Keep one document per normalised URL (``duplicate_url``).
        url_keep: Which capture of a URL survives: ``latest`` (default) or ``earliest``.
        by_payload_digest: Drop documents sharing a WARC payload digest (``exact_duplicate``).
        drop_revisits: Drop WARC ``revisit`` records (their payload is a duplicate by definition).
        line_dedup: ``off``; ``drop_all`` removes every line that occurs more than
            once in the corpus (CS336 assignment 4); ``keep_first`` keeps the copy in
            the preferred document (C4-style, Raffel et al. 2020 §2.2, on lines).
        line_normalization: Normalisation of lines before hashing.
        tier_preference: Provenance tiers, most preferred first (survivor order).
        quality_key: Key of ``doc.quality`` whose higher value is preferred.
        survivor_order: Survivor criteria in priority order (``id`` always breaks ties).
    """

    enabled: bool = True
    normalization: TextNormalization = "lower"
    by_text: bool = True
    by_url: bool = True
    url_keep: Literal["latest", "earliest"] = "latest"
    by_payload_digest: bool = True
    drop_revisits: bool = True
    line_dedup: Literal["off", "drop_all", "keep_first"] = "off"
    line_normalization: TextNormalization = "whitespace"
    tier_preference: tuple[str, ...] = ()
    quality_key: str = "score"
    survivor_order: tuple[str, ...] = SURVIVOR_CRITERIA

    def __post_init__(self) -> None:
        _check_survivor_fields(self.survivor_order, EXACT_STAGE)


class _ExactKeysFn(beam.DoFn):
    """Document → small key record; revisits become verdicts at once."""

    def __init__(self, config: DedupExactConfig) -> None:
        self._config = config

    def process(self, doc: Document) -> Iterator[Any]:
        cfg = self._config
        label = _label(doc, cfg.tier_preference, cfg.quality_key, cfg.survivor_order)
        prov = doc.provenance
        if cfg.drop_revisits and prov.record_type == "revisit":
            yield TaggedOutput(_VERDICT, (doc.id, ("exact_duplicate", f"revisit_of:{prov.revisit_of or prov.payload_digest}")))
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
    """One group of records sharing a key → the survivor (main) + verdicts for the rest."""

    def __init__(self, reason: str, latest: bool | None) -> None:
        self._reason = reason
        self._latest = latest  # None: label order only; True/False: by crawl date first

    def process(self, element: tuple[str, Iterable[tuple[Any, ...]]]) -> Iterator[Any]:
        _, records = element
        if self._latest is None:
            best = min(records, key=lambda r: r[0])
        elif self._latest:
            best = min(records, key=lambda r: (not r[2], _negate(r[2]), r[0]))
        else:
            best = min(records, key=lambda r: (not r[2], r[2], r[0]))
        yield best
        survivor = label_id(best[0])
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
        label = _label(doc, cfg.tier_preference, cfg.quality_key, cfg.survivor_order)
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
        for doc in grouped["doc"]:
            if verdicts:
                reason, detail = verdicts[0]
                self._inc(reason, 1)
                yield reject(EXACT_STAGE, doc, reason, detail)
                continue
            if drop_lines:
                lines = doc.text.split("\n")
                kept = [line for i, line in enumerate(lines) if i not in drop_lines]
                self._inc("lines_removed", len(lines) - len(kept))
                doc.text = "\n".join(kept)
                if not doc.text.strip():
                    self._inc("duplicate_lines", 1)
                    yield reject(EXACT_STAGE, doc, "duplicate_lines", f"{len(lines)} lines all duplicated")
                    continue
                doc.lineage[EXACT_STAGE] = f"kept:lines_removed={len(lines) - len(kept)}"
            else:
                doc.lineage[EXACT_STAGE] = "kept"
            self._inc("passed", 1)
            yield doc


class DedupExact(beam.PTransform):
    """Drop exact duplicates: WARC revisits, repeated URLs, payload digests, normalised text.

    The checks run in that order on small key records (never on full documents),
    each seeing only the survivors of the previous one, so every dropped
    document's ``detail`` names a document that is kept by this stage.  Verdicts
    join the documents with one ``CoGroupByKey`` on the id.

    Args:
        config: Stage config.
    """

    def __init__(self, config: DedupExactConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, docs: PCollection) -> StageOutputs:
        cfg = self._config
        keys = docs | "ExactKeys" >> beam.ParDo(_ExactKeysFn(cfg)).with_outputs(_VERDICT, main="records")
        records, verdicts = keys.records, [keys[_VERDICT]]
        # record = (label, url_key, crawl_date, payload_digest, text_hash)
        steps = [
            ("Url", cfg.by_url, 1, "duplicate_url", cfg.url_keep == "latest"),
            ("Digest", cfg.by_payload_digest, 3, "exact_duplicate", None),
            ("Text", cfg.by_text, 4, "exact_duplicate", None),
        ]
        for name, on, index, reason, latest in steps:
            if not on:
                continue
            routed = records | f"Route{name}" >> beam.ParDo(_RouteByFn(index)).with_outputs("keyed", main="unkeyed")
            picked = (
                routed.keyed
                | f"GroupBy{name}" >> beam.GroupByKey()
                | f"Pick{name}Survivor" >> beam.ParDo(_PickSurvivorFn(reason, latest)).with_outputs(_VERDICT, main="kept")
            )
            verdicts.append(picked[_VERDICT])
            records = (picked.kept, routed.unkeyed) | f"{name}Survivors" >> beam.Flatten()
        # (doc id, (reason, survivor id))
        all_verdicts = verdicts | "AllExactVerdicts" >> beam.Flatten()
        joined: dict[str, PCollection] = {"doc": docs | "KeyById" >> beam.Map(_key_by_id), "verdict": all_verdicts}
        if cfg.line_dedup != "off":
            # (doc id, index of a line to remove)
            joined["lines"] = (
                docs
                | "LineOccurrences" >> beam.ParDo(_LineOccurrencesFn(cfg))
                | "GroupLines" >> beam.GroupByKey()
                | "DuplicateLines" >> beam.ParDo(_DuplicateLinesFn(cfg.line_dedup == "keep_first"))
            )
        grouped = joined | "JoinVerdicts" >> beam.CoGroupByKey()
        return apply_stage_fn(grouped, "ApplyExactVerdicts", EXACT_STAGE, _ApplyExactFn())


# ============================================================================ near


@dataclass(frozen=True)
class DedupNearConfig:
    """Config of the ``dedup_near`` stage (MinHash LSH).

    Attributes:
        enabled: Run the stage.
        num_perm: MinHash permutations (signature length).
        threshold: Jaccard similarity at which two documents are near-duplicates;
            LSH bands/rows are derived from it.
        ngram: Shingle size (words or characters).
        shingle: ``word`` (default) or ``char`` shingles.
        lowercase: Case-fold before shingling.
        seed: MinHash permutation seed (datasketch meaning; default 1 like datasketch).
        bands: LSH bands; 0 = derived from ``threshold`` (with ``rows``).
        rows: Rows per band; 0 = derived.
        false_positive_weight: Weight of false positives in the bands/rows choice.
        false_negative_weight: Weight of false negatives.  Recall-weighted by
            default because verification removes false candidates, while a
            missed candidate is lost (datasketch's default is 0.5/0.5).
        verify_jaccard: Verify candidate pairs by estimated Jaccard inside each bucket.
        verify_z: Accept estimates down to ``verify_z`` standard errors below
            ``threshold`` (keeps a pair at exactly the threshold with prob. ~Phi(z)).
        hot_bucket_cap: At most this many members of one bucket are used (chosen by
            a hash of id and band); larger buckets are counted as hot.
        max_rounds: Large-star/small-star rounds unrolled into the graph.
        on_unconverged: ``keep_separate`` keeps nodes whose component has not
            converged as their own clusters (never merged wrongly, never dropped);
            ``fail`` fails the run.
        batch_size: Documents signed per numpy batch.
        band_shard_size: Band entries (document x band) per shard of the bucket
            pass.  Band keys are hashed into ``ceil(docs * bands / band_shard_size)``
            shards, each signing batch sends one record per shard it touches, and
            one shard's buckets are formed in memory — so memory per shard stays
            near this size whatever the corpus size, and the shuffle carries a few
            records per batch instead of one per (document, band).  Results do not
            depend on it.
        tier_preference: Provenance tiers, most preferred first (survivor order).
        quality_key: Key of ``doc.quality`` whose higher value is preferred.
        survivor_order: Survivor criteria in priority order (``id`` always breaks ties).
    """

    enabled: bool = True
    num_perm: int = 128
    threshold: float = 0.7
    ngram: int = 5
    shingle: ShingleType = "word"
    lowercase: bool = True
    seed: int = 1
    bands: int = 0
    rows: int = 0
    false_positive_weight: float = 0.1
    false_negative_weight: float = 0.9
    verify_jaccard: bool = True
    verify_z: float = 2.0
    hot_bucket_cap: int = 1000
    max_rounds: int = 10
    on_unconverged: Literal["keep_separate", "fail"] = "keep_separate"
    batch_size: int = 256
    band_shard_size: int = 50_000
    tier_preference: tuple[str, ...] = ()
    quality_key: str = "score"
    survivor_order: tuple[str, ...] = SURVIVOR_CRITERIA

    def __post_init__(self) -> None:
        if self.num_perm < 2:
            raise ValueError("dedup_near.num_perm must be >= 2")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("dedup_near.threshold must be in (0, 1)")
        if self.ngram < 1:
            raise ValueError("dedup_near.ngram must be >= 1")
        if (self.bands == 0) != (self.rows == 0):
            raise ValueError("dedup_near.bands and rows must be given together (or both 0 = derived)")
        if self.bands < 0 or self.rows < 0 or self.bands * self.rows > self.num_perm:
            raise ValueError("dedup_near: bands * rows must be <= num_perm (and both >= 0)")
        if self.false_positive_weight < 0 or self.false_negative_weight < 0:
            raise ValueError("dedup_near: LSH weights must be >= 0")
        if self.verify_z < 0:
            raise ValueError("dedup_near.verify_z must be >= 0")
        if self.hot_bucket_cap < 2:
            raise ValueError("dedup_near.hot_bucket_cap must be >= 2")
        if self.max_rounds < 1:
            raise ValueError("dedup_near.max_rounds must be >= 1")
        if self.batch_size < 1:
            raise ValueError("dedup_near.batch_size must be >= 1")
        if self.band_shard_size < 1:
            raise ValueError("dedup_near.band_shard_size must be >= 1")
        _check_survivor_fields(self.survivor_order, NEAR_STAGE)

    def lsh_params(self) -> LshParams:
        """Return the configured or derived bands × rows."""
        if self.bands:
            return LshParams(self.bands, self.rows)
        return optimal_params(self.threshold, self.num_perm, self.false_positive_weight, self.false_negative_weight)

    def cutoff(self) -> float | None:
        """Return the estimated-Jaccard cut-off of verification (``None`` when off)."""
        return verify_cutoff(self.threshold, self.num_perm, self.verify_z) if self.verify_jaccard else None


class _SignBatchFn(beam.DoFn):
    """A batch of documents → one band record per shard touched (+ (label, signature) when verifying).

    Band record: ``(shard, (labels, band keys as uint64 (entries, 2) bytes,
    label index per entry as int32 bytes))`` — compact 128-bit band keys and
    labels only; the 512-byte signature travels once per document, not once per band.
    """

    def __init__(self, config: DedupNearConfig, params: LshParams) -> None:
        self._config = config
        self._params = params

    def setup(self) -> None:
        # The permutation tables are built once per worker, not per batch.
        self._hasher = MinHasher(self._config.num_perm, self._config.seed)
        self._inc = make_counter(NEAR_STAGE)

    def process(self, batch: list[Document], shards: int) -> Iterator[Any]:
        cfg = self._config
        sets = [shingles(d.text, cfg.shingle, cfg.ngram, cfg.lowercase) for d in batch]
        self._inc("signed", len(batch))
        yield TaggedOutput(_STATS, ("signed", len(batch)))
        signable = [i for i, shingle_set in enumerate(sets) if shingle_set]
        if len(signable) < len(batch):  # nothing to compare: never a near-duplicate
            self._inc("no_shingles", len(batch) - len(signable))
            yield TaggedOutput(_STATS, ("no_shingles", len(batch) - len(signable)))
        if not signable:
            return
        signatures = self._hasher.signatures([sets[i] for i in signable])
        labels = [_label(batch[i], cfg.tier_preference, cfg.quality_key, cfg.survivor_order) for i in signable]
        if cfg.verify_jaccard:
            payload = signatures.astype("<u4")
            for label, sig in zip(labels, payload):
                yield TaggedOutput(_SIGS, (label, sig.tobytes()))
        keys = band_hashes(signatures, self._params).reshape(-1, 2)
        owner = np.repeat(np.arange(len(labels), dtype=np.int32), self._params.bands)
        shard = keys[:, 0] % np.uint64(shards)
        order = np.argsort(shard, kind="stable")
        cuts = np.flatnonzero(np.diff(shard[order])) + 1
        for part in np.split(order, cuts):
            docs_in_part, local = np.unique(owner[part], return_inverse=True)
            yield (
                int(shard[part[0]]),
                ([labels[i] for i in docs_in_part.tolist()], keys[part].tobytes(), local.astype("<i4").tobytes()),
            )


class _ShardBucketsFn(beam.DoFn):
    """One shard's band entries → its buckets with >= 2 members, capped and deduplicated.

    With verification: ``(label, set id)`` per member of each distinct member set
    (joined with signatures next).  Without: star edges (member, bucket minimum).
    """

    def __init__(self, cap: int, verify: bool) -> None:
        self._cap = cap
        self._verify = verify

    def setup(self) -> None:
        self._inc = make_counter(NEAR_STAGE)

    def process(self, element: tuple[int, Iterable[tuple[list[str], bytes, bytes]]]) -> Iterator[Any]:
        _, records = element
        labels: list[str] = []
        keys, owners = [], []
        for record_labels, record_keys, record_owners in records:
            owners.append(np.frombuffer(record_owners, dtype="<i4").astype(np.int64) + len(labels))
            keys.append(np.frombuffer(record_keys, dtype=np.uint64).reshape(-1, 2))
            labels.extend(record_labels)
        if not keys:
            return
        all_keys, all_owners = np.concatenate(keys), np.concatenate(owners)
        buckets = candidate_buckets(all_keys)
        seen: set[tuple[str, ...]] = set()
        hot = skipped = 0
        for entries in buckets:
            members = {labels[i] for i in all_owners[entries].tolist()}
            if len(members) < 2:
                continue
            high, low = (int(x) for x in all_keys[entries[0]])
            set_id = f"{high:016x}{low:016x}"
            if len(members) > self._cap:
                hot += 1
                skipped += len(members) - self._cap
            kept = tuple(cap_bucket(list(members), set_id, self._cap))
            if kept in seen:  # the same members met in another band: one check is enough
                continue
            seen.add(kept)
            if self._verify:
                for label in kept:
                    yield label, set_id
            else:
                for label in kept[1:]:
                    yield TaggedOutput(_EDGES, (label, kept[0]))
        counts = {"candidate_buckets": len(buckets), "candidate_sets": len(seen)}
        counts.update({"hot_buckets": hot, "hot_bucket_members_skipped": skipped} if hot else {})
        for name, value in counts.items():
            if value:
                self._inc(name, value)
                yield TaggedOutput(_STATS, (name, value))


def _attach_signature(element: tuple[str, dict[str, list[Any]]]) -> Iterator[tuple[str, tuple[str, bytes]]]:
    """(label, {sig, sets}) → (set id, (label, signature)) for every candidate set of the label."""
    label, grouped = element
    for sig in list(grouped["sig"])[:1]:
        for set_id in grouped["sets"]:
            yield set_id, (label, sig)


class _VerifySetFn(beam.DoFn):
    """One candidate set with signatures → star edges (child label, parent label) of its verified pairs."""

    def __init__(self, cutoff: float | None) -> None:
        self._cutoff = cutoff

    def setup(self) -> None:
        self._inc = make_counter(NEAR_STAGE)

    def process(self, element: tuple[str, Iterable[tuple[str, bytes]]]) -> Iterator[Any]:
        _, members = element
        verdict = bucket_edges(sorted(members), self._cutoff)
        if verdict.compared:
            yield TaggedOutput(_STATS, ("candidate_pairs_compared", verdict.compared))
        if verdict.rejected:
            self._inc("candidate_pairs_rejected", verdict.rejected)
            yield TaggedOutput(_STATS, ("candidate_pairs_rejected", verdict.rejected))
        yield from verdict.edges


def _shard_count(docs: int, bands: int, shard_size: int) -> int:
    return max(1, math.ceil(docs * bands / shard_size))


def _both_directions(edge: tuple[str, str]) -> Iterator[tuple[str, str]]:
    yield edge
    yield edge[1], edge[0]


def _larger_first(edge: tuple[str, str]) -> tuple[str, str]:
    return (edge[0], edge[1]) if edge[0] > edge[1] else (edge[1], edge[0])


class _StarFn(beam.DoFn):
    """(node, neighbours) → large-star or small-star edges; counts changes per round (once per bundle)."""

    def __init__(self, kind: str, round_index: int) -> None:
        self._kind = kind
        self._name = f"cc_changed_round_{round_index:02d}"
        self._changed = 0

    def setup(self) -> None:
        self._inc = make_counter(NEAR_STAGE)

    def start_bundle(self) -> None:
        self._changed = 0

    def process(self, element: tuple[str, Iterable[str]]) -> Iterator[Any]:
        node, neighbours = element
        step = large_star if self._kind == "large" else small_star
        edges, changed = step(node, [v for v in neighbours if v != node])
        self._changed += changed
        yield from edges

    def finish_bundle(self) -> Iterator[Any]:
        if self._changed:
            self._inc(self._name, self._changed)
            yield TaggedOutput(_STATS, GlobalWindows.windowed_value((self._name, self._changed)))


class _ChildParentsFn(beam.DoFn):
    """(child, smaller neighbours) → child marker + (smallest neighbour, (child, #parents))."""

    def process(self, element: tuple[str, Iterable[str]]) -> Iterator[tuple[str, Any]]:
        child, parents = element
        unique = set(parents)
        yield child, None
        yield min(unique), (child, len(unique))


class _SettleFn(beam.DoFn):
    """(node, markers + children) → (child id, root id) for settled children."""

    def __init__(self, on_unconverged: str, max_rounds: int) -> None:
        self._policy = on_unconverged
        self._max_rounds = max_rounds

    def setup(self) -> None:
        self._inc = make_counter(NEAR_STAGE)

    def process(self, element: tuple[str, Iterable[Any]]) -> Iterator[Any]:
        node, values = element
        values = list(values)
        is_child = any(v is None for v in values)
        children = [v for v in values if v is not None]
        for child, root in settle_children(node, is_child, children):
            if root is None:
                if self._policy == "fail":
                    raise RuntimeError(
                        f"dedup_near: connected components did not converge in {self._max_rounds} rounds "
                        f"(node {label_id(child)!r}); raise dedup_near.max_rounds"
                    )
                self._inc("unconverged_nodes", 1)
                yield TaggedOutput(_STATS, ("unconverged_nodes", 1))
                continue
            yield label_id(child), label_id(root)


def _as_removed(pair: tuple[str, str]) -> tuple[str, tuple[str, Any]]:
    return pair[0], ("dup", pair[1])


def _root_one(pair: tuple[str, str]) -> tuple[str, int]:
    return pair[1], 1


def _as_root(pair: tuple[str, int]) -> tuple[str, tuple[str, Any]]:
    return pair[0], ("root", pair[1] + 1)


class _ApplyClustersFn(beam.DoFn):
    """(id, {doc, verdict}) → survivor with cluster fields, or near_duplicate rejection."""

    def setup(self) -> None:
        self._inc = make_counter(NEAR_STAGE)

    def process(self, element: tuple[str, dict[str, list[Any]]]) -> Iterator[Any]:
        doc_id, grouped = element
        verdicts = dict(grouped["verdict"])
        for doc in grouped["doc"]:
            if "dup" in verdicts:
                doc.dup_cluster_id = verdicts["dup"]
                self._inc("near_duplicate", 1)
                yield reject(NEAR_STAGE, doc, "near_duplicate", verdicts["dup"])
                continue
            size = int(verdicts.get("root", 1))
            doc.dup_cluster_id = doc_id
            doc.dup_cluster_size = size
            doc.lineage[NEAR_STAGE] = f"kept:cluster_size={size}"
            self._inc("passed", 1)
            yield doc


class _StatsJsonFn(beam.DoFn):
    """All (name, total) stats → one JSON line for the manifest."""

    def __init__(self, config: DedupNearConfig, params: LshParams) -> None:
        self._config = config
        self._params = params

    def process(self, totals: list[tuple[str, int]]) -> Iterator[str]:
        cfg = self._config
        counts = dict(sorted(totals))
        rounds = sorted(k for k in counts if k.startswith("cc_changed_round_"))
        out = {
            "num_perm": cfg.num_perm,
            "threshold": cfg.threshold,
            "bands": self._params.bands,
            "rows": self._params.rows,
            "verify_cutoff": cfg.cutoff(),
            "max_rounds": cfg.max_rounds,
            "rounds_with_changes": len(rounds),
            "converged": counts.get("unconverged_nodes", 0) == 0
            and f"cc_changed_round_{cfg.max_rounds - 1:02d}" not in counts,
            **counts,
        }
        yield json.dumps(out, sort_keys=True)


class _BypassIfConvergedFn(beam.DoFn):
    """Edge → main (another round) or ``done`` when the previous round changed nothing.

    A round of large-star + small-star with no change is a fixed point (Kiveris
    et al. 2014, termination condition), so later rounds would return the same
    edges: they are skipped and their shuffles run empty.
    """

    def process(self, edge: tuple[str, str], large: list[Any], small: list[Any]) -> Iterator[Any]:
        # large/small: the previous round's (name, changes) records, one per bundle that changed anything
        yield edge if (large or small) else TaggedOutput("done", edge)


class _ConnectedComponents(beam.PTransform):
    """Edges (child, parent) → (child id, root id), by alternating large-star / small-star rounds."""

    def __init__(self, config: DedupNearConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, edges: PCollection) -> tuple[PCollection, list[PCollection]]:
        stats: list[PCollection] = []
        finished: list[PCollection] = []
        for r in range(self._config.max_rounds):
            if stats:
                previous = {"large": AsList(stats[-2]), "small": AsList(stats[-1])}
                routed = edges | f"BypassIfConverged{r}" >> beam.ParDo(_BypassIfConvergedFn(), **previous).with_outputs(
                    "done", main="active"
                )
                finished.append(routed.done)
                edges = routed.active
            large = (
                edges
                | f"BothDirections{r}" >> beam.FlatMap(_both_directions)
                | f"GroupNeighbours{r}" >> beam.GroupByKey()
                | f"LargeStar{r}" >> beam.ParDo(_StarFn("large", r)).with_outputs(_STATS, main="edges")
            )
            small = (
                large.edges
                | f"LargerFirst{r}" >> beam.Map(_larger_first)
                | f"GroupSmaller{r}" >> beam.GroupByKey()
                | f"SmallStar{r}" >> beam.ParDo(_StarFn("small", r)).with_outputs(_STATS, main="edges")
            )
            stats += [large[_STATS], small[_STATS]]
            edges = small.edges
        if finished:
            edges = (edges, *finished) | "FinalEdges" >> beam.Flatten()
        # (node, None if it is a child | (child, number of its smaller neighbours))
        settled = (
            edges
            | "ChildFirst" >> beam.Map(_larger_first)
            | "GroupParents" >> beam.GroupByKey()
            | "ChildParents" >> beam.ParDo(_ChildParentsFn())
            | "GroupByParent" >> beam.GroupByKey()
            | "Settle" >> beam.ParDo(_SettleFn(self._config.on_unconverged, self._config.max_rounds)).with_outputs(
                _STATS, main="assigned"
            )
        )
        stats.append(settled[_STATS])
        return settled.assigned, stats


class DedupNearDuplicates(beam.PTransform):
    """Remove near-duplicates with MinHash LSH and distributed connected components.

    Sub-steps (one config): sign → band → group → star edges per bucket
    (bucket minimum → members, O(n), verified when configured) → connected
    components (``max_rounds`` of large-star/small-star) → survivor = the
    component's minimum label (tier, quality, crawl date, id) → join back by id.

    Args:
        config: Stage config.
        stats_path: Where to write the stage's manifest section (optional).
    """

    def __init__(self, config: DedupNearConfig, stats_path: str | None = None) -> None:
        super().__init__()
        self._config = config
        self._stats_path = stats_path

    def expand(self, docs: PCollection) -> StageOutputs:
        cfg = self._config
        params = cfg.lsh_params()
        shards = (
            docs
            | "CountDocs" >> beam.combiners.Count.Globally()
            | "BandShards" >> beam.Map(_shard_count, params.bands, cfg.band_shard_size)
        )
        # (shard, (labels, band keys, label index per key)) + signatures: (label, signature bytes)
        signed = (
            docs
            | "BatchForSigning" >> beam.BatchElements(min_batch_size=1, max_batch_size=cfg.batch_size)
            | "Sign" >> beam.ParDo(_SignBatchFn(cfg, params), shards=AsSingleton(shards)).with_outputs(
                _STATS, _SIGS, main="bands"
            )
        )
        # verify: (label, candidate set id); else star edges (child label, parent label)
        buckets = (
            signed.bands
            | "GroupShards" >> beam.GroupByKey()
            | "BucketsPerShard" >> beam.ParDo(_ShardBucketsFn(cfg.hot_bucket_cap, cfg.verify_jaccard)).with_outputs(
                _STATS, _EDGES, main="members"
            )
        )
        stat_parts = [signed[_STATS], buckets[_STATS]]
        if cfg.verify_jaccard:
            verified = (
                {"sig": signed[_SIGS], "sets": buckets.members}
                | "JoinSignatures" >> beam.CoGroupByKey()
                | "AttachSignatures" >> beam.FlatMap(_attach_signature)
                | "GroupSets" >> beam.GroupByKey()
                | "VerifySets" >> beam.ParDo(_VerifySetFn(cfg.cutoff())).with_outputs(_STATS, main="edges")
            )
            candidate_edges = verified.edges
            stat_parts.append(verified[_STATS])
        else:
            candidate_edges = buckets[_EDGES]
        edges = candidate_edges | "DistinctEdges" >> beam.Distinct()
        assigned, cc_stats = edges | "ConnectedComponents" >> _ConnectedComponents(cfg)
        sizes = assigned | "RootOne" >> beam.Map(_root_one) | "ClusterSizes" >> beam.CombinePerKey(sum)
        # (doc id, ("dup", root id) | ("root", cluster size))
        verdicts = (
            assigned | "AsRemoved" >> beam.Map(_as_removed),
            sizes | "AsRoot" >> beam.Map(_as_root),
        ) | "AllNearVerdicts" >> beam.Flatten()
        grouped = {
            "doc": docs | "KeyById" >> beam.Map(_key_by_id),
            "verdict": verdicts,
        } | "JoinClusters" >> beam.CoGroupByKey()
        outputs = apply_stage_fn(grouped, "ApplyClusters", NEAR_STAGE, _ApplyClustersFn())
        if self._stats_path:
            edge_count = edges | "CountEdges" >> beam.Map(lambda _: ("distinct_edges", 1))
            cluster_count = sizes | "CountClusters" >> beam.Map(lambda _: ("clusters", 1))
            removed = assigned | "CountRemoved" >> beam.Map(lambda _: ("near_duplicates", 1))
            shard_count = shards | "ShardStat" >> beam.Map(lambda n: ("band_shards", n))
            _ = (
                [*stat_parts, edge_count, cluster_count, removed, shard_count, *cc_stats]
                | "FlattenStats" >> beam.Flatten()
                | "SumStats" >> beam.CombinePerKey(sum)
                | "StatsToList" >> beam.combiners.ToList()
                | "StatsToJson" >> beam.ParDo(_StatsJsonFn(cfg, params))
                | "WriteStats" >> WriteJsonFile(self._stats_path)
            )
        return outputs


def stats_path(output_dir: str, stage: str) -> str:
    """Return the manifest-section path of ``stage`` under ``output_dir``."""
    return work_path(output_dir, "stats", f"{stage}.json")

