"""Collapse indicators on hand-made corpora; mergeable accumulators equal a single pass."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tailguard.filters.collapse.indicators import (
    CollapseAccumulator,
    IndicatorSettings,
    accumulate,
    distinct_n,
    jensen_shannon,
    mattr,
    near_dup_share,
    reference_metrics,
    unigram_entropy,
)
from tailguard.filters.collapse.reference import build_reference
from tailguard.filters.document import Document


def _doc(i: int, text: str, **kw: Any) -> Document:
    return Document(id=f"d{i:03d}", text=text, **kw)


def test_distinct_n_counts_unique_ngrams_over_all_ngrams() -> None:
    toks = ["a", "b", "a", "b"]
    assert distinct_n(toks, 1) == 0.5
    assert distinct_n(toks, 2) == pytest.approx(2 / 3)
    assert distinct_n(toks, 5) == 0.0


def test_mattr_is_ttr_below_the_window_and_one_for_all_distinct() -> None:
    assert mattr(["a", "a", "b", "b"]) == 0.5
    assert mattr([str(i) for i in range(1200)], window=500) == 1.0
    assert mattr(["x", "y"] * 600, window=500) == pytest.approx(2 / 500)


def test_entropy_and_jensen_shannon_on_known_tables() -> None:
    assert unigram_entropy({"a": 1, "b": 1, "c": 1, "d": 1}) == pytest.approx(2.0)
    assert jensen_shannon({"a": 3, "b": 1}, {"a": 6, "b": 2}) == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon({"a": 1}, {"b": 5}) == pytest.approx(1.0)


def test_near_dup_share_flags_both_members_of_a_near_duplicate_pair() -> None:
    base = [f"w{i}" for i in range(30)]
    near = base[:-1] + ["thirteen"]
    other = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    assert near_dup_share([base, near, other]) == pytest.approx(2 / 3)


def test_reference_metrics_on_a_hand_made_reference() -> None:
    ref = build_reference([" ".join(["common"] * 89 + ["rare1", "rare2", "rare3"] + ["mid"] * 8)])
    counts = {"common": 8, "rare1": 1, "mid": 1, "new": 10}
    m = reference_metrics(counts, ref)
    assert m["ref_vocab_coverage"] == pytest.approx(3 / 5)
    assert m["rare_type_survival"] == pytest.approx(1 / 3)
    assert m["tail_mass"] == pytest.approx(1 / 20)  # only rare1 is in the tail set
    assert m["ref_tail_mass"] == pytest.approx(0.03)
    assert 0 < m["jsd_to_reference"] < 1


def test_accumulator_reports_shares_and_duplicates() -> None:
    docs = [
        _doc(0, "the same text here", ai_score=0.9, tier="tier3"),
        _doc(1, "the same text here", ai_score=0.1, tier="tier1"),
        _doc(2, "something else entirely now", ai_score=0.2, tier="tier1", sample_weight=2.0),
        _doc(3, "and a fourth one too", tier="tier2", dup_cluster_size=3),
    ]
    acc = accumulate(docs, IndicatorSettings(ai_threshold=0.5, human_tiers=("tier1",)))["all"]
    r = acc.result()
    assert r["docs"] == 4 and r["tokens"] == 17
    assert r["exact_dup_rate"] == pytest.approx(0.25)
    assert r["ai_above_threshold_share"] == pytest.approx(1 / 3)
    assert sum(r["ai_hist"]) == 3
    assert r["verified_human_token_share"] == pytest.approx(8 / 17)
    assert r["upweighted_token_share"] == pytest.approx(4 / 17)
    assert r["dup_cluster_share"] == pytest.approx(0.25)
    assert "tail_mass" not in r  # reference-free run


def _corpus() -> list[Document]:
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho".split()
    docs = []
    for i in range(60):
        text = " ".join(words[(i * 7 + j * (i % 5 + 1)) % len(words)] for j in range(20 + i % 13))
        docs.append(_doc(i, text, ai_score=(i % 10) / 10, tier=("tier1", "tier3")[i % 2], repeats=1 + i % 3))
    docs.append(_doc(99, docs[0].text))
    return docs


def test_merged_accumulators_equal_a_single_pass() -> None:
    docs = _corpus()
    ref = build_reference([d.text for d in docs[:20]])
    settings = IndicatorSettings(sample_tokens=300, sample_max_docs=50, seed=3)
    single = accumulate(docs, settings, ref)["all"].result(ref)
    parts = [docs[0::3], docs[1::3], docs[2::3]]
    accs = []
    for part in parts:
        acc = CollapseAccumulator(settings)
        for d in reversed(part):
            acc.add(d, reference=ref)
        accs.append(acc)
    merged = accs[2].merge(accs[0]).merge(accs[1]).result(ref)
    assert merged.keys() == single.keys()
    for key, value in single.items():
        if isinstance(value, float) and not math.isnan(value):
            assert merged[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert merged[key] == value, key


def test_sample_metrics_use_a_fixed_size_sample() -> None:
    docs = _corpus()
    small = accumulate(docs, IndicatorSettings(sample_tokens=200))["all"].result()
    assert small["sample_tokens"] == 200
