"""Collapse monitoring across corpus versions: indicators per run and tier, deltas, trends and alarms.

``tailguard report compare RUN...`` reads the ``collapse`` section of every run's
manifest (the per-tier and overall indicators ``MeasureCollapse`` wrote) in the
order given — successive monthly dumps, or successive training generations'
samples — and this module compares them, without Beam:

* every numeric indicator per run and per group (``all`` and each tier);
* the delta and the relative delta between consecutive versions, and the trend
  (least-squares slope per version, and its sign over the whole series);
* **alarms** on the indicators the article names as collapse signs — diversity
  (distinct-n, MATTR, unigram entropy, reference coverage), rare-type survival
  and tail mass: a *drop* when one falls by more than its configured relative
  amount between two consecutive versions, and a *steady decline* when it falls
  at every step over at least ``steady_versions`` versions by more than
  ``steady_min_drop`` in total.

Elements in: :class:`RunIndicators`; out: a JSON-ready dict with ``runs``,
``indicators`` and ``alarms``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_MAX_DROP",
    "CompareSettings",
    "RunIndicators",
    "compare_runs",
    "run_indicators",
]

#: Relative fall between two consecutive versions that raises a ``drop`` alarm, per watched indicator.
#: Starting points, not tuned on any data: 10 % of a diversity or tail indicator between two dumps is
#: far beyond the sampling noise of the fixed-size indicator sample (20 k tokens; distinct-2 moves by
#: ~1 % between seeds of the same corpus), so a fall that large means the corpus changed.
DEFAULT_MAX_DROP: Mapping[str, float] = {
    "distinct_1": 0.10,
    "distinct_2": 0.10,
    "distinct_3": 0.10,
    "mattr": 0.10,
    "unigram_entropy": 0.10,
    "ref_vocab_coverage": 0.10,
    "rare_type_survival": 0.10,
    "tail_mass": 0.10,
}


@dataclass(frozen=True)
class CompareSettings:
    """Alarm rules of a comparison.

    Attributes:
        max_drop: Watched indicator → largest allowed relative fall between consecutive versions.
        steady_versions: A steady decline needs a fall at every step over at least this many versions.
        steady_min_drop: ... and a total relative fall over those versions above this.
        skip_groups: Groups never alarmed (declared or detected synthetic tiers look synthetic by design).
    """

    max_drop: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MAX_DROP))
    steady_versions: int = 3
    steady_min_drop: float = 0.05
    skip_groups: tuple[str, ...] = ("curated_synthetic", "synthetic_detected")

    def __post_init__(self) -> None:
        if self.steady_versions < 3:
            raise ValueError("steady_versions must be >= 3 (a trend needs at least three versions)")
        if not 0.0 <= self.steady_min_drop < 1.0:
            raise ValueError("steady_min_drop must be in [0, 1)")
        for name, bound in self.max_drop.items():
            if not 0.0 < bound < 1.0:
                raise ValueError(f"max_drop of {name!r} must be in (0, 1), got {bound}")


@dataclass(frozen=True)
class RunIndicators:
    """What one finished run contributes to a comparison.

    Attributes:
        name: Label of the run (its folder name unless given).
        path: Its output folder.
        created: Manifest creation time.
        config_sha256: Hash of its resolved config.
        reference_snapshot: Id of the reference snapshot its reference indicators used (or None).
        groups: Group (``all`` / tier) → indicator → value.
        tiers_written: The manifest's per-tier corpora (``write.per_tier``), if any.
    """

    name: str
    path: str
    created: str | None
    config_sha256: str | None
    reference_snapshot: str | None
    groups: Mapping[str, Mapping[str, float]]
    tiers_written: Mapping[str, Any] = field(default_factory=dict)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def run_indicators(name: str, path: str, manifest: Mapping[str, Any]) -> RunIndicators:
    """Extract the comparable indicators of one run from its ``manifest.json`` content.

    Raises:
        ValueError: The manifest has no collapse indicators (MeasureCollapse was off).
    """
    collapse = manifest.get("collapse") or {}
    raw = collapse.get("groups") or {}
    if not raw:
        raise ValueError(f"run {path!r} has no collapse indicators (collapse.enabled was false)")
    groups = {
        str(g): {k: x for k, v in values.items() if (x := _number(v)) is not None}
        for g, values in raw.items()
        if isinstance(values, Mapping)
    }
    return RunIndicators(
        name=name,
        path=path,
        created=manifest.get("created"),
        config_sha256=manifest.get("config_sha256"),
        reference_snapshot=collapse.get("reference_snapshot"),
        groups=groups,
        tiers_written=manifest.get("tiers_written") or {},
    )


def _relative(before: float, after: float) -> float:
    """Relative change ``(after − before) / |before|`` (nan when ``before`` is 0)."""
    return (after - before) / abs(before) if before else float("nan")


def _slope(values: Sequence[float]) -> float:
    """Least-squares slope per version of ``values`` (0 for a single value)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den


