"""Word-level interpolated Kneser–Ney trigram model: training, scoring and sampling.

Trained by our own code (no external LM toolkit), so the recursive-training
benchmark and the reference snapshot do not depend on a binary that cannot be
installed from a package registry.

Model (Chen & Goodman 1998, "An Empirical Study of Smoothing Techniques for
Language Modeling", TR-10-98, eqs. 26–28, one discount per order
``D = n1 / (n1 + 2 n2)``):

* trigram level: raw counts ``c(u v w)``;
* bigram level: continuation counts ``N1+(· v w)``;
* unigram level: continuation counts ``N1+(· w)``, interpolated with the uniform
  distribution over a **fixed vocabulary** (``<unk>`` and ``</s>`` included), so
  every fixed-vocabulary word has non-zero probability and perplexities of
  models trained on different data are comparable.

Sampling:

* ``ancestral``: exact sampling from the full distribution, done level by level
  (the interpolated model is a mixture: discounted trigram mass, else back off).
* ``nucleus``: top-p (Holtzman et al. 2020, "The Curious Case of Neural Text
  Degeneration", p = 0.9 in their Table 1 setting) over the full distribution;
  the cut is found exactly by a binary search over the global unigram order
  (words outside the context's seen continuations are ordered by their
  unigram probability).  ``<unk>`` is never emitted.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "BOS",
    "EOS",
    "UNK",
    "KneserNeyTrigram",
    "Vocabulary",
    "tokenize",
]

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
_TOKEN_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
#: Holtzman et al. 2020 (ICLR), top-p 0.9 is their headline nucleus setting.
DEFAULT_TOP_P = 0.9


def tokenize(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens (``don't`` stays one token)."""
    return _TOKEN_RE.findall(text.lower())


@dataclass(frozen=True)
class Vocabulary:
    """A fixed word list; ids are positions.  ``<unk>`` is id 0, ``</s>`` id 1."""

    words: tuple[str, ...]

    @classmethod
    def from_tokens(cls, docs: Iterable[Sequence[str]], min_count: int = 1) -> Vocabulary:
        """Build a vocabulary of every type seen at least ``min_count`` times (sorted, stable)."""
        counts: Counter[str] = Counter()
        for doc in docs:
            counts.update(doc)
        kept = sorted(w for w, c in counts.items() if c >= min_count and w not in (UNK, EOS, BOS))
        return cls((UNK, EOS, *kept))

    def __post_init__(self) -> None:
        if self.words[:2] != (UNK, EOS):
            raise ValueError("vocabulary must start with <unk>, </s>")

    def __len__(self) -> int:
        return len(self.words)

    def index(self) -> dict[str, int]:
        """Return ``word -> id``."""
        return {w: i for i, w in enumerate(self.words)}


def _discount(count_of_counts: Counter[int]) -> float:
    n1, n2 = count_of_counts.get(1, 0), count_of_counts.get(2, 0)
    if n1 == 0 or n2 == 0:
        return 0.5
    return min(max(n1 / (n1 + 2 * n2), 0.05), 0.95)


