"""Collapse indicators of a corpus, as mergeable accumulators (Beam-free).

Collapse shows first in the tails (Shumailov et al., "AI models collapse when
trained on recursively generated data", Nature 631, 2024, Fig. 1–2: rare events
vanish and text becomes "too probable").  Indicators come in two families:

* **reference-based** (need a :class:`~tailguard.filters.collapse.reference.Reference`):
  vocabulary coverage, rare-type survival (types with reference count ≤ 3),
  tail mass (share of tokens in the rarest reference types that together carry
  10 % of the reference mass), Jensen–Shannon divergence of unigram
  distributions, and perplexity under the reference trigram (mean and p95);
* **reference-free**: distinct-1/2/3 (Li et al. 2016, NAACL, "A Diversity-Promoting
  Objective Function for Neural Conversation Models", §4) and MATTR (Covington &
  McFall 2010, window 500 below) on a fixed-size seeded token sample — both
  depend on sample size, so the size is fixed —, unigram entropy, gzip
  compression ratio of the sample, exact-duplicate rate (KMV distinct-count
  sketch, Bar-Yossef et al. 2002), within-sample near-duplicate rate (word 5-gram
  Jaccard ≥ 0.8), share of documents above the AI threshold, verified-human
  token share, up-weighted share.

:class:`CollapseAccumulator` is built by ``add(doc)`` and ``merge`` so a Beam
``CombineFn`` (``transforms/collapse.py``) can compute it in parallel; merging
partial accumulators gives exactly the single-pass result because every part is
a count, a sum, a histogram or a bottom-k sample ordered by a stable hash.
"""

from __future__ import annotations

import gzip
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tailguard.filters.collapse.ngram import tokenize
from tailguard.filters.document import Document
from tailguard.filters.hashing import stable_hash64

if TYPE_CHECKING:
    from tailguard.filters.collapse.reference import Reference

__all__ = [
    "AI_HIST_BINS",
    "CollapseAccumulator",
    "IndicatorSettings",
    "distinct_n",
    "jensen_shannon",
    "mattr",
    "unigram_entropy",
]

#: Covington & McFall 2010 ("Cutting the Gordian knot: the moving-average type-token ratio") use 500-token windows.
MATTR_WINDOW = 500
#: Near-duplicate threshold: Jaccard ≥ 0.8 on word 5-grams (Lee et al. 2022, "Deduplicating Training Data
#: Makes Language Models Better", §4.1 uses 5-gram MinHash with Jaccard 0.8).
NEAR_DUP_JACCARD = 0.8
NEAR_DUP_SHINGLE = 5
#: KMV sketch size: relative standard error ≈ 1/sqrt(k - 2) ≈ 1.6 % (Bar-Yossef et al. 2002, Thm. 1).
KMV_SIZE = 4096
#: Histogram of per-document log-perplexity: bins of 0.05 nats over [0, 20).
LOGPPL_BIN = 0.05
LOGPPL_BINS = 400
#: AI-score histogram bins over [0, 1].
AI_HIST_BINS = 20
_MAX64 = float(1 << 64)


@dataclass(frozen=True)
class IndicatorSettings:
    """Fixed sizes and seeds of the sample-based indicators.

    Attributes:
        sample_tokens: Tokens in the seeded sample for distinct-n, MATTR, gzip ratio.
        sample_max_docs: Cap on sampled documents (near-duplicate pairs are O(n²)).
        seed: Seed of the sample (documents ordered by ``stable_hash64(seed, id)``).
        ai_threshold: ``ai_score`` at or above which a document counts as AI.
        human_tiers: Tier names that count as verified human.
    """

    sample_tokens: int = 20_000
    sample_max_docs: int = 400
    seed: int = 0
    ai_threshold: float = 0.5
    human_tiers: tuple[str, ...] = ("tier1",)

    def __post_init__(self) -> None:
        if self.sample_tokens <= 0 or self.sample_max_docs <= 0:
            raise ValueError("sample sizes must be > 0")
        if not 0.0 <= self.ai_threshold <= 1.0:
            raise ValueError("ai_threshold must be in [0, 1]")


