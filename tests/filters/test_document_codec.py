"""The Beam-free Document codec round-trips every field exactly and deterministically."""

from __future__ import annotations

import dataclasses
import math
import typing

import numpy as np
import pytest

from tailguard.filters.document import Document, Provenance
from tailguard.filters.document_codec import decode_document, encode_document


def _value_for(hint: typing.Any, name: str, index: int) -> typing.Any:
    """A non-default value of the field's type (so a new field is covered automatically)."""
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if origin is typing.Union or str(origin) == "<class 'types.UnionType'>" else hint
    if isinstance(base, type) and dataclasses.is_dataclass(base):
        nested = typing.get_type_hints(base)
        return base(**{f.name: _value_for(nested[f.name], f.name, i) for i, f in enumerate(dataclasses.fields(base))})
    if typing.get_origin(base) is dict:
        value_type = typing.get_args(base)[1]
        return {f"{name}-k{i}": (0.25 * i if value_type is float else f"v{i} ☃") for i in (3, 1, 2)}
    if base is str:
        return f"{name} ünïcødé 你好 \U0001f600 {index}"
    if base is bytes:
        return b"\x00\xff<html>" * 3
    if base is float:
        return 1.0 / 3.0 + index
    if base is int:
        return 10**index
    raise AssertionError(f"test does not know how to fill {name}: {hint}")


def _full_document() -> Document:
    hints = typing.get_type_hints(Document)
    return Document(
        **{f.name: _value_for(hints[f.name], f.name, i) for i, f in enumerate(dataclasses.fields(Document))}
    )


def test_every_field_round_trips_exactly() -> None:
    doc = _full_document()
    back = decode_document(encode_document(doc))
    assert back == doc
    for field in dataclasses.fields(Document):  # same types too (no int→float, tuple→list ...)
        assert type(getattr(back, field.name)) is type(getattr(doc, field.name)), field.name


def test_defaults_and_none_round_trip() -> None:
    doc = Document("only-id", "")
    assert decode_document(encode_document(doc)) == doc


@pytest.mark.parametrize(
    "value",
    [2**63 - 1, -(2**63), 2**64 - 1, 2**70, -(2**100), 0],
    ids=["int64-max", "int64-min", "uint64-max", "2^70", "-2^100", "zero"],
)
def test_large_ints_round_trip(value: int) -> None:
    doc = Document("i", "t", tokens=value, provenance=Provenance(position=value))
    back = decode_document(encode_document(doc))
    assert back.tokens == value and back.provenance.position == value and type(back.tokens) is int


def test_special_floats_and_odd_values_round_trip() -> None:
    doc = Document(
        "f",
        "lone surrogate \udc80 kept",
        ai_score=float("nan"),
        sample_weight=-0.0,
        lang_score=float("inf"),
        quality={"tiny": 5e-324, "big": 1.7976931348623157e308, "np": np.float64(0.1)},
        metadata={"tuple": (1, "a")},  # not the schema's type: still exact, never converted
    )
    back = decode_document(encode_document(doc))
    assert back.ai_score is not None and math.isnan(back.ai_score)
    assert back.sample_weight == 0.0 and math.copysign(1.0, back.sample_weight) < 0
    assert back.lang_score == math.inf and back.text == doc.text
    assert back.quality == doc.quality and type(back.quality["np"]) is np.float64
    assert back.metadata == {"tuple": (1, "a")}


def test_equal_documents_give_equal_bytes_whatever_the_map_order() -> None:
    a = Document("d", "t", quality={"x": 1.0, "y": 2.0, "z": 3.0}, lineage={"b": "1", "a": "2"})
    b = Document("d", "t", quality={"z": 3.0, "x": 1.0, "y": 2.0}, lineage={"a": "2", "b": "1"})
    assert encode_document(a) == encode_document(b)


def test_encoding_does_not_modify_the_document() -> None:
    doc = Document("d", "t", quality={"z": 1.0, "a": 2.0})
    encode_document(doc)
    assert list(doc.quality) == ["z", "a"]


def test_bytes_from_another_layout_are_refused() -> None:
    data = bytearray(encode_document(Document("d", "t")))
    data[1] ^= 0xFF  # the layout fingerprint
    with pytest.raises(ValueError, match="layout"):
        decode_document(bytes(data))
