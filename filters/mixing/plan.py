"""The mixing plan: per-component totals, the sampling rate that hits each token target, the tail-mass guard.

Part of :mod:`tailguard.filters.mixing` (the package docstring explains the method).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from tailguard.filters.mixing.components import (
    RARITY_SCALE,
    ComponentSpec,
    EmptyComponentError,
    MixingTargetError,
    quantise,
)
from tailguard.filters.mixing.rarity import RarityOptions

__all__ = ["ComponentTotals", "MixItem", "MixPlan", "final_weight", "plan_mix"]


@dataclass(frozen=True, slots=True)
class MixItem:
    """What the sampler needs to know about one document.

    Attributes:
        id: Document id.
        component: Component name.
        tokens: Token count.
        weight_q: Base weight (tier × importance), fixed point (:data:`WEIGHT_SCALE`).
        rarity_q: Rarity ``r``, fixed point (:data:`RARITY_SCALE`).
    """

    id: str
    component: str
    tokens: int
    weight_q: int
    rarity_q: int = 0


@dataclass
class ComponentTotals:
    """Exact integer totals of one component's pool (pass 1; mergeable)."""

    documents: int = 0
    tokens: int = 0
    weighted_tokens: int = 0  # Σ t·q over documents with q > 0
    positive_tokens: int = 0  # Σ t over documents with q > 0
    tail_tokens: int = 0
    tail_weighted: int = 0
    rarity_weighted: int = 0  # Σ t·q·r
    tail_rarity_weighted: int = 0

    def add(self, item: MixItem, tail_threshold_q: int) -> ComponentTotals:
        """Count one item; return self."""
        self.documents += 1
        self.tokens += item.tokens
        tail = item.rarity_q >= tail_threshold_q and item.rarity_q > 0
        if tail:
            self.tail_tokens += item.tokens
        if item.weight_q > 0:
            tq = item.tokens * item.weight_q
            self.positive_tokens += item.tokens
            self.weighted_tokens += tq
            self.rarity_weighted += tq * item.rarity_q
            if tail:
                self.tail_weighted += tq
                self.tail_rarity_weighted += tq * item.rarity_q
        return self

    def merge(self, other: ComponentTotals) -> ComponentTotals:
        """Add ``other`` into self; return self."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def expected_tail_share(self, gamma: float) -> float:
        """Expected tail token share of this component's sample at up-weighting ``gamma``."""
        num = self.tail_weighted * RARITY_SCALE + gamma * self.tail_rarity_weighted
        den = self.weighted_tokens * RARITY_SCALE + gamma * self.rarity_weighted
        return num / den if den else 0.0


@dataclass(frozen=True)
class MixPlan:
    """Pass-1 result: token targets per component and the rarity strength.

    Attributes:
        targets: Target tokens by component (non-empty components only).
        shares: Target shares after renormalisation over non-empty components.
        max_repeats: Repeat cap by component.
        total_tokens: Target token total.
        gamma: Rarity up-weighting strength after the tail-mass guard.
        seed: Sampling seed.
        empty_components: Components with an empty pool.
        renormalised: Whether shares were renormalised because of empty components.
        tail: Tail-mass figures (reference, expected before/after the guard).
    """

    targets: dict[str, int]
    shares: dict[str, float]
    max_repeats: dict[str, int]
    total_tokens: int
    gamma: float
    seed: int
    empty_components: tuple[str, ...] = ()
    renormalised: bool = False
    tail: dict[str, float | str | None] = field(default_factory=dict)


def _corpus_tail(totals: Mapping[str, ComponentTotals], shares: Mapping[str, float], gamma: float) -> float:
    return sum(shares[name] * totals[name].expected_tail_share(gamma) for name in shares)


