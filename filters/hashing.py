"""Deterministic hashing: every sampling, ordering and sharding decision in tailguard.

All randomness in the pipeline is a pure function of (document id, seed), so the
same input and config give the same output on any runner and worker count.
Never use ``random`` or process ids for data decisions.
"""

from __future__ import annotations

import hashlib

__all__ = ["shard_of", "stable_hash64", "unit_interval"]

_MAX64 = float(1 << 64)


def stable_hash64(*parts: object) -> int:
    """Return a 64-bit hash of ``parts`` that is stable across processes and runs.

    Args:
        parts: Values joined by their ``str()`` with a separator that cannot occur
            in ids produced by tailguard.

    Returns:
        An integer in ``[0, 2**64)``.
    """
    data = "\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def unit_interval(*parts: object) -> float:
    """Return a deterministic pseudo-uniform value in ``[0, 1)`` for ``parts``."""
    return stable_hash64(*parts) / _MAX64


def shard_of(doc_id: str, seed: int, num_shards: int, copy: int = 0) -> int:
    """Return the output shard of one (copy of a) document.

    Args:
        doc_id: Document id.
        seed: Run seed.
        num_shards: Number of output shards (> 0).
        copy: Copy index when a document is written more than once.

    Returns:
        A shard index in ``[0, num_shards)``.
    """
    return stable_hash64("shard", seed, doc_id, copy) % num_shards