# ----------------------------------------------------------------------------- pure metrics


def distinct_n(tokens: Sequence[str], n: int) -> float:
    """Distinct n-grams / total n-grams of one token sequence (0 when too short)."""
    total = len(tokens) - n + 1
    if total <= 0:
        return 0.0
    return len(set(zip(*(tokens[i:] for i in range(n))))) / total


def mattr(tokens: Sequence[str], window: int = MATTR_WINDOW) -> float:
    """Moving-average type-token ratio; plain TTR when shorter than the window."""
    if not tokens:
        return 0.0
    if len(tokens) <= window:
        return len(set(tokens)) / len(tokens)
    counts: Counter[str] = Counter(tokens[:window])
    total = len(counts)
    for i in range(window, len(tokens)):
        out, inn = tokens[i - window], tokens[i]
        counts[out] -= 1
        if counts[out] == 0:
            del counts[out]
        counts[inn] += 1
        total += len(counts)
    return total / (len(tokens) - window + 1) / window


def unigram_entropy(counts: Mapping[str, int]) -> float:
    """Shannon entropy (bits) of a unigram count table."""
    n = sum(counts.values())
    if n == 0:
        return 0.0
    return -sum(c / n * math.log2(c / n) for c in counts.values() if c)


def jensen_shannon(p_counts: Mapping[str, int], q_counts: Mapping[str, int]) -> float:
    """Jensen–Shannon divergence (bits, in [0, 1]) between two unigram count tables."""
    np_, nq = sum(p_counts.values()), sum(q_counts.values())
    if np_ == 0 or nq == 0:
        return 1.0 if np_ != nq else 0.0
    total = 0.0
    for w in set(p_counts) | set(q_counts):
        p, q = p_counts.get(w, 0) / np_, q_counts.get(w, 0) / nq
        m = (p + q) / 2
        if p:
            total += 0.5 * p * math.log2(p / m)
        if q:
            total += 0.5 * q * math.log2(q / m)
    return max(0.0, min(1.0, total))


def _shingles(tokens: Sequence[str], k: int = NEAR_DUP_SHINGLE) -> frozenset[tuple[str, ...]]:
    if len(tokens) < k:
        return frozenset([tuple(tokens)])
    return frozenset(zip(*(tokens[i:] for i in range(k))))


def near_dup_share(docs: Sequence[Sequence[str]], threshold: float = NEAR_DUP_JACCARD) -> float:
    """Share of ``docs`` with another doc in the list at word-5-gram Jaccard ≥ ``threshold``."""
    sets = [_shingles(d) for d in docs if d]
    flagged = [False] * len(sets)
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            a, b = sets[i], sets[j]
            small, large = (len(a), len(b)) if len(a) <= len(b) else (len(b), len(a))
            if small < threshold * large:  # Jaccard ≤ small/large: cannot reach the threshold
                continue
            inter = len(a & b)
            if inter and inter / (len(a) + len(b) - inter) >= threshold:
                flagged[i] = flagged[j] = True
    return sum(flagged) / len(sets) if sets else 0.0


def sample_metrics(sample_docs: Sequence[Sequence[str]], sample_tokens: int) -> dict[str, float]:
    """Reference-free metrics of a token sample cut to exactly ``sample_tokens`` tokens (or fewer)."""
    flat: list[str] = []
    for d in sample_docs:
        flat.extend(d)
        if len(flat) >= sample_tokens:
            break
    flat = flat[:sample_tokens]
    raw = " ".join(flat).encode("utf-8")
    return {
        "sample_tokens": float(len(flat)),
        "distinct_1": distinct_n(flat, 1),
        "distinct_2": distinct_n(flat, 2),
        "distinct_3": distinct_n(flat, 3),
        "mattr": mattr(flat),
        "gzip_ratio": len(gzip.compress(raw, 6, mtime=0)) / len(raw) if raw else 0.0,
        "near_dup_rate_sample": near_dup_share(sample_docs),
    }


