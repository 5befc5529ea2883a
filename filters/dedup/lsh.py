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

__all__ = ["LshParams", "band_keys", "candidate_probability", "optimal_params"]

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
