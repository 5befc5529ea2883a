"""Curriculum spread: every output shard carries human text near its target share, and some tail.

The seed's curriculum strategies ask that rare examples appear *throughout*
training and that training is refreshed with verified human data all along.
A training run reads the corpus shard by shard, so both become per-shard
properties of the mixed corpus:

* the human (reference component's) **token** share of every shard lies within
  ``tolerance`` of the component's planned share;
* every shard holds at least one up-weighted (tail) row, when the mix
  up-weighted anything at all.

Shards are assigned by ``hash(id, seed, copy)`` (deterministic, STYLE §16), so the
spread is a sampling property: it holds when every shard has enough rows, and an
input that is too small for the shard count cannot satisfy it.  This module
checks the mixing report's per-shard tallies and names every violation; the
manifest refuses a run that breaks an enforced curriculum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CurriculumOptions", "curriculum_violations", "violation_message"]


@dataclass(frozen=True)
class CurriculumOptions:
    """The ``mix.curriculum`` config section.

    Attributes:
        enforce: Fail the run (exit 2, no manifest) when a shard breaks a rule; off = report only.
        human_share_tolerance: Largest allowed |shard human token share − planned share|.
            0.05 by default: five points around a 0.7 target, a design choice (the spread of a
            100k-document hash assignment over 16 shards was 0.691–0.713, docs/mixing.md).
        tail_in_every_shard: Require at least one up-weighted row in every shard.
    """

    enforce: bool = False
    human_share_tolerance: float = 0.05
    tail_in_every_shard: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.human_share_tolerance < 1.0:
            raise ValueError("mix.curriculum.human_share_tolerance must be in (0, 1)")


def curriculum_violations(
    target_share: float | None,
    shard_tokens: Sequence[int],
    shard_human_tokens: Sequence[int],
    shard_upweighted_rows: Sequence[int],
    options: CurriculumOptions,
) -> dict[str, Any]:
    """Check one mix's per-shard tallies against the curriculum rules.

    Args:
        target_share: Planned token share of the human (reference) component; ``None`` when
            the mix has no such component (the share rule is then skipped).
        shard_tokens: Tokens written to each shard.
        shard_human_tokens: Tokens of the human component in each shard.
        shard_upweighted_rows: Up-weighted rows in each shard.
        options: The rules.

    Returns:
        ``{"ok", "violations": [messages], "human_share_range": [lo, hi], "tail_rule_applies"}``.
    """
    violations: list[str] = []
    lo = hi = None
    if target_share is not None and target_share > 0:
        lo, hi = target_share - options.human_share_tolerance, target_share + options.human_share_tolerance
        for shard, (total, human) in enumerate(zip(shard_tokens, shard_human_tokens, strict=True)):
            share = human / total if total else 0.0
            if not lo <= share <= hi:
                violations.append(
                    f"shard {shard}: human token share {share:.3f} outside {target_share:.3f} ± "
                    f"{options.human_share_tolerance:g} ({human:,} of {total:,} tokens)"
                )
    tail_applies = options.tail_in_every_shard and sum(shard_upweighted_rows) > 0
    if tail_applies:
        empty = [i for i, n in enumerate(shard_upweighted_rows) if n == 0]
        if empty:
            shown = ", ".join(map(str, empty[:10])) + (" ..." if len(empty) > 10 else "")
            violations.append(
                f"{len(empty)} of {len(shard_upweighted_rows)} shards hold no up-weighted (tail) row: {shown} "
                f"({sum(shard_upweighted_rows)} up-weighted rows in all)"
            )
    return {
        "ok": not violations,
        "violations": violations,
        "human_share_range": [lo, hi],
        "tail_rule_applies": tail_applies,
    }


def violation_message(curriculum: Mapping[str, Any]) -> str:
    """One line for the command line: the first violations and what to change."""
    found = list(curriculum.get("violations") or [])
    head = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
    return (
        f"mix.curriculum: the input cannot satisfy the curriculum spread over {curriculum.get('num_shards')} "
        f"shards: {head}. Use fewer shards (write.num_shards), add data, widen "
        "mix.curriculum.human_share_tolerance, or set mix.curriculum.enforce: false"
    )
