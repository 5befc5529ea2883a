"""Token-exact weighted mixing: component selection, weights, the hash sampler and the plan.

Every document of a mixture component gets a weight ``W`` (tier weight ×
importance weight ``(1 - ai_score)^alpha`` × rarity up-weighting) and a hash
``u = unit_interval("mix", seed, id)``.  Its number of copies at rate ``s`` is
``copies(s) = min(cap, floor(s·W + 1 - u))`` — floor plus a hash-Bernoulli
remainder, so ``E[copies] = s·W`` below the cap.  ``copies(s)`` is a step
function that rises by one at each *event* ``s_k = (k - 1 + u) / W`` (k = 1..cap),
so the component's token total is a monotone step function of ``s`` and the
target is hit by accepting events in ``(s_k, id, k)`` order until the cumulative
tokens are closest to the target — a token-weighted quantile.  Down-sampling
(``s·W < 1``) and up-sampling by repetition (``s·W > 1``) are the same rule; the
error is at most one document's tokens per component.

Distributed, the quantile is found without sorting everything: a histogram of
event tokens over exact log-scale buckets (:func:`event_bucket`, ``frexp`` — no
libm rounding) finds the boundary bucket; only the events inside it are sorted.
All sums are integers (weights are fixed-point, :data:`WEIGHT_SCALE`), so totals,
and therefore every decision, do not depend on combine order or worker count.

Rarity up-weighting multiplies weights by ``1 + gamma·r`` (``r`` in [0, 1] from
rare languages / domains / out-of-vocabulary words); the *tail-mass guard*
lowers ``gamma`` so that the expected token share of tail documents
(``r >= tail_threshold``) in the mixed corpus does not exceed the tail share of
the reference human pool.  Elements in: :class:`MixItem`; out: copies per item.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from tailguard.filters.hashing import stable_hash64, unit_interval

__all__ = [
    "RARITY_SCALE",
    "WEIGHT_SCALE",
    "Boundary",
    "ComponentSpec",
    "ComponentTotals",
    "CountMinSketch",
    "EmptyComponentError",
    "MixDecision",
    "MixItem",
    "MixPlan",
    "MixTally",
    "MixingTargetError",
    "RarityOptions",
    "accept_copies",
    "doc_events",
    "event_bucket",
    "final_weight",
    "find_boundary",
    "find_cutoff",
    "importance_weight",
    "mix_in_memory",
    "mix_report",
    "oov_share",
    "plan_mix",
    "quantise",
    "rarity_score",
    "select_component",
]

#: Fixed-point scale of weights: integer sums make totals exact and order-independent.
WEIGHT_SCALE = 1 << 20
#: Fixed-point scale of rarity scores in [0, 1].
RARITY_SCALE = 1 << 16
#: Sub-buckets per power of two in the event histogram (boundary bucket ≈ 0.07 % of an octave).
_BUCKET_BITS = 10
_WORD = re.compile(r"[^\W\d_]+")

Inc = Callable[..., None]


class MixingTargetError(ValueError):
    """A component's token target cannot be met with the allowed repeats.

    Attributes:
        component: Component name.
        needed_tokens: Target tokens of the component.
        available_tokens: Tokens of its pool times the repeat cap.
    """

    def __init__(
        self,
        component: str,
        needed_tokens: int,
        available_tokens: int,
        max_repeats: int,
    ) -> None:
        self.component = component
        self.needed_tokens = needed_tokens
        self.available_tokens = available_tokens
        super().__init__(
            f"mixing component {component!r} needs {needed_tokens:,} tokens but only {available_tokens:,} are "
            f"available with max_repeats={max_repeats}; raise max_repeats, lower its target_share or total_tokens, "
            "or add data for it"
        )


class EmptyComponentError(ValueError):
    """A component selects no documents and the config says ``on_empty_component: error``."""


@dataclass(frozen=True)
class ComponentSpec:
    """One mixture component: which documents it draws from and its token share.

    A document joins the FIRST component whose selector matches it.

    Attributes:
        name: Component name (manifest key).
        target_share: Target share of the mixed corpus's tokens (> 0).
        tiers: Tiers it draws from (empty = any tier, including none).
        labels: Provenance labels it draws from (empty = any label).
        ai_score_min: Scored documents need ``ai_score >= ai_score_min``.
        ai_score_max: Scored documents need ``ai_score < ai_score_max``.
        include_unscored: Whether documents without an ``ai_score`` match.
        importance_alpha: Importance resampling exponent: weight ``(1 - ai_score)^alpha``
            (Drayson et al. 2025); 0 = off.
        max_repeats: Cap on copies per document (epochs); 0 = the stage default.
    """

    name: str
    target_share: float
    tiers: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    ai_score_min: float | None = None
    ai_score_max: float | None = None
    include_unscored: bool = True
    importance_alpha: float = 0.0
    max_repeats: int = 0

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("mix component: name must not be empty")
        if not 0.0 < self.target_share <= 1.0:
            raise ValueError(
                f"mix component {self.name!r}: target_share must be in (0, 1]"
            )
        if self.importance_alpha < 0:
            raise ValueError(
                f"mix component {self.name!r}: importance_alpha must be >= 0"
            )
        if self.max_repeats < 0:
            raise ValueError(f"mix component {self.name!r}: max_repeats must be >= 0")
        for bound in (self.ai_score_min, self.ai_score_max):
            if bound is not None and not 0.0 <= bound <= 1.0:
                raise ValueError(
                    f"mix component {self.name!r}: ai_score bounds must be in [0, 1]"
                )

    def matches(
        self, tier: str | None, label: str | None, ai_score: float | None
    ) -> bool:
        """Return whether a document with these facts belongs to this component."""
        if self.tiers and tier not in self.tiers:
            return False
        if self.labels and label not in self.labels:
            return False
        if ai_score is None:
            return self.include_unscored
        if self.ai_score_min is not None and ai_score < self.ai_score_min:
            return False
        return not (self.ai_score_max is not None and ai_score >= self.ai_score_max)


def select_component(
    components: Sequence[ComponentSpec],
    tier: str | None,
    label: str | None,
    ai_score: float | None,
) -> ComponentSpec | None:
    """Return the first component whose selector matches, or ``None`` (the document is not mixed)."""
    return next((c for c in components if c.matches(tier, label, ai_score)), None)


def importance_weight(ai_score: float | None, alpha: float) -> float:
    """Return the importance resampling weight ``(1 - ai_score)^alpha`` (Drayson et al. 2025).

    Args:
        ai_score: Calibrated AI probability, or ``None`` (unscored: weight 1).
        alpha: Exponent; 0 turns importance weighting off.

    Returns:
        A weight in [0, 1].
    """
    if alpha == 0 or ai_score is None:
        return 1.0
    return float(max(0.0, 1.0 - ai_score) ** alpha)


def quantise(value: float, scale: int) -> int:
    """Return ``round(value * scale)`` clamped at 0 (fixed point for exact integer sums)."""
    if not math.isfinite(value) or value <= 0:
        return 0
    return round(value * scale)


# ----------------------------------------------------------------------------- rarity


class CountMinSketch:
    """A count-min sketch of string keys (Cormode & Muthukrishnan 2005): mergeable, never under-counts.

    Used for domain document counts, which are too many for a side-input dict.
    """

    def __init__(self, width: int = 1 << 14, depth: int = 4) -> None:
        if width <= 0 or depth <= 0:
            raise ValueError("CountMinSketch: width and depth must be > 0")
        self.width = width
        self.depth = depth
        self.table = np.zeros((depth, width), dtype=np.int64)

    def _cells(self, key: str) -> list[int]:
        return [
            stable_hash64("cms", row, key) % self.width for row in range(self.depth)
        ]

    def add(self, key: str, n: int = 1) -> None:
        """Count ``key`` ``n`` times."""
        for row, col in enumerate(self._cells(key)):
            self.table[row, col] += n

    def merge(self, other: CountMinSketch) -> CountMinSketch:
        """Add ``other``'s counts into this sketch; return self."""
        if (other.width, other.depth) != (self.width, self.depth):
            raise ValueError(
                "CountMinSketch: cannot merge sketches of different shapes"
            )
        self.table += other.table
        return self

    def estimate(self, key: str) -> int:
        """Return an upper bound on the count of ``key`` (exact without collisions)."""
        return int(
            min(self.table[row, col] for row, col in enumerate(self._cells(key)))
        )


