"""Pure helpers for near-duplicate clustering: survivor order, bucket edges, star steps.

Nodes are *labels*: strings that sort in survivor-preference order and end with
the document id (:func:`survivor_label`).  The minimum label of a connected
component is therefore its survivor, and connected components reduce to
"every node learns the minimum label of its component" — what the alternating
large-star / small-star algorithm computes (Kiveris et al., "Connected
Components in MapReduce and Beyond", SoCC 2014, Algorithm 1).

Everything here works on one bucket or one node's neighbour list; the Beam
layer (``transforms/dedup.py``) does the grouping.
"""

from __future__ import annotations

import heapq
import math
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from tailguard.filters.document import Document
from tailguard.filters.hashing import stable_hash64

__all__ = [
    "check_survivor_order",
    "document_label",
    "SURVIVOR_CRITERIA",
    "BucketVerdict",
    "bucket_edges",
    "cap_bucket",
    "label_id",
    "large_star",
    "sample_bucket",
    "settle_children",
    "small_star",
    "survivor_label",
    "verify_cutoff",
]

#: Criteria a survivor order may use (``id`` is always the final tie-break).
SURVIVOR_CRITERIA = ("tier", "quality", "crawl_date", "id")
_SEP = "\x1f"  # sorts below every printable character, so shorter fields sort first
_MISSING_QUALITY = "g" * 16  # sorts after every hex string: a missing score loses


def _descending_float(value: float) -> str:
    """Return a 16-hex string whose order is the *descending* order of ``value``."""
    bits = struct.unpack(">Q", struct.pack(">d", -value if value != 0 else 0.0))[0]
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
    return f"{bits:016x}"


def survivor_label(
    doc_id: str,
    *,
    tier: str | None = None,
    quality: float | None = None,
    crawl_date: str | None = None,
    tier_preference: Sequence[str] = (),
    order: Sequence[str] = SURVIVOR_CRITERIA,
) -> str:
    """Return the node label of a document: smaller label = preferred survivor.

    Args:
        doc_id: Document id (always the last field, so labels are unique).
        tier: Provenance tier; ranked by its position in ``tier_preference``
            (unknown or missing tiers rank last).
        quality: Quality score; higher is preferred, missing ranks last.
        crawl_date: ISO-8601 capture date; earlier is preferred, missing last.
        tier_preference: Tier names, most preferred first.
        order: Criteria in priority order (subset of :data:`SURVIVOR_CRITERIA`).

    Returns:
        A string label; :func:`label_id` recovers ``doc_id``.
    """
    if _SEP in doc_id:
        raise ValueError(f"document id {doc_id!r} contains the control character U+001F")
    fields: list[str] = []
    for criterion in order:
        if criterion == "tier":
            rank = tier_preference.index(tier) if tier in tier_preference else len(tier_preference)
            fields.append(f"{rank:04d}")
        elif criterion == "quality":
            ok = quality is not None and not math.isnan(quality)
            fields.append(_descending_float(float(quality)) if ok else _MISSING_QUALITY)  # type: ignore[arg-type]
        elif criterion == "crawl_date":
            fields.append("0" + crawl_date if crawl_date else "1")
    fields.append(doc_id)
    return _SEP.join(fields)


def label_id(label: str) -> str:
    """Return the document id at the end of a :func:`survivor_label`."""
    return label.rsplit(_SEP, 1)[-1]


def verify_cutoff(threshold: float, num_perm: int, z: float) -> float:
    """Return the estimated-Jaccard cut-off for verifying candidate pairs.

    A pair at exactly ``threshold`` has an estimate with standard error
    ``sqrt(t(1-t)/num_perm)`` (Broder 1997); accepting ``z`` standard errors
    below the threshold keeps such pairs with probability ~Phi(z).
    """
    return max(0.0, threshold - z * math.sqrt(threshold * (1.0 - threshold) / num_perm))


def sample_bucket(
    members: Iterable[tuple[str, bytes]], band_key: bytes, cap: int
) -> tuple[list[tuple[str, bytes]], int]:
    """Keep at most ``cap`` members of a bucket, chosen by a hash of (label, band).

    Streams the bucket once with O(cap) memory.  The choice depends on the
    band, so a document skipped in one hot bucket is likely kept in another.
    Members are hashed only once the bucket exceeds ``cap`` (most never do).

    Returns:
        ``(kept members sorted by label, total bucket size)``.
    """
    salt = band_key.hex()
    size = 0
    first: list[tuple[str, bytes]] = []
    heap: list[tuple[int, str, bytes]] = []
    for label, sig in members:
        size += 1
        if size <= cap:
            first.append((label, sig))
            continue
        if not heap:  # the bucket is hot: rank everything seen so far
            heap = [(-stable_hash64(lab, salt), lab, s) for lab, s in first]
            heapq.heapify(heap)
            first = []
        item = (-stable_hash64(label, salt), label, sig)
        if item > heap[0]:
            heapq.heapreplace(heap, item)
    kept = first if not heap else [(label, sig) for _, label, sig in heap]
    return sorted(kept, key=lambda m: m[0]), size


