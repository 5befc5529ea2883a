"""Vectorised shingling and one-permutation MinHash (``filters/dedup/signing.py``) on real text.

Real text: the Python language reference shipped with every Python
(``pydoc_data.topics``) and, when ``../shared/data`` is present, Jane Austen's
novels from ``../shared/data/human``.  The checks compare against exact
shingle sets (``word_shingles``), the MinHash standard error and the LSH
candidate probability ``1 - (1 - J**r)**b``.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from pathlib import Path
from pydoc_data.topics import topics

import numpy as np
import pytest

from tailguard.filters.dedup import (
    LshParams,
    band_hashes,
    candidate_probability,
    char_shingles,
    estimate_jaccard,
    split_words,
    word_shingles,
)
from tailguard.filters.dedup.signing import BatchSigner, shingle_hashes

_AUSTEN = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "human" / "jane-austen-6-novels.jsonl.gz"


def _pydoc_texts() -> list[str]:
    return [text for _, text in sorted(topics.items()) if len(text.split()) >= 60]


def _austen_words() -> list[str]:
    if not _AUSTEN.exists():
        pytest.skip("../shared/data/human/jane-austen-6-novels.jsonl.gz not present")
    words: list[str] = []
    with gzip.open(_AUSTEN, "rt", encoding="utf-8") as handle:
        for line in handle:
            words += json.loads(line)["text"].split()
            if len(words) > 400_000:
                break
    return words


def _per_doc(hashes: np.ndarray, docs: np.ndarray, count: int) -> list[set[int]]:
    out: list[set[int]] = [set() for _ in range(count)]
    for value, doc in zip(hashes.tolist(), docs.tolist()):
        out[doc].add(value)
    return out


def test_tokens_are_the_regex_words_of_real_text() -> None:
    texts = _pydoc_texts()[:80] + ["Straße ÉCOLE naïve café — ПРИВЕТ мир 你好 ٣٤٥ x_y"]
    hashes, docs = shingle_hashes(texts, n=1)
    tokens = _per_doc(hashes, docs, len(texts))
    for text, got in zip(texts, tokens):
        words = split_words(text)
        assert np.count_nonzero(docs == texts.index(text)) == len(words)
        assert len(got) == len(set(words))


@pytest.mark.parametrize("n", [1, 3, 5, 9])
def test_hashed_word_shingles_are_the_exact_shingle_sets(n: int) -> None:
    texts = _pydoc_texts()[:60]
    hashes, docs = shingle_hashes(texts, n=n)
    sets = _per_doc(hashes, docs, len(texts))
    exact = [word_shingles(t, n) for t in texts]
    assert [len(s) for s in sets] == [len(s) for s in exact]
    for i in range(0, 50, 7):  # intersections: same shingles give the same hash across documents
        for j in range(i + 1, 60, 11):
            assert len(sets[i] & sets[j]) == len(exact[i] & exact[j])


def test_hashed_char_shingles_are_the_exact_shingle_sets() -> None:
    texts = [t[:600] for t in _pydoc_texts()[:30]] + ["ab  c", "  ", "abc"]
    hashes, docs = shingle_hashes(texts, kind="char", n=3)
    sets = _per_doc(hashes, docs, len(texts))
    assert [len(s) for s in sets] == [len(char_shingles(t, 3)) for t in texts]


def test_text_shorter_than_n_words_gives_one_shingle_and_no_words_gives_none() -> None:
    hashes, docs = shingle_hashes(["a b", "A   B!", "  ,,, ", "one"], n=5)
    per_doc = _per_doc(hashes, docs, 4)
    assert per_doc[0] == per_doc[1] and len(per_doc[0]) == 1
    assert per_doc[2] == set() and len(per_doc[3]) == 1
    signatures, has = BatchSigner(32).sign(["a b", "  ,,, ", "A b"])
    assert has.tolist() == [True, False, True]
    assert np.array_equal(signatures[0], signatures[2])


def test_signature_does_not_depend_on_the_batch_or_its_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _pydoc_texts()[:40]
    signer = BatchSigner(128, 3)
    alone = np.stack([signer.sign([t])[0][0] for t in texts[:5]])
    together, _ = signer.sign(texts)
    monkeypatch.setattr("tailguard.filters.dedup.signing._CHUNK_CODE_POINTS", 5000)
    chunked, _ = signer.sign(texts)
    assert np.array_equal(together[:5], alone)
    assert np.array_equal(chunked, together)
    assert not np.array_equal(BatchSigner(128, 4).sign(texts[:1])[0], together[:1])


def test_lone_surrogates_and_huge_documents_are_signed() -> None:
    signatures, has = BatchSigner(64).sign(["bad \udc80 surrogate text here", "w " * 300_000])
    assert has.all() and signatures.shape == (2, 64)


def _mutated_pairs(words: list[str], count: int, seed: int) -> list[tuple[str, str]]:
    """Real passages of 150-500 words and a copy with some words replaced by other real words."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        size = rng.randint(150, 500)
        start = rng.randrange(len(words) - size)
        base = words[start : start + size]
        rate = rng.uniform(0.005, 0.12)
        copy = [rng.choice(words) if rng.random() < rate else w for w in base]
        pairs.append((" ".join(base), " ".join(copy)))
    return pairs


