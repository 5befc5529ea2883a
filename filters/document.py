"""The one record type that flows through every tailguard stage.

A :class:`Document` is created by a reader (``filters/readers``) and travels,
unchanged in shape, through extraction, language ID, quality rules, dedup, AI
scoring, tiers and mixing until it is written.  Stages only *fill* the open
slots (``quality``, ``ai_score``, ``dup_cluster_id`` ...); none adds fields.
Extensible per-stage values live in string-keyed maps so the Parquet schema
(:data:`ARROW_SCHEMA`) stays stable as stages and signals are added.

Elements in: raw input records.  Elements out: ``Document`` objects and, for the
writer, plain row dicts that match :data:`ARROW_SCHEMA`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

__all__ = [
    "ARROW_SCHEMA",
    "SCHEMA_VERSION",
    "Document",
    "Provenance",
    "derive_id",
    "domain_of",
]

#: Bumped only when a field is added or changes meaning; recorded in the manifest.
SCHEMA_VERSION = "document_v1"


@dataclass(slots=True)
class Provenance:
    """Where a document came from, as recorded by the reader.

    Attributes:
        record_id: WARC-Record-ID (WARC), or the input's own id / position.
        position: Byte offset (WARC) or 1-based line / row number in ``source``.
        record_type: WARC record type (``response``, ``conversion`` ...) or the
            input format (``jsonl``, ``parquet``).
        payload_digest: WARC-Payload-Digest (or WARC-Refers-To-... for revisits).
        content_type: HTTP (or record) content type, without parameters.
        charset: Declared or detected charset of the payload.
        identified_language: WARC-Identified-Content-Language, when present.
        original_length: Length in bytes of the payload as read.
        revisit_of: For WARC revisit records, the digest/URI they duplicate.
    """

    record_id: str | None = None
    position: int | None = None
    record_type: str | None = None
    payload_digest: str | None = None
    content_type: str | None = None
    charset: str | None = None
    identified_language: str | None = None
    original_length: int | None = None
    revisit_of: str | None = None


@dataclass(slots=True)
class Document:
    """One document and everything tailguard learns about it.

    Attributes:
        id: Stable identifier: the input's own ``id`` when it has one, otherwise
            derived from the source file and the record position (never random).
        text: The document text (plain text after extraction).
        source: The input file the record came from.
        url: Source URL, when known.
        domain: Registered host of ``url`` (lower case, no ``www.``).
        crawl_date: ISO-8601 date/time the page was captured, when known.
        html: Raw markup awaiting extraction (WARC input); cleared by extraction.
        lang: ISO 639 language code from language ID.
        lang_score: Confidence of ``lang``.
        provenance: Reader-level facts about the record.
        quality: Quality signals by name (filled by the quality stage).
        ai_score: Calibrated probability that the text is machine-generated.
        detector_scores: Per-detector scores by detector name.
        dup_cluster_id: Id of the near-duplicate cluster (its survivor's id).
        dup_cluster_size: Number of documents in that cluster.
        tier: Provenance tier (see the tiers stage).
        sample_weight: Sampling weight assigned by mixing.
        repeats: How many times mixing writes this document (epochs).
        tokens: Token count used for token-exact mixing.
        lineage: Decisions made about the document, by stage name.
        metadata: Input fields tailguard does not model, JSON-encoded by key.
    """

    id: str
    text: str
    source: str = ""
    url: str | None = None
    domain: str | None = None
    crawl_date: str | None = None
    html: bytes | None = None
    lang: str | None = None
    lang_score: float | None = None
    provenance: Provenance = field(default_factory=Provenance)
    quality: dict[str, float] = field(default_factory=dict)
    ai_score: float | None = None
    detector_scores: dict[str, float] = field(default_factory=dict)
    dup_cluster_id: str | None = None
    dup_cluster_size: int | None = None
    tier: str | None = None
    sample_weight: float | None = None
    repeats: int | None = None
    tokens: int | None = None
    lineage: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """Return the document as a dict matching :data:`ARROW_SCHEMA`.

        Returns:
            A plain dict (maps become lists of key/value pairs, sorted by key so
            that output bytes do not depend on insertion order).
        """
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "html"}
        row["provenance"] = dataclasses.asdict(self.provenance)
        for name in _MAP_FIELDS:
            row[name] = sorted(row[name].items())
        return row

    def to_json_dict(self) -> dict[str, Any]:
        """Return the document as a JSON-serialisable dict (maps stay dicts)."""
        row = self.to_row()
        for name in _MAP_FIELDS:
            row[name] = dict(row[name])
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Document:
        """Rebuild a document from :meth:`to_row` / :meth:`to_json_dict` output.

        Args:
            row: A dict as written by tailguard (Parquet row or JSON object).

        Returns:
            The equivalent ``Document``.
        """
        kwargs = {k: v for k, v in row.items() if k in _FIELD_NAMES}
        kwargs["provenance"] = Provenance(**(row.get("provenance") or {}))
        for name in _MAP_FIELDS:
            value = row.get(name) or {}
            kwargs[name] = dict(value) if not isinstance(value, dict) else dict(value)
        return cls(**kwargs)


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Document)) - {"html"}
_MAP_FIELDS = ("quality", "detector_scores", "lineage", "metadata")

ARROW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("source", pa.string()),
        pa.field("url", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("crawl_date", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float64()),
        pa.field(
            "provenance",
            pa.struct(
                [
                    pa.field("record_id", pa.string()),
                    pa.field("position", pa.int64()),
                    pa.field("record_type", pa.string()),
                    pa.field("payload_digest", pa.string()),
                    pa.field("content_type", pa.string()),
                    pa.field("charset", pa.string()),
                    pa.field("identified_language", pa.string()),
                    pa.field("original_length", pa.int64()),
                    pa.field("revisit_of", pa.string()),
                ]
            ),
        ),
        pa.field("quality", pa.map_(pa.string(), pa.float64())),
        pa.field("ai_score", pa.float64()),
        pa.field("detector_scores", pa.map_(pa.string(), pa.float64())),
        pa.field("dup_cluster_id", pa.string()),
        pa.field("dup_cluster_size", pa.int64()),
        pa.field("tier", pa.string()),
        pa.field("sample_weight", pa.float64()),
        pa.field("repeats", pa.int64()),
        pa.field("tokens", pa.int64()),
        pa.field("lineage", pa.map_(pa.string(), pa.string())),
        pa.field("metadata", pa.map_(pa.string(), pa.string())),
    ],
    metadata={"tailguard.schema": SCHEMA_VERSION},
)


def derive_id(source: str, position: int | str) -> str:
    """Derive a stable id for a record that has none of its own.

    Args:
        source: The input file the record came from (as matched).
        position: Line/row number, byte offset or WARC-Record-ID in that file.

    Returns:
        A 24-hex-digit id that depends only on ``source`` and ``position``.
    """
    digest = hashlib.sha1(f"{source}\x00{position}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:24]


def domain_of(url: str | None) -> str | None:
    """Return the lower-cased host of ``url`` without port or a leading ``www.``.

    Args:
        url: An absolute URL, or ``None``.

    Returns:
        The host, or ``None`` when ``url`` has none.
    """
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def metadata_value(value: Any) -> str:
    """Encode an arbitrary input field for :attr:`Document.metadata`."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
