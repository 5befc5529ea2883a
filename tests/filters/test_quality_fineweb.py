"""FineWeb rules (Penedo et al. 2024) and URL normalisation / blocklist."""

from __future__ import annotations

import pytest

from tailguard.filters.quality.fineweb import FineWebConfig, fineweb_quality
from tailguard.filters.urls import UrlBlocklist, normalize_url

GOOD = "\n".join(f"Line {i} is a full sentence of reasonable length that ends properly." for i in range(8))


def test_prose_lines_pass() -> None:
    assert fineweb_quality(GOOD, FineWebConfig()).keep


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\n".join(f"heading without punctuation number {i} here" for i in range(10)), "fineweb_line_punct_ratio"),
        ("\n".join(f"Short {i}." for i in range(10)), "fineweb_short_line_ratio"),
        (GOOD + "\n" + GOOD.splitlines()[0], "fineweb_char_dup_ratio"),
    ],
    ids=["punct", "short-lines", "dup-chars"],
)
def test_fineweb_rule_drops_with_its_reason(text: str, reason: str) -> None:
    verdict = fineweb_quality(text, FineWebConfig())
    assert (verdict.keep, verdict.reason) == (False, reason)


def test_list_like_page_is_dropped() -> None:
    text = "\n".join(f"Item {i}." for i in range(10))
    verdict = fineweb_quality(text, FineWebConfig(max_short_line_ratio=1.0))
    assert verdict.reason == "fineweb_list_ratio"


def test_url_normalisation_removes_cosmetic_differences() -> None:
    assert normalize_url("HTTP://WWW.Example.ORG:80/a?b=2&utm_source=x&a=1#frag") == "http://www.example.org/a?a=1&b=2"
    assert normalize_url("https://example.org") == "https://example.org/"


def test_blocklist_matches_subdomains_globs_and_regexes() -> None:
    blocklist = UrlBlocklist(["# comment", "bad.example", "*/ads/*", "re:casino\\d+"])
    assert blocklist.check("https://www.bad.example/page").entry == "bad.example"
    assert blocklist.check("https://news.bad.example/").blocked
    assert blocklist.check("https://ok.example/ads/1").entry == "*/ads/*"
    assert blocklist.check("https://ok.example/casino77").blocked
    assert not blocklist.check("https://notbad.example/").blocked
    assert not blocklist.check(None).blocked