@dataclass(frozen=True)
class RarityOptions:
    """How rarity is measured and how far up-weighting may go.

    Attributes:
        strength: Largest ``gamma``: weights are multiplied by ``1 + gamma·r``; 0 = off.
        rare_language_share: A language with a smaller token share of the input is rare.
        rare_domain_docs: A domain with at most this many documents is rare; 0 = signal off.
        oov_saturation: Out-of-vocabulary word share at which the vocabulary signal is 1.
        tail_threshold: Documents with ``r >= tail_threshold`` form the tail.
        reference_tail_mass: Reference tail token share; 0 = measure it on ``reference_component``.
        reference_component: Component whose (unweighted) pool is the human reference.
    """

    strength: float = 1.0
    rare_language_share: float = 0.02
    rare_domain_docs: int = 0
    oov_saturation: float = 0.2
    tail_threshold: float = 0.5
    reference_tail_mass: float = 0.0
    reference_component: str = "human"

    def __post_init__(self) -> None:
        if self.strength < 0:
            raise ValueError("rarity strength must be >= 0")
        if (
            not 0.0 <= self.rare_language_share <= 1.0
            or not 0.0 <= self.reference_tail_mass <= 1.0
        ):
            raise ValueError(
                "rare_language_share and reference_tail_mass must be in [0, 1]"
            )
        if not 0.0 < self.tail_threshold <= 1.0 or not 0.0 < self.oov_saturation <= 1.0:
            raise ValueError("tail_threshold and oov_saturation must be in (0, 1]")
        if self.rare_domain_docs < 0:
            raise ValueError("rare_domain_docs must be >= 0")