class KneserNeyTrigram:
    """Interpolated Kneser–Ney trigram over a fixed :class:`Vocabulary`.

    Args:
        vocab: The fixed vocabulary (words outside it are mapped to ``<unk>``).
        docs: Training documents as token lists (``</s>`` is appended per document).
    """

    def __init__(self, vocab: Vocabulary, docs: Iterable[Sequence[str]]) -> None:
        self.vocab = vocab
        self._index = vocab.index()
        index = self._index
        tri: Counter[tuple[int, int, int]] = Counter()
        bos = -1  # <s> is never predicted, so it has no vocabulary id
        self.train_tokens = 0
        for doc in docs:
            ids = [index.get(t, 0) for t in doc]
            ids.append(1)
            self.train_tokens += len(ids)
            seq = [bos, bos, *ids]
            tri.update(zip(seq, seq[1:], seq[2:]))
        self._tri = tri
        self._build(tri)

    def trigram_counts(self) -> list[tuple[str, str, str, int]]:
        """The training trigram counts as words (``<s>`` for the start padding), sorted."""
        words = self.vocab.words

        def name(i: int) -> str:
            return BOS if i < 0 else words[i]

        return sorted((name(u), name(v), name(w), c) for (u, v, w), c in self._tri.items())

    @classmethod
    def from_trigram_counts(cls, vocab: Vocabulary, counts: Iterable[tuple[str, str, str, int]]) -> KneserNeyTrigram:
        """Rebuild a model from :meth:`trigram_counts` output (used by saved reference snapshots)."""
        model = cls(vocab, [])
        index = model._index

        def ident(t: str) -> int:
            return -1 if t == BOS else index.get(t, 0)

        tri: Counter[tuple[int, int, int]] = Counter()
        for u, v, w, c in counts:
            tri[(ident(u), ident(v), ident(w))] += int(c)
        model._tri = tri
        model.train_tokens = sum(tri.values())
        model._build(tri)
        return model

    # ------------------------------------------------------------------ building
    def _build(self, tri: Counter[tuple[int, int, int]]) -> None:
        v = len(self.vocab)
        self.d3 = _discount(Counter(tri.values()))
        ctx3: dict[tuple[int, int], dict[int, int]] = {}
        cont2: Counter[tuple[int, int]] = Counter()
        for (u, w1, w), c in tri.items():
            ctx3.setdefault((u, w1), {})[w] = c
            cont2[(w1, w)] += 1
        self.d2 = _discount(Counter(cont2.values()))
        ctx2: dict[int, dict[int, int]] = {}
        cont1 = np.zeros(v, dtype=np.float64)
        for (w1, w), c in cont2.items():
            ctx2.setdefault(w1, {})[w] = c
            cont1[w] += 1
        self.d1 = _discount(Counter(int(x) for x in cont1 if x > 0))
        # context -> (total, distinct continuations, {w: count})
        self._ctx3 = {k: (sum(d.values()), len(d), d) for k, d in ctx3.items()}
        self._ctx2 = {k: (sum(d.values()), len(d), d) for k, d in ctx2.items()}
        n = cont1.sum()
        types = float((cont1 > 0).sum())
        if n > 0:
            self.p1 = np.maximum(cont1 - self.d1, 0.0) / n + self.d1 * types / n / v
            self._uniform_weight = self.d1 * types / n
        else:
            self.p1 = np.full(v, 1.0 / v)
            self._uniform_weight = 1.0
        self.support = cont1 > 0
        self._p1_list = self.p1.tolist()
        self._sampler_cache: dict[Any, Any] = {}

    # ------------------------------------------------------------------ scoring
    def ids(self, tokens: Sequence[str]) -> list[int]:
        """Map tokens to vocabulary ids (``<unk>`` = 0)."""
        return [self._index.get(t, 0) for t in tokens]

    def prob(self, u: int, v: int, w: int) -> float:
        """``P(w | u v)``; use ``-1`` for ``<s>``."""
        p = self._p1_list[w]
        c2 = self._ctx2.get(v)
        if c2 is not None:
            total, distinct, conts = c2
            p = (max(conts.get(w, 0) - self.d2, 0.0) + self.d2 * distinct * p) / total
        c3 = self._ctx3.get((u, v))
        if c3 is not None:
            total, distinct, conts = c3
            p = (max(conts.get(w, 0) - self.d3, 0.0) + self.d3 * distinct * p) / total
        return p

    def distribution(self, u: int, v: int) -> np.ndarray:
        """Full next-word distribution over the vocabulary for context ``(u, v)``."""
        p = self.p1.copy()
        c2 = self._ctx2.get(v)
        if c2 is not None:
            total, distinct, conts = c2
            p *= self.d2 * distinct / total
            for w, c in conts.items():
                p[w] += max(c - self.d2, 0.0) / total
        c3 = self._ctx3.get((u, v))
        if c3 is not None:
            total, distinct, conts = c3
            p *= self.d3 * distinct / total
            for w, c in conts.items():
                p[w] += max(c - self.d3, 0.0) / total
        return p

    def doc_logprobs(self, tokens: Sequence[str]) -> list[float]:
        """Natural-log probabilities of every token of one document, ``</s>`` included."""
        ids = self.ids(tokens)
        ids.append(1)
        u = v = -1
        out = []
        prob = self.prob
        for w in ids:
            out.append(math.log(prob(u, v, w)))
            u, v = v, w
        return out

    def perplexity(self, docs: Iterable[Sequence[str]]) -> float:
        """Token-weighted perplexity of ``docs`` (``</s>`` counted)."""
        total, n = 0.0, 0
        for doc in docs:
            lps = self.doc_logprobs(doc)
            total -= sum(lps)
            n += len(lps)
        return math.exp(total / n) if n else float("nan")

    def outside_support(self, docs: Iterable[Sequence[str]]) -> float:
        """Share of tokens the model gives only the uniform floor (unseen in training, or ``<unk>``)."""
        n = outside = 0
        for doc in docs:
            for w in self.ids(doc):
                n += 1
                outside += w == 0 or not self.support[w]
        return outside / n if n else 0.0

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        rng: np.random.Generator,
        n_docs: int,
        method: Literal["ancestral", "nucleus"] = "ancestral",
        top_p: float = DEFAULT_TOP_P,
        max_tokens: int = 400,
    ) -> list[list[str]]:
        """Sample ``n_docs`` documents (token lists, ``</s>`` not included)."""
        if method not in ("ancestral", "nucleus"):
            raise ValueError(f"unknown sampling method {method!r}")
        if not 0.0 < top_p <= 1.0:
            raise ValueError("top_p must be in (0, 1]")
        words = self.vocab.words
        draw = self._draw_ancestral if method == "ancestral" else self._draw_nucleus
        uniforms = rng.random(4096).tolist()
        pos = 0
        docs = []
        for _ in range(n_docs):
            u = v = -1
            doc: list[str] = []
            while len(doc) < max_tokens:
                if pos + 4 > len(uniforms):
                    uniforms = rng.random(4096).tolist()
                    pos = 0
                w = draw(u, v, uniforms, pos, top_p)
                pos += 4
                if w == 1:
                    break
                doc.append(words[w])
                u, v = v, w
            docs.append(doc)
        return docs

    def _level_table(self, key: Any, conts: dict[int, int], d: float) -> tuple[list[int], list[float]]:
        table = self._sampler_cache.get(key)
        if table is None:
            ws = sorted(conts)
            cum, acc = [], 0.0
            for w in ws:
                acc += max(conts[w] - d, 0.0)
                cum.append(acc)
            table = (ws, cum)
            self._sampler_cache[key] = table
        return table

    def _unigram_table(self) -> tuple[list[float], int]:
        table = self._sampler_cache.get("uni")
        if table is None:
            disc = np.maximum(np.where(self.support, self.p1 - self._uniform_weight / len(self.vocab), 0.0), 0.0)
            disc[0] = 0.0
            table = (np.cumsum(disc).tolist(), len(self.vocab))
            self._sampler_cache["uni"] = table
        return table

    def _draw_ancestral(self, u: int, v: int, r: list[float], pos: int, top_p: float) -> int:
        c3 = self._ctx3.get((u, v))
        if c3 is not None:
            total, distinct, conts = c3
            disc_mass = total - self.d3 * distinct
            if r[pos] * total < disc_mass:
                ws, cum = self._level_table(("3", u, v), conts, self.d3)
                return ws[min(bisect.bisect_right(cum, r[pos + 1] * cum[-1]), len(ws) - 1)]
        c2 = self._ctx2.get(v)
        if c2 is not None:
            total, distinct, conts = c2
            disc_mass = total - self.d2 * distinct
            if r[pos + 2] * total < disc_mass:
                ws, cum = self._level_table(("2", v), conts, self.d2)
                return ws[min(bisect.bisect_right(cum, r[pos + 1] * cum[-1]), len(ws) - 1)]
        cum1, v_size = self._unigram_table()
        x = r[pos + 3]
        if x >= self._uniform_weight and cum1[-1] > 0:
            target = (x - self._uniform_weight) / (1.0 - self._uniform_weight) * cum1[-1]
            return min(bisect.bisect_right(cum1, target), v_size - 1)
        # uniform over the fixed vocabulary, never <unk>
        return 1 + int(r[pos + 1] * (v_size - 1)) % (v_size - 1)

    def _nucleus_table(self, u: int, v: int, top_p: float) -> tuple[Any, ...]:
        key = ("p", u if (u, v) in self._ctx3 else None, v, top_p)
        table = self._sampler_cache.get(key)
        if table is not None:
            return table
        _, sorted_p1, cum_p1 = self._global_order()
        # exact probabilities of the context's seen continuations; others are g * p1(w)
        g = 1.0
        seen: dict[int, float] = {}
        c2 = self._ctx2.get(v)
        if c2 is not None:
            total, distinct, conts = c2
            g = self.d2 * distinct / total
            for w, c in conts.items():
                seen[w] = max(c - self.d2, 0.0) / total
        c3 = self._ctx3.get((u, v))
        if c3 is not None:
            total, distinct, conts = c3
            g3 = self.d3 * distinct / total
            seen = {w: p * g3 for w, p in seen.items()}
            for w, c in conts.items():
                seen[w] = seen.get(w, 0.0) + max(c - self.d3, 0.0) / total
            g *= g3
        seen.pop(0, None)
        s_words = np.fromiter(seen.keys(), dtype=np.int64, count=len(seen))
        s_probs = np.fromiter(seen.values(), dtype=np.float64, count=len(seen)) + g * self.p1[s_words]
        by_prob = np.argsort(-s_probs)
        cum_s_prob = np.concatenate([[0.0], np.cumsum(s_probs[by_prob])])
        neg_s_prob = -s_probs[by_prob]
        by_rank = np.argsort(self._rank[s_words])
        s_rank_sorted = self._rank[s_words][by_rank]
        cum_s_base = np.concatenate([[0.0], np.cumsum(self.p1[s_words][by_rank])])

        def mass(k: int) -> float:
            # mass of {w : P(w) >= t} with t = g * sorted_p1[k-1]
            t = g * sorted_p1[k - 1]
            n_s = int(neg_s_prob.searchsorted(-t, side="right"))
            n_prefix = int(s_rank_sorted.searchsorted(k, side="left"))
            return float(cum_s_prob[n_s] + g * (cum_p1[k - 1] - cum_s_base[n_prefix]))

        lo, hi = 1, len(sorted_p1)
        if mass(hi) < top_p:
            k = hi
        else:
            while lo < hi:  # smallest k with mass(k) >= top_p
                mid = (lo + hi) // 2
                if mass(mid) >= top_p:
                    hi = mid
                else:
                    lo = mid + 1
            k = lo
        t = g * sorted_p1[k - 1]
        keep = s_probs >= t
        kept_words = s_words[keep].tolist()
        kept_cum = np.cumsum(s_probs[keep]).tolist()
        s_mass = kept_cum[-1] if kept_cum else 0.0
        n_prefix = int(s_rank_sorted.searchsorted(k, side="left"))
        prefix_mass = max(0.0, g * float(cum_p1[k - 1] - cum_s_base[n_prefix]))
        # The unseen part of the nucleus is the global top-k minus the seen words: sampled by rejection.
        table = (kept_words, kept_cum, s_mass, prefix_mass, k, frozenset(seen))
        if len(self._sampler_cache) > 200_000:  # bound memory on very long runs
            self._sampler_cache = {k2: v2 for k2, v2 in self._sampler_cache.items() if k2[0] != "p"}
        self._sampler_cache[key] = table
        return table

    def _global_order(self) -> tuple[list[int], np.ndarray, np.ndarray]:
        table = self._sampler_cache.get("order")
        if table is None:
            p1 = self.p1.copy()
            p1[0] = 0.0  # never emit <unk>
            order = np.argsort(-p1, kind="stable")
            sorted_p1 = p1[order]
            self._rank = np.empty(len(p1), dtype=np.int64)
            self._rank[order] = np.arange(len(p1))
            self._order_list = order.tolist()
            cum = np.cumsum(sorted_p1)
            self._cum_p1_list = cum.tolist()
            table = (self._order_list, sorted_p1, cum)
            self._sampler_cache["order"] = table
        return table

    def _draw_nucleus(self, u: int, v: int, r: list[float], pos: int, top_p: float) -> int:
        kept_words, kept_cum, s_mass, prefix_mass, k, seen = self._nucleus_table(u, v, top_p)
        x = r[pos] * (s_mass + prefix_mass)
        if x < s_mass or prefix_mass <= 0.0:
            return kept_words[min(bisect.bisect_right(kept_cum, x), len(kept_words) - 1)]
        order, cum_list = self._order_list, self._cum_p1_list
        top = cum_list[k - 1]
        for attempt in (r[pos + 1], r[pos + 2], r[pos + 3]):
            w = order[min(bisect.bisect_right(cum_list, attempt * top), k - 1)]
            if w not in seen:
                return w
        # rare: the seen words hold most of the prefix mass; draw exactly from the materialised remainder
        rest = [w for w in order[:k] if w not in seen]
        weights = np.cumsum(self.p1[rest])
        return rest[min(int(weights.searchsorted(r[pos + 1] * weights[-1], side="right")), len(rest) - 1)]
