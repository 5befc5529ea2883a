"""LSH banding: bands x rows from a Jaccard threshold, and band keys of a signature.

``optimal_params`` reimplements datasketch's ``_optimal_param``: it picks the
(bands, rows) with ``bands * rows <= num_perm`` that minimise
``fp_weight * FP + fn_weight * FN``, where FP is the integral of the candidate
probability ``1 - (1 - s**r)**b`` below the threshold and FN the integral of its
complement above it (Leskovec, Rajaraman & Ullman, *Mining of Massive Datasets*,
§3.4; datasketch ``lsh.py``).  The integrals are computed with composite
Simpson's rule instead of scipy's ``quad``; tests check the choice agrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LshParams", "band_hashes", "band_keys", "candidate_buckets", "candidate_probability", "optimal_params"]

_GRID = 2001  # odd, for Simpson's rule


@dataclass(frozen=True)
class LshParams:
    """Banding of a MinHash signature.

    Attributes:
        bands: Number of bands (hash tables).
        rows: Signature slots per band.
    """

    bands: int
    rows: int

    def __post_init__(self) -> None:
        if self.bands < 1 or self.rows < 1:
            raise ValueError("bands and rows must be >= 1")


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Return the probability that two documents with Jaccard ``similarity`` share a band."""
    return float(1.0 - (1.0 - similarity**rows) ** bands)


def _simpson(y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    h = (hi - lo) / (y.shape[-1] - 1)
    return h / 3.0 * (y[..., 0] + y[..., -1] + 4.0 * y[..., 1:-1:2].sum(-1) + 2.0 * y[..., 2:-1:2].sum(-1))


def optimal_params(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> LshParams:
    """Return the (bands, rows) datasketch's MinHashLSH would choose.

    Args:
        threshold: Jaccard threshold in (0, 1).
        num_perm: Signature length.
        false_positive_weight: Weight of the false-positive integral.
        false_negative_weight: Weight of the false-negative integral.

    Returns:
        The minimising :class:`LshParams` (first found on ties, in datasketch's
        iteration order: bands ascending, then rows ascending).
    """
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    b = np.array([p[0] for p in pairs], dtype=np.float64)[:, None]
    r = np.array([p[1] for p in pairs], dtype=np.float64)[:, None]
    below = np.linspace(0.0, threshold, _GRID)[None, :]
    above = np.linspace(threshold, 1.0, _GRID)[None, :]
    fp = _simpson(1.0 - (1.0 - below**r) ** b, 0.0, threshold)
    fn = _simpson((1.0 - above**r) ** b, threshold, 1.0)
    error = fp * false_positive_weight + fn * false_negative_weight
    best = int(np.argmin(error))
    return LshParams(*pairs[best])


def band_keys(signature: np.ndarray, params: LshParams) -> list[bytes]:
    """Return one key per band: the band index (2 bytes) + its slots as little-endian bytes."""
    sig = np.ascontiguousarray(signature, dtype="<u4")
    rows = params.rows
    return [band.to_bytes(2, "big") + sig[band * rows : (band + 1) * rows].tobytes() for band in range(params.bands)]


# splitmix64 finalizer (Steele, Lea & Flood, "Fast splittable pseudorandom number
# generators", OOPSLA 2014): a bijective 64-bit mixer, vectorised with numpy's
# wrap-around uint64 arithmetic, so band hashes are the same on every platform.
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    return x ^ (x >> np.uint64(31))


def band_hashes(signatures: np.ndarray, params: LshParams) -> np.ndarray:
    """Return a 128-bit key per (document, band): two independent 64-bit hashes.

    The key of band ``b`` hashes ``(b, its rows slots)``, so equal keys mean equal
    band values in the same band up to a 2**-128 collision chance per pair of
    buckets (~1e-19 for 10**10 band entries) — the compact replacement of the
    :func:`band_keys` bytes.

    Args:
        signatures: ``uint32`` array ``(docs, num_perm)``.
        params: Bands x rows.

    Returns:
        ``uint64`` array ``(docs, bands, 2)``.
    """
    sig = np.asarray(signatures, dtype=np.uint32)
    docs, bands, rows = sig.shape[0], params.bands, params.rows
    values = sig[:, : bands * rows].reshape(docs, bands, rows).astype(np.uint64)
    out = np.empty((docs, bands, 2), dtype=np.uint64)
    band_index = np.arange(1, bands + 1, dtype=np.uint64)[None, :]
    with np.errstate(over="ignore"):
        for half in range(2):
            h = _mix64(band_index * _GOLDEN + np.uint64(half + 1)) * np.ones((docs, 1), dtype=np.uint64)
            for row in range(rows):
                h = _mix64(h ^ (values[:, :, row] + _GOLDEN * np.uint64(row + 1)))
            out[:, :, half] = h
    return out


def candidate_buckets(keys: np.ndarray) -> list[np.ndarray]:
    """Return the entries of every bucket that has at least two entries.

    Sorts the 128-bit keys once and cuts the runs of equal keys, so singleton
    buckets (most of them) are dropped without a Python loop over entries.

    Args:
        keys: ``uint64`` array ``(entries, 2)`` of band keys.

    Returns:
        One index array (into ``keys``) per bucket with >= 2 entries, ordered by key.
    """
    if keys.shape[0] < 2:
        return []
    order = np.lexsort((keys[:, 1], keys[:, 0]))
    ordered = keys[order]
    boundary = np.empty(order.size, dtype=bool)
    boundary[0] = True
    np.any(ordered[1:] != ordered[:-1], axis=1, out=boundary[1:])
    starts = np.flatnonzero(boundary)
    ends = np.append(starts[1:], order.size)
    big = np.flatnonzero(ends - starts >= 2)
    return [order[starts[i] : ends[i]] for i in big.tolist()]
