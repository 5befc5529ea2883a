"""The ordered stage registry: which stages exist, their config section and how to build them.

Adding a stage = one PTransform module in ``transforms/`` + one line in
:data:`STAGES`.  The config section of a stage has the stage's name and maps onto
its frozen config dataclass (which must have an ``enabled`` field); the stage's
PTransform takes Documents and returns
:class:`~tailguard.transforms.accounting.StageOutputs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import apache_beam as beam
from apache_beam.pvalue import PCollection

from tailguard.filters.document import Document
from tailguard.filters.layout import OutputLayout
from tailguard.transforms.accounting import StageOutputs
from tailguard.transforms.ai_decide import DecideAIConfig, DecideAIContent
from tailguard.transforms.ai_score import ScoreAIConfig, ScoreAIContent
from tailguard.transforms.dedup_exact import DedupExact, DedupExactConfig
from tailguard.transforms.dedup_near import DedupNearConfig, DedupNearDuplicates
from tailguard.transforms.extract import ExtractConfig, ExtractText
from tailguard.transforms.langid import IdentifyLanguage, LangIdConfig
from tailguard.transforms.mix import MixByTokens, MixConfig
from tailguard.transforms.quality import ApplyQualityRules, QualityConfig
from tailguard.transforms.tiers import AssignTier, TiersConfig

__all__ = ["STAGES", "RunContext", "StageSpec", "StageTransform"]

#: What every stage is: Documents in, :class:`StageOutputs` out.
StageTransform = beam.PTransform[PCollection[Document], StageOutputs]

ConfigT = TypeVar("ConfigT")


@dataclass(frozen=True)
class RunContext:
    """Run-wide facts a stage may need when it is built.

    Attributes:
        layout: The run's (or ingest batch's) output layout.
        seed: The run seed.
        num_shards: Number of corpus shards.
    """

    layout: OutputLayout
    seed: int
    num_shards: int

    @property
    def output_dir(self) -> str:
        """The output directory (``layout.root``)."""
        return self.layout.root


@dataclass(frozen=True)
class StageSpec(Generic[ConfigT]):
    """One pipeline stage.

    Attributes:
        name: Stage name: config section, counter namespace, ``rejected/<name>/``.
        label: Stable CamelCase Beam label of the stage.
        config_cls: The stage's frozen config dataclass.
        build: ``build(config, context) -> PTransform`` (Documents → StageOutputs).
        per_document: The stage decides each document on its own (no shuffle
            across documents).  Leading per-document stages run in the
            resumable ingest phase, checkpointed per batch of input files.
    """

    name: str
    label: str
    config_cls: type[ConfigT]
    build: Callable[[ConfigT, RunContext], StageTransform]
    per_document: bool = False


def _spec(
    name: str,
    label: str,
    config_cls: type[ConfigT],
    build: Callable[[ConfigT, RunContext], StageTransform],
    per_document: bool = False,
) -> StageSpec[Any]:
    # Typed per stage here (build matches config_cls), erased to StageSpec[Any] in the tuple.
    return StageSpec(name, label, config_cls, build, per_document)


# Pipeline order.  Each stage sees Documents in and returns StageOutputs.
# fmt: off
STAGES: tuple[StageSpec[Any], ...] = (
    _spec("extract", "ExtractText", ExtractConfig, lambda cfg, ctx: ExtractText(cfg), per_document=True),
    _spec("langid", "IdentifyLanguage", LangIdConfig, lambda cfg, ctx: IdentifyLanguage(cfg), per_document=True),
    _spec("quality", "ApplyQualityRules", QualityConfig, lambda cfg, ctx: ApplyQualityRules(cfg), per_document=True),
    _spec("dedup_exact", "DedupExact", DedupExactConfig, lambda cfg, ctx: DedupExact(cfg, ctx.layout)),
    _spec("dedup_near", "DedupNearDuplicates", DedupNearConfig, lambda cfg, ctx: DedupNearDuplicates(cfg, ctx.layout)),
    _spec("detect_ai", "ScoreAIContent", ScoreAIConfig, lambda cfg, ctx: ScoreAIContent(cfg), per_document=True),
    # Not per-document: its thresholds may come from the run's own human documents (in-run calibration, a
    # corpus-wide side input) and its stats are corpus-wide, so a resumable run decides in the curate phase.
    _spec("decide_ai", "DecideAIContent", DecideAIConfig, lambda cfg, ctx: DecideAIContent(cfg, ctx.layout)),
    _spec("tiers", "AssignTier", TiersConfig, lambda cfg, ctx: AssignTier(cfg, ctx.layout)),
    _spec("mix", "MixByTokens", MixConfig, lambda cfg, ctx: MixByTokens(cfg, ctx.layout, ctx.seed, ctx.num_shards)),
)
# fmt: on
