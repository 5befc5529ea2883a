"""Stage ``quality``: URL blocklist and normalisation, then Gopher, C4 and FineWeb rules.

Order (as in FineWeb's datatrove pipeline): URL blocklist → Gopher repetition →
Gopher quality → C4 (line cleaning, which rewrites the text, then page filters)
→ FineWeb.  Every rule's measurements go to ``doc.quality``; the first failing
rule drops the document with its own reason (``url_blocklisted``,
``gopher_dup_lines``, ``c4_too_few_sentences``, ``fineweb_line_punct_ratio`` ...),
each counted.  Rules apply to documents whose ``lang`` is in ``languages``
(empty = all); others pass unchanged (these rules were designed for English).
Elements in and out: :class:`~tailguard.filters.document.Document`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection

from tailguard.filters.document import Document, evolve
from tailguard.filters.quality.base import RuleVerdict
from tailguard.filters.quality.c4 import (
    c4_clean_lines,
    c4_page_filter,
    parse_bad_words,
)
from tailguard.filters.quality.fineweb import fineweb_quality
from tailguard.filters.quality.gopher import (
    gopher_quality,
    gopher_repetition,
)
from tailguard.filters.urls import UrlBlocklist, normalize_url
from tailguard.filters.verdict import drop, keep
from tailguard.transforms._files import read_text
from tailguard.transforms._stage_configs import QualityConfig
from tailguard.transforms.accounting import (
    StageOutputs,
    apply_stage_fn,
    emit_verdict,
    make_counter,
)

__all__ = ["ApplyQualityRules", "QualityConfig"]

STAGE = "quality"


class _ApplyQualityRulesFn(beam.DoFn):
    """Apply every enabled rule to one document."""

    def __init__(self, config: QualityConfig) -> None:
        self._config = config
        self._languages = frozenset(config.languages)

    def setup(self) -> None:
        # Blocklist and bad-words files are read once per worker, from any Beam filesystem.
        cfg = self._config
        self._blocklist = (
            UrlBlocklist(read_text(cfg.url_blocklist_file).splitlines()) if cfg.url_blocklist_file else None
        )
        self._bad_words = (
            parse_bad_words(read_text(cfg.c4.bad_words_file).splitlines()) if cfg.c4.bad_words_file else frozenset()
        )
        self._inc = make_counter(STAGE)

    def _rules(self, doc: Document) -> Iterator[tuple[Document, RuleVerdict]]:
        """Yield ``(document as the rule saw it, verdict)`` per enabled rule, in order."""
        cfg = self._config
        if cfg.gopher_repetition.enabled:
            yield doc, gopher_repetition(doc.text, cfg.gopher_repetition)
        if cfg.gopher_quality.enabled:
            yield doc, gopher_quality(doc.text, cfg.gopher_quality)
        if cfg.c4.enabled:
            if cfg.c4.clean_lines:
                # C4 line cleaning rewrites the text the later rules (and the corpus) see.
                cleaned = c4_clean_lines(doc.text, cfg.c4, self._inc)
                removed = float(sum(cleaned.removed.values()))
                doc = evolve(doc, text=cleaned.text, quality={"c4_lines_removed": removed})
            yield doc, c4_page_filter(doc.text, cfg.c4, self._bad_words)
        if cfg.fineweb.enabled:
            yield doc, fineweb_quality(doc.text, cfg.fineweb)

    def process(self, doc: Document) -> Iterator[Any]:
        if self._config.normalize_urls and doc.url:
            doc = evolve(doc, url=normalize_url(doc.url))
        if self._blocklist is not None:
            blocked = self._blocklist.check(doc.url)
            if blocked.blocked:
                yield emit_verdict(STAGE, doc, drop("url_blocklisted", blocked.entry, {}), self._inc)
                return
        if self._languages and doc.lang not in self._languages:
            self._inc("rules_not_applicable", 1)
            yield emit_verdict(STAGE, doc, keep(f"not_applicable:{doc.lang}"), self._inc)
            return
        signals: dict[str, float] = {}
        for seen, verdict in self._rules(doc):
            doc = seen
            signals.update(verdict.signals)
            if not verdict.keep:
                doc = evolve(doc, quality=signals)
                yield emit_verdict(STAGE, doc, drop(verdict.reason or "quality", verdict.detail, {}), self._inc)
                return
        yield emit_verdict(STAGE, doc, keep("kept"), self._inc, quality=signals)


# Typed, so that wiring anything but Documents into the stage fails while the pipeline is built.
@beam.typehints.with_input_types(Document)
class ApplyQualityRules(beam.PTransform):
    """Drop documents that fail the URL blocklist or a Gopher / C4 / FineWeb rule.

    Args:
        config: Stage options.

    Returns (from ``expand``):
        :class:`StageOutputs` of the ``quality`` stage.
    """

    def __init__(self, config: QualityConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, docs: PCollection) -> StageOutputs:
        outputs: StageOutputs = apply_stage_fn(docs, "ApplyRules", STAGE, _ApplyQualityRulesFn(self._config))
        return outputs
