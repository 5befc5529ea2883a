"""Vectorised shingling and MinHash signing for a batch of texts (one-permutation hashing).

The whole batch is handled by numpy, with no Python loop over words, shingles or
permutations:

1. **Tokens.**  The (case-folded) texts are joined, encoded as UTF-32 and every
   code point is classified with a lookup table built from the same ``\\w`` regex
   as :func:`~tailguard.filters.dedup.shingles.split_words`, so the token
   boundaries are exactly those of the Python tokenizer (tested on real text).
   Each token is hashed as a polynomial over its code points (prefix sums,
   wrap-around ``uint64``) followed by the splitmix64 finalizer.
2. **Shingles.**  A word ``n``-gram's hash mixes its ``n`` token hashes, each
   multiplied by its own odd constant (so order matters); a text with fewer than
   ``n`` tokens gives one shingle of all its tokens, as in ``word_shingles``.
   Character shingles use the code points of the white-space-collapsed text as
   tokens.  Shingle hashes are 64 bits: two different shingles of a corpus share a
   hash with probability ~2⁻⁶⁴ per pair, so hashed sets have the true Jaccard.
3. **Signature.**  One-permutation hashing with optimal densification
   (Li, Owen & Zhang, "One Permutation Hashing", NIPS 2012; Shrivastava,
   "Optimal Densification for Fast and Accurate Minwise Hashing", ICML 2017):
   each shingle hash goes to one of ``num_perm`` bins (its high 32 bits, range
   reduced by multiply-shift) and every bin keeps the minimum of the low 32 bits —
   O(shingles + num_perm) per document instead of O(shingles × num_perm).  An empty
   bin ``j`` copies the value of the first non-empty bin in the fixed pseudo-random
   probe sequence ``probe(j, 1), probe(j, 2), ...`` (the same sequence for every
   document), which keeps ``P[slot equal] = Jaccard`` for every slot.

The signature is a ``uint32`` array ``(docs, num_perm)`` with the same meaning as
the classic one (fraction of equal slots estimates Jaccard), so banding,
verification and clustering are unchanged; it is *not* bit-identical to
``datasketch.MinHash`` (:class:`~tailguard.filters.dedup.minhash.MinHasher` is,
and stays available as ``dedup_near.signer: datasketch``).

Elements in: texts.  Out: signatures and a flag per text (``False`` = no shingles).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from tailguard.filters.dedup.minhash import EMPTY_HASH
from tailguard.filters.dedup.shingles import ShingleType

__all__ = ["BatchSigner", "shingle_hashes", "word_char_table"]

_U64 = np.uint64
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_GOLDEN = _U64(0x9E3779B97F4A7C15)
# Odd base of the token polynomial (any odd 64-bit constant; this one is the
# 64-bit FNV prime, chosen only because it is a well-known odd constant).
_BASE = _U64(0x100000001B3)
# Code points per chunk of a batch: bounds the temporary arrays (~25 bytes per
# code point) whatever the batch or document size.
_CHUNK_CODE_POINTS = 1 << 20
_MAX_CODE_POINT = 0x110000


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer (Steele, Lea & Flood, OOPSLA 2014), wrap-around uint64."""
    x = x ^ (x >> _U64(30))
    x = x * _MIX1
    x = x ^ (x >> _U64(27))
    x = x * _MIX2
    return x ^ (x >> _U64(31))


@lru_cache(maxsize=1)
def word_char_table() -> np.ndarray:
    """Return a bool per code point: ``True`` where Python's ``\\w`` matches it.

    Built from the regex itself (its runs over all code points), so it cannot
    drift from :func:`~tailguard.filters.dedup.shingles.split_words`.
    """
    table = np.zeros(_MAX_CODE_POINT, dtype=bool)
    every = "".join(map(chr, range(_MAX_CODE_POINT)))
    for match in re.finditer(r"\w+", every):
        table[match.start() : match.end()] = True
    return table


# _BASE is odd, so it has an inverse modulo 2**64.
_BASE_INVERSE = _U64(pow(int(_BASE), -1, 1 << 64))