def oov_share(text: str, vocabulary: frozenset[str]) -> float | None:
    """Return the share of words of ``text`` (lower-cased letter runs) not in ``vocabulary``.

    Args:
        text: Document text.
        vocabulary: Reference vocabulary (lower case); empty = signal off.

    Returns:
        The out-of-vocabulary share, or ``None`` when there is no vocabulary or no word.
    """
    if not vocabulary:
        return None
    words = _WORD.findall(text.lower())
    if not words:
        return None
    return sum(1 for w in words if w not in vocabulary) / len(words)


def rarity_score(
    options: RarityOptions,
    *,
    language_share: float | None,
    domain_docs: int | None,
    oov: float | None,
) -> tuple[float, dict[str, float]]:
    """Return the rarity ``r`` in [0, 1] of one document (max over its signals) and the signals.

    Args:
        options: Rarity options.
        language_share: Token share of the document's language in the input (``None``: unknown).
        domain_docs: Documents of the document's domain (``None``: unknown or signal off).
        oov: Out-of-vocabulary word share (``None``: no reference vocabulary).

    Returns:
        ``(r, {signal: value})`` with only the signals that were available.
    """
    signals: dict[str, float] = {}
    if language_share is not None and options.rare_language_share > 0:
        signals["language"] = (
            1.0 if language_share < options.rare_language_share else 0.0
        )
    if domain_docs is not None and options.rare_domain_docs > 0:
        signals["domain"] = 1.0 if domain_docs <= options.rare_domain_docs else 0.0
    if oov is not None:
        signals["vocabulary"] = min(1.0, oov / options.oov_saturation)
    return (max(signals.values()) if signals else 0.0), signals


# ----------------------------------------------------------------------------- the plan


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