def _true_jaccard(a: str, b: str) -> float:
    left, right = word_shingles(a), word_shingles(b)
    return len(left & right) / len(left | right)


def _check_estimates(pairs: list[tuple[str, str]], num_perm: int) -> None:
    signer = BatchSigner(num_perm, 1)
    left, _ = signer.sign([a for a, _ in pairs])
    right, _ = signer.sign([b for _, b in pairs])
    true = np.array([_true_jaccard(a, b) for a, b in pairs])
    est = np.array([estimate_jaccard(x, y) for x, y in zip(left, right)])
    sigma = np.sqrt(true * (1 - true) / num_perm)
    # individual estimates: within 4 standard errors (plus one slot of rounding)
    outside = np.count_nonzero(np.abs(est - true) > 4 * sigma + 1 / num_perm)
    assert outside <= max(1, len(pairs) // 100)
    # unbiased: the mean error is within 4 standard errors of the mean
    assert abs(float(np.mean(est - true))) <= 4 * float(np.sqrt(np.mean(sigma**2) / len(pairs)))


def test_estimated_jaccard_matches_true_jaccard_on_pydoc_text() -> None:
    words = " ".join(_pydoc_texts()).split()
    _check_estimates(_mutated_pairs(words, 400, 1), 128)


def test_estimated_jaccard_matches_true_jaccard_on_austen() -> None:
    _check_estimates(_mutated_pairs(_austen_words(), 400, 2), 128)


def test_lsh_candidate_rate_follows_the_theoretical_curve_on_real_text() -> None:
    words = " ".join(_pydoc_texts()).split()
    pairs = _mutated_pairs(words, 1500, 3)
    params = LshParams(bands=20, rows=6)  # the default operating point (threshold 0.7)
    signer = BatchSigner(128, 1)
    left = band_hashes(signer.sign([a for a, _ in pairs])[0], params)
    right = band_hashes(signer.sign([b for _, b in pairs])[0], params)
    candidate = (left == right).all(axis=2).any(axis=1)
    true = np.array([_true_jaccard(a, b) for a, b in pairs])
    p = np.array([candidate_probability(j, params.bands, params.rows) for j in true])
    for lo, hi in ((0.3, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 1.0)):
        chosen = (true >= lo) & (true < hi)
        if chosen.sum() < 30:
            continue
        expected, observed = p[chosen].sum(), candidate[chosen].sum()
        spread = math.sqrt(float((p[chosen] * (1 - p[chosen])).sum()))
        assert abs(observed - expected) <= 4 * spread + 2, (lo, hi, observed, expected)
