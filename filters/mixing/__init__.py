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

from tailguard.filters.mixing.components import (
    RARITY_SCALE,
    WEIGHT_SCALE,
    ComponentSpec,
    EmptyComponentError,
    MixingTargetError,
    importance_weight,
    quantise,
    select_component,
)
from tailguard.filters.mixing.curriculum import CurriculumOptions, curriculum_violations, violation_message
from tailguard.filters.mixing.plan import (
    ComponentTotals,
    MixItem,
    MixPlan,
    final_weight,
    plan_mix,
)
from tailguard.filters.mixing.rarity import (
    CountMinSketch,
    RarityOptions,
    oov_share,
    rarity_score,
)
from tailguard.filters.mixing.report import (
    MixDecision,
    MixTally,
    mix_report,
)
from tailguard.filters.mixing.sampler import (
    Boundary,
    accept_copies,
    doc_events,
    event_bucket,
    find_boundary,
    find_cutoff,
    mix_in_memory,
)

__all__ = [
    "RARITY_SCALE",
    "WEIGHT_SCALE",
    "Boundary",
    "ComponentSpec",
    "ComponentTotals",
    "CountMinSketch",
    "CurriculumOptions",
    "EmptyComponentError",
    "MixDecision",
    "MixItem",
    "MixPlan",
    "MixTally",
    "MixingTargetError",
    "RarityOptions",
    "accept_copies",
    "curriculum_violations",
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
    "violation_message",
]
