"""Vectorised MinHash signatures, bit-compatible with ``datasketch.MinHash``.

Uses datasketch's default ``affine32`` permutation scheme (datasketch >= 2.0):
each shingle is hashed with ``sha1_hash32`` (first 4 bytes of SHA-1, little
endian), pre-mixed with the 32-bit MurmurHash3 finalizer, then permuted with
``a_k * h + b_k mod 2**32`` (``a_k`` odd) where ``(a, b)`` are drawn from
``numpy.random.RandomState(seed)`` exactly as datasketch draws them.  The
signature of a document equals ``datasketch.MinHash(num_perm, seed)`` updated
with the same shingles, but a whole batch of documents is signed with a few
numpy operations instead of one Python call per shingle and permutation.

Elements in: shingle sets (``bytes``).  Out: ``uint32`` arrays ``(docs, num_perm)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

import numpy as np

__all__ = ["EMPTY_HASH", "MinHasher", "estimate_jaccard", "hash_shingles", "permutations"]

#: Value of every slot of an empty document's signature (datasketch's sentinel).
EMPTY_HASH = np.uint32(0xFFFFFFFF)

# MurmurHash3 fmix32 constants, as in datasketch.minhash._FMIX_CONSTANTS[32].
_M1 = np.uint32(0x85EBCA6B)
_M2 = np.uint32(0xC2B2AE35)
# Keep each (num_perm x shingles) block near 4M uint32 (16 MB) so memory per
# worker does not grow with batch or document size.
_BLOCK_CELLS = 1 << 22


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return datasketch's affine32 permutation parameters ``(a, b)`` for ``(num_perm, seed)``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def hash_shingles(shingles: Collection[bytes]) -> np.ndarray:
    """Return ``fmix32(sha1_hash32(s))`` for every shingle as a ``uint32`` array."""
    raw = b"".join(hashlib.sha1(s).digest()[:4] for s in shingles)
    hv = np.frombuffer(raw, dtype="<u4").astype(np.uint32)
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * _M1
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * _M2
    return hv ^ (hv >> np.uint32(16))


def estimate_jaccard(left: np.ndarray, right: np.ndarray) -> float:
    """Return the MinHash estimate of Jaccard similarity (fraction of equal slots)."""
    return float(np.count_nonzero(left == right)) / float(left.shape[-1])


class MinHasher:
    """Signs batches of shingle sets with ``num_perm`` permutations.

    Args:
        num_perm: Number of permutations (signature length).
        seed: Permutation seed (same meaning as in datasketch).
    """

    def __init__(self, num_perm: int = 128, seed: int = 1) -> None:
        if num_perm < 1:
            raise ValueError("num_perm must be >= 1")
        self.num_perm = num_perm
        self.seed = seed
        a, b = permutations(num_perm, seed)
        self._a = a[:, None]
        self._b = b[:, None]

    def signature(self, shingles: Collection[bytes]) -> np.ndarray:
        """Return the signature of one shingle set (``uint32[num_perm]``)."""
        return self.signatures([shingles])[0]

    def signatures(self, batch: Sequence[Collection[bytes]]) -> np.ndarray:
        """Return signatures of a batch of shingle sets.

        Args:
            batch: One shingle set per document (empty sets are allowed).

        Returns:
            ``uint32`` array of shape ``(len(batch), num_perm)``; an empty set
            gives all :data:`EMPTY_HASH`, like datasketch.
        """
        out = np.full((len(batch), self.num_perm), EMPTY_HASH, dtype=np.uint32)
        max_cols = max(1, _BLOCK_CELLS // self.num_perm)
        pending: list[int] = []
        pending_hashes: list[np.ndarray] = []
        pending_cols = 0
        for index, doc in enumerate(batch):
            if not doc:
                continue
            hv = hash_shingles(doc)
            if hv.size > max_cols:  # one huge document: fold it block by block
                out[index] = self._min_over_blocks(hv, max_cols)
                continue
            if pending_cols + hv.size > max_cols:
                self._flush(out, pending, pending_hashes)
                pending, pending_hashes, pending_cols = [], [], 0
            pending.append(index)
            pending_hashes.append(hv)
            pending_cols += hv.size
        if pending:
            self._flush(out, pending, pending_hashes)
        return out

    def _permute(self, hv: np.ndarray) -> np.ndarray:
        return self._a * hv[None, :] + self._b  # uint32 wrap-around is the mod 2**32

    def _flush(self, out: np.ndarray, indices: list[int], hashes: list[np.ndarray]) -> None:
        starts = np.cumsum([0] + [h.size for h in hashes[:-1]])
        mins = np.minimum.reduceat(self._permute(np.concatenate(hashes)), starts, axis=1)
        out[indices] = mins.T

    def _min_over_blocks(self, hv: np.ndarray, max_cols: int) -> np.ndarray:
        result = np.full(self.num_perm, EMPTY_HASH, dtype=np.uint32)
        for start in range(0, hv.size, max_cols):
            np.minimum(result, self._permute(hv[start : start + max_cols]).min(axis=1), out=result)
        return result
