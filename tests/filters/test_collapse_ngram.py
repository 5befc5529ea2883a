"""Kneser–Ney trigram: proper distributions, scoring, sampling, reference snapshots."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tailguard.filters.collapse.ngram import KneserNeyTrigram, Vocabulary, tokenize
from tailguard.filters.collapse.reference import build_reference, load_reference, save_reference

DOCS = [
    tokenize("the cat sat on the mat . the cat ate the rat ."),
    tokenize("a dog sat on the log . the dog saw the cat ."),
    tokenize("the rat ran . a cat ran after the rat on the mat ."),
]


@pytest.fixture(scope="module")
def model() -> KneserNeyTrigram:
    vocab = Vocabulary.from_tokens([*DOCS, ["zebra", "unseen"]])  # fixed vocab larger than the training data
    return KneserNeyTrigram(vocab, DOCS)


def test_tokenize_lowercases_and_keeps_contractions() -> None:
    assert tokenize("Don't STOP, Bob!") == ["don't", "stop", ",", "bob", "!"]


@pytest.mark.parametrize(
    "context", [("the", "cat"), ("on", "the"), ("<s>", "<s>"), ("zebra", "unseen"), ("dog", "mat")]
)
def test_next_word_probabilities_sum_to_one_over_the_vocabulary(
    model: KneserNeyTrigram, context: tuple[str, str]
) -> None:
    ids = [-1 if w == "<s>" else model.ids([w])[0] for w in context]
    dist = model.distribution(*ids)
    assert dist.sum() == pytest.approx(1.0, abs=1e-12)
    assert (dist > 0).all()  # every fixed-vocabulary word keeps some mass
    for w in range(len(model.vocab)):
        assert model.prob(ids[0], ids[1], w) == pytest.approx(dist[w], rel=1e-12)


def test_seen_continuation_is_more_probable_than_unseen(model: KneserNeyTrigram) -> None:
    the, cat, sat, zebra = model.ids(["the", "cat", "sat", "zebra"])
    assert model.prob(the, cat, sat) > 10 * model.prob(the, cat, zebra)


def test_perplexity_is_lower_on_training_text_and_outside_support_counts_unseen(model: KneserNeyTrigram) -> None:
    assert model.perplexity(DOCS) < model.perplexity([["zebra", "unseen", "zebra"]])
    assert model.outside_support([["zebra", "cat", "unseen", "never-in-vocab"]]) == pytest.approx(0.75)


def test_ancestral_sampling_matches_the_distribution(model: KneserNeyTrigram) -> None:
    the, cat = model.ids(["the", "cat"])
    rng = np.random.default_rng(1)
    draws: Counter[int] = Counter()
    n = 20_000
    for _ in range(n // 1000):
        r = rng.random(4 * 1000).tolist()
        for i in range(1000):
            draws[model._draw_ancestral(the, cat, r, 4 * i, 0.9)] += 1
    dist = model.distribution(the, cat)
    dist[0] = 0.0  # <unk> is never emitted
    dist /= dist.sum()
    tv = 0.5 * sum(abs(draws.get(w, 0) / n - dist[w]) for w in range(len(dist)))
    assert tv < 0.03


def test_nucleus_sampling_stays_inside_the_top_p_set(model: KneserNeyTrigram) -> None:
    for ctx in [("the", "cat"), ("<s>", "<s>"), ("dog", "mat")]:
        u, v = (-1 if w == "<s>" else model.ids([w])[0] for w in ctx)
        dist = model.distribution(u, v)
        dist[0] = 0.0
        order = np.argsort(-dist, kind="stable")
        cum = np.cumsum(dist[order])
        k = int(np.searchsorted(cum, 0.9 * dist.sum())) + 1
        threshold = dist[order[k - 1]]
        allowed = {int(w) for w in np.flatnonzero(dist >= threshold - 1e-15)}
        rng = np.random.default_rng(2)
        r = rng.random(4 * 2000).tolist()
        drawn = {model._draw_nucleus(u, v, r, 4 * i, 0.9) for i in range(2000)}
        assert drawn <= allowed
        assert len(drawn) >= min(2, len(allowed))


def test_sample_returns_documents_of_vocabulary_words(model: KneserNeyTrigram) -> None:
    docs = model.sample(np.random.default_rng(0), 5, "nucleus", max_tokens=30)
    assert len(docs) == 5
    assert all(w in model.vocab.words and w != "<unk>" for d in docs for w in d)
    assert all(len(d) <= 30 for d in docs)


def test_reference_snapshot_round_trips(tmp_path: Path) -> None:
    ref = build_reference([" ".join(d) for d in DOCS], sources=["test"])
    save_reference(ref, tmp_path / "ref")
    loaded = load_reference(tmp_path / "ref")
    assert loaded.snapshot_id == ref.snapshot_id
    assert loaded.counts == ref.counts and loaded.tail_types == ref.tail_types
    assert loaded.rare_types == ref.rare_types
    assert math.isclose(loaded.model.perplexity(DOCS), ref.model.perplexity(DOCS), rel_tol=1e-12)


def test_reference_tail_holds_the_rarest_types_up_to_ten_percent() -> None:
    text = " ".join(["common"] * 89 + ["rare1", "rare2", "rare3"] + ["mid"] * 8)
    ref = build_reference([text])
    assert ref.tail_types == {"rare1", "rare2", "rare3"}  # adding "mid" (8) would exceed 10 of 100 tokens
    assert ref.tail_mass_share == pytest.approx(0.03)
    assert ref.rare_types == {"rare1", "rare2", "rare3"}
