"""Mixture components: their spec, selection, importance weights and fixed-point scales.

Part of :mod:`tailguard.filters.mixing` (the package docstring explains the method).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "ComponentSpec",
    "EmptyComponentError",
    "MixingTargetError",
    "RARITY_SCALE",
    "WEIGHT_SCALE",
    "importance_weight",
    "quantise",
    "select_component",
]


#: Fixed-point scale of weights: integer sums make totals exact and order-independent.
WEIGHT_SCALE = 1 << 20
#: Fixed-point scale of rarity scores in [0, 1].
RARITY_SCALE = 1 << 16

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
            raise ValueError(f"mix component {self.name!r}: target_share must be in (0, 1]")
        if self.importance_alpha < 0:
            raise ValueError(f"mix component {self.name!r}: importance_alpha must be >= 0")
        if self.max_repeats < 0:
            raise ValueError(f"mix component {self.name!r}: max_repeats must be >= 0")
        for bound in (self.ai_score_min, self.ai_score_max):
            if bound is not None and not 0.0 <= bound <= 1.0:
                raise ValueError(f"mix component {self.name!r}: ai_score bounds must be in [0, 1]")

    def matches(self, tier: str | None, label: str | None, ai_score: float | None) -> bool:
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
