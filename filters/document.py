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
    "MAP_ENCODING",
    "SCHEMA_VERSION",
    "Document",
    "Provenance",
    "derive_id",
    "domain_of",
    "namespaced_id",
    "evolve",
]

#: Bumped only when a field is added or changes meaning; recorded in the manifest and in every
#: Parquet shard's schema metadata.  v2: the string-keyed maps are ``list<struct<key, value>>``
#: instead of Arrow ``map`` (HF ``datasets`` has no dtype for ``map``; DuckDB, polars and
#: pyarrow read both).
SCHEMA_VERSION = "document_v2"

#: How the string-keyed maps (``quality``, ``detector_scores``, ``lineage``, ``metadata``) are
#: stored in Parquet: a list of ``{key, value}`` structs sorted by key (decided once, versioned
#: with :data:`SCHEMA_VERSION`).  JSON output keeps them as JSON objects.
MAP_ENCODING = "list<struct<key,value>>"


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
            A plain dict (maps become lists of ``{"key", "value"}`` dicts, sorted
            by key so that output bytes do not depend on insertion order).
        """
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "html"}
        row["provenance"] = _provenance_dict(self.provenance)
        for name in _MAP_FIELDS:
            row[name] = [{"key": k, "value": v} for k, v in sorted(row[name].items())]
        return row

    def to_json_dict(self) -> dict[str, Any]:
        """Return the document as a JSON-serialisable dict (maps stay dicts, in key order)."""
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "html"}
        row["provenance"] = _provenance_dict(self.provenance)
        for name in _MAP_FIELDS:
            row[name] = dict(sorted(row[name].items()))
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Document:
        """Rebuild a document from :meth:`to_row` / :meth:`to_json_dict` output.

        Args:
            row: A dict as written by tailguard (Parquet row or JSON object).
                Maps may be JSON objects, lists of ``{key, value}`` dicts
                (``document_v2`` Parquet) or lists of ``(key, value)`` pairs
                (``document_v1`` Arrow maps), so older outputs read back too.

        Returns:
            The equivalent ``Document``.

        Raises:
            ValueError: When a field has the wrong shape (e.g. a provenance key
                tailguard does not write); readers turn this into a record error.
        """
        kwargs = {k: v for k, v in row.items() if k in _FIELD_NAMES}
        provenance = row.get("provenance") or {}
        if not isinstance(provenance, dict) or not set(provenance) <= _PROVENANCE_NAMES:
            raise ValueError(f"provenance is not a tailguard provenance record: {str(provenance)[:100]}")
        kwargs["provenance"] = Provenance(**provenance)
        for name in _MAP_FIELDS:
            kwargs[name] = _map_value(row.get(name), name)
        return cls(**kwargs)


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Document)) - {"html"}
_PROVENANCE_FIELDS = tuple(f.name for f in dataclasses.fields(Provenance))


def _provenance_dict(provenance: Provenance) -> dict[str, Any]:
    # Provenance holds scalars only, so this equals dataclasses.asdict (which deep-copies
    # recursively: ~18 us per call against ~1 us, on every document written or rejected).
    return {name: getattr(provenance, name) for name in _PROVENANCE_FIELDS}


_PROVENANCE_NAMES = frozenset(f.name for f in dataclasses.fields(Provenance))
_MAP_FIELDS = ("quality", "detector_scores", "lineage", "metadata")


def _map_value(value: Any, name: str) -> dict[str, Any]:
    """Read a map field in any encoding tailguard has written (see :meth:`Document.from_row`)."""
    if not value:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if not isinstance(value, list):
        raise ValueError(f"{name} is a {type(value).__name__}, not a mapping")
    out: dict[str, Any] = {}
    for item in value:
        if isinstance(item, dict) and set(item) == {"key", "value"}:
            out[str(item["key"])] = item["value"]
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            out[str(item[0])] = item[1]
        else:
            raise ValueError(f"{name} holds {str(item)[:60]}, not a key/value pair")
    return out


def _map_type(value_type: pa.DataType) -> pa.DataType:
    """The Parquet type of a string-keyed map (:data:`MAP_ENCODING`)."""
    return pa.list_(pa.struct([pa.field("key", pa.string(), nullable=False), pa.field("value", value_type)]))


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
        pa.field("quality", _map_type(pa.float64())),
        pa.field("ai_score", pa.float64()),
        pa.field("detector_scores", _map_type(pa.float64())),
        pa.field("dup_cluster_id", pa.string()),
        pa.field("dup_cluster_size", pa.int64()),
        pa.field("tier", pa.string()),
        pa.field("sample_weight", pa.float64()),
        pa.field("repeats", pa.int64()),
        pa.field("tokens", pa.int64()),
        pa.field("lineage", _map_type(pa.string())),
        pa.field("metadata", _map_type(pa.string())),
    ],
    metadata={"tailguard.schema": SCHEMA_VERSION, "tailguard.map_encoding": MAP_ENCODING},
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


def evolve(doc: Document, **changes: Any) -> Document:
    """Return a copy of ``doc`` with ``changes`` applied; ``doc`` itself is never touched.

    Beam forbids a DoFn to mutate its input element: runners that fuse steps or
    reuse elements would see the change in another branch (issue 11).  Stages
    therefore emit ``evolve(doc, ...)``.  For the string-keyed maps (``quality``,
    ``detector_scores``, ``lineage``, ``metadata``) the given entries are merged
    into a *new* dict, so ``evolve(doc, lineage={"quality": "kept"})`` keeps the
    earlier stages' entries.

    Args:
        doc: The input document.
        changes: Field values to set; map fields are merged.

    Returns:
        A new ``Document``.
    """
    for name in _MAP_FIELDS:
        if name in changes:
            changes[name] = {**getattr(doc, name), **changes[name]}
    return dataclasses.replace(doc, **changes)


def namespaced_id(doc_id: str, source: str, position: int | None) -> str:
    """Return the id a document gets when its own ``id`` is not unique in the run.

    Per-file integer ids and overlapping dumps repeat ids; stages key on ``id``
    (exact dedup, the near-dedup join, mixing), so every occurrence of a
    repeated id is renamed — none keeps it, so the choice never depends on the
    order records arrive in — to the id followed by a digest of where the
    record was read.  The original stays in ``provenance.record_id``.

    Args:
        doc_id: The repeated id.
        source: The input file of this occurrence.
        position: Its line / row number or byte offset.

    Returns:
        ``"<doc_id>~<12 hex digits>"``, stable for the same file and position.
    """
    return f"{doc_id}~{derive_id(source, '' if position is None else position)[:12]}"