def _trend(values: Sequence[float]) -> str:
    steps = [b - a for a, b in zip(values, values[1:], strict=False)]
    if steps and all(s < 0 for s in steps):
        return "falling"
    if steps and all(s > 0 for s in steps):
        return "rising"
    slope = _slope(values)
    return "down" if slope < 0 else ("up" if slope > 0 else "flat")


def _series(runs: Sequence[RunIndicators], group: str, indicator: str) -> list[float | None]:
    return [r.groups.get(group, {}).get(indicator) for r in runs]


def compare_runs(runs: Sequence[RunIndicators], settings: CompareSettings = CompareSettings()) -> dict[str, Any]:
    """Compare two or more runs, in the order given (oldest first).

    Args:
        runs: The runs' indicators, oldest version first.
        settings: Alarm rules.

    Returns:
        ``{"runs": [...], "indicators": {group: {indicator: {values, deltas, relative_deltas, slope,
        trend, watched}}}, "alarms": [...], "settings": {...}}``; a value is ``None`` where a run
        lacks that group or indicator (e.g. a tier that was empty, or no reference).

    Raises:
        ValueError: Fewer than two runs.
    """
    if len(runs) < 2:
        raise ValueError("compare needs at least two runs")
    groups = sorted({g for r in runs for g in r.groups}, key=lambda g: (g != "all", g))
    indicators: dict[str, dict[str, Any]] = {}
    alarms: list[dict[str, Any]] = []
    for group in groups:
        names = sorted({k for r in runs for k in r.groups.get(group, {})})
        out: dict[str, Any] = {}
        for name in names:
            values = _series(runs, group, name)
            deltas: list[float | None] = []
            relative: list[float | None] = []
            for a, b in zip(values, values[1:], strict=False):
                deltas.append(None if a is None or b is None else b - a)
                relative.append(None if a is None or b is None else _relative(a, b))
            present = [v for v in values if v is not None]
            watched = name in settings.max_drop and group not in settings.skip_groups
            out[name] = {
                "values": values,
                "deltas": deltas,
                "relative_deltas": relative,
                "slope_per_version": _slope(present) if len(present) == len(values) else None,
                "trend": _trend(present) if len(present) == len(values) else "incomplete",
                "watched": watched,
            }
            if watched:
                alarms += _drop_alarms(runs, group, name, values, relative, settings.max_drop[name])
                alarms += _steady_alarms(runs, group, name, values, settings)
        indicators[group] = out
    return {
        "runs": [
            {
                "name": r.name,
                "path": r.path,
                "created": r.created,
                "config_sha256": r.config_sha256,
                "reference_snapshot": r.reference_snapshot,
                "groups": sorted(r.groups),
                "tiers_written": dict(r.tiers_written),
            }
            for r in runs
        ],
        "indicators": indicators,
        "alarms": alarms,
        "settings": {
            "max_drop": dict(settings.max_drop),
            "steady_versions": settings.steady_versions,
            "steady_min_drop": settings.steady_min_drop,
            "skip_groups": list(settings.skip_groups),
        },
        "reference_snapshots_differ": len({r.reference_snapshot for r in runs}) > 1,
    }


def _drop_alarms(
    runs: Sequence[RunIndicators],
    group: str,
    name: str,
    values: Sequence[float | None],
    relative: Sequence[float | None],
    bound: float,
) -> list[dict[str, Any]]:
    out = []
    for i, rel in enumerate(relative):
        if rel is not None and not math.isnan(rel) and rel < -bound:
            out.append({
                "kind": "drop",
                "group": group,
                "indicator": name,
                "from_run": runs[i].name,
                "to_run": runs[i + 1].name,
                "value_from": values[i],
                "value_to": values[i + 1],
                "relative_change": rel,
                "bound": -bound,
                "message": f"{group}/{name} fell {-rel:.1%} from {runs[i].name} to {runs[i + 1].name} "
                f"(more than {bound:.0%})",
            })  # fmt: skip
    return out


def _steady_alarms(
    runs: Sequence[RunIndicators], group: str, name: str, values: Sequence[float | None], settings: CompareSettings
) -> list[dict[str, Any]]:
    """One alarm per maximal run of strictly falling steps spanning >= steady_versions versions."""
    out = []
    start = 0
    for end in range(1, len(values) + 1):
        falling = (
            end < len(values)
            and values[end] is not None
            and values[end - 1] is not None
            and values[end] < values[end - 1]  # type: ignore[operator]
        )
        if falling:
            continue
        # versions start..end-1 fall at every step
        span = end - start
        first, last = values[start], values[end - 1]
        if span >= settings.steady_versions and first is not None and last is not None:
            total = _relative(first, last)
            if not math.isnan(total) and total < -settings.steady_min_drop:
                out.append({
                    "kind": "steady_decline",
                    "group": group,
                    "indicator": name,
                    "from_run": runs[start].name,
                    "to_run": runs[end - 1].name,
                    "versions": span,
                    "value_from": first,
                    "value_to": last,
                    "relative_change": total,
                    "bound": -settings.steady_min_drop,
                    "message": f"{group}/{name} fell at every step over {span} versions "
                    f"({runs[start].name} → {runs[end - 1].name}, {-total:.1%} in total)",
                })  # fmt: skip
        start = end
    return out
