"""The ordered stage registry: which stages exist, their config section and how to build them.

Adding a stage = one PTransform module in ``transforms/`` + one line in
:data:`STAGES`.  The config section of a stage has the stage's name and maps onto
its frozen config dataclass (which must have an ``enabled`` field); the stage's
PTransform takes Documents and returns
:class:`~tailguard.transforms.accounting.StageOutputs`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import apache_beam as beam
from apache_beam.pvalue import PCollection

from tailguard.filters.document import Document
from tailguard.filters.layout import OutputLayout
from tailguard.transforms._stage_configs import (
    DecideAIConfig,
    DedupExactConfig,
    DedupNearConfig,
    ExtractConfig,
    LangIdConfig,
    MixConfig,
    QualityConfig,
    ScoreAIConfig,
    TiersConfig,
)
from tailguard.transforms.accounting import StageOutputs

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


def _transform(module: str, name: str) -> Any:
    """The PTransform class ``name`` of ``tailguard.transforms.<module>``, imported now (when built)."""
    return getattr(importlib.import_module(f"tailguard.transforms.{module}"), name)


# Pipeline order.  Each stage sees Documents in and returns StageOutputs.  A stage's module is
# imported only when the stage is built (its config class lives in transforms/_stage_configs.py),
# so a run never loads the DoFns, models and libraries of a stage that is off.
# fmt: off
STAGES: tuple[StageSpec[Any], ...] = (
    _spec("extract", "ExtractText", ExtractConfig,
          lambda cfg, ctx: _transform("extract", "ExtractText")(cfg), per_document=True),
    _spec("langid", "IdentifyLanguage", LangIdConfig,
          lambda cfg, ctx: _transform("langid", "IdentifyLanguage")(cfg), per_document=True),
    _spec("quality", "ApplyQualityRules", QualityConfig,
          lambda cfg, ctx: _transform("quality", "ApplyQualityRules")(cfg), per_document=True),
    _spec("dedup_exact", "DedupExact", DedupExactConfig,
          lambda cfg, ctx: _transform("dedup_exact", "DedupExact")(cfg, ctx.layout)),
    _spec("dedup_near", "DedupNearDuplicates", DedupNearConfig,
          lambda cfg, ctx: _transform("dedup_near", "DedupNearDuplicates")(cfg, ctx.layout)),
    _spec("detect_ai", "ScoreAIContent", ScoreAIConfig,
          lambda cfg, ctx: _transform("ai_score", "ScoreAIContent")(cfg), per_document=True),
    # Not per-document: its thresholds may come from the run's own human documents (in-run calibration, a
    # corpus-wide side input) and its stats are corpus-wide, so a resumable run decides in the curate phase.
    _spec("decide_ai", "DecideAIContent", DecideAIConfig,
          lambda cfg, ctx: _transform("ai_decide", "DecideAIContent")(cfg, ctx.layout)),
    _spec("tiers", "AssignTier", TiersConfig,
          lambda cfg, ctx: _transform("tiers", "AssignTier")(cfg, ctx.layout)),
    _spec("mix", "MixByTokens", MixConfig,
          lambda cfg, ctx: _transform("mix", "MixByTokens")(cfg, ctx.layout, ctx.seed, ctx.num_shards)),
)
# fmt: on
