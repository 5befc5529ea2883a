"""Shingles, normalisation and the pure clustering helpers."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.filters.dedup import (
    MinHasher,
    bucket_edges,
    cap_bucket,
    char_shingles,
    label_id,
    large_star,
    normalize_text,
    normalize_url,
    sample_bucket,
    small_star,
    split_words,
    survivor_label,
    text_key,
    word_shingles,
)
from tailguard.filters.dedup.components import settle_children


def test_words_are_split_by_regex_and_casefolded() -> None:
    assert split_words("Hello, World! It's 2024.") == ["hello", "world", "it", "s", "2024"]


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("a b c d", 2, {b"a b", b"b c", b"c d"}),
        ("a b", 5, {b"a b"}),  # shorter than n: one shingle of all words
        ("  ,,, ", 3, set()),
        ("A b A b A", 2, {b"a b", b"b a"}),
    ],
    ids=["bigrams", "short-text", "no-words", "repeats-collapse"],
)
def test_word_shingles(text: str, n: int, expected: set[bytes]) -> None:
    assert word_shingles(text, n) == expected


def test_char_shingles_collapse_whitespace() -> None:
    assert char_shingles("ab  c", 3) == {b"ab ", b"b c"}


def test_exact_key_ignores_case_and_whitespace_but_not_words() -> None:
    assert text_key("Hello   World\n") == text_key("hello world")
    assert text_key("hello world") != text_key("hello there world")
    assert normalize_text("Héllo, wörld 42!", "nfkc_lower_punct") == "héllo wörld 00"


def test_url_normalisation_drops_tracking_fragments_and_www() -> None:
    assert normalize_url("https://www.Example.com:443/a?b=2&utm_source=x&a=1#top") == "http://example.com/a?a=1&b=2"
    assert normalize_url("not a url") is None


def test_survivor_label_prefers_tier_then_quality_then_date_then_id() -> None:
    prefs = ("gold", "silver")
    labels = {
        "silver-q9": survivor_label("silver-q9", tier="silver", quality=0.9, tier_preference=prefs),
        "gold-q1": survivor_label("gold-q1", tier="gold", quality=0.1, tier_preference=prefs),
        "gold-q5-late": survivor_label(
            "gold-q5-late", tier="gold", quality=0.5, crawl_date="2024-01-01", tier_preference=prefs
        ),
        "gold-q5-early": survivor_label(
            "gold-q5-early", tier="gold", quality=0.5, crawl_date="2019-01-01", tier_preference=prefs
        ),
        "gold-noq": survivor_label("gold-noq", tier="gold", tier_preference=prefs),
    }
    ranked = [label_id(label) for label in sorted(labels.values())]
    assert ranked == ["gold-q5-early", "gold-q5-late", "gold-q1", "gold-noq", "silver-q9"]


def test_negative_and_positive_quality_sort_descending() -> None:
    scores = [-2.5, -0.1, 0.0, 0.3, 7.0]
    labels = sorted(survivor_label(str(s), quality=s) for s in scores)
    assert [float(label_id(x)) for x in labels] == sorted(scores, reverse=True)


def test_verified_bucket_keeps_connectivity_of_similar_pairs_only() -> None:
    hasher = MinHasher(128, 1)
    base = {f"s{i}".encode() for i in range(100)}
    near = {f"s{i}".encode() for i in range(5, 105)}
    other = {f"t{i}".encode() for i in range(100)}
    members = [
        (name, hasher.signature(s).astype("<u4").tobytes()) for name, s in (("a", base), ("b", near), ("c", other))
    ]
    verdict = bucket_edges(members, cutoff=0.7)
    assert verdict.edges == [("b", "a")]
    assert verdict.compared == 3 and verdict.rejected == 2
    assert bucket_edges(members, cutoff=None).edges == [("b", "a"), ("c", "a")]


def test_hot_bucket_sample_is_capped_and_deterministic() -> None:
    members = [(f"n{i:03d}", b"") for i in range(100)]
    kept, size = sample_bucket(iter(members), b"\x00\x01", cap=10)
    again, _ = sample_bucket(reversed(members), b"\x00\x01", cap=10)
    assert size == 100 and len(kept) == 10 and kept == again and kept == sorted(kept)


def test_star_steps_point_nodes_at_the_neighbourhood_minimum() -> None:
    assert sorted(large_star("b", ["a", "c", "d"])[0]) == [("c", "a"), ("d", "a")]
    assert large_star("a", ["b"]) == ([("b", "a")], 0)  # already a star: no change
    assert sorted(small_star("d", ["b", "a"])[0]) == [("b", "a"), ("d", "a")]


def test_children_of_a_non_root_stay_separate() -> None:
    assert list(settle_children("p", False, [("x", 1), ("y", 2)])) == [("x", "p"), ("y", None)]
    assert list(settle_children("p", True, [("x", 1)])) == [("x", None)]


def test_signature_bytes_round_trip() -> None:
    sig = MinHasher(16, 1).signature({b"x"})
    assert np.array_equal(np.frombuffer(sig.astype("<u4").tobytes(), dtype="<u4"), sig)


def test_cap_bucket_keeps_the_same_members_as_the_streaming_sample() -> None:
    labels = [f"n{i:03d}" for i in range(100)]
    kept = cap_bucket(list(reversed(labels)), b"\x00\x01".hex(), cap=10)
    streamed, _ = sample_bucket(iter((label, b"") for label in labels), b"\x00\x01", cap=10)
    assert kept == [label for label, _ in streamed] and len(kept) == 10
    assert cap_bucket(["b", "a"], "x", cap=10) == ["a", "b"]  # small buckets: all members, sorted
