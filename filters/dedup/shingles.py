"""Word and character n-gram shingles for MinHash.

Words come from one compiled regex (``\\w+``), not an NLP tokenizer: datatrove
spends ~10 ms/document in spaCy word splitting and a regex is enough for MinHash
(BEAM_NOTES, "Other measured facts").  Shingles are returned as UTF-8 ``bytes``,
exactly what ``datasketch.MinHash.update`` hashes, so signatures can be compared
with datasketch on the same shingles.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["ShingleType", "char_shingles", "shingles", "split_words", "word_shingles"]

ShingleType = Literal["word", "char"]

_WORD = re.compile(r"\w+", re.UNICODE)


def split_words(text: str, lowercase: bool = True) -> list[str]:
    """Return the word tokens of ``text`` (``\\w+`` runs, case-folded by default)."""
    return _WORD.findall(text.casefold() if lowercase else text)


def word_shingles(text: str, n: int = 5, lowercase: bool = True) -> set[bytes]:
    """Return the set of word ``n``-grams of ``text``.

    A text shorter than ``n`` words gives one shingle of all its words (so short
    documents still get a signature); a text with no words gives an empty set.

    Args:
        text: Document text.
        n: Words per shingle (>= 1).
        lowercase: Case-fold before splitting.

    Returns:
        Shingles as space-joined UTF-8 bytes.
    """
    words = split_words(text, lowercase)
    if len(words) <= n:
        return {" ".join(words).encode("utf-8", "surrogatepass")} if words else set()
    return {" ".join(words[i : i + n]).encode("utf-8", "surrogatepass") for i in range(len(words) - n + 1)}


def char_shingles(text: str, n: int = 5, lowercase: bool = True) -> set[bytes]:
    """Return the set of character ``n``-grams of ``text`` after collapsing white space."""
    text = " ".join(text.split())
    if lowercase:
        text = text.casefold()
    if not text:
        return set()
    if len(text) <= n:
        return {text.encode("utf-8", "surrogatepass")}
    return {text[i : i + n].encode("utf-8", "surrogatepass") for i in range(len(text) - n + 1)}


def shingles(text: str, kind: ShingleType = "word", n: int = 5, lowercase: bool = True) -> set[bytes]:
    """Return the shingles of ``text`` for ``kind`` (``word`` or ``char``) n-grams."""
    if kind == "word":
        return word_shingles(text, n, lowercase)
    return char_shingles(text, n, lowercase)