def plan_mix(
    totals: Mapping[str, ComponentTotals],
    components: Sequence[ComponentSpec],
    *,
    seed: int,
    default_max_repeats: int,
    total_tokens: int = 0,
    anchor_component: str = "",
    on_empty_component: Literal["renormalise", "error"] = "renormalise",
    rarity: RarityOptions | None = None,
) -> MixPlan:
    """Compute token targets per component and the guarded rarity strength.

    Args:
        totals: Pool totals by component name (missing = empty).
        components: Components in config order.
        seed: Sampling seed.
        default_max_repeats: Repeat cap for components without their own.
        total_tokens: Token budget; 0 = automatic (see ``anchor_component``).
        anchor_component: With ``total_tokens`` 0: the component used exactly once
            (total = its pool / its share).  Empty: the largest total that needs no
            repetition (``min(pool / share)``).
        on_empty_component: ``renormalise`` shares over non-empty components, or
            raise :class:`EmptyComponentError`.
        rarity: Rarity options (``None`` = no up-weighting).

    Returns:
        The plan.

    Raises:
        EmptyComponentError: For an empty component when ``on_empty_component`` is ``error``.
        MixingTargetError: When a target exceeds pool × repeat cap.
    """
    caps = {c.name: c.max_repeats or default_max_repeats for c in components}
    empty = tuple(c.name for c in components if totals.get(c.name, ComponentTotals()).weighted_tokens <= 0)
    if empty and on_empty_component == "error":
        raise EmptyComponentError(
            f"mixing component(s) {', '.join(empty)} select no documents with positive weight "
            "(set mix.on_empty_component: renormalise to mix the others)"
        )
    live = [c for c in components if c.name not in empty]
    share_sum = sum(c.target_share for c in live)
    shares = {c.name: c.target_share / share_sum for c in live} if live else {}
    pools = {c.name: totals[c.name].positive_tokens for c in live}
    if not live:
        total = 0
    elif total_tokens > 0:
        total = total_tokens
    elif anchor_component:
        if anchor_component not in shares:
            raise EmptyComponentError(f"mix.anchor_component {anchor_component!r} is empty or not a component")
        total = int(pools[anchor_component] / shares[anchor_component])
    else:
        total = int(min(pools[name] / shares[name] for name in shares))
    targets = {name: round(total * share) for name, share in shares.items()}
    for name, target in targets.items():
        if target > pools[name] * caps[name]:
            raise MixingTargetError(name, target, pools[name] * caps[name], caps[name])
    gamma, tail = _guard_tail(totals, shares, rarity)
    return MixPlan(
        targets=targets,
        shares=shares,
        max_repeats=caps,
        total_tokens=sum(targets.values()),
        gamma=gamma,
        seed=seed,
        empty_components=empty,
        renormalised=bool(empty) and bool(live),
        tail=tail,
    )


def _guard_tail(
    totals: Mapping[str, ComponentTotals],
    shares: Mapping[str, float],
    rarity: RarityOptions | None,
) -> tuple[float, dict[str, float | str | None]]:
    """Return the largest ``gamma <= strength`` whose expected corpus tail share <= the reference."""
    if rarity is None or rarity.strength == 0 or not shares:
        return 0.0, {"status": "off"}
    if rarity.reference_tail_mass > 0:
        reference: float | None = rarity.reference_tail_mass
        source = "config"
    else:
        pool = totals.get(rarity.reference_component)
        reference = pool.tail_tokens / pool.tokens if pool is not None and pool.tokens else None
        source = f"component:{rarity.reference_component}"
    before = _corpus_tail(totals, shares, 0.0)
    uncapped = _corpus_tail(totals, shares, rarity.strength)
    info: dict[str, float | str | None] = {
        "reference_tail_mass": reference,
        "reference_source": source,
        "expected_tail_mass_unweighted": before,
        "expected_tail_mass_at_full_strength": uncapped,
        "strength_configured": rarity.strength,
    }
    if reference is None:
        info["status"] = "no_reference"
        return 0.0, info
    if uncapped <= reference:
        gamma, status = rarity.strength, "within_reference"
    elif before >= reference:
        gamma, status = 0.0, "already_above_reference"
    else:
        lo, hi = 0.0, rarity.strength
        for _ in range(60):  # bisection: the expected tail share rises with gamma
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _corpus_tail(totals, shares, mid) <= reference else (lo, mid)
        gamma, status = lo, "capped"
    info["status"] = status
    info["strength_used"] = gamma
    info["expected_tail_mass"] = _corpus_tail(totals, shares, gamma)
    return gamma, info


def final_weight(item: MixItem, gamma: float) -> int:
    """Return the item's sampling weight (fixed point) after rarity up-weighting ``1 + gamma·r``."""
    if gamma == 0 or item.rarity_q == 0:
        return item.weight_q
    return quantise(item.weight_q * (1.0 + gamma * item.rarity_q / RARITY_SCALE), 1)
