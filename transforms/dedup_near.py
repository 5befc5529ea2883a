"""DedupNearDuplicates: MinHash-LSH near-duplicate removal with distributed connected components.

sign → band → group → star edges (verified) → connected components
(large-star / small-star, unrolled; ``_components.py``) → one survivor per
cluster → join back by id.  Survivors carry ``dup_cluster_id`` and
``dup_cluster_size``; removed documents go to ``rejected`` as
``near_duplicate`` with the survivor id as detail.

Elements in: :class:`Document`.  Out: :class:`StageOutputs`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.pvalue import AsSingleton, PCollection, TaggedOutput

from tailguard.filters.dedup import (
    BatchSigner,
    LshParams,
    MinHasher,
    band_hashes,
    bucket_edges,
    candidate_buckets,
    cap_bucket,
    document_label,
    label_id,
    shingles,
)
from tailguard.filters.dedup.index import (
    DUPLICATE_OF_PREVIOUS_RUN,
    INDEX_PREFIX,
    IndexNode,
    decode_near_entry,
    encode_near_entry,
    index_label,
    is_index_id,
    parse_index_id,
)
from tailguard.filters.document import Document, evolve
from tailguard.filters.document_codec import decode_document, keyed_by_id
from tailguard.filters.layout import OutputLayout
from tailguard.transforms import _coders  # noqa: F401  (registers the Document coder on workers too)
from tailguard.transforms._components import STATS, ConnectedComponents
from tailguard.transforms._dedup_index import WriteDedupIndex, read_dedup_indexes, read_index_meta
from tailguard.transforms._files import WriteJsonFile
from tailguard.transforms._stage_configs import NEAR_STAGE, DedupNearConfig
from tailguard.transforms.accounting import StageOutputs, apply_stage_fn, make_counter, reject

__all__ = ["DedupNearConfig", "DedupNearDuplicates"]

STAGE = NEAR_STAGE
_STATS = STATS
_SIGS = "signatures"
_EDGES = "edges"
PREVIOUS_RUN = DUPLICATE_OF_PREVIOUS_RUN


class _SignBatchFn(beam.DoFn):
    """A batch of documents → one signed batch ``(labels, signatures bytes)`` (+ (label, signature) when verifying).

    No side input here: the band-shard count (a side input computed from the
    same documents) is applied by :class:`_ShardBandsFn` to the compact signed
    batches, so the runner never has to hold back the documents themselves.
    """

    def __init__(self, config: DedupNearConfig, params: LshParams) -> None:
        self._config = config
        self._params = params

    def setup(self) -> None:
        # Permutation / hash tables are built once per worker, not per batch.
        cfg = self._config
        self._hasher = MinHasher(cfg.num_perm, cfg.seed)
        self._signer = BatchSigner(cfg.num_perm, cfg.seed, cfg.shingle, cfg.ngram, cfg.lowercase)
        self._inc = make_counter(NEAR_STAGE)

    def _sign(self, batch: list[Document]) -> tuple[list[int], np.ndarray]:
        cfg = self._config
        if cfg.signer == "oph":
            signatures, has = self._signer.sign([d.text for d in batch])
            signable = np.flatnonzero(has).tolist()
            return signable, signatures[has]
        sets = [shingles(d.text, cfg.shingle, cfg.ngram, cfg.lowercase) for d in batch]
        signable = [i for i, shingle_set in enumerate(sets) if shingle_set]
        return signable, self._hasher.signatures([sets[i] for i in signable])

    def process(self, batch: list[Document]) -> Iterator[Any]:
        cfg = self._config
        self._inc("signed", len(batch))
        yield TaggedOutput(_STATS, ("signed", len(batch)))
        signable, signatures = self._sign(batch)
        if len(signable) < len(batch):  # nothing to compare: never a near-duplicate
            self._inc("no_shingles", len(batch) - len(signable))
            yield TaggedOutput(_STATS, ("no_shingles", len(batch) - len(signable)))
        if not signable:
            return
        labels = [document_label(batch[i], cfg.tier_preference, cfg.quality_key, cfg.survivor_order) for i in signable]
        if cfg.verify_jaccard or cfg.index_out:
            payload = signatures.astype("<u4")
            for label, sig in zip(labels, payload):
                yield TaggedOutput(_SIGS, (label, sig.tobytes()))
        yield labels, np.ascontiguousarray(signatures, dtype="<u4").tobytes()


class _ShardBandsFn(beam.DoFn):
    """A signed batch → one band record per shard it touches.

    Band record: ``(shard, (labels, band keys as uint64 (entries, 2) bytes,
    label index per entry as int32 bytes))`` — compact 128-bit band keys and
    labels only; the 512-byte signature travels once per document, not once per band.
    """

    def __init__(self, params: LshParams) -> None:
        self._params = params

    def process(self, batch: tuple[list[str], bytes], shards: int) -> Iterator[Any]:
        labels, payload = batch
        signatures = np.frombuffer(payload, dtype="<u4").reshape(len(labels), -1)
        yield from _band_records(labels, signatures, self._params, shards)


def _band_records(labels: list[str], signatures: np.ndarray, params: LshParams, shards: int) -> Iterator[Any]:
    """Band records ``(shard, (labels, keys, owners))``: one per shard the batch touches."""
    keys = band_hashes(signatures, params).reshape(-1, 2)
    owner = np.repeat(np.arange(len(labels), dtype=np.int32), params.bands)
    shard = keys[:, 0] % np.uint64(shards)
    order = np.argsort(shard, kind="stable")
    cuts = np.flatnonzero(np.diff(shard[order])) + 1
    for part in np.split(order, cuts):
        docs_in_part, local = np.unique(owner[part], return_inverse=True)
        yield (
            int(shard[part[0]]),
            ([labels[i] for i in docs_in_part.tolist()], keys[part].tobytes(), local.astype("<i4").tobytes()),
        )


class _IndexNodesFn(beam.DoFn):
    """A batch of ``(index position, entry line)`` → a signed batch (and signatures) of index nodes.

    Index nodes enter the bucket pass exactly like signed documents, with labels
    that sort before every document of the run (``index_label``).
    """

    def __init__(self, config: DedupNearConfig, params: LshParams) -> None:
        self._config = config
        self._params = params

    def process(self, batch: list[tuple[int, str]]) -> Iterator[Any]:
        labels, sigs = [], []
        for position, line in batch:
            doc_id, representative, sig = decode_near_entry(line, self._config.num_perm)
            labels.append(index_label(IndexNode(position, representative, doc_id)))
            sigs.append(sig)
        yield TaggedOutput(_STATS, ("index_entries_read", len(batch)))
        if self._config.verify_jaccard:
            for label, sig in zip(labels, sigs):
                yield TaggedOutput(_SIGS, (label, sig))
        yield labels, b"".join(sigs)


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
            if len(members) < 2 or all(m.startswith(INDEX_PREFIX) for m in members):
                continue  # a bucket of earlier runs only was settled by those runs
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


def _as_removed(pair: tuple[str, str]) -> Iterator[tuple[str, tuple[str, Any]]]:
    child, root = pair
    if is_index_id(child):  # an earlier run's document: not part of this run
        return
    yield child, (("previous", root) if is_index_id(root) else ("dup", root))


def _root_one(pair: tuple[str, str]) -> Iterator[tuple[str, int]]:
    if not is_index_id(pair[0]) and not is_index_id(pair[1]):
        yield pair[1], 1


def _as_root(pair: tuple[str, int]) -> tuple[str, tuple[str, Any]]:
    return pair[0], ("root", pair[1] + 1)


class _ApplyClustersFn(beam.DoFn):
    """(id, {doc, verdict}) → survivor with cluster fields, or a near_duplicate / previous-run rejection."""

    def __init__(self, run_ids: tuple[str, ...] = ()) -> None:
        self._run_ids = run_ids

    def setup(self) -> None:
        self._inc = make_counter(NEAR_STAGE)

    def process(self, element: tuple[str, dict[str, list[Any]]]) -> Iterator[Any]:
        doc_id, grouped = element
        verdicts = dict(grouped["verdict"])
        for doc in map(decode_document, grouped["doc"]):
            if "previous" in verdicts:
                node = parse_index_id(verdicts["previous"])
                self._inc(PREVIOUS_RUN, 1)
                marked = evolve(
                    doc,
                    dup_cluster_id=node.representative,
                    lineage={f"{NEAR_STAGE}.previous_run": self._run_ids[node.index]},
                )
                yield reject(NEAR_STAGE, marked, PREVIOUS_RUN, node.representative)
                continue
            if "dup" in verdicts:
                self._inc("near_duplicate", 1)
                yield reject(NEAR_STAGE, evolve(doc, dup_cluster_id=verdicts["dup"]), "near_duplicate", verdicts["dup"])
                continue
            size = int(verdicts.get("root", 1))
            self._inc("passed", 1)
            yield evolve(
                doc, dup_cluster_id=doc_id, dup_cluster_size=size, lineage={NEAR_STAGE: f"kept:cluster_size={size}"}
            )


class _StatsJsonFn(beam.DoFn):
    """All (name, total) stats → one JSON line for the manifest."""

    def __init__(self, config: DedupNearConfig, params: LshParams, extra: dict[str, Any]) -> None:
        self._config = config
        self._params = params
        self._extra = extra

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
            **self._extra,
            **counts,
        }
        yield json.dumps(out, sort_keys=True)


# Typed, so that wiring anything but Documents into the stage fails while the pipeline is built.
@beam.typehints.with_input_types(Document)
class DedupNearDuplicates(beam.PTransform):
    """Remove near-duplicates with MinHash LSH and distributed connected components.

    Sub-steps (one config): sign → band → group → star edges per bucket
    (bucket minimum → members, O(n), verified when configured) → connected
    components (``max_rounds`` of large-star/small-star) → survivor = the
    component's minimum label (tier, quality, crawl date, id) → join back by id.

    Args:
        config: Stage config.
        layout: The run's output layout; the stage's manifest section goes to
            ``layout.stats("dedup_near")`` (optional: no statistics without it).
    """

    def __init__(self, config: DedupNearConfig, layout: OutputLayout | None = None) -> None:
        super().__init__()
        self._config = config
        self._stats_path = layout.stats(STAGE) if layout else None
        self._run_id = layout.root if layout else ""
        # Read (and check) index.json of every earlier run now: a bad index fails at launch.
        self._index_runs = tuple(
            read_index_meta(path, STAGE, config.index_params(), "dedup_near.index_in") for path in config.index_in
        )

    def expand(self, docs: PCollection) -> StageOutputs:
        cfg = self._config
        params = cfg.lsh_params()
        nodes = docs | "CountDocs" >> beam.combiners.Count.Globally()
        if cfg.index_in:
            # (index position, entry line) of every earlier run's document
            entries = docs.pipeline | "ReadIndexes" >> read_dedup_indexes(cfg.index_in)
            nodes = (
                (
                    nodes,
                    entries | "CountIndexEntries" >> beam.combiners.Count.Globally(),
                )
                | "AllNodes" >> beam.Flatten()
                | "SumNodes" >> beam.CombineGlobally(sum)
            )
        shards = nodes | "BandShards" >> beam.Map(_shard_count, params.bands, cfg.band_shard_size)
        # (shard, (labels, band keys, label index per key)) + signatures: (label, signature bytes)
        signed = (
            docs
            | "BatchForSigning" >> beam.BatchElements(min_batch_size=1, max_batch_size=cfg.batch_size)
            | "Sign" >> beam.ParDo(_SignBatchFn(cfg, params)).with_outputs(_STATS, _SIGS, main="batches")
        )
        # signed batches: (labels, signatures as uint32 bytes)
        batches, signatures, stat_parts = signed.batches, signed[_SIGS], [signed[_STATS]]
        if cfg.index_in:
            indexed = (
                entries
                | "BatchIndexEntries" >> beam.BatchElements(min_batch_size=1, max_batch_size=4 * cfg.batch_size)
                | "IndexNodes" >> beam.ParDo(_IndexNodesFn(cfg, params)).with_outputs(_STATS, _SIGS, main="batches")
            )
            batches = (batches, indexed.batches) | "WithIndexNodes" >> beam.Flatten()
            signatures = (signatures, indexed[_SIGS]) | "WithIndexSignatures" >> beam.Flatten()
            stat_parts.append(indexed[_STATS])
        band_records = batches | "ShardBands" >> beam.ParDo(_ShardBandsFn(params), shards=AsSingleton(shards))
        # verify: (label, candidate set id); else star edges (child label, parent label)
        buckets = (
            band_records
            | "GroupShards" >> beam.GroupByKey()
            | "BucketsPerShard"
            >> beam.ParDo(_ShardBucketsFn(cfg.hot_bucket_cap, cfg.verify_jaccard)).with_outputs(
                _STATS, _EDGES, main="members"
            )
        )
        stat_parts.append(buckets[_STATS])
        if cfg.verify_jaccard:
            verified = (
                {"sig": signatures, "sets": buckets.members}
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
        assigned, cc_stats = edges | "ConnectedComponents" >> ConnectedComponents(cfg.max_rounds, cfg.on_unconverged)
        sizes = assigned | "RootOne" >> beam.FlatMap(_root_one) | "ClusterSizes" >> beam.CombinePerKey(sum)
        # (doc id, ("dup", root id) | ("previous", index node id)) for removed documents of this run
        removed = assigned | "AsRemoved" >> beam.FlatMap(_as_removed)
        # + (doc id, ("root", cluster size)) for survivors of clusters
        verdicts = (removed, sizes | "AsRoot" >> beam.Map(_as_root)) | "AllNearVerdicts" >> beam.Flatten()
        # The one shuffle of whole documents in this stage: verdicts exist only for documents in
        # clusters, but every survivor also gets its cluster fields, so all documents join by id.
        grouped = {
            "doc": docs | "KeyById" >> beam.Map(keyed_by_id),
            "verdict": verdicts,
        } | "JoinClusters" >> beam.CoGroupByKey()
        run_ids = tuple(self._index_runs)
        outputs = apply_stage_fn(grouped, "ApplyClusters", NEAR_STAGE, _ApplyClustersFn(run_ids))
        if cfg.index_out:
            _ = (
                {
                    "sig": signed[_SIGS] | "SignatureById" >> beam.Map(_signature_by_id),
                    "root": assigned | "RootById" >> beam.FlatMap(_representative_by_id),
                }
                | "JoinRepresentatives" >> beam.CoGroupByKey()
                | "IndexEntries" >> beam.FlatMap(_index_entry)
                | "WriteIndex"
                >> WriteDedupIndex(cfg.index_out, STAGE, self._run_id, cfg.index_params(), cfg.index_shards)
            )
        if self._stats_path:
            edge_count = edges | "CountEdges" >> beam.Map(lambda _: ("distinct_edges", 1))
            cluster_count = sizes | "CountClusters" >> beam.Map(lambda _: ("clusters", 1))
            removed_count = removed | "CountRemoved" >> beam.Map(_removed_stat)
            shard_count = shards | "ShardStat" >> beam.Map(lambda n: ("band_shards", n))
            extra = {
                "signer": cfg.signer,
                "index_in": [{"path": p, "run_id": r} for p, r in zip(cfg.index_in, run_ids)],
                "index_out": cfg.index_out or None,
            }
            parts = [*stat_parts, edge_count, cluster_count, removed_count, shard_count, *cc_stats]
            # One coder for every part (Beam infers Tuple[str, int] for some, Any for tagged outputs):
            # Flink refuses to union PCollections whose coders differ, and its GroupByKey needs KVs.
            typed = [
                part | f"TypedStat{i}" >> beam.Map(_stat_pair).with_output_types(beam.typehints.Tuple[str, int])
                for i, part in enumerate(parts)
            ]
            _ = (
                typed
                | "FlattenStats" >> beam.Flatten()
                | "SumStats" >> beam.CombinePerKey(sum)
                | "StatsToList" >> beam.combiners.ToList()
                | "StatsToJson" >> beam.ParDo(_StatsJsonFn(cfg, params, extra))
                | "WriteStats" >> WriteJsonFile(self._stats_path)
            )
        return outputs


def _stat_pair(stat: tuple[str, int]) -> tuple[str, int]:
    return str(stat[0]), int(stat[1])


def _removed_stat(verdict: tuple[str, tuple[str, Any]]) -> tuple[str, int]:
    return (PREVIOUS_RUN if verdict[1][0] == "previous" else "near_duplicates"), 1


def _signature_by_id(element: tuple[str, bytes]) -> tuple[str, bytes]:
    return label_id(element[0]), element[1]


def _representative_by_id(pair: tuple[str, str]) -> Iterator[tuple[str, str]]:
    """(child, root) → (child id, the document an index should name for it)."""
    child, root = pair
    if not is_index_id(child):
        yield child, (parse_index_id(root).representative if is_index_id(root) else root)


def _index_entry(element: tuple[str, dict[str, list[Any]]]) -> Iterator[str]:
    """(doc id, {sig, root}) → one index line: the document, its representative and signature."""
    doc_id, grouped = element
    roots = list(grouped["root"])
    for sig in list(grouped["sig"])[:1]:
        yield encode_near_entry(doc_id, roots[0] if roots else doc_id, sig)
