"""What mixing reports: per-document decisions, the tally over all of them, and the manifest section.

Part of :mod:`tailguard.filters.mixing` (the package docstring explains the method).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tailguard.filters.mixing.components import ComponentSpec
from tailguard.filters.mixing.plan import MixPlan

__all__ = ["MixDecision", "MixTally", "mix_report"]


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
    shard_tokens: list[int] = field(default_factory=list)
    shard_reference_tokens: list[int] = field(default_factory=list)

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
    # Per-shard integer lists (curriculum spread; tokens count every copy).
    SHARD_FIELDS = ("shard_rows", "shard_upweighted", "shard_reference", "shard_tokens", "shard_reference_tokens")

    def __post_init__(self) -> None:
        for name in self.SHARD_FIELDS:
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
            self.shard_tokens[shard] += decision.tokens
            if decision.component == reference_component:
                self.shard_reference_tokens[shard] += decision.tokens
        return self

    def merge(self, other: MixTally) -> MixTally:
        """Add ``other`` into self; return self."""
        for name, row in other.components.items():
            mine = self.components.setdefault(name, [0] * len(self.FIELDS))
            for i, value in enumerate(row):
                mine[i] = max(mine[i], value) if self.FIELDS[i] == "max_repeats_used" else mine[i] + value
        for name in self.SHARD_FIELDS:
            setattr(
                self,
                name,
                [a + b for a, b in zip(getattr(self, name), getattr(other, name), strict=True)],
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
    up_share = [u / r if r else 0.0 for u, r in zip(tally.shard_upweighted, rows, strict=True)]
    ref_share = [h / r if r else 0.0 for h, r in zip(tally.shard_reference, rows, strict=True)]
    ref_tokens = [h / t if t else 0.0 for h, t in zip(tally.shard_reference_tokens, tally.shard_tokens, strict=True)]
    return {
        "components": out,
        "total_tokens": total,
        "target_total_tokens": plan.total_tokens,
        "max_abs_share_error": max((abs(v["share_error"]) for v in out.values() if not v["empty"]), default=0.0),
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
            "reference_token_share_per_shard": {
                "min": min(ref_tokens, default=0.0),
                "max": max(ref_tokens, default=0.0),
            },
            "reference_target_token_share": plan.shares.get(reference_component),
            "shard_tokens": list(tally.shard_tokens),
            "shard_reference_tokens": list(tally.shard_reference_tokens),
            "shard_upweighted_rows": list(tally.shard_upweighted),
        },
    }
