"""Count-based n-gram text generators *outside* the benchmark's model family.

The recursive-training benchmark's synthetic text comes from interpolated
Kneser–Ney trigrams (``ngram.py``) with ancestral or nucleus decoding.  An
*in-family* detector is trained on samples of other Kneser–Ney trigrams; an
*out-of-family* detector is trained on samples of these generators instead,
which differ in all three settings at once: n-gram order (2 or 4), smoothing
(add-k, or "stupid" backoff — Brants et al. 2007, "Large Language Models in
Machine Translation", §4) and decoding (temperature or top-k, Fan et al. 2018,
"Hierarchical Neural Story Generation", §5.4).  They only generate; they are
never scored.

Sampling is exact for each setting without O(V) work per token: add-k mass is
split into the seen continuations (tempered or top-k-cut) and a uniform draw
over the vocabulary.  Elements in: token lists; out: sampled token lists.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["OUT_OF_FAMILY", "CountNGramGenerator", "GeneratorSetting"]

_EOS = "</s>"


@dataclass(frozen=True)
class GeneratorSetting:
    """One generator setting.

    Attributes:
        name: Short name (recorded in the benchmark JSON).
        order: n-gram order (context length ``order - 1``), 1..6.
        smoothing: ``add_k`` (add-``k`` over the vocabulary, backing off to shorter
            contexts only when a context was never seen) or ``backoff`` (relative
            frequencies of the longest seen context, no smoothing mass).
        decoding: ``temperature`` (seen-continuation weights ``count ** (1 / T)``) or
            ``top_k`` (the ``top_k`` most frequent continuations, by count).
        add_k: The ``k`` of add-k smoothing.
        temperature: Decoding temperature.
        top_k: Continuations kept by top-k decoding.
    """

    name: str
    order: int
    smoothing: Literal["add_k", "backoff"]
    decoding: Literal["temperature", "top_k"]
    add_k: float = 0.01
    temperature: float = 1.0
    top_k: int = 20

    def __post_init__(self) -> None:
        if not 1 <= self.order <= 6:
            raise ValueError("generator order must be in 1..6")
        if self.add_k <= 0 or self.temperature <= 0 or self.top_k < 1:
            raise ValueError("add_k and temperature must be > 0 and top_k >= 1")


#: The out-of-family detector's generators: none is a Kneser–Ney trigram, none decodes
#: ancestrally or by nucleus.  Temperature 1.3 / top-k 10 are ordinary decoding settings
#: (Fan et al. 2018 use top-k 10), chosen before any benchmark run, not tuned on it.
OUT_OF_FAMILY = (
    GeneratorSetting("bigram_addk_t1.3", 2, "add_k", "temperature", add_k=0.01, temperature=1.3),
    GeneratorSetting("4gram_backoff_top10", 4, "backoff", "top_k", top_k=10),
)


class CountNGramGenerator:
    """An n-gram sampler of one :class:`GeneratorSetting`.

    Args:
        setting: The setting.
        vocabulary: Words a uniform add-k draw may produce (``</s>`` is added).
        docs: Training documents as token lists (``</s>`` appended per document).
    """

    def __init__(self, setting: GeneratorSetting, vocabulary: Sequence[str], docs: Iterable[Sequence[str]]) -> None:
        self.setting = setting
        self._vocab = [w for w in vocabulary if w not in ("<unk>", _EOS)] + [_EOS]
        n = setting.order
        # counts[context] = Counter(next word); every context length 0..n-1 (backoff needs them)
        self._counts: dict[tuple[str, ...], Counter[str]] = {}
        for doc in docs:
            seq = ["<s>"] * (n - 1) + list(doc) + [_EOS]
            for i in range(n - 1, len(seq)):
                for k in range(n):
                    self._counts.setdefault(tuple(seq[i - k : i]), Counter())[seq[i]] += 1
        self._tables: dict[tuple[str, ...], tuple[list[str], list[float]]] = {}

    def _table(self, context: tuple[str, ...]) -> tuple[list[str], list[float]]:
        table = self._tables.get(context)
        if table is None:
            s = self.setting
            items = sorted(self._counts[context].items(), key=lambda kv: (-kv[1], kv[0]))
            if s.decoding == "top_k":
                items = items[: s.top_k]
                weights = [float(c) for _, c in items]
            else:
                weights = [float(c) ** (1.0 / s.temperature) for _, c in items]
            cum = np.cumsum(weights).tolist()
            table = ([w for w, _ in items], cum)
            self._tables[context] = table
        return table

    def _context(self, history: Sequence[str]) -> tuple[str, ...]:
        for k in range(self.setting.order - 1, -1, -1):  # longest seen context first
            ctx = tuple(history[len(history) - k :]) if k else ()
            if ctx in self._counts:
                return ctx
        return ()

    def _draw(self, history: Sequence[str], rng: np.random.Generator) -> str:
        s = self.setting
        ctx = self._context(history)
        if s.smoothing == "add_k":
            seen = sum(self._counts[ctx].values())
            # P(seen part) = c(ctx) / (c(ctx) + k·V); the rest is uniform over the vocabulary
            if rng.random() >= seen / (seen + s.add_k * len(self._vocab)):
                return self._vocab[int(rng.integers(len(self._vocab)))]
        words, cum = self._table(ctx)
        return words[min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(words) - 1)]

    def sample(self, rng: np.random.Generator, max_tokens: int) -> list[str]:
        """One document of at most ``max_tokens`` tokens (``</s>`` not included)."""
        history = ["<s>"] * (self.setting.order - 1)
        out: list[str] = []
        while len(out) < max_tokens:
            w = self._draw(history, rng)
            if w == _EOS:
                break
            out.append(w)
            history.append(w)
        return out
