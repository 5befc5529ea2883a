"""Tier rules: order, conditions, labels and weights (no Beam)."""

from __future__ import annotations

import pytest

from tailguard.filters.tiers import (
    TierRule,
    assign_tier,
    default_rules,
    format_lineage,
    label_from_lineage,
)

LABELS = {
    "verified_human": ("*/books/*",),
    "curated_synthetic": ("*/synthetic/*",),
    "licensed": ("*/licensed/*",),
}


def _tier(
    source: str = "/in/crawl/a.jsonl",
    domain: str | None = None,
    crawl_date: str | None = None,
    ai_score: float | None = None,
    rules: tuple[TierRule, ...] | None = None,
):
    return assign_tier(
        default_rules() if rules is None else rules,
        source=source,
        domain=domain,
        crawl_date=crawl_date,
        ai_score=ai_score,
        source_labels=LABELS,
        publisher_domains=("nature.com",),
    )


@pytest.mark.parametrize(
    ("kwargs", "tier", "label"),
    [
        ({"source": "/in/books/austen.jsonl"}, "tier1", "verified_human"),
        ({"source": "/in/licensed/feed.jsonl"}, "tier2", "licensed"),
        (
            {"source": "/in/synthetic/gen.jsonl"},
            "curated_synthetic",
            "curated_synthetic",
        ),
        ({"ai_score": 0.95}, "synthetic_detected", "ai_detected"),
        ({"crawl_date": "2021-06-01T10:00:00Z"}, "tier1", "pre_cutoff"),
        ({"crawl_date": "2023-06-01"}, "tier3", "unknown_provenance"),
        ({"domain": "www2.nature.com"}, "tier2", "publisher"),
        ({"ai_score": 0.7}, "tier3", "ai_uncertain"),
        ({"ai_score": 0.1}, "tier2", "ai_checked"),
        ({}, "tier3", "unknown_provenance"),
    ],
    ids=[
        "declared_human",
        "licensed",
        "curated_synthetic",
        "ai_detected",
        "pre_cutoff",
        "post_cutoff_unlabelled",
        "publisher_subdomain",
        "review_band",
        "ai_checked",
        "unknown",
    ],
)
def test_default_rules_give_the_seed_tiers(kwargs: dict, tier: str, label: str) -> None:
    verdict = _tier(**kwargs)
    assert (verdict.tier, verdict.label) == (tier, label)


def test_declared_human_source_wins_over_a_high_ai_score() -> None:
    assert _tier(source="/in/books/a.jsonl", ai_score=0.99).tier == "tier1"


def test_high_ai_score_wins_over_a_pre_cutoff_date() -> None:
    assert _tier(crawl_date="2020-01-01", ai_score=0.99).tier == "synthetic_detected"


def test_review_band_is_down_weighted() -> None:
    verdict = _tier(ai_score=0.6)
    assert verdict.weight == 0.5
    assert _tier(ai_score=0.2).weight == 1.0


def test_first_matching_custom_rule_wins() -> None:
    rules = (
        TierRule("archive", "tier1", sources=("*/archive/*",)),
        TierRule("archive_late", "tier3", sources=("*/archive/*",), crawl_from="2023-01-01"),
    )
    assert _tier(source="/x/archive/a.jsonl", crawl_date="2024-01-01", rules=rules).rule == "archive"


def test_all_conditions_of_a_rule_must_hold() -> None:
    rules = (TierRule("old_news", "tier1", domains=("bbc.co.uk",), crawl_before="2022-11-30"),)
    assert _tier(domain="bbc.co.uk", crawl_date="2021-01-01", rules=rules).rule == "old_news"
    assert _tier(domain="bbc.co.uk", crawl_date="2023-01-01", rules=rules).rule == "unknown_provenance"
    assert _tier(domain="bbc.co.uk", crawl_date=None, rules=rules).rule == "unknown_provenance"


def test_counter_counts_the_tier() -> None:
    counts: dict[str, int] = {}

    def inc(name: str, n: int = 1) -> None:
        counts[name] = counts.get(name, 0) + n

    assign_tier(
        default_rules(),
        source="/in/books/a",
        domain=None,
        crawl_date=None,
        ai_score=None,
        source_labels=LABELS,
        inc=inc,
    )
    assert counts == {"tier1": 1}


def test_lineage_entry_round_trips_the_label() -> None:
    entry = format_lineage(_tier(source="/in/books/a.jsonl"))
    assert entry.startswith("tier1 label=verified_human rule=verified_human weight=1 (")
    assert label_from_lineage(entry) == "verified_human"
    assert label_from_lineage(None) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tier": "gold"},
        {"weight": -1.0},
        {"ai_score_min": 1.5},
        {"crawl_before": "30/11/2022"},
    ],
    ids=["unknown_tier", "negative_weight", "score_out_of_range", "bad_date"],
)
def test_invalid_rule_raises(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        TierRule(**{"name": "r", "tier": "tier1", **kwargs})
