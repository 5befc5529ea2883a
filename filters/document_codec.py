"""Compact, deterministic binary encoding of :class:`~tailguard.filters.document.Document`.

Beam shuffles, joins and checkpoints move whole documents between steps; without
a registered coder they are pickled field by field.  This module encodes a
document as one MessagePack array of its field values in the order of
``dataclasses.fields(Document)`` (nested dataclasses such as ``Provenance`` as
arrays of their own fields, string-keyed maps as MessagePack maps with sorted
keys), behind a 5-byte header: a format version and a CRC-32 of the field
layout, so bytes written by a different ``Document`` shape fail loudly instead
of decoding into the wrong fields.  The field order is derived from the
dataclass at import time, so the codec follows every change of ``Document``.

Exact round trip: ``str``, ``bytes``, ``bool``, ``None``, ``float`` (IEEE-754
double, NaN and -0.0 included) and ``int`` in the int64/uint64 range are native
MessagePack (strings with lone surrogates too: ``surrogatepass``); larger ints travel as a decimal extension; any other value (a
tuple, a numpy scalar ...) as a pickle extension — never silently converted.
Equal documents give equal bytes (map keys are sorted), which Beam requires
of a deterministic coder.  Beam-free: the Beam ``Coder`` lives in
``transforms/_coders.py``.

Elements in: ``Document``.  Out: ``bytes`` (and back).
"""

from __future__ import annotations

import dataclasses
import operator
import pickle
import struct
import threading
import typing
import zlib
from collections.abc import Callable
from typing import Any

import msgpack

from tailguard.filters.document import Document

__all__ = ["CODEC_VERSION", "decode_document", "encode_document", "keyed_by_id", "layout_fingerprint"]

#: Version byte of the encoding; bumped when the byte layout (not the field list) changes.
CODEC_VERSION = 1
_EXT_BIG_INT = 1
_EXT_PICKLE = 2
_HEADER = struct.Struct("<BI")


def _layout(cls: type) -> list[tuple[str, str, Any]]:
    """(name, kind, nested layout or class) per field; kind is ``value``, ``map`` or ``nested``."""
    hints = typing.get_type_hints(cls)
    out: list[tuple[str, str, Any]] = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint):
            out.append((field.name, "nested", hint))
        elif typing.get_origin(hint) is dict:
            out.append((field.name, "map", None))
        else:
            out.append((field.name, "value", None))
    return out


def _describe(cls: type) -> str:
    parts = []
    for name, kind, nested in _layout(cls):
        parts.append(f"{name}:{kind}" + (f"({_describe(nested)})" if kind == "nested" else ""))
    return ",".join(parts)


def layout_fingerprint() -> int:
    """Return the CRC-32 of ``Document``'s field layout (names, kinds, nested fields, in order)."""
    return zlib.crc32(_describe(Document).encode("utf-8"))


_FIELDS = _layout(Document)
_GET_ALL = operator.attrgetter(*(name for name, _, _ in _FIELDS))
_MAPS = [i for i, (_, kind, _) in enumerate(_FIELDS) if kind == "map"]
_NESTED: list[tuple[int, Callable[[Any], tuple[Any, ...]], type]] = [
    (i, operator.attrgetter(*(f.name for f in dataclasses.fields(cls))), cls)
    for i, (_, kind, cls) in enumerate(_FIELDS)
    if kind == "nested"
]
_PREFIX = _HEADER.pack(CODEC_VERSION, layout_fingerprint())


def _default(value: Any) -> Any:
    if type(value) is int:  # outside the 64-bit MessagePack range
        return msgpack.ExtType(_EXT_BIG_INT, str(value).encode("ascii"))
    return msgpack.ExtType(_EXT_PICKLE, pickle.dumps(value, protocol=5))


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _EXT_BIG_INT:
        return int(data.decode("ascii"))
    if code == _EXT_PICKLE:
        return pickle.loads(data)
    raise ValueError(f"document codec: unknown extension type {code}")


_PACKERS = threading.local()  # a Packer keeps a buffer: one per thread (Beam runs DoFns in threads)


def _packer() -> msgpack.Packer:
    packer = getattr(_PACKERS, "packer", None)
    if packer is None:
        packer = _PACKERS.packer = msgpack.Packer(
            default=_default, use_bin_type=True, strict_types=True, unicode_errors="surrogatepass"
        )
    return packer


def encode_document(doc: Document) -> bytes:
    """Return the bytes of ``doc`` (see the module docstring for the layout).

    Args:
        doc: The document (not modified).

    Returns:
        Header + MessagePack payload; equal documents give equal bytes.
    """
    values = list(_GET_ALL(doc))
    for index, getter, _ in _NESTED:
        values[index] = list(getter(values[index]))
    for index in _MAPS:
        mapping = values[index]
        if len(mapping) > 1:
            values[index] = dict(sorted(mapping.items()))
        elif type(mapping) is not dict:
            values[index] = dict(mapping)
    return _PREFIX + _packer().pack(values)


def decode_document(data: bytes) -> Document:
    """Rebuild the document encoded by :func:`encode_document`.

    Args:
        data: Bytes from :func:`encode_document`.

    Returns:
        An equal ``Document`` (maps in key order).

    Raises:
        ValueError: When the bytes come from another codec version or another
            ``Document`` layout.
    """
    version, fingerprint = _HEADER.unpack_from(data)
    if version != CODEC_VERSION or fingerprint != _PREFIX_FINGERPRINT:
        raise ValueError(
            f"document codec: bytes of version {version} / layout {fingerprint:08x}, "
            f"this build reads version {CODEC_VERSION} / layout {_PREFIX_FINGERPRINT:08x}"
        )
    values = msgpack.unpackb(
        memoryview(data)[_HEADER.size :], raw=False, ext_hook=_ext_hook, use_list=True, unicode_errors="surrogatepass"
    )
    for index, _, cls in _NESTED:
        values[index] = cls(*values[index])
    return Document(*values)


_PREFIX_FINGERPRINT = layout_fingerprint()


def keyed_by_id(doc: Document) -> tuple[str, bytes]:
    """Return ``(doc.id, encoded doc)``: how a document travels through a join on its id.

    The runner's CoGroupByKey materialises its Flatten and then its GroupByKey; opaque bytes
    are copied there instead of a Document being encoded twice (measured: 2 document encodes
    per join otherwise).
    """
    return doc.id, encode_document(doc)
