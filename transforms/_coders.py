"""Beam coder for :class:`~tailguard.filters.document.Document`, registered on import.

:class:`DocumentCoder` wraps the Beam-free encoding of ``filters/document_codec.py``
(schema-ordered MessagePack, deterministic).  Importing this module registers it
twice, so every path that moves a document uses it:

* with Beam's coder registry, for PCollections whose element type is ``Document``
  (or a tuple containing one);
* with :mod:`copyreg`, for PCollections typed ``Any`` — Beam encodes those with
  ``FastPrimitivesCoder``, which pickles objects it does not know, and pickle then
  calls our reducer instead of copying the slots one by one (``Rejection`` and
  ``(id, doc)`` tuples included).

Imported where the pipeline is built and by the stage modules, so workers that
unpickle a stage also register it.  Elements in/out: ``Document`` ⇄ ``bytes``.
"""

from __future__ import annotations

import copyreg
from typing import Any

import apache_beam as beam

from tailguard.filters.document import Document
from tailguard.filters.document_codec import decode_document, encode_document

__all__ = ["DocumentCoder", "register_document_coder"]


class DocumentCoder(beam.coders.Coder):
    """Deterministic coder for ``Document`` (schema-ordered MessagePack)."""

    def encode(self, value: Document) -> bytes:
        return encode_document(value)

    def decode(self, encoded: bytes) -> Document:
        return decode_document(encoded)

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self) -> type:
        return Document

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))


def _reduce_document(doc: Document) -> tuple[Any, tuple[bytes]]:
    return decode_document, (encode_document(doc),)


def register_document_coder() -> None:
    """Register :class:`DocumentCoder` with Beam and the document reducer with pickle (idempotent)."""
    beam.coders.registry.register_coder(Document, DocumentCoder)
    copyreg.pickle(Document, _reduce_document)


register_document_coder()