def cap_bucket(labels: Sequence[str], salt: str, cap: int) -> list[str]:
    """Return the labels of a bucket sorted, keeping the ``cap`` with the smallest hash of (label, salt).

    Same rule as :func:`sample_bucket`, for a bucket already held as a list of
    labels (the shard pass of ``dedup_near``); ``salt`` names the bucket so a
    document skipped in one hot bucket is likely kept in another.
    """
    if len(labels) <= cap:
        return sorted(labels)
    ranked = heapq.nsmallest(cap, labels, key=lambda label: (stable_hash64(label, salt), label))
    return sorted(ranked)


@dataclass(frozen=True)
class BucketVerdict:
    """Edges from one bucket: ``(child_label, parent_label)`` pairs and pair checks made."""

    edges: list[tuple[str, str]]
    compared: int
    rejected: int


def bucket_edges(members: Sequence[tuple[str, bytes]], cutoff: float | None) -> BucketVerdict:
    """Return O(n) star edges connecting the similar members of one LSH bucket.

    Without verification (``cutoff`` is None) every member joins the bucket
    minimum.  With verification, all pairs of the (capped) bucket are compared
    by estimated Jaccard, the pairs at or above ``cutoff`` are united, and each
    resulting local component is emitted as a star on its minimum — so the
    edges keep exactly the connectivity of the verified pairs, never all pairs.

    Args:
        members: ``(label, signature bytes)`` sorted by label.
        cutoff: Estimated-Jaccard cut-off, or ``None`` to skip verification.

    Returns:
        The star edges and how many pairs were compared / rejected.
    """
    if len(members) < 2:
        return BucketVerdict([], 0, 0)
    if cutoff is None:
        root = members[0][0]
        return BucketVerdict([(label, root) for label, _ in members[1:]], 0, 0)
    sigs = np.stack([np.frombuffer(sig, dtype="<u4") for _, sig in members])
    parent = list(range(len(members)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    need = math.ceil(cutoff * sigs.shape[1] - 1e-9)
    compared = accepted = 0
    for i in range(len(members) - 1):
        matches = np.count_nonzero(sigs[i + 1 :] == sigs[i], axis=1)
        compared += matches.size
        for j in np.nonzero(matches >= need)[0]:
            accepted += 1
            a, b = find(i), find(i + 1 + int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)  # lower index = smaller label
    edges = [(members[i][0], members[find(i)][0]) for i in range(len(members)) if find(i) != i]
    return BucketVerdict(edges, compared, compared - accepted)


def large_star(node: str, neighbours: Iterable[str]) -> tuple[list[tuple[str, str]], int]:
    """Kiveris et al. large-star step for one node.

    Connects every *larger* neighbour to the minimum of the node's closed
    neighbourhood.

    Returns:
        ``(edges, changed)``: edges as ``(larger, smaller)`` pairs, and how many
        of them differ from the input edge they replace.
    """
    unique = set(neighbours)
    smallest = min(unique | {node})
    edges = [(v, smallest) for v in unique if v > node]
    changed = len(edges) if smallest != node else 0
    return edges, changed


def small_star(node: str, smaller: Iterable[str]) -> tuple[list[tuple[str, str]], int]:
    """Kiveris et al. small-star step for one node and its *smaller-or-equal* neighbours.

    Connects the node and all its smaller neighbours to their minimum.

    Returns:
        ``(edges, changed)`` as in :func:`large_star`.
    """
    unique = set(smaller)
    smallest = min(unique | {node})
    edges = [(v, smallest) for v in unique if v != smallest]
    if node != smallest:
        edges.append((node, smallest))
    return edges, len(edges) - (1 if node != smallest else 0)


def settle_children(node: str, is_child: bool, children: Iterable[tuple[str, int]]) -> Iterator[tuple[str, str | None]]:
    """Assign the children of ``node`` after the last round.

    A child joins ``node``'s cluster only when ``node`` is a root (has no smaller
    neighbour) and ``node`` is the child's only smaller neighbour; otherwise the
    components have not converged there and the child stays its own cluster
    (never merged wrongly, never dropped).

    Args:
        node: A node that is the smallest neighbour of ``children``.
        is_child: Whether ``node`` itself has a smaller neighbour.
        children: ``(child label, number of smaller neighbours of the child)``.

    Yields:
        ``(child, root)`` for settled children and ``(child, None)`` otherwise.
    """
    for child, parents in children:
        yield child, (node if not is_child and parents == 1 else None)


def check_survivor_order(order: tuple[str, ...], section: str) -> None:
    """Raise ``ValueError`` naming ``section`` when ``order`` holds an unknown survivor criterion."""
    unknown = [c for c in order if c not in SURVIVOR_CRITERIA]
    if unknown:
        raise ValueError(f"{section}.survivor_order: unknown {unknown}; allowed: {list(SURVIVOR_CRITERIA)}")


def document_label(doc: Document, tier_preference: tuple[str, ...], quality_key: str, order: tuple[str, ...]) -> str:
    """Return the :func:`survivor_label` of ``doc``: the smallest label of a cluster survives.

    Args:
        doc: The document.
        tier_preference: Tiers in order of preference (earlier wins).
        quality_key: The ``quality`` signal that ranks documents (higher wins).
        order: Criteria in order of precedence (from :data:`SURVIVOR_CRITERIA`).

    Returns:
        The sortable label.
    """
    return survivor_label(
        doc.id,
        tier=doc.tier,
        quality=doc.quality.get(quality_key),
        crawl_date=doc.crawl_date,
        tier_preference=tier_preference,
        order=order,
    )