@lru_cache(maxsize=4)
def _powers(length: int, inverse: bool) -> np.ndarray:
    """``_BASE ** i`` (or ``_BASE ** -i``) for ``i < length``, wrap-around uint64, built by doubling."""
    base = _BASE_INVERSE if inverse else _BASE
    out = np.ones(1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        while out.size < length:
            out = np.concatenate([out, out * (out[-1] * base)])
    return out[:length]


def _power_table(length: int, inverse: bool = False) -> np.ndarray:
    size = 1 << 16
    while size < length:
        size *= 2
    return _powers(size, inverse)


def _shingle_constants(n: int) -> np.ndarray:
    """One odd multiplier per position of an n-gram (order-sensitive combination)."""
    return _mix64(np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN) | _U64(1)


def _code_points(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return the code points of the texts joined by one space, and each text's start."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    joined = " ".join(texts).encode("utf-32-le", "surrogatepass")
    return np.frombuffer(joined, dtype="<u4"), starts


def _word_tokens(code_points: np.ndarray, doc_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (token hash, doc index) of every ``\\w+`` run.

    The token polynomial is ``sum c_i * BASE**(i - start)`` over its code points
    ``c_i`` (positions ``i`` in the chunk): one segmented sum of ``c_i * BASE**i``
    over the chunk and one multiplication by ``BASE**-start`` per token, with no
    per-character offsets.
    """
    count = code_points.size
    padded = np.zeros(count + 2, dtype=bool)
    word_char_table().take(code_points.astype(np.intp), out=padded[1:-1])
    boundaries = np.flatnonzero(padded[1:] != padded[:-1])  # start, end, start, end, ...
    if boundaries.size == 0:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    tok_start, tok_end = boundaries[0::2], boundaries[1::2]
    with np.errstate(over="ignore"):
        terms = np.zeros(count + 1, dtype=np.uint64)  # one spare slot: an end may equal count
        np.multiply(code_points, _power_table(count)[:count], out=terms[:count])
        # sums over [start, end) and [end, next start): the even ones are the tokens
        poly = np.add.reduceat(terms, boundaries)[0::2] * _power_table(count, inverse=True)[tok_start]
        token_hash = _mix64(poly ^ ((tok_end - tok_start).astype(np.uint64) * _GOLDEN))
    return token_hash, _doc_of(tok_start, doc_starts)


def _doc_of(positions: np.ndarray, doc_starts: np.ndarray) -> np.ndarray:
    """Doc index of sorted ``positions`` (a few searches per document, not one per position)."""
    firsts = np.searchsorted(positions, doc_starts)
    counts = np.diff(firsts, append=positions.size)
    return np.repeat(np.arange(doc_starts.size, dtype=np.int64), counts)


def _char_tokens(code_points: np.ndarray, doc_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (code point hash, doc index) of every character (the texts are already collapsed)."""
    docs = _doc_of(np.arange(code_points.size, dtype=np.int64), doc_starts)
    # the separator after each text (the position before the next start) is not a token
    keep = np.ones(code_points.size, dtype=bool)
    keep[doc_starts[1:] - 1] = False
    with np.errstate(over="ignore"):
        token_hash = _mix64(code_points[keep].astype(np.uint64) * _GOLDEN + _U64(1))
    return token_hash, docs[keep]


def _windows(token_hash: np.ndarray, docs: np.ndarray, n: int, salt: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    """Return (shingle hash, doc index) of every n-gram of consecutive tokens of one document.

    A document with fewer than ``n`` tokens gives one shingle of all its tokens.
    ``docs`` is non-decreasing (tokens in text order).
    """
    count = token_hash.size
    if count == 0:
        return token_hash, docs
    constants = _shingle_constants(n)
    parts, part_docs = [], []
    full = count - n + 1
    with np.errstate(over="ignore"):
        if full > 0:
            acc = token_hash[:full] * constants[0]
            for j in range(1, n):
                acc += token_hash[j : j + full] * constants[j]
            complete = docs[n - 1 :] == docs[:full]
            parts.append(acc[complete])
            part_docs.append(docs[:full][complete])
        doc_tokens = np.bincount(docs)
        short = np.flatnonzero((doc_tokens > 0) & (doc_tokens < n))
        if short.size:  # one shingle of all the tokens of a short document
            first = np.searchsorted(docs, short)
            acc = np.zeros(short.size, dtype=np.uint64)
            for j in range(n - 1):
                inside = j < doc_tokens[short]
                acc += np.where(inside, token_hash[np.minimum(first + j, count - 1)] * constants[j], _U64(0))
            parts.append(acc)
            part_docs.append(short)
        return _mix64(np.concatenate(parts) ^ salt), np.concatenate(part_docs)


def shingle_hashes(
    texts: Sequence[str], kind: ShingleType = "word", n: int = 5, lowercase: bool = True, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Return 64-bit hashes of every shingle of every text.

    Same shingles as :func:`~tailguard.filters.dedup.shingles.shingles` (word or
    character ``n``-grams after the same case folding / white-space collapse),
    hashed instead of encoded; repeated shingles of a text appear repeatedly.

    Args:
        texts: Document texts.
        kind: ``word`` or ``char`` shingles.
        n: Tokens per shingle (>= 1).
        lowercase: Case-fold before shingling.
        seed: Hash seed (different seeds give independent hashes of the same shingles).

    Returns:
        ``(hashes uint64, doc index int64)`` (not ordered).
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    if not texts:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    if kind == "char":
        texts = [" ".join(t.split()) for t in texts]
    if lowercase:
        texts = [t.casefold() for t in texts]
    code_points, doc_starts = _code_points(texts)
    tokens = _word_tokens if kind == "word" else _char_tokens
    token_hash, docs = tokens(code_points, doc_starts)
    return _windows(token_hash, docs, n, _salt(seed, n))


def _salt(seed: int, n: int) -> np.uint64:
    with np.errstate(over="ignore"):
        return _mix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64) * _GOLDEN + _U64(n))[0]


def _probe(bins: np.ndarray, attempt: int, num_perm: int, salt: np.uint64) -> np.ndarray:
    """Bin probed by empty bin ``bins`` at ``attempt`` (same for every document)."""
    with np.errstate(over="ignore"):
        h = _mix64(bins.astype(np.uint64) * _GOLDEN + _U64(attempt) * _MIX2 + salt)
    return ((h >> _U64(32)) * _U64(num_perm) >> _U64(32)).astype(np.int64)


class BatchSigner:
    """Signs batches of texts: vectorised shingling + one-permutation MinHash.

    Args:
        num_perm: Signature length (bins).
        seed: Hash seed: different seeds give independent signatures.
        kind: ``word`` or ``char`` shingles.
        ngram: Tokens per shingle.
        lowercase: Case-fold before shingling.
    """

    def __init__(
        self, num_perm: int = 128, seed: int = 1, kind: ShingleType = "word", ngram: int = 5, lowercase: bool = True
    ) -> None:
        if num_perm < 1:
            raise ValueError("num_perm must be >= 1")
        self.num_perm = num_perm
        self.kind: ShingleType = kind
        self.ngram = ngram
        self.lowercase = lowercase
        self.seed = seed
        self._probe_salt = _salt(seed, 0x5DEECE66D)

    def sign(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Return the signatures of ``texts`` and which texts had at least one shingle.

        Args:
            texts: Document texts (any number; long batches are processed in chunks).

        Returns:
            ``(signatures uint32 (len(texts), num_perm), has_shingles bool (len(texts),))``;
            a text without shingles gets all :data:`EMPTY_HASH`.
        """
        out = np.full((len(texts), self.num_perm), EMPTY_HASH, dtype=np.uint32)
        has = np.zeros(len(texts), dtype=bool)
        start = 0
        while start < len(texts):
            stop, size = start, 0
            while stop < len(texts) and (stop == start or size + len(texts[stop]) <= _CHUNK_CODE_POINTS):
                size += len(texts[stop]) + 1
                stop += 1
            out[start:stop], has[start:stop] = self._sign_chunk(texts[start:stop])
            start = stop
        return out, has

    def _sign_chunk(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        k = self.num_perm
        hashes, docs = shingle_hashes(texts, self.kind, self.ngram, self.lowercase, self.seed)
        cells = np.full(len(texts) * k, EMPTY_HASH, dtype=np.uint32)
        filled = np.zeros(len(texts) * k, dtype=bool)
        if hashes.size:
            bins = ((hashes >> _U64(32)) * _U64(k) >> _U64(32)).astype(np.int64)
            slot = docs * k + bins
            np.minimum.at(cells, slot, (hashes & _U64(0xFFFFFFFF)).astype(np.uint32))
            filled[slot] = True
        table, occupied = cells.reshape(-1, k), filled.reshape(-1, k)
        has: np.ndarray = np.asarray(occupied.any(axis=1))
        signatures = table.copy()
        rows, bins_empty = np.nonzero(~occupied & has[:, None])
        attempt = 0
        while rows.size:  # optimal densification: walk each empty bin's probe sequence
            attempt += 1
            donor = _probe(bins_empty, attempt, k, self._probe_salt)
            found = occupied[rows, donor]
            signatures[rows[found], bins_empty[found]] = table[rows[found], donor[found]]
            rows, bins_empty = rows[~found], bins_empty[~found]
        return signatures, has
