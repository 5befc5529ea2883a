"""Rarity signals: a count-min sketch of languages/domains, out-of-vocabulary share, the rarity score ``r``.

Part of :mod:`tailguard.filters.mixing` (the package docstring explains the method).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from tailguard.filters.hashing import stable_hash64

__all__ = ["CountMinSketch", "RarityOptions", "oov_share", "rarity_score"]

# Letters only: digits and underscores are not vocabulary words.
_WORD = re.compile(r"[^\W\d_]+")


class CountMinSketch:
    """A count-min sketch of string keys (Cormode & Muthukrishnan 2005): mergeable, never under-counts.

    Used for domain document counts, which are too many for a side-input dict.
    """

    def __init__(self, width: int = 1 << 14, depth: int = 4) -> None:
        if width <= 0 or depth <= 0:
            raise ValueError("CountMinSketch: width and depth must be > 0")
        self.width = width
        self.depth = depth
        self.table = np.zeros((depth, width), dtype=np.int64)

    def _cells(self, key: str) -> list[int]:
        return [stable_hash64("cms", row, key) % self.width for row in range(self.depth)]

    def add(self, key: str, n: int = 1) -> None:
        """Count ``key`` ``n`` times."""
        for row, col in enumerate(self._cells(key)):
            self.table[row, col] += n

    def merge(self, other: CountMinSketch) -> CountMinSketch:
        """Add ``other``'s counts into this sketch; return self."""
        if (other.width, other.depth) != (self.width, self.depth):
            raise ValueError("CountMinSketch: cannot merge sketches of different shapes")
        self.table += other.table
        return self

    def estimate(self, key: str) -> int:
        """Return an upper bound on the count of ``key`` (exact without collisions)."""
        return int(min(self.table[row, col] for row, col in enumerate(self._cells(key))))


@dataclass(frozen=True)
class RarityOptions:
    """How rarity is measured and how far up-weighting may go.

    Attributes:
        strength: Largest ``gamma``: weights are multiplied by ``1 + gamma·r``; 0 = off.
        rare_language_share: A language with a smaller token share of the input is rare.
        rare_domain_docs: A domain with at most this many documents is rare; 0 = signal off.
        oov_saturation: Out-of-vocabulary word share at which the vocabulary signal is 1.
        tail_threshold: Documents with ``r >= tail_threshold`` form the tail.
        reference_tail_mass: Reference tail token share; 0 = measure it on ``reference_component``.
        reference_component: Component whose (unweighted) pool is the human reference.
    """

    strength: float = 1.0
    rare_language_share: float = 0.02
    rare_domain_docs: int = 0
    oov_saturation: float = 0.2
    tail_threshold: float = 0.5
    reference_tail_mass: float = 0.0
    reference_component: str = "human"

    def __post_init__(self) -> None:
        if self.strength < 0:
            raise ValueError("rarity strength must be >= 0")
        if not 0.0 <= self.rare_language_share <= 1.0 or not 0.0 <= self.reference_tail_mass <= 1.0:
            raise ValueError("rare_language_share and reference_tail_mass must be in [0, 1]")
        if not 0.0 < self.tail_threshold <= 1.0 or not 0.0 < self.oov_saturation <= 1.0:
            raise ValueError("tail_threshold and oov_saturation must be in (0, 1]")
        if self.rare_domain_docs < 0:
            raise ValueError("rare_domain_docs must be >= 0")


def oov_share(text: str, vocabulary: frozenset[str]) -> float | None:
    """Return the share of words of ``text`` (lower-cased letter runs) not in ``vocabulary``.

    Args:
        text: Document text.
        vocabulary: Reference vocabulary (lower case); empty = signal off.

    Returns:
        The out-of-vocabulary share, or ``None`` when there is no vocabulary or no word.
    """
    if not vocabulary:
        return None
    words = _WORD.findall(text.lower())
    if not words:
        return None
    return sum(1 for w in words if w not in vocabulary) / len(words)


def rarity_score(
    options: RarityOptions,
    *,
    language_share: float | None,
    domain_docs: int | None,
    oov: float | None,
) -> tuple[float, dict[str, float]]:
    """Return the rarity ``r`` in [0, 1] of one document (max over its signals) and the signals.

    Args:
        options: Rarity options.
        language_share: Token share of the document's language in the input (``None``: unknown).
        domain_docs: Documents of the document's domain (``None``: unknown or signal off).
        oov: Out-of-vocabulary word share (``None``: no reference vocabulary).

    Returns:
        ``(r, {signal: value})`` with only the signals that were available.
    """
    signals: dict[str, float] = {}
    if language_share is not None and options.rare_language_share > 0:
        signals["language"] = 1.0 if language_share < options.rare_language_share else 0.0
    if domain_docs is not None and options.rare_domain_docs > 0:
        signals["domain"] = 1.0 if domain_docs <= options.rare_domain_docs else 0.0
    if oov is not None:
        signals["vocabulary"] = min(1.0, oov / options.oov_saturation)
    return (max(signals.values()) if signals else 0.0), signals
