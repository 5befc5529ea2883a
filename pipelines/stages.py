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
from typing import Any

import apache_beam as beam

from tailguard.transforms.ai_text import DecideAIConfig, DecideAIContent, ScoreAIConfig, ScoreAIContent
from tailguard.transforms.dedup import DedupExact, DedupExactConfig, DedupNearConfig, DedupNearDuplicates
from tailguard.transforms.dedup import stats_path as dedup_stats_path
from tailguard.transforms.extract import ExtractConfig, ExtractText
from tailguard.transforms.langid import IdentifyLanguage, LangIdConfig
from tailguard.transforms.mix import MixByTokens, MixConfig
from tailguard.transforms.quality import ApplyQualityRules, QualityConfig
from tailguard.transforms.tiers import AssignTier, TiersConfig

__all__ = ["STAGES", "RunContext", "StageSpec"]


@dataclass(frozen=True)
class RunContext:
    """Run-wide facts a stage may need when it is built.

    Attributes:
        output_dir: The run's output directory (local or ``gs://``).
        seed: The run seed.
        num_shards: Number of corpus shards.
    """

    output_dir: str
    seed: int
    num_shards: int


@dataclass(frozen=True)
class StageSpec:
    """One pipeline stage.

    Attributes:
        name: Stage name: config section, counter namespace, ``rejected/<name>/``.
        label: Stable CamelCase Beam label of the stage.
        config_cls: The stage's frozen config dataclass.
        build: ``build(config, context) -> PTransform``.
        per_document: The stage decides each document on its own (no shuffle
            across documents).  Leading per-document stages run in the
            resumable ingest phase, checkpointed per batch of input files.
    """

    name: str
    label: str
    config_cls: type
    build: Callable[[Any, RunContext], beam.PTransform]
    per_document: bool = False


# Pipeline order.  Each stage sees Documents in and returns StageOutputs.
STAGES: tuple[StageSpec, ...] = (
    StageSpec("extract", "ExtractText", ExtractConfig, lambda cfg, ctx: ExtractText(cfg), per_document=True),
    StageSpec("langid", "IdentifyLanguage", LangIdConfig, lambda cfg, ctx: IdentifyLanguage(cfg), per_document=True),
    StageSpec("quality", "ApplyQualityRules", QualityConfig, lambda cfg, ctx: ApplyQualityRules(cfg), per_document=True),
    StageSpec("dedup_exact", "DedupExact", DedupExactConfig, lambda cfg, ctx: DedupExact(cfg)),
    StageSpec("dedup_near", "DedupNearDuplicates", DedupNearConfig, lambda cfg, ctx: DedupNearDuplicates(cfg, dedup_stats_path(ctx.output_dir, "dedup_near"))),
    StageSpec("detect_ai", "ScoreAIContent", ScoreAIConfig, lambda cfg, ctx: ScoreAIContent(cfg), per_document=True),
    StageSpec("decide_ai", "DecideAIContent", DecideAIConfig, lambda cfg, ctx: DecideAIContent(cfg), per_document=True),
    StageSpec("tiers", "AssignTier", TiersConfig, lambda cfg, ctx: AssignTier(cfg, ctx.output_dir)),
    StageSpec("mix", "MixByTokens", MixConfig, lambda cfg, ctx: MixByTokens(cfg, ctx.output_dir, ctx.seed, ctx.num_shards)),
)