def _hist_quantile(hist: Sequence[int], q: float, width: float) -> float:
    total = sum(hist)
    if total == 0:
        return float("nan")
    target, acc = q * total, 0
    for i, c in enumerate(hist):
        acc += c
        if acc >= target:
            return (i + 0.5) * width
    return len(hist) * width


# ----------------------------------------------------------------------------- accumulator


@dataclass
class CollapseAccumulator:
    """Mergeable partial statistics of one corpus (or one tier of it).

    Build with :meth:`add` (one document at a time) and :meth:`merge`; read with
    :meth:`result`.  All fields are counts, sums, fixed-bin histograms or
    hash-ordered bottom-k samples, so merge order never changes the result.
    """

    settings: IndicatorSettings = field(default_factory=IndicatorSettings)
    docs: int = 0
    tokens: int = 0
    unigrams: Counter[str] = field(default_factory=Counter)
    # bottom-k sample: (hash, tokens) sorted by hash, cut once it holds sample_tokens
    sample: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    kmv: list[int] = field(default_factory=list)  # KMV: smallest distinct text hashes (sorted)
    ai_scored: int = 0
    ai_above: int = 0
    ai_hist: list[int] = field(default_factory=lambda: [0] * AI_HIST_BINS)
    human_tokens: int = 0
    upweighted_tokens: int = 0
    dup_cluster_docs: int = 0
    nll_sum: float = 0.0
    nll_tokens: int = 0
    logppl_hist: list[int] = field(default_factory=lambda: [0] * LOGPPL_BINS)

    def add(self, doc: Document, tokens: Sequence[str] | None = None, reference: Reference | None = None) -> None:
        """Add one document (``tokens`` defaults to :func:`tokenize` of its text)."""
        toks = tokenize(doc.text) if tokens is None else list(tokens)
        s = self.settings
        self.docs += 1
        self.tokens += len(toks)
        self.unigrams.update(toks)
        self.sample.append((stable_hash64("collapse-sample", s.seed, doc.id), tuple(toks)))
        self._trim_sample()
        self.kmv.append(stable_hash64("collapse-kmv", " ".join(toks)))
        self._trim_kmv()
        if doc.ai_score is not None:
            self.ai_scored += 1
            self.ai_above += doc.ai_score >= s.ai_threshold
            self.ai_hist[min(int(doc.ai_score * AI_HIST_BINS), AI_HIST_BINS - 1)] += 1
        if doc.tier is not None and doc.tier in s.human_tiers:
            self.human_tokens += len(toks)
        if (doc.sample_weight or 0.0) > 1.0 or (doc.repeats or 0) > 1:
            self.upweighted_tokens += len(toks)
        if (doc.dup_cluster_size or 0) > 1:
            self.dup_cluster_docs += 1
        if reference is not None:
            lps = reference.model.doc_logprobs(toks)
            nll = -sum(lps)
            self.nll_sum += nll
            self.nll_tokens += len(lps)
            bin_ = min(int(nll / len(lps) / LOGPPL_BIN), LOGPPL_BINS - 1)
            self.logppl_hist[bin_] += 1

    def _trim_sample(self) -> None:
        self.sample.sort(key=lambda x: x[0])
        acc, cut = 0, len(self.sample)
        for i, (_, toks) in enumerate(self.sample):
            acc += len(toks)
            if acc >= self.settings.sample_tokens or i + 1 >= self.settings.sample_max_docs:
                cut = i + 1
                break
        del self.sample[cut:]

    def _trim_kmv(self) -> None:
        if len(self.kmv) > 2 * KMV_SIZE:
            self.kmv = sorted(set(self.kmv))[:KMV_SIZE]

    def merge(self, other: CollapseAccumulator) -> CollapseAccumulator:
        """Fold ``other`` into this accumulator and return it."""
        self.docs += other.docs
        self.tokens += other.tokens
        self.unigrams.update(other.unigrams)
        self.sample.extend(other.sample)
        self._trim_sample()
        self.kmv.extend(other.kmv)
        self._trim_kmv()
        self.ai_scored += other.ai_scored
        self.ai_above += other.ai_above
        self.ai_hist = [a + b for a, b in zip(self.ai_hist, other.ai_hist)]
        self.human_tokens += other.human_tokens
        self.upweighted_tokens += other.upweighted_tokens
        self.dup_cluster_docs += other.dup_cluster_docs
        self.nll_sum += other.nll_sum
        self.nll_tokens += other.nll_tokens
        self.logppl_hist = [a + b for a, b in zip(self.logppl_hist, other.logppl_hist)]
        return self

    def distinct_texts(self) -> float:
        """KMV estimate of the number of distinct texts (exact below the sketch size)."""
        hashes = sorted(set(self.kmv))[:KMV_SIZE]
        if len(hashes) < KMV_SIZE:
            return float(len(hashes))
        return (KMV_SIZE - 1) / (hashes[-1] / _MAX64)

    def result(self, reference: Reference | None = None) -> dict[str, Any]:
        """All indicators as a flat JSON-ready dict (reference-based ones only with ``reference``)."""
        out: dict[str, Any] = {"docs": self.docs, "tokens": self.tokens, "types": len(self.unigrams)}
        out.update(sample_metrics([t for _, t in self.sample], self.settings.sample_tokens))
        out["unigram_entropy"] = unigram_entropy(self.unigrams)
        out["exact_dup_rate"] = max(0.0, 1.0 - min(self.distinct_texts(), self.docs) / self.docs) if self.docs else 0.0
        out["dup_cluster_share"] = self.dup_cluster_docs / self.docs if self.docs else 0.0
        out["ai_scored_docs"] = self.ai_scored
        out["ai_above_threshold_share"] = self.ai_above / self.ai_scored if self.ai_scored else None
        out["ai_hist"] = list(self.ai_hist)
        out["verified_human_token_share"] = self.human_tokens / self.tokens if self.tokens else 0.0
        out["upweighted_token_share"] = self.upweighted_tokens / self.tokens if self.tokens else 0.0
        if reference is not None:
            out.update(reference_metrics(self.unigrams, reference))
            if self.nll_tokens:
                out["ref_ppl_mean"] = math.exp(self.nll_sum / self.nll_tokens)
                out["ref_ppl_p95"] = math.exp(_hist_quantile(self.logppl_hist, 0.95, LOGPPL_BIN))
        return out


