"""Stage ``langid``: fastText lid.176 language ID, then the allowed-language and score filters.

Sets ``doc.lang`` / ``doc.lang_score`` on every document (overwriting a language
that came with the input; WARC-Identified-Content-Language stays in provenance).
Drops: ``language_not_allowed`` (``lang`` not in ``allowed_languages``, when that
list is non-empty) and ``low_language_score`` (score below ``min_score``).
Elements in and out: :class:`~tailguard.filters.document.Document`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection

from tailguard.filters.document import Document, evolve
from tailguard.filters.langid import LanguageIdentifier, judge_language
from tailguard.transforms._files import local_copy
from tailguard.transforms._stage_configs import LangIdConfig
from tailguard.transforms.accounting import (
    StageOutputs,
    apply_stage_fn,
    emit_verdict,
    make_counter,
)

__all__ = ["IdentifyLanguage", "LangIdConfig"]

STAGE = "langid"


class _IdentifyLanguageFn(beam.DoFn):
    """Identify one document's language and apply the filters."""

    def __init__(self, config: LangIdConfig) -> None:
        self._config = config
        self._allowed = frozenset(config.allowed_languages)

    def setup(self) -> None:
        # The fastText model (~1 MB, ~0.1 s to load) is loaded once per worker.
        self._model = LanguageIdentifier(local_copy(self._config.model_path) if self._config.model_path else None)
        self._inc = make_counter(STAGE)

    def process(self, doc: Document) -> Iterator[Any]:
        guess = self._model.identify(doc.text)
        self._inc(f"lang:{guess.lang}", 1)
        verdict = judge_language(guess, self._allowed, self._config.min_score)
        # The guess is recorded on the rejected copy too: the rejected file shows what was identified.
        doc = evolve(doc, lang=guess.lang, lang_score=guess.score)
        yield emit_verdict(STAGE, doc, verdict, self._inc)


# Typed, so that wiring anything but Documents into the stage fails while the pipeline is built.
@beam.typehints.with_input_types(Document)
class IdentifyLanguage(beam.PTransform):
    """Identify each document's language and keep the allowed ones.

    Args:
        config: Stage options.

    Returns (from ``expand``):
        :class:`StageOutputs` of the ``langid`` stage.
    """

    def __init__(self, config: LangIdConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, docs: PCollection) -> StageOutputs:
        outputs: StageOutputs = apply_stage_fn(docs, "IdentifyLanguageFn", STAGE, _IdentifyLanguageFn(self._config))
        return outputs
