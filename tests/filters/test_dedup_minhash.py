"""MinHash signatures and LSH parameters agree with datasketch."""

from __future__ import annotations

import datasketch
import numpy as np
import pytest
from datasketch.lsh import MinHashLSH

from tailguard.filters.dedup import (
    EMPTY_HASH,
    LshParams,
    MinHasher,
    band_hashes,
    band_keys,
    candidate_buckets,
    estimate_jaccard,
    optimal_params,
    word_shingles,
)

TEXTS = [
    "the quick brown fox jumps over the lazy dog " * 3,
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
    "short",
    "Ünïcödé wörds — and ПРИВЕТ мир, 你好 世界 with digits 123 456",
]


def _datasketch_signature(shingles: set[bytes], num_perm: int, seed: int) -> np.ndarray:
    reference = datasketch.MinHash(num_perm=num_perm, seed=seed)
    for shingle in shingles:
        reference.update(shingle)
    return reference.hashvalues


@pytest.mark.parametrize("num_perm", [16, 128, 256])
@pytest.mark.parametrize("seed", [1, 7, 12345])
def test_signatures_equal_datasketch_minhash(num_perm: int, seed: int) -> None:
    sets = [word_shingles(t, 3) for t in TEXTS]
    signatures = MinHasher(num_perm, seed).signatures(sets)
    for shingles, signature in zip(sets, signatures):
        assert np.array_equal(signature, _datasketch_signature(shingles, num_perm, seed))


def test_huge_document_is_signed_block_by_block_with_the_same_result() -> None:
    words = " ".join(f"w{i}" for i in range(5000))
    shingles = word_shingles(words, 2)  # 4999 shingles x 1024 perms > one block
    assert np.array_equal(MinHasher(1024, 3).signature(shingles), _datasketch_signature(shingles, 1024, 3))


def test_empty_shingle_set_gives_the_datasketch_sentinel() -> None:
    signatures = MinHasher(32, 1).signatures([set(), {b"a b c"}])
    assert (signatures[0] == EMPTY_HASH).all()
    assert not (signatures[1] == EMPTY_HASH).all()


def test_estimated_jaccard_tracks_the_true_jaccard() -> None:
    left = {f"s{i}".encode() for i in range(1000)}
    right = {f"s{i}".encode() for i in range(200, 1200)}  # true J = 800 / 1200
    hasher = MinHasher(512, 1)
    assert estimate_jaccard(hasher.signature(left), hasher.signature(right)) == pytest.approx(2 / 3, abs=0.07)


@pytest.mark.parametrize("num_perm", [64, 128, 256])
@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
def test_bands_and_rows_equal_datasketch_minhashlsh(num_perm: int, threshold: float) -> None:
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    params = optimal_params(threshold, num_perm)
    assert (params.bands, params.rows) == (lsh.b, lsh.r)


@pytest.mark.parametrize("weights", [(0.1, 0.9), (0.3, 0.7), (0.9, 0.1)])
def test_weighted_bands_and_rows_equal_datasketch(weights: tuple[float, float]) -> None:
    lsh = MinHashLSH(threshold=0.7, num_perm=128, weights=weights)
    params = optimal_params(0.7, 128, *weights)
    assert (params.bands, params.rows) == (lsh.b, lsh.r)


def test_band_keys_are_one_per_band_and_differ_by_band_index() -> None:
    params = optimal_params(0.7, 128)
    signature = np.zeros(128, dtype=np.uint32)  # identical slots in every band
    keys = band_keys(signature, params)
    assert len(keys) == params.bands == len(set(keys))


def test_band_hashes_match_exactly_when_the_same_band_has_the_same_values() -> None:
    rng = np.random.default_rng(3)
    sigs = rng.integers(0, 1 << 32, size=(4, 12), dtype=np.uint32)
    sigs[1] = sigs[0]  # identical signature: every band matches
    sigs[2, 3:6] = sigs[0, 3:6]  # only band 1 matches document 0
    sigs[3, 0:3] = sigs[0, 3:6]  # document 0's band-1 values, but in band 0
    keys = band_hashes(sigs, LshParams(bands=4, rows=3))
    assert keys.shape == (4, 4, 2) and keys.dtype == np.uint64
    assert np.array_equal(keys[1], keys[0])
    assert [bool((keys[2, b] == keys[0, b]).all()) for b in range(4)] == [False, True, False, False]
    assert not (keys[3, 0] == keys[0, 1]).all()  # the band index is part of the key
    assert np.array_equal(band_hashes(sigs[2:3], LshParams(4, 3))[0], keys[2])  # independent of the batch


def test_candidate_buckets_return_only_keys_shared_by_two_or_more_entries() -> None:
    keys = np.array([[5, 1], [7, 2], [5, 1], [5, 2], [7, 2], [7, 2], [9, 9]], dtype=np.uint64)
    buckets = [sorted(b.tolist()) for b in candidate_buckets(keys)]
    assert buckets == [[0, 2], [1, 4, 5]]
    assert candidate_buckets(keys[:1]) == []
