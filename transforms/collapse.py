"""MeasureCollapse: collapse indicators over the written corpus, per tier and overall.

Not a filtering stage (it drops nothing, so it is not in ``STAGES``): the driver
applies it to the final documents and it writes one JSON object to
``OUTPUT/_work/stats/collapse.json`` (→ ``manifest["collapse"]``)::

    docs ─► KeyByTier (tier, doc) + ("all", doc) ─► CombinePerKey(_CollapseCombineFn)
         ─► ToList ─► {"reference": ..., "groups": {tier: indicators}, "alarms": [...]} ─► WriteJsonFile
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection

from tailguard.filters.collapse.indicators import CollapseAccumulator, IndicatorSettings
from tailguard.filters.collapse.ngram import tokenize
from tailguard.filters.collapse.reference import REFERENCE_FILES, Reference, load_reference
from tailguard.filters.document import Document
from tailguard.filters.layout import OutputLayout
from tailguard.transforms._files import WriteJsonFile, local_copy

__all__ = ["DEFAULT_ALARMS", "CollapseConfig", "MeasureCollapse", "check_alarms"]

ALL = "all"
UNTIERED = "untiered"

#: Default alarm rules: indicator -> ("min" | "max", bound).  Starting points, not tuned on any report:
#: rare-type survival and coverage below half of a same-size human sample, tail mass below half of the
#: reference's 10 % (issue 7 definition), JSD above 0.2 bits, exact duplicates above 5 % (after dedup
#: there should be none), distinct-2 below 0.3 (human English prose samples of 20 k tokens are ≈ 0.6–0.8).
DEFAULT_ALARMS: tuple[tuple[str, str, float], ...] = (
    ("rare_type_survival", "min", 0.05),
    ("ref_vocab_coverage", "min", 0.10),
    ("tail_mass", "min", 0.05),
    ("jsd_to_reference", "max", 0.20),
    ("exact_dup_rate", "max", 0.05),
    ("distinct_2", "min", 0.30),
    ("ai_above_threshold_share", "max", 0.20),
)


@dataclass(frozen=True)
class CollapseConfig:
    """Settings of :class:`MeasureCollapse`.

    Attributes:
        enabled: Measure at all.
        reference: Reference snapshot directory (``tailguard reference build``), or
            ``None`` for reference-free indicators only.
        sample_tokens: Tokens of the fixed-size seeded sample (distinct-n, MATTR, gzip).
        sample_max_docs: Cap on documents in that sample.
        seed: Seed of the sample.
        ai_threshold: ``ai_score`` at or above which a document counts as AI.
        human_tiers: Tier names that count as verified-human tokens.
        alarms: ``(indicator, "min"|"max", bound)`` rules; crossing one raises an alarm.
        alarm_skip_groups: Tiers whose indicators are not checked (declared or detected
            synthetic data is expected to look synthetic).
    """

    enabled: bool = True
    reference: str | None = None
    sample_tokens: int = 20_000
    sample_max_docs: int = 400
    seed: int = 0
    ai_threshold: float = 0.5
    human_tiers: tuple[str, ...] = ("tier1",)
    alarms: tuple[tuple[str, str, float], ...] = field(default=DEFAULT_ALARMS)
    alarm_skip_groups: tuple[str, ...] = ("curated_synthetic", "synthetic_detected")

    def __post_init__(self) -> None:
        self.settings()  # validates sizes and threshold
        for rule in self.alarms:
            if len(rule) != 3 or rule[1] not in ("min", "max"):
                raise ValueError(f"collapse.alarms: bad rule {rule!r}; expected [indicator, min|max, bound]")

    def settings(self) -> IndicatorSettings:
        """The Beam-free indicator settings."""
        return IndicatorSettings(
            sample_tokens=self.sample_tokens,
            sample_max_docs=self.sample_max_docs,
            seed=self.seed,
            ai_threshold=self.ai_threshold,
            human_tiers=tuple(self.human_tiers),
        )


def check_alarms(groups: dict[str, dict[str, Any]], rules: Iterable[tuple[str, str, float]]) -> list[dict[str, Any]]:
    """Return one alarm per (group, rule) whose indicator crosses its bound."""
    alarms = []
    for group, values in groups.items():
        for name, kind, bound in rules:
            value = values.get(name)
            if value is None:
                continue
            if (kind == "min" and value < bound) or (kind == "max" and value > bound):
                alarms.append({"group": group, "indicator": name, "value": value, "rule": kind, "bound": bound})
    return alarms


def _load_reference(path: str) -> Reference:
    """Load a reference snapshot from any Beam filesystem (``gs://`` snapshots are copied locally)."""
    return load_reference(local_copy(path, REFERENCE_FILES) if "://" in path else path)


class _CollapseCombineFn(beam.CombineFn):
    """Documents of one group → indicator dict (thin wrapper over CollapseAccumulator)."""

    def __init__(self, config: CollapseConfig) -> None:
        self._config = config
        self._reference: Reference | None = None

    def setup(self) -> None:
        # The reference trigram model is large; load it once per worker, not per bundle.
        if self._config.reference:
            self._reference = _load_reference(self._config.reference)

    def create_accumulator(self) -> CollapseAccumulator:
        return CollapseAccumulator(self._config.settings())

    def add_input(self, acc: CollapseAccumulator, doc: Document) -> CollapseAccumulator:
        acc.add(doc, tokenize(doc.text), self._reference)
        return acc

    def merge_accumulators(self, accs: Iterable[CollapseAccumulator]) -> CollapseAccumulator:
        it = iter(accs)
        first = next(it)
        for other in it:
            first.merge(other)
        return first

    def extract_output(self, acc: CollapseAccumulator) -> dict[str, Any]:
        if self._config.reference and self._reference is None:  # runners that skip setup on the combine path
            self._reference = _load_reference(self._config.reference)
        return acc.result(self._reference)


def _key_by_tier(doc: Document) -> Iterator[tuple[str, Document]]:
    yield ALL, doc
    yield doc.tier or UNTIERED, doc


def _summary(groups: list[tuple[str, dict[str, Any]]], config: CollapseConfig, ref_id: str | None) -> str:
    by_group = dict(sorted(groups, key=lambda kv: (kv[0] != ALL, kv[0])))
    return json.dumps(
        {
            "reference": config.reference,
            "reference_snapshot": ref_id,
            "settings": {
                "sample_tokens": config.sample_tokens,
                "seed": config.seed,
                "ai_threshold": config.ai_threshold,
            },
            "alarm_rules": [list(r) for r in config.alarms],
            "groups": by_group,
            "alarms": check_alarms(
                {g: v for g, v in by_group.items() if g not in config.alarm_skip_groups}, config.alarms
            ),
        },
        sort_keys=False,
    )


# Typed, so that wiring anything but Documents into the stage fails while the pipeline is built.
@beam.typehints.with_input_types(Document)
class MeasureCollapse(beam.PTransform):
    """Compute collapse indicators of the final documents and write ``_work/stats/collapse.json``.

    Args:
        config: Indicator settings.
        layout: The run's output layout (the summary goes to ``layout.stats("collapse")``).
    """

    def __init__(self, config: CollapseConfig, layout: OutputLayout) -> None:
        super().__init__()
        self._config = config
        self._layout = layout
        self._ref_id: str | None = None
        if config.enabled and config.reference:
            # Fail at launch, not on a worker, when the snapshot is missing or of another format.
            self._ref_id = _load_reference(config.reference).snapshot_id

    def expand(self, docs: PCollection) -> Any:
        if not self._config.enabled:
            return docs.pipeline | "NoCollapseStats" >> beam.Create([])
        config, ref_id = self._config, self._ref_id
        summary = (
            docs
            | "KeyByTier" >> beam.FlatMap(_key_by_tier)  # (tier | "all", doc)
            | "Indicators" >> beam.CombinePerKey(_CollapseCombineFn(config))
            | "AllGroups" >> beam.combiners.ToList()
            | "ToJson" >> beam.Map(_summary, config, ref_id)
        )
        _ = summary | "WriteCollapseJson" >> WriteJsonFile(self._layout.stats("collapse"))
        return summary
