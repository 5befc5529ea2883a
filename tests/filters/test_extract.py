"""Charset decoding, HTML extraction backends and text normalisation (no Beam)."""

from __future__ import annotations

import pytest

from tailguard.filters.extract import decode_html, make_extractor
from tailguard.filters.normalize import TextNormalizer

ARTICLE = (
    "<html><head><title>News</title></head><body><nav><a href='/'>Home</a> | <a href='/about'>About</a></nav>"
    "<article><h1>Rivers rise</h1>"
    + "".join(f"<p>Paragraph {i}: the river rose again this week and the town prepared sandbags.</p>" for i in range(6))
    + "</article><footer>Copyright 2024 Example News. All rights reserved.</footer></body></html>"
)


def test_utf8_bytes_win_over_a_wrong_declared_charset() -> None:
    decoded = decode_html("<meta charset='iso-8859-1'><p>café – naïve</p>".encode(), "iso-8859-1")
    assert "café – naïve" in decoded.html and decoded.charset == "utf-8"


def test_declared_legacy_charset_is_used_when_bytes_are_not_utf8() -> None:
    decoded = decode_html("<p>привет, мир</p>".encode("koi8-r"), "koi8-r")
    assert "привет, мир" in decoded.html and decoded.charset == "koi8-r" and decoded.declared_ok


def test_unknown_declared_charset_does_not_crash() -> None:
    decoded = decode_html("<p>Grüße aus Köln</p>".encode("cp1252"), "x-no-such-charset")
    assert "Gr" in decoded.html and not decoded.declared_ok


@pytest.mark.parametrize("backend", ["trafilatura", "resiliparse"])
def test_extractor_keeps_main_text_and_drops_navigation(backend: str) -> None:
    text = make_extractor(backend)(ARTICLE, "http://example.org/news")
    assert "the river rose again" in text
    assert "About" not in text


def test_unknown_extractor_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown extractor"):
        make_extractor("nope")


def test_normalizer_repairs_mojibake_and_applies_nfc() -> None:
    result = TextNormalizer().normalize("The cafÃ© opened. Cafe\u0301 menu.")
    assert result.text == "The café opened. Café menu." and result.mojibake_fixed


def test_normalizer_removes_and_counts_invisible_characters() -> None:
    result = TextNormalizer().normalize("zero\u200bwidth\u200d joiner\x07 bell\tkept\nline")
    assert result.text == "zerowidth joiner bell\tkept\nline"
    assert result.invisible_chars == 3 and not result.mojibake_fixed


def test_normalizer_collapses_blank_line_runs() -> None:
    assert TextNormalizer().normalize("a  \r\n\r\n\r\n\r\nb").text == "a\n\nb"
