"""Curation of the recursive-training benchmark with the pipeline's own filter functions.

``tailguard collapse-bench`` curates its polluted "crawl" in memory, but with the
same Beam-free functions the pipeline stages call, in the same order, so the
benchmark cannot drift from the pipeline:

* exact dedup (``dedup_exact``, by text): :func:`filters.dedup.text_key` per
  document, one survivor per key — the smallest :func:`survivor_label`;
* near dedup (``dedup_near``): :class:`BatchSigner` signatures (the stage's
  default ``signer: oph``) → :func:`band_hashes` → :func:`candidate_buckets`
  → :func:`cap_bucket` → verified star edges (:func:`bucket_edges` with
  :func:`verify_cutoff`) → connected components by alternating
  :func:`large_star` / :func:`small_star` rounds → :func:`settle_children`;
  the survivor of a component is its minimum label, as in the stage;
* AI scores (any ``Scorer``: ``score(texts) -> list[float]``), tiers
  (:func:`filters.tiers.assign_tier` with ``default_rules``) and token-exact
  mixing (:func:`filters.mixing.mix_in_memory`).

Only the Beam plumbing (GroupByKey, CoGroupByKey) is replaced by dicts.  Elements
in: :class:`BenchDoc` lists; out: the curated training list (copies repeated).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from tailguard.filters.dedup import (
    band_hashes,
    bucket_edges,
    candidate_buckets,
    cap_bucket,
    label_id,
    large_star,
    optimal_params,
    settle_children,
    small_star,
    survivor_label,
    text_key,
    verify_cutoff,
)
from tailguard.filters.dedup.signing import BatchSigner
from tailguard.filters.hashing import stable_hash64

__all__ = [
    "BenchDoc",
    "Curator",
    "NearDedupSettings",
    "Scorer",
    "connected_components",
    "exact_dedup",
    "hash_order",
    "near_dedup",
    "sample_to_budget",
    "take_tokens",
    "token_count",
]

_LOG = logging.getLogger("tailguard.collapse_bench")


@dataclass(frozen=True)
class BenchDoc:
    """A benchmark document: tokens, plus the hidden truth used only for diagnostics.

    Attributes:
        id: Document id (also the survivor tie-break, as in the pipeline).
        tokens: Lower-cased word / punctuation tokens.
        synthetic: True for model text; never shown to curation.
    """

    id: str
    tokens: tuple[str, ...]
    synthetic: bool

    @property
    def text(self) -> str:
        """The tokens joined by spaces (what the filters see)."""
        return " ".join(self.tokens)


class Scorer(Protocol):
    """Anything with ``score(texts) -> ai_score per text`` (the detect stage's interface)."""

    def score(self, texts: Sequence[str]) -> list[float]: ...


def token_count(docs: Sequence[BenchDoc]) -> int:
    """Total tokens of ``docs``."""
    return sum(len(d.tokens) for d in docs)


def take_tokens(docs: Sequence[BenchDoc], budget: int) -> list[BenchDoc]:
    """The leading documents of ``docs`` until at least ``budget`` tokens (or all of them)."""
    out, n = [], 0
    for d in docs:
        if n >= budget:
            break
        out.append(d)
        n += len(d.tokens)
    return out


def hash_order(docs: Sequence[BenchDoc], *key: object) -> list[BenchDoc]:
    """``docs`` ordered by ``stable_hash64(*key, id)`` (a seeded, reproducible shuffle)."""
    return sorted(docs, key=lambda d: stable_hash64(*key, d.id))


def sample_to_budget(docs: Sequence[BenchDoc], budget: int, *key: object) -> list[BenchDoc]:
    """Hash-ordered docs up to ``budget`` tokens, cycling (repeats) when the pool is smaller."""
    ordered = hash_order(docs, *key)
    if not ordered:
        return []
    out, n, i = [], 0, 0
    while n < budget:
        d = ordered[i % len(ordered)]
        out.append(d)
        n += len(d.tokens)
        i += 1
    return out


# ----------------------------------------------------------------------------- dedup


@dataclass(frozen=True)
class NearDedupSettings:
    """The ``dedup_near`` stage settings the benchmark uses (the stage's defaults unless noted).

    Attributes:
        threshold: Jaccard threshold; 0.8 on word 5-grams (Lee et al. 2022, "Deduplicating
            Training Data Makes Language Models Better", §4.1) instead of the stage's 0.7.
        num_perm: MinHash permutations.
        ngram: Word shingle size.
        seed: MinHash permutation seed.
        false_positive_weight: LSH bands × rows choice, as the stage.
        false_negative_weight: As the stage (recall-weighted).
        verify_z: Verification cut-off in standard errors below the threshold.
        hot_bucket_cap: Members used per bucket.
        max_rounds: Large-star / small-star rounds.
    """

    threshold: float = 0.8
    num_perm: int = 128
    ngram: int = 5
    seed: int = 1
    false_positive_weight: float = 0.1
    false_negative_weight: float = 0.9
    verify_z: float = 2.0
    hot_bucket_cap: int = 1000
    max_rounds: int = 10


def exact_dedup(docs: Sequence[BenchDoc]) -> list[BenchDoc]:
    """One survivor per normalised-text key (``dedup_exact`` by text): the smallest label, in id order."""
    best: dict[str, tuple[str, BenchDoc]] = {}
    for d in docs:
        key = text_key(d.text)
        label = survivor_label(d.id)
        if key not in best or label < best[key][0]:
            best[key] = (label, d)
    return sorted((d for _, d in best.values()), key=lambda d: d.id)


def _larger_first(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a > b else (b, a)


def connected_components(edges: Iterable[tuple[str, str]], max_rounds: int) -> tuple[dict[str, str], int]:
    """Child label → root label by the ``dedup_near`` stage's star rounds, in memory.

    Same steps as ``_ConnectedComponents`` in the stage: per round, large-star on
    both directions of every edge, then small-star on the larger-first edges; a
    round that changes nothing is a fixed point (Kiveris et al. 2014), so later
    rounds are skipped; then every child is settled with :func:`settle_children`.

    Args:
        edges: ``(child, parent)`` label pairs.
        max_rounds: Rounds before giving up (unconverged nodes stay their own cluster).

    Returns:
        ``(assignment of every settled child to its root, number of unconverged nodes)``.
    """
    current = set(edges)
    for _ in range(max_rounds):
        neighbours: dict[str, list[str]] = defaultdict(list)
        for a, b in current:
            neighbours[a].append(b)
            neighbours[b].append(a)
        large: list[tuple[str, str]] = []
        changed = 0
        for node in sorted(neighbours):
            out, n = large_star(node, [v for v in neighbours[node] if v != node])
            large += out
            changed += n
        smaller: dict[str, list[str]] = defaultdict(list)
        for a, b in large:
            big, small = _larger_first(a, b)
            smaller[big].append(small)
        current = set()
        for node in sorted(smaller):
            out, n = small_star(node, [v for v in smaller[node] if v != node])
            current.update(out)
            changed += n
        if not changed:
            break
    # (child, smaller neighbours) → grouped by the smallest one, as ChildParents + GroupByParent
    parents: dict[str, set[str]] = defaultdict(set)
    for a, b in current:
        child, parent = _larger_first(a, b)
        parents[child].add(parent)
    children: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for child, ps in parents.items():
        children[min(ps)].append((child, len(ps)))
    assigned: dict[str, str] = {}
    unconverged = 0
    for node in sorted(children):
        for child, root in settle_children(node, node in parents, children[node]):
            if root is None:
                unconverged += 1
            else:
                assigned[child] = root
    return assigned, unconverged


def near_dedup(docs: Sequence[BenchDoc], settings: NearDedupSettings = NearDedupSettings()) -> list[BenchDoc]:
    """Drop near-duplicates as the ``dedup_near`` stage does; survivors keep their input order.

    Args:
        docs: Documents (ids unique).
        settings: Stage settings.

    Returns:
        The documents that are not a non-survivor member of a near-duplicate component.
    """
    labels = [survivor_label(d.id) for d in docs]
    signer = BatchSigner(settings.num_perm, settings.seed, "word", settings.ngram, True)
    all_sigs, has_shingles = signer.sign([d.text for d in docs])
    signable = np.flatnonzero(has_shingles).tolist()  # no shingles: never a near-duplicate
    if len(signable) < 2:
        return list(docs)
    sigs = all_sigs[has_shingles]
    params = optimal_params(
        settings.threshold, settings.num_perm, settings.false_positive_weight, settings.false_negative_weight
    )
    keys = band_hashes(sigs, params).reshape(-1, 2)
    owner = np.repeat(np.arange(len(signable)), params.bands)
    payload = {labels[i]: sig.astype("<u4").tobytes() for i, sig in zip(signable, sigs, strict=True)}
    cutoff = verify_cutoff(settings.threshold, settings.num_perm, settings.verify_z)
    seen: set[tuple[str, ...]] = set()
    edges: set[tuple[str, str]] = set()
    for entries in candidate_buckets(keys):
        members = {labels[signable[i]] for i in owner[entries].tolist()}
        if len(members) < 2:
            continue
        high, low = (int(x) for x in keys[entries[0]])
        kept = tuple(cap_bucket(list(members), f"{high:016x}{low:016x}", settings.hot_bucket_cap))
        if kept in seen:  # the same members met in another band: one check is enough
            continue
        seen.add(kept)
        edges.update(bucket_edges([(label, payload[label]) for label in kept], cutoff).edges)
    assigned, _ = connected_components(edges, settings.max_rounds)
    removed = {label_id(child) for child in assigned}
    return [d for d in docs if d.id not in removed]


# ----------------------------------------------------------------------------- the curated condition


@dataclass
class Curator:
    """The tailguard filters the curated condition runs, in pipeline order.

    Attributes:
        detector: The AI-text scorer (trained by ``filters/detect`` on the benchmark's calibration split).
        threshold_synthetic: ai_score at or above which a document is ``synthetic_detected`` (1 % human FPR).
        threshold_review: Start of the down-weighted review band (5 % human FPR).
        seed: Mixing seed.
        max_repeats: Repeat cap of the mix.
        dedup_settings: Near-dedup settings.
    """

    detector: Scorer
    threshold_synthetic: float
    threshold_review: float
    seed: int
    max_repeats: int = 3
    dedup_settings: NearDedupSettings = NearDedupSettings()

    def curate(
        self,
        crawl: Sequence[BenchDoc],
        budget: int,
        gen: int,
        dedup: bool = True,
        detect: bool = True,
        tiers_mixing: bool = True,
    ) -> list[BenchDoc]:
        """Curate ``crawl`` to ``budget`` training tokens (the switches are the ablations).

        Args:
            crawl: The polluted crawl (unlabelled: ``synthetic`` is never read).
            budget: Training tokens to return.
            gen: Generation (salts the mixing seed).
            dedup: Run exact + near dedup.
            detect: Score with the detector (off: every score is ``None``).
            tiers_mixing: Tiers + token-exact mixing; off: drop at the synthetic threshold and hash-sample.

        Returns:
            The training documents, repeated by their number of copies.
        """
        docs = list(crawl)
        if dedup:
            docs = near_dedup(exact_dedup(docs), self.dedup_settings)
        scores: dict[str, float | None] = {d.id: None for d in docs}
        if detect and docs:
            scores = dict(zip((d.id for d in docs), self.detector.score([d.text for d in docs]), strict=True))
        if tiers_mixing:
            return self._tier_and_mix(docs, scores, budget, gen)
        kept = [d for d in docs if (score := scores[d.id]) is None or score < self.threshold_synthetic]
        return sample_to_budget(kept, budget, "curated", self.seed, gen)

    def _tier_and_mix(
        self, docs: list[BenchDoc], scores: dict[str, float | None], budget: int, gen: int
    ) -> list[BenchDoc]:
        from tailguard.filters.mixing import (
            WEIGHT_SCALE,
            ComponentSpec,
            MixingTargetError,
            MixItem,
            importance_weight,
            mix_in_memory,
            quantise,
        )
        from tailguard.filters.tiers import assign_tier, default_rules

        rules = default_rules(synthetic_threshold=self.threshold_synthetic, review_threshold=self.threshold_review)
        web = ComponentSpec(
            "web", 1.0, tiers=("tier1", "tier2", "tier3"), importance_alpha=1.0, max_repeats=self.max_repeats
        )
        items, by_id = [], {d.id: d for d in docs}
        for d in docs:
            # The crawl carries no source labels or dates: the AI score alone decides the tier.
            verdict = assign_tier(
                rules, source="crawl", domain=None, crawl_date=None, ai_score=scores[d.id], source_labels={}
            )
            if not web.matches(verdict.tier, verdict.label, scores[d.id]):
                continue  # synthetic_detected: not mixed
            weight = verdict.weight * importance_weight(scores[d.id], web.importance_alpha)
            items.append(MixItem(d.id, "web", len(d.tokens), quantise(weight, WEIGHT_SCALE)))
        if not items:
            return []
        mix_seed = stable_hash64("mix", self.seed, gen) % (1 << 31)
        cap = self.max_repeats
        try:
            _, copies = mix_in_memory(items, [web], seed=mix_seed, default_max_repeats=cap, total_tokens=budget)
        except MixingTargetError:
            # Too little kept text to reach the budget within the repeat cap (small corpora):
            # train on all of it, repeated up to the cap, and say so.
            _LOG.warning("curated mix short of the %d-token budget in generation %d; using the repeat cap", budget, gen)
            available = sum(item.tokens for item in items) * cap
            _, copies = mix_in_memory(items, [web], seed=mix_seed, default_max_repeats=cap, total_tokens=available)
        return [by_id[i] for i in sorted(copies) for _ in range(copies[i])]
