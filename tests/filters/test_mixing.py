"""Hash sampler, plan, repeat cap, tail-mass guard and token counters (no Beam)."""

from __future__ import annotations

import pytest

from tailguard.filters.hashing import stable_hash64
from tailguard.filters.mixing import (
    RARITY_SCALE,
    WEIGHT_SCALE,
    ComponentSpec,
    CountMinSketch,
    EmptyComponentError,
    MixingTargetError,
    MixItem,
    RarityOptions,
    doc_events,
    event_bucket,
    importance_weight,
    mix_in_memory,
    select_component,
)
from tailguard.filters.tokens import EstimateTokenCounter, make_token_counter

SEED_MIX = (
    ComponentSpec("human", 0.7),
    ComponentSpec("web", 0.2),
    ComponentSpec("synthetic", 0.1),
)


def _items(n_human: int, n_web: int, n_syn: int, rare_every: int = 0) -> list[MixItem]:
    items = []
    for name, count in (("human", n_human), ("web", n_web), ("synthetic", n_syn)):
        for i in range(count):
            tokens = 20 + stable_hash64("tokens", name, i) % 600
            weight = WEIGHT_SCALE * (1 + stable_hash64("w", name, i) % 3) // 2  # 0.5, 1.0, 1.5
            rare = rare_every and i % rare_every == 0 and name == "human"
            items.append(MixItem(f"{name}-{i}", name, tokens, weight, RARITY_SCALE if rare else 0))
    return items


def _realised(items: list[MixItem], copies: dict[str, int]) -> dict[str, float]:
    tokens: dict[str, int] = {}
    for item in items:
        tokens[item.component] = tokens.get(item.component, 0) + item.tokens * copies[item.id]
    total = sum(tokens.values())
    return {name: value / total for name, value in tokens.items()}


def test_doc_events_are_a_pure_function_of_id_and_seed() -> None:
    assert doc_events("a", 1, WEIGHT_SCALE, 3) == doc_events("a", 1, WEIGHT_SCALE, 3)
    assert doc_events("a", 1, WEIGHT_SCALE, 3) != doc_events("a", 2, WEIGHT_SCALE, 3)
    assert doc_events("a", 1, 0, 3) == []


def test_event_buckets_are_monotone() -> None:
    values = sorted(stable_hash64("v", i) / 2**64 * 10 ** (i % 7 - 3) for i in range(2000))
    buckets = [event_bucket(v) for v in values]
    assert buckets == sorted(buckets)


def test_mixing_does_not_depend_on_input_order() -> None:
    items = _items(2000, 3000, 800)
    _, copies = mix_in_memory(items, SEED_MIX, seed=3, default_max_repeats=4)
    shuffled = sorted(items, key=lambda item: stable_hash64("shuffle", item.id))
    _, copies_shuffled = mix_in_memory(shuffled, SEED_MIX, seed=3, default_max_repeats=4)
    assert copies == copies_shuffled


def test_realised_token_shares_are_within_half_a_percent_on_a_large_input() -> None:
    items = _items(20_000, 30_000, 8_000)
    plan, copies = mix_in_memory(items, SEED_MIX, seed=11, default_max_repeats=4)
    shares = _realised(items, copies)
    for spec in SEED_MIX:
        assert abs(shares[spec.name] - spec.target_share) <= 0.005, spec.name
    assert max(copies.values()) <= 4
    assert plan.renormalised is False


def test_anchor_component_up_samples_a_small_pool_by_repetition() -> None:
    items = _items(5000, 5000, 300)  # synthetic needs ~2x its pool
    _, copies = mix_in_memory(items, SEED_MIX, seed=5, default_max_repeats=4, anchor_component="human")
    shares = _realised(items, copies)
    assert abs(shares["synthetic"] - 0.1) <= 0.005
    assert max(copies[i.id] for i in items if i.component == "synthetic") > 1
    assert max(copies.values()) <= 4


def test_target_beyond_the_repeat_cap_raises_with_needed_and_available_tokens() -> None:
    items = _items(5000, 5000, 50)
    with pytest.raises(MixingTargetError) as excinfo:
        mix_in_memory(items, SEED_MIX, seed=5, default_max_repeats=2, anchor_component="human")
    error = excinfo.value
    assert error.component == "synthetic"
    assert error.needed_tokens > error.available_tokens
    assert "synthetic" in str(error) and "max_repeats=2" in str(error)
    assert isinstance(error, ValueError)


