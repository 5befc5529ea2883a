"""Reference n-gram language models trained by tailguard: likelihood ratio and surprisal statistics.

Two trigram models over the normalised token stream of :mod:`.base` — one fitted on human text,
one on machine text — share a vocabulary.  Per document we report the mean log-likelihood ratio
``log P_ai(w) - log P_human(w)`` (the detector score; the "quick trigram" baseline of issue 5, cf.
the ratio of two models in Binoculars, Hans et al. 2024), its spread, and surprisal (perplexity)
statistics under each model (GLTR, Gehrmann et al. 2019; DetectGPT-style likelihood features).

Probabilities use Witten-Bell interpolation (Witten & Bell 1991; Chen & Goodman 1998 §2.5) of trigram,
bigram and add-one unigram estimates.  Counts live in hashed tables (``2**hash_bits`` buckets) so the
model has a fixed size and scoring is a few vectorised numpy gathers per *batch* — the whole batch is
concatenated, scored at once and reduced per document with ``np.add.reduceat``.  (kenlm could score
an ARPA file, but needs a Python call per token for surprisal statistics; this is faster here.)
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tailguard.filters.detect.base import PreparedText, register_detector_class

__all__ = ["HashedTrigramLM", "NgramDetector", "NgramParams"]

_BOS = 1  # id 0 = unknown word, 1 = begin of document
_MUL_BI = np.uint64(0x9E3779B97F4A7C15)
_MUL_TRI = np.uint64(0xC2B2AE3D27D4EB4F)
_SHIFT = np.uint64(20)


@dataclass(frozen=True)
class NgramParams:
    """Settings of the n-gram detector (the ``ngram`` section of the detector config).

    Attributes:
        hash_bits: log2 of the bucket count of the bigram/trigram tables (21 → 2 M buckets, 8 MB
            per table; collisions only add noise to rare n-grams).
        max_vocab: Most frequent training tokens kept (others map to ``<unk>``); must stay < 2**20.
        min_count: Tokens seen fewer times are ``<unk>``.
        max_tokens: Tokens scored per document.
    """

    hash_bits: int = 21
    max_vocab: int = 200000
    min_count: int = 2
    max_tokens: int = 400

    def __post_init__(self) -> None:
        if not 10 <= self.hash_bits <= 26:
            raise ValueError("ngram.hash_bits must be in [10, 26]")
        if not 10 <= self.max_vocab < (1 << 20):
            raise ValueError("ngram.max_vocab must be in [10, 2**20)")


def _bucket(keys: np.ndarray, mul: np.uint64, bits: int) -> np.ndarray:
    return ((keys * mul) >> np.uint64(64 - bits)).astype(np.int64)


def _ngram_keys(
    ids: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (w1w2 key, w2w3 key, w1w2w3 key, w3) for every position of a BOS-padded id array."""
    u = ids.astype(np.uint64)
    w1, w2, w3 = u[:-2], u[1:-1], u[2:]
    return (
        (w1 << _SHIFT) | w2,
        (w2 << _SHIFT) | w3,
        (((w1 << _SHIFT) | w2) << _SHIFT) | w3,
        ids[2:],
    )


