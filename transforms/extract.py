"""Stage ``extract``: HTML → main text, then Unicode normalisation, for every document.

Documents with ``html`` (WARC responses) are decoded (robust charset detection)
and run through the configured extractor; ``html`` is then cleared.  Documents
that arrive with text (WET, JSONL, Parquet) are only normalised.  Normalisation
(ftfy mojibake repair, NFC, invisible-character removal) records
``quality["invisible_chars"]`` and ``quality["mojibake_fixed"]``.
Drops: ``extraction_empty`` (the extractor found no main text),
``empty_after_normalization``, ``too_short`` (below ``min_chars``).
Elements in and out: :class:`~tailguard.filters.document.Document`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection

from tailguard.filters.document import Document, evolve
from tailguard.filters.extract import (
    decode_html,
    judge_extraction,
    judge_normalized_text,
    make_extractor,
)
from tailguard.filters.normalize import TextNormalizer
from tailguard.transforms._stage_configs import ExtractConfig
from tailguard.transforms.accounting import (
    StageOutputs,
    apply_stage_fn,
    emit_verdict,
    make_counter,
)

__all__ = ["ExtractConfig", "ExtractText"]

STAGE = "extract"


class _ExtractTextFn(beam.DoFn):
    """Extract and normalise one document."""

    def __init__(self, config: ExtractConfig) -> None:
        self._config = config

    def setup(self) -> None:
        # Extractor modules and ftfy tables are heavy: build them once per worker.
        self._extract = make_extractor(self._config.extractor)
        self._normalizer = TextNormalizer(fix_mojibake=self._config.fix_mojibake)
        self._inc = make_counter(STAGE)

    def process(self, doc: Document) -> Iterator[Any]:
        lineage = "normalized"
        if doc.html is not None:
            decoded = decode_html(doc.html, doc.provenance.charset)
            if not decoded.declared_ok:
                self._inc("charset_redetected", 1)
            provenance = dataclasses.replace(doc.provenance, charset=decoded.charset)
            doc = evolve(doc, text=self._extract(decoded.html, doc.url), html=None, provenance=provenance)
            extracted = judge_extraction(doc.text, self._config.extractor)
            if not extracted.keep:
                yield emit_verdict(STAGE, doc, extracted, self._inc)
                return
            lineage = extracted.detail
        result = self._normalizer.normalize(doc.text)
        if result.invisible_chars:
            self._inc("invisible_chars_removed", result.invisible_chars)
        if result.mojibake_fixed:
            self._inc("mojibake_fixed", 1)
        signals = {
            "invisible_chars": float(result.invisible_chars),
            "mojibake_fixed": 1.0 if result.mojibake_fixed else 0.0,
        }
        doc = evolve(doc, text=result.text, quality=signals)
        yield emit_verdict(STAGE, doc, judge_normalized_text(doc.text, self._config.min_chars, lineage), self._inc)


# Typed, so that wiring anything but Documents into the stage fails while the pipeline is built.
@beam.typehints.with_input_types(Document)
class ExtractText(beam.PTransform):
    """Turn HTML into normalised main text (and normalise text documents).

    Args:
        config: Stage options.

    Returns (from ``expand``):
        :class:`StageOutputs` of the ``extract`` stage.
    """

    def __init__(self, config: ExtractConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, docs: PCollection) -> StageOutputs:
        outputs: StageOutputs = apply_stage_fn(docs, "ExtractAndNormalize", STAGE, _ExtractTextFn(self._config))
        return outputs