def _corpus_tail(
    totals: Mapping[str, ComponentTotals], shares: Mapping[str, float], gamma: float
) -> float:
    return sum(
        shares[name] * totals[name].expected_tail_share(gamma) for name in shares
    )


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
    empty = tuple(
        c.name
        for c in components
        if totals.get(c.name, ComponentTotals()).weighted_tokens <= 0
    )
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
            raise EmptyComponentError(
                f"mix.anchor_component {anchor_component!r} is empty or not a component"
            )
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
        reference = (
            pool.tail_tokens / pool.tokens if pool is not None and pool.tokens else None
        )
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
            lo, hi = (
                (mid, hi)
                if _corpus_tail(totals, shares, mid) <= reference
                else (lo, mid)
            )
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


# ----------------------------------------------------------------------------- the sampler


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
    mantissa, exponent = math.frexp(
        value
    )  # value = mantissa · 2^exponent, mantissa in [0.5, 1)
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


def find_cutoff(
    events: Iterable[tuple[float, str, int, int]], residual: int
) -> EventKey | None:
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
        if bucket < boundary.bucket or (
            bucket == boundary.bucket
            and cutoff is not None
            and (s, doc_id, k) <= cutoff
        ):
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
    tail_q = (
        quantise(rarity.tail_threshold, RARITY_SCALE) if rarity else RARITY_SCALE + 1
    )
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
    boundaries = {
        name: find_boundary(histograms.get(name, {}), target)
        for name, target in plan.targets.items()
    }
    in_bucket: dict[str, list[tuple[float, str, int, int]]] = {}
    for item in items:
        boundary = boundaries.get(item.component)
        if boundary is None or boundary.bucket is None:
            continue
        for k, s in enumerate(events[item.id]):
            if event_bucket(s) == boundary.bucket:
                in_bucket.setdefault(item.component, []).append(
                    (s, item.id, k, item.tokens)
                )
    cutoffs = {
        name: find_cutoff(in_bucket.get(name, []), b.residual)
        for name, b in boundaries.items()
    }
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


# ----------------------------------------------------------------------------- reporting


@dataclass(frozen=True, slots=True)
class MixDecision:
    """One document's sampling outcome, for the mixing report.

    Attributes:
        component: Component name.
        tokens: Token count of one copy.
        copies: Copies kept (0 = down-sampled away).
        upweighted: Whether rarity up-weighting raised its weight.
        tail: Whether it is a tail document.
        shards: Output shard of each copy.
    """

    component: str
    tokens: int
    copies: int
    upweighted: bool
    tail: bool
    shards: tuple[int, ...] = ()


@dataclass
class MixTally:
    """Integer tallies of :class:`MixDecision` s (mergeable, order-independent)."""

    num_shards: int
    components: dict[str, list[int]] = field(default_factory=dict)
    shard_rows: list[int] = field(default_factory=list)
    shard_upweighted: list[int] = field(default_factory=list)
    shard_reference: list[int] = field(default_factory=list)

    # Per-component counters, in this order.
    FIELDS = (
        "pool_documents",
        "pool_tokens",
        "documents",
        "rows",
        "tokens",
        "repeated_documents",
        "max_repeats_used",
        "upweighted_documents",
        "upweighted_rows",
        "tail_tokens",
    )

    def __post_init__(self) -> None:
        for name in ("shard_rows", "shard_upweighted", "shard_reference"):
            if not getattr(self, name):
                setattr(self, name, [0] * self.num_shards)

    def add(self, decision: MixDecision, reference_component: str) -> MixTally:
        """Count one decision; return self."""
        row = self.components.setdefault(decision.component, [0] * len(self.FIELDS))
        row[0] += 1
        row[1] += decision.tokens
        if decision.copies:
            row[2] += 1
            row[3] += decision.copies
            row[4] += decision.tokens * decision.copies
            row[5] += decision.copies > 1
            row[6] = max(row[6], decision.copies)
            row[7] += decision.upweighted
            row[8] += decision.copies if decision.upweighted else 0
            row[9] += decision.tokens * decision.copies if decision.tail else 0
        for shard in decision.shards:
            self.shard_rows[shard] += 1
            self.shard_upweighted[shard] += decision.upweighted
            self.shard_reference[shard] += decision.component == reference_component
        return self

    def merge(self, other: MixTally) -> MixTally:
        """Add ``other`` into self; return self."""
        for name, row in other.components.items():
            mine = self.components.setdefault(name, [0] * len(self.FIELDS))
            for i, value in enumerate(row):
                mine[i] = (
                    max(mine[i], value)
                    if self.FIELDS[i] == "max_repeats_used"
                    else mine[i] + value
                )
        for name in ("shard_rows", "shard_upweighted", "shard_reference"):
            setattr(
                self,
                name,
                [
                    a + b
                    for a, b in zip(
                        getattr(self, name), getattr(other, name), strict=True
                    )
                ],
            )
        return self