class HashedTrigramLM:
    """Witten-Bell interpolated trigram counts in hashed tables (see the module docstring)."""

    def __init__(self, bits: int, vocab_size: int, tables: dict[str, np.ndarray]) -> None:
        self.bits = bits
        self.vocab_size = vocab_size
        self.c3, self.c12, self.t12 = tables["c3"], tables["c12"], tables["t12"]
        self.c23, self.c2, self.t2, self.c1 = (
            tables["c23"],
            tables["c2"],
            tables["t2"],
            tables["c1"],
        )
        self.total = float(self.c1.sum())

    @classmethod
    def fit(cls, id_arrays: Sequence[np.ndarray], bits: int, vocab_size: int) -> HashedTrigramLM:
        """Count the n-grams of BOS-padded token id arrays."""
        ids = [a for a in id_arrays if len(a) > 2]
        size = 1 << bits
        if not ids:
            zeros = np.zeros(size, np.uint32)
            vzeros = np.zeros(vocab_size, np.uint32)
            return cls(
                bits,
                vocab_size,
                {
                    "c3": zeros,
                    "c12": zeros,
                    "t12": zeros,
                    "c23": zeros,
                    "c2": vzeros,
                    "t2": vzeros,
                    "c1": vzeros,
                },
            )
        k12, k23, k123, w3 = (np.concatenate(p) for p in zip(*(_ngram_keys(a) for a in ids), strict=True))
        w2 = (k12 & np.uint64((1 << 20) - 1)).astype(np.int64)
        tables = {
            "c3": np.bincount(_bucket(k123, _MUL_TRI, bits), minlength=size),
            "c12": np.bincount(_bucket(k12, _MUL_TRI, bits), minlength=size),
            # distinct continuations of each trigram context / bigram context (Witten-Bell "types")
            "t12": np.bincount(_bucket(np.unique(k123) >> _SHIFT, _MUL_TRI, bits), minlength=size),
            "c23": np.bincount(_bucket(k23, _MUL_BI, bits), minlength=size),
            "c2": np.bincount(w2, minlength=vocab_size),
            "t2": np.bincount((np.unique(k23) >> _SHIFT).astype(np.int64), minlength=vocab_size),
            "c1": np.bincount(w3, minlength=vocab_size),
        }
        return cls(bits, vocab_size, {k: v.astype(np.uint32) for k, v in tables.items()})

    def tables(self) -> dict[str, np.ndarray]:
        """Return the count tables by name (for saving)."""
        return {
            "c3": self.c3,
            "c12": self.c12,
            "t12": self.t12,
            "c23": self.c23,
            "c2": self.c2,
            "t2": self.t2,
            "c1": self.c1,
        }

    def log2_probs(self, ids: np.ndarray) -> np.ndarray:
        """Return log2 P(w_i | w_{i-2} w_{i-1}) for positions 2.. of a BOS-padded id array."""
        k12, k23, k123, w3 = _ngram_keys(ids)
        w2 = ids[1:-1]
        p1 = (self.c1[w3] + 1.0) / (self.total + self.vocab_size)
        c2, t2 = self.c2[w2].astype(np.float64), self.t2[w2].astype(np.float64)
        c23 = self.c23[_bucket(k23, _MUL_BI, self.bits)]
        p2 = np.where(c2 > 0, (np.minimum(c23, c2) + t2 * p1) / np.maximum(c2 + t2, 1.0), p1)
        c12 = self.c12[_bucket(k12, _MUL_TRI, self.bits)].astype(np.float64)
        t12 = self.t12[_bucket(k12, _MUL_TRI, self.bits)].astype(np.float64)
        c3 = self.c3[_bucket(k123, _MUL_TRI, self.bits)]
        p3 = np.where(c12 > 0, (np.minimum(c3, c12) + t12 * p2) / np.maximum(c12 + t12, 1.0), p2)
        return np.log2(p3)


