"""The hash sampler: per-document events, log-scale event buckets, boundaries, cutoffs and copies; in-memory mixing.

Part of :mod:`tailguard.filters.mixing` (the package docstring explains the method).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tailguard.filters.hashing import unit_interval
from tailguard.filters.mixing.components import RARITY_SCALE, ComponentSpec, quantise
from tailguard.filters.mixing.plan import ComponentTotals, MixItem, MixPlan, final_weight, plan_mix
from tailguard.filters.mixing.rarity import RarityOptions

__all__ = ["Boundary", "accept_copies", "doc_events", "event_bucket", "find_boundary", "find_cutoff", "mix_in_memory"]

#: Sub-buckets per power of two in the event histogram (boundary bucket ≈ 0.07 % of an octave).
_BUCKET_BITS = 10


def doc_events(doc_id: str, seed: int, weight_q: int, max_repeats: int) -> list[float]:
    """Return the event points ``s_k = (k - 1 + u) / W`` (k = 1..cap) of one document.

    The document gets one copy per accepted event; ``u`` is a pure function of
    (id, seed).  A zero weight has no events (never sampled).
    """
    if weight_q <= 0:
        return []
    u = unit_interval("mix", seed, doc_id)
    return [(k + u) / weight_q for k in range(max_repeats)]


def event_bucket(value: float) -> int:
    """Return the exact, monotone log-scale histogram bucket of an event point (``frexp``, no libm)."""
    if value <= 0:
        return 0
    mantissa, exponent = math.frexp(value)  # value = mantissa · 2^exponent, mantissa in [0.5, 1)
    sub = int((mantissa - 0.5) * (1 << (_BUCKET_BITS + 1)))
    return ((exponent + 2000) << _BUCKET_BITS) + sub + 1


@dataclass(frozen=True, slots=True)
class Boundary:
    """Where a component's token target falls in the event histogram.

    Attributes:
        bucket: Events in lower buckets are accepted; ``None`` = accept every event.
        residual: Tokens still to take from the boundary bucket.
    """

    bucket: int | None
    residual: int


def find_boundary(histogram: Mapping[int, int], target: int) -> Boundary:
    """Return the bucket in which the cumulative event tokens reach ``target``.

    Args:
        histogram: Event tokens by bucket.
        target: Target tokens.

    Returns:
        The boundary (``bucket=None`` when all events together do not exceed the target).
    """
    cumulative = 0
    for bucket in sorted(histogram):
        tokens = histogram[bucket]
        if cumulative + tokens >= target:
            return Boundary(bucket, target - cumulative)
        cumulative += tokens
    return Boundary(None, target - cumulative)


EventKey = tuple[float, str, int]


def find_cutoff(events: Iterable[tuple[float, str, int, int]], residual: int) -> EventKey | None:
    """Return the last accepted event of the boundary bucket.

    Events are ``(s, doc_id, k, tokens)``; they are accepted in ``(s, id, k)``
    order and the accepted prefix is the one whose tokens are closest to
    ``residual`` (ties: the shorter prefix).

    Returns:
        The last accepted ``(s, id, k)``, or ``None`` when none is accepted.
    """
    best_gap, best_key = residual, None
    cumulative = 0
    for s, doc_id, k, tokens in sorted(events, key=lambda e: (e[0], e[1], e[2])):
        cumulative += tokens
        gap = abs(residual - cumulative)
        if gap < best_gap:
            best_gap, best_key = gap, (s, doc_id, k)
        if cumulative >= residual:
            break
    return best_key


def accept_copies(
    doc_id: str,
    events: Sequence[float],
    boundary: Boundary | None,
    cutoff: EventKey | None,
) -> int:
    """Return how many copies of a document the sampler keeps (its accepted events)."""
    if boundary is None:  # the component has no target (empty or not planned)
        return 0
    if boundary.bucket is None:
        return len(events)
    copies = 0
    for k, s in enumerate(events):
        bucket = event_bucket(s)
        if bucket < boundary.bucket or (bucket == boundary.bucket and cutoff is not None and (s, doc_id, k) <= cutoff):
            copies += 1
    return copies


def mix_in_memory(
    items: Sequence[MixItem],
    components: Sequence[ComponentSpec],
    *,
    seed: int,
    default_max_repeats: int,
    total_tokens: int = 0,
    anchor_component: str = "",
    on_empty_component: Literal["renormalise", "error"] = "renormalise",
    rarity: RarityOptions | None = None,
) -> tuple[MixPlan, dict[str, int]]:
    """Run the two-pass plan in one process (tests, benchmarks; the Beam stage does the same).

    Args:
        items: The documents' sampler facts.
        components: Components in config order.
        seed: Sampling seed.
        default_max_repeats: Repeat cap for components without their own.
        total_tokens: Token budget (0 = automatic).
        anchor_component: See :func:`plan_mix`.
        on_empty_component: See :func:`plan_mix`.
        rarity: Rarity options.

    Returns:
        ``(plan, copies by document id)``.
    """
    tail_q = quantise(rarity.tail_threshold, RARITY_SCALE) if rarity else RARITY_SCALE + 1
    totals: dict[str, ComponentTotals] = {}
    for item in items:
        totals.setdefault(item.component, ComponentTotals()).add(item, tail_q)
    plan = plan_mix(
        totals,
        components,
        seed=seed,
        default_max_repeats=default_max_repeats,
        total_tokens=total_tokens,
        anchor_component=anchor_component,
        on_empty_component=on_empty_component,
        rarity=rarity,
    )
    events = {
        item.id: doc_events(
            item.id,
            seed,
            final_weight(item, plan.gamma),
            plan.max_repeats.get(item.component, 0),
        )
        for item in items
    }
    histograms: dict[str, dict[int, int]] = {}
    for item in items:
        hist = histograms.setdefault(item.component, {})
        for s in events[item.id]:
            bucket = event_bucket(s)
            hist[bucket] = hist.get(bucket, 0) + item.tokens
    boundaries = {name: find_boundary(histograms.get(name, {}), target) for name, target in plan.targets.items()}
    in_bucket: dict[str, list[tuple[float, str, int, int]]] = {}
    for item in items:
        boundary = boundaries.get(item.component)
        if boundary is None or boundary.bucket is None:
            continue
        for k, s in enumerate(events[item.id]):
            if event_bucket(s) == boundary.bucket:
                in_bucket.setdefault(item.component, []).append((s, item.id, k, item.tokens))
    cutoffs = {name: find_cutoff(in_bucket.get(name, []), b.residual) for name, b in boundaries.items()}
    copies = {
        item.id: accept_copies(
            item.id,
            events[item.id],
            boundaries.get(item.component),
            cutoffs.get(item.component),
        )
        for item in items
    }
    return plan, copies
