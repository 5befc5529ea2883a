"""Turn a JSON/Parquet record (a dict) into a Document; shared by row readers."""

from __future__ import annotations

import dataclasses
from typing import Any

import pyarrow as pa

from tailguard.filters.document import ARROW_SCHEMA, Document, Provenance, derive_id, domain_of, metadata_value
from tailguard.filters.readers.base import ReaderOptions, ReadItem, RecordError, Skip

# Input keys that map onto Document fields directly (others go to metadata).
_URL_KEYS = ("url", "warc_url", "target_uri")
_DATE_KEYS = ("crawl_date", "date", "created", "timestamp")


def record_to_item(row: Any, source: str, position: int, record_type: str, options: ReaderOptions) -> ReadItem:
    """Convert one decoded record to a :data:`ReadItem`.

    Records written by tailguard itself (they carry a ``provenance`` object) are
    read back losslessly; other records keep unknown fields in ``metadata``.
    """
    if not isinstance(row, dict):
        return RecordError(f"record is a JSON {type(row).__name__}, not an object", source, position, repr(row)[:200])
    text = row.get(options.text_field)
    if text is None:
        keys = ", ".join(sorted(map(str, row))[:10])
        return RecordError(f"record has no {options.text_field!r} field (has: {keys})", source, position)
    if not isinstance(text, str):
        return RecordError(f"field {options.text_field!r} is {type(text).__name__}, not a string", source, position)
    raw_id = row.get(options.id_field)
    doc_id = str(raw_id) if raw_id not in (None, "") else derive_id(source, position)
    if not text.strip():
        return Skip("empty_text", source, position, doc_id)
    if isinstance(row.get("provenance"), dict) and "lineage" in row:
        try:
            doc = Document.from_row({**row, "text": text, "id": doc_id})
            # Field types are only known to be right once they fit the schema the writer uses.
            pa.Table.from_pylist([doc.to_row()], schema=ARROW_SCHEMA)
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            return RecordError(
                f"record looks like tailguard output but does not fit its schema: {str(exc)[:200]}",
                source,
                position,
            )
        return doc
    url = next((str(row[k]) for k in _URL_KEYS if row.get(k)), None)
    crawl_date = next((str(row[k]) for k in _DATE_KEYS if row.get(k)), None)
    known = {options.text_field, options.id_field, *_URL_KEYS, *_DATE_KEYS, "lang"}
    metadata = {str(k): metadata_value(v) for k, v in row.items() if k not in known and v is not None}
    doc = Document(
        id=doc_id,
        text=text,
        source=source,
        url=url,
        domain=domain_of(url),
        crawl_date=crawl_date,
        lang=str(row["lang"]) if row.get("lang") else None,
        provenance=Provenance(
            record_id=str(raw_id) if raw_id not in (None, "") else None,
            position=position,
            record_type=record_type,
            original_length=len(text.encode("utf-8", "surrogatepass")),
        ),
        metadata=metadata,
    )
    bad = _field_with_lone_surrogate(doc)
    if bad is not None:
        # JSON "\\ud800" escapes decode to code points UTF-8 cannot encode: no writer could store them.
        return RecordError(f"field {bad!r} holds an unpaired surrogate (invalid Unicode)", source, position)
    return doc


def _field_with_lone_surrogate(doc: Document) -> str | None:
    """Return the name of the first string field that is not encodable as UTF-8, else ``None``."""
    for f in dataclasses.fields(doc):
        value = getattr(doc, f.name)
        strings = [*value.keys(), *value.values()] if isinstance(value, dict) else [value]
        for item in strings:
            if isinstance(item, str) and not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return f.name
    return None