class NgramDetector:
    """Human-vs-AI trigram likelihood ratio and surprisal statistics."""

    name = "ngram"
    feature_names = (
        "ngram_llr_mean",  # mean log2 P_ai - log2 P_human per token (the detector score)
        "ngram_llr_std",
        "ngram_llr_frac_pos",
        "ngram_surprisal_human_mean",  # log2 perplexity under the human model
        "ngram_surprisal_human_std",
        "ngram_surprisal_ai_mean",
        "ngram_surprisal_ai_std",
        "ngram_oov_rate",
    )

    def __init__(
        self,
        vocab: dict[str, int],
        human: HashedTrigramLM,
        ai: HashedTrigramLM,
        params: NgramParams,
    ) -> None:
        self._vocab = vocab
        self._human = human
        self._ai = ai
        self._params = params

    def _ids(self, doc: PreparedText) -> np.ndarray:
        get = self._vocab.get
        return np.array(
            [_BOS, _BOS, *[get(t, 0) for t in doc.tokens[: self._params.max_tokens]]],
            dtype=np.int64,
        )

    @classmethod
    def train(cls, docs: Sequence[PreparedText], labels: Sequence[int], params: NgramParams) -> NgramDetector:
        """Fit the shared vocabulary and the human and AI models."""
        counts: Counter[str] = Counter()
        for doc in docs:
            counts.update(doc.tokens[: params.max_tokens])
        kept = [t for t, c in counts.most_common(params.max_vocab - 2) if c >= params.min_count]
        vocab = {t: i + 2 for i, t in enumerate(kept)}
        size = len(vocab) + 2
        probe = cls(
            vocab,
            HashedTrigramLM.fit([], 10, size),
            HashedTrigramLM.fit([], 10, size),
            params,
        )
        ids = [probe._ids(doc) for doc in docs]
        human = HashedTrigramLM.fit(
            [a for a, y in zip(ids, labels, strict=True) if y == 0],
            params.hash_bits,
            size,
        )
        ai = HashedTrigramLM.fit(
            [a for a, y in zip(ids, labels, strict=True) if y == 1],
            params.hash_bits,
            size,
        )
        return cls(vocab, human, ai, params)

    def save(self, directory: str) -> None:
        """Write ``ngram_vocab.json`` and ``ngram_{human,ai}.npz`` into ``directory``."""
        words = sorted(self._vocab, key=self._vocab.__getitem__)
        with open(os.path.join(directory, "ngram_vocab.json"), "w", encoding="utf-8") as handle:
            json.dump(words, handle, ensure_ascii=False)
        for side, lm in (("human", self._human), ("ai", self._ai)):
            np.savez_compressed(
                os.path.join(directory, f"ngram_{side}.npz"),
                bits=np.array(lm.bits),
                **lm.tables(),  # type: ignore[arg-type]
            )

    @classmethod
    def load(cls, directory: str, params: NgramParams) -> NgramDetector:
        """Load the files written by :meth:`save`."""
        with open(os.path.join(directory, "ngram_vocab.json"), encoding="utf-8") as handle:
            vocab = {t: i + 2 for i, t in enumerate(json.load(handle))}
        models = []
        for side in ("human", "ai"):
            with np.load(os.path.join(directory, f"ngram_{side}.npz")) as data:
                tables = {k: data[k] for k in data.files if k != "bits"}
                models.append(HashedTrigramLM(int(data["bits"]), len(vocab) + 2, tables))
        return cls(vocab, models[0], models[1], params)

    def features(self, docs: Sequence[PreparedText]) -> np.ndarray:
        """Return the :attr:`feature_names` columns for a batch (vectorised over the whole batch)."""
        out = np.zeros((len(docs), len(self.feature_names)), dtype=np.float64)
        if not docs:
            return out
        id_arrays = [self._ids(doc) for doc in docs]
        lengths = np.array([len(a) - 2 for a in id_arrays])
        # One BOS-padded stream for the batch: each document's own two BOS tokens reset the context.
        # Positions whose trigram straddles two documents are dropped by the mask below.
        stream = np.concatenate(id_arrays)
        keep = np.ones(len(stream) - 2, dtype=bool)
        starts = np.cumsum([0, *[len(a) for a in id_arrays[:-1]]])
        for offset in (-2, -1):
            idx = starts[1:] + offset
            keep[idx[idx >= 0]] = False
        lp_h = self._human.log2_probs(stream)[keep]
        lp_a = self._ai.log2_probs(stream)[keep]
        oov = (stream[2:][keep] == 0).astype(np.float64)
        nonempty = lengths > 0
        seg = np.cumsum([0, *lengths[:-1]])[nonempty]
        n = lengths[nonempty].astype(np.float64)

        def mean_std(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mean = np.add.reduceat(values, seg) / n
            var = np.add.reduceat(values * values, seg) / n - mean * mean
            return mean, np.sqrt(np.maximum(var, 0.0))

        llr = lp_a - lp_h
        cols = [
            *mean_std(llr),
            np.add.reduceat((llr > 0).astype(np.float64), seg) / n,
            *mean_std(-lp_h),
            *mean_std(-lp_a),
            np.add.reduceat(oov, seg) / n,
        ]
        out[nonempty] = np.stack(cols, axis=1)
        return out


register_detector_class("ngram", NgramDetector, NgramParams)