def reference_metrics(counts: Mapping[str, int], reference: Reference) -> dict[str, float]:
    """Coverage, rare-type survival, tail mass and JSD of a unigram table against ``reference``."""
    n = sum(counts.values())
    ref_types = reference.counts
    covered = sum(1 for w in ref_types if counts.get(w, 0) > 0)
    rare = reference.rare_types
    tail = reference.tail_types
    return {
        "ref_vocab_coverage": covered / len(ref_types) if ref_types else 0.0,
        "rare_type_survival": sum(1 for w in rare if counts.get(w, 0) > 0) / len(rare) if rare else 0.0,
        "tail_mass": sum(counts.get(w, 0) for w in tail) / n if n else 0.0,
        "ref_tail_mass": reference.tail_mass_share,
        "jsd_to_reference": jensen_shannon(counts, ref_types),
    }


def accumulate(
    docs: Iterable[Document],
    settings: IndicatorSettings | None = None,
    reference: Reference | None = None,
    key: Callable[[Document], str] | None = None,
) -> dict[str, CollapseAccumulator]:
    """Single-pass helper: accumulators for ``all`` and, with ``key``, per group."""
    settings = settings or IndicatorSettings()
    accs: dict[str, CollapseAccumulator] = {"all": CollapseAccumulator(settings)}
    for doc in docs:
        toks = tokenize(doc.text)
        accs["all"].add(doc, toks, reference)
        if key is not None:
            accs.setdefault(key(doc), CollapseAccumulator(settings)).add(doc, toks, reference)
    return accs