def mix_report(
    plan: MixPlan,
    tally: MixTally,
    components: Sequence[ComponentSpec],
    reference_component: str,
) -> dict:
    """Return the manifest's ``mixing`` section.

    Args:
        plan: The plan the run used.
        tally: Tallies of every decision.
        components: Components in config order.
        reference_component: Component whose rows must reach every shard (verified human).

    Returns:
        ``{components: {NAME: {target_token_share, realized_token_share, documents,
        tokens, ...}}, total_tokens, max_share_error, upweighting, curriculum, ...}``.
    """
    total = sum(row[4] for row in tally.components.values())
    out: dict[str, dict] = {}
    for spec in components:
        row = tally.components.get(spec.name, [0] * len(MixTally.FIELDS))
        values = dict(zip(MixTally.FIELDS, row, strict=True))
        realized = values["tokens"] / total if total else 0.0
        target_share = plan.shares.get(spec.name, 0.0)
        out[spec.name] = {
            "target_token_share": target_share,
            "configured_token_share": spec.target_share,
            "realized_token_share": realized,
            "share_error": realized - target_share,
            "target_tokens": plan.targets.get(spec.name, 0),
            "documents": values["documents"],
            "rows": values["rows"],
            "tokens": values["tokens"],
            "pool_documents": values["pool_documents"],
            "pool_tokens": values["pool_tokens"],
            "downsampled_documents": values["pool_documents"] - values["documents"],
            "repeated_documents": values["repeated_documents"],
            "max_repeats": plan.max_repeats.get(spec.name, 0),
            "max_repeats_used": values["max_repeats_used"],
            "upweighted_documents": values["upweighted_documents"],
            "empty": spec.name in plan.empty_components,
        }
    tail_tokens = sum(row[9] for row in tally.components.values())
    shards = tally.num_shards
    rows = tally.shard_rows
    up_share = [
        u / r if r else 0.0 for u, r in zip(tally.shard_upweighted, rows, strict=True)
    ]
    ref_share = [
        h / r if r else 0.0 for h, r in zip(tally.shard_reference, rows, strict=True)
    ]
    return {
        "components": out,
        "total_tokens": total,
        "target_total_tokens": plan.total_tokens,
        "max_abs_share_error": max(
            (abs(v["share_error"]) for v in out.values() if not v["empty"]), default=0.0
        ),
        "empty_components": list(plan.empty_components),
        "renormalised": plan.renormalised,
        "seed": plan.seed,
        "upweighting": {
            **plan.tail,
            "gamma": plan.gamma,
            "upweighted_documents": sum(row[7] for row in tally.components.values()),
            "upweighted_rows": sum(row[8] for row in tally.components.values()),
            "realized_tail_mass": tail_tokens / total if total else 0.0,
        },
        "curriculum": {
            "num_shards": shards,
            "rows_per_shard": {
                "min": min(rows, default=0),
                "max": max(rows, default=0),
            },
            "upweighted_share_per_shard": {
                "min": min(up_share, default=0.0),
                "max": max(up_share, default=0.0),
            },
            "shards_with_upweighted": sum(1 for u in tally.shard_upweighted if u),
            "reference_component": reference_component,
            "reference_share_per_shard": {
                "min": min(ref_share, default=0.0),
                "max": max(ref_share, default=0.0),
            },
            "shards_with_reference": sum(1 for h in tally.shard_reference if h),
            "reference_in_every_shard": all(tally.shard_reference) if shards else False,
        },
    }
