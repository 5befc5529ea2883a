"""Keyed green-list watermark: detection z-test and a reference watermarking generator.

Kirchenbauer et al. 2023, "A Watermark for Large Language Models" (ICML): at each step the previous
token seeds a pseudo-random split of the vocabulary into a green list (fraction ``gamma``) and the
generator adds ``delta`` to green logits.  Detection counts green tokens in ``T`` scored tokens:
``z = (|s|_G - gamma*T) / sqrt(T * gamma * (1 - gamma))`` (their Eq. 2); ``z > 4`` is their
detection threshold (Sec. 4, Table 2: FPR ~3e-5 under the null).

Here the tokenizer is tailguard's normalised word tokenizer (:func:`.base.tokenize`), so the test
survives case, whitespace and newline changes; the hashing scheme is "LeftHash" with context width 1
(the paper's main scheme): green(prev, tok) = splitmix64(key ⊕ h(prev)·c1 ⊕ h(tok)·c2) / 2**64 < gamma.
Repeated (prev, tok) pairs are counted once (Kirchenbauer et al. 2023b, "On the Reliability of
Watermarks", Sec. 3: repeated n-grams otherwise inflate z for repetitive text).

This is for users who watermark their *own* synthetic data with the same key/scheme and want to
find it again in a crawl; it says nothing about text from other generators.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tailguard.filters.detect.base import (
    PreparedText,
    normalize_text,
    prepare,
    tokenize,
)

__all__ = [
    "BigramGenerator",
    "WatermarkConfig",
    "WatermarkDetector",
    "WatermarkResult",
    "green_mask",
]

#: Kirchenbauer et al. 2023, Sec. 4: z = 4 gives a one-sided false-positive rate of ~3e-5.
DEFAULT_Z_THRESHOLD = 4.0
_C1 = np.uint64(0x9E3779B97F4A7C15)
_C2 = np.uint64(0xBF58476D1CE4E5B9)
_C3 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class WatermarkConfig:
    """A watermark scheme (must match the generator's).

    Attributes:
        key: Secret key.
        gamma: Green-list fraction (paper: 0.25 and 0.5 studied; 0.25 default in their code).
        hashing: Only ``lefthash`` (previous token seeds the split; context width 1).
        tokenizer: Only ``tailguard_words`` (normalised word/punctuation tokens).
        ignore_repeated: Count each (previous, current) token pair once.
        z_threshold: z at or above which a text counts as watermarked.
    """

    key: str
    gamma: float = 0.25
    hashing: str = "lefthash"
    tokenizer: str = "tailguard_words"
    ignore_repeated: bool = True
    z_threshold: float = DEFAULT_Z_THRESHOLD

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("watermark.key must not be empty")
        if not 0 < self.gamma < 1:
            raise ValueError("watermark.gamma must be in (0, 1)")
        if self.hashing != "lefthash" or self.tokenizer != "tailguard_words":
            raise ValueError("watermark: only hashing 'lefthash' and tokenizer 'tailguard_words' are implemented")


@lru_cache(maxsize=1 << 18)
def _token_hash(token: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
        "big",
    )


def _key_hash(key: str) -> np.uint64:
    return np.uint64(
        int.from_bytes(
            hashlib.blake2b(key.encode(), digest_size=8, person=b"tg-wmark").digest(),
            "big",
        )
    )


def green_mask(key: str, gamma: float, prev: Sequence[str], tokens: Sequence[str]) -> np.ndarray:
    """Return whether each ``tokens[i]`` is green given ``prev[i]`` under ``key``."""
    with np.errstate(over="ignore"):
        p = np.array([_token_hash(t) for t in prev], dtype=np.uint64)
        c = np.array([_token_hash(t) for t in tokens], dtype=np.uint64)
        x = _key_hash(key) ^ (p * _C1) ^ (c * _C2)
        # splitmix64 finaliser
        x = (x ^ (x >> np.uint64(30))) * _C2
        x = (x ^ (x >> np.uint64(27))) * _C3
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53) < gamma


@dataclass(frozen=True, slots=True)
class WatermarkResult:
    """Outcome of the z-test on one text.

    Attributes:
        z: The z statistic (0 when fewer than 2 tokens were scored).
        green: Green tokens counted.
        scored: Tokens scored (``T``).
        watermarked: ``z >= z_threshold``.
    """

    z: float
    green: int
    scored: int
    watermarked: bool


class WatermarkDetector:
    """The z-test of one :class:`WatermarkConfig` (implements ``Scorer``: returns z)."""

    name = "watermark"
    feature_names = ("watermark_z",)

    def __init__(self, config: WatermarkConfig) -> None:
        self.config = config

    def test_tokens(self, tokens: Sequence[str]) -> WatermarkResult:
        """Run the z-test on a token sequence."""
        pairs = list(itertools.pairwise(tokens))
        if self.config.ignore_repeated:
            pairs = list(dict.fromkeys(pairs))
        scored = len(pairs)
        if scored < 2:
            return WatermarkResult(0.0, 0, scored, False)
        gamma = self.config.gamma
        green = int(green_mask(self.config.key, gamma, [a for a, _ in pairs], [b for _, b in pairs]).sum())
        z = (green - gamma * scored) / math.sqrt(scored * gamma * (1 - gamma))
        return WatermarkResult(z, green, scored, z >= self.config.z_threshold)

    def test(self, text: str) -> WatermarkResult:
        """Run the z-test on raw text."""
        return self.test_tokens(tokenize(normalize_text(text)))

    def features(self, docs: Sequence[PreparedText]) -> np.ndarray:
        """Return ``[[z], ...]`` for prepared documents."""
        return np.array([[self.test_tokens(d.tokens).z] for d in docs], dtype=np.float64).reshape(len(docs), 1)

    def score(self, texts: Sequence[str]) -> list[float]:
        """``Scorer`` protocol: z per text."""
        return [float(v) for v in self.features(prepare(texts))[:, 0]]


class BigramGenerator:
    """Reference generator: samples from an interpolated bigram LM, optionally watermarked.

    ``P(w | prev) ∝ exp(log(λ·P_bigram + (1-λ)·P_unigram) + delta·green(prev, w))`` over the ``vocab_size``
    most frequent training tokens — the soft watermark of Kirchenbauer et al. 2023 (Alg. 2) applied to
    a tiny LM, so the detector can be tested on real watermarked and unwatermarked text.
    """

    def __init__(self, corpus: Sequence[str], vocab_size: int = 2000, mix: float = 0.7) -> None:
        token_lists = [tokenize(normalize_text(text, max_chars=10**9)) for text in corpus]
        counts = Counter(t for tokens in token_lists for t in tokens)
        self.vocab = [t for t, _ in counts.most_common(vocab_size)]
        index = {t: i for i, t in enumerate(self.vocab)}
        v = len(self.vocab)
        self._unigram = np.array([counts[t] for t in self.vocab], dtype=np.float64)
        self._unigram /= self._unigram.sum()
        self._bigram = np.zeros((v, v), dtype=np.float32)
        for tokens in token_lists:
            ids = [index.get(t, -1) for t in tokens]
            for a, b in itertools.pairwise(ids):
                if a >= 0 and b >= 0:
                    self._bigram[a, b] += 1
        self._mix = mix

    def generate(
        self,
        n_tokens: int,
        seed: int,
        config: WatermarkConfig | None = None,
        delta: float = 0.0,
    ) -> str:
        """Sample ``n_tokens`` tokens and return them as text.

        Args:
            n_tokens: Length of the sample.
            seed: Sampling seed (the test-only generator's randomness; not a data decision).
            config: Watermark scheme; ``None`` or ``delta == 0`` samples without a watermark.
            delta: Logit bias added to green tokens (paper: 1–10; 2 is their default).

        Returns:
            Space-joined tokens.
        """
        rng = np.random.default_rng(seed)
        prev = int(rng.choice(len(self.vocab), p=self._unigram))
        out = [self.vocab[prev]]
        for _ in range(n_tokens - 1):
            row = self._bigram[prev].astype(np.float64)
            total = row.sum()
            probs = self._mix * row / total + (1 - self._mix) * self._unigram if total else self._unigram
            logits = np.log(probs + 1e-12)
            if config is not None and delta:
                logits = logits + delta * green_mask(config.key, config.gamma, [out[-1]] * len(self.vocab), self.vocab)
            weights = np.exp(logits - logits.max())
            prev = int(rng.choice(len(self.vocab), p=weights / weights.sum()))
            out.append(self.vocab[prev])
        return " ".join(out)