def test_empty_component_is_renormalised_and_reported() -> None:
    items = [i for i in _items(3000, 3000, 0)]
    plan, copies = mix_in_memory(items, SEED_MIX, seed=1, default_max_repeats=4)
    assert plan.empty_components == ("synthetic",)
    assert plan.renormalised
    assert plan.shares["human"] == pytest.approx(0.7 / 0.9)
    assert abs(_realised(items, copies)["human"] - 0.7 / 0.9) <= 0.005


def test_empty_component_raises_when_configured() -> None:
    with pytest.raises(EmptyComponentError, match="synthetic"):
        mix_in_memory(
            _items(100, 100, 0),
            SEED_MIX,
            seed=1,
            default_max_repeats=4,
            on_empty_component="error",
        )


def _tail_share(items: list[MixItem], copies: dict[str, int]) -> float:
    total = sum(i.tokens * copies[i.id] for i in items)
    return sum(i.tokens * copies[i.id] for i in items if i.rarity_q) / total


def test_tail_mass_guard_caps_up_weighting_at_the_reference_tail_mass() -> None:
    items = _items(20_000, 20_000, 5_000, rare_every=10)
    reference = 0.09
    strong = RarityOptions(strength=8.0, reference_tail_mass=reference)
    plan, copies = mix_in_memory(items, SEED_MIX, seed=2, default_max_repeats=8, rarity=strong)
    assert plan.tail["status"] == "capped"
    assert 0 < plan.gamma < 8.0
    assert plan.tail["expected_tail_mass_at_full_strength"] > reference
    assert _tail_share(items, copies) <= reference + 0.005
    # Uncontrolled up-weighting (reference never reached) overshoots the reference.
    uncontrolled = RarityOptions(strength=8.0, reference_tail_mass=1.0)
    _, copies_free = mix_in_memory(items, SEED_MIX, seed=2, default_max_repeats=8, rarity=uncontrolled)
    assert _tail_share(items, copies_free) > reference + 0.01


def test_tail_guard_measures_the_reference_on_the_human_pool() -> None:
    items = _items(5000, 5000, 1000, rare_every=10)
    plan, _ = mix_in_memory(
        items,
        SEED_MIX,
        seed=2,
        default_max_repeats=4,
        rarity=RarityOptions(strength=1.0),
    )
    human = [i for i in items if i.component == "human"]
    expected = sum(i.tokens for i in human if i.rarity_q) / sum(i.tokens for i in human)
    assert plan.tail["reference_tail_mass"] == pytest.approx(expected)


def test_select_component_takes_the_first_match_and_honours_ai_ranges() -> None:
    web = ComponentSpec("web", 0.5, tiers=("tier3",), ai_score_max=0.5, include_unscored=True)
    anything = ComponentSpec("rest", 0.5)
    assert select_component((web, anything), "tier3", None, None) is web
    assert select_component((web, anything), "tier3", None, 0.7) is anything
    assert select_component((web,), "tier1", None, 0.1) is None


def test_importance_weight_follows_one_minus_score_to_alpha() -> None:
    assert importance_weight(0.25, 2.0) == pytest.approx(0.5625)
    assert importance_weight(None, 2.0) == 1.0
    assert importance_weight(0.9, 0.0) == 1.0


def test_count_min_sketch_never_under_counts_and_merges() -> None:
    a, b = CountMinSketch(width=64, depth=3), CountMinSketch(width=64, depth=3)
    for i in range(500):
        a.add(f"d{i % 50}")
    b.add("d1", 7)
    a.merge(b)
    assert a.estimate("d1") >= 17
    assert all(a.estimate(f"d{i}") >= 10 for i in range(50))


def test_cl100k_counter_counts_real_tokens_offline() -> None:
    assert make_token_counter("cl100k").count("Hello world, this is tailguard.") == 8


def test_estimate_is_close_to_cl100k_on_english() -> None:
    text = "It is a truth universally acknowledged, that a single man in possession of a good fortune, " * 20
    real = make_token_counter("cl100k").count(text)
    assert 0.8 * real <= EstimateTokenCounter().count(text) <= 1.25 * real
