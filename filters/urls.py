"""URL normalisation and a domain / pattern blocklist.

``normalize_url`` lower-cases scheme and host, drops default ports, fragments and
tracking parameters (``utm_*`` and click ids), and sorts the query, so
the same page crawled under cosmetic URL variants compares equal.
:class:`UrlBlocklist` is read from a text file: one entry per line, ``#``
comments; a bare domain blocks it and all its subdomains, ``re:<regex>`` blocks
URLs matching the regex, ``*`` / ``?`` globs are matched against the whole URL.
Elements in: URL strings.  Out: normalised URLs / :class:`UrlVerdict`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["UrlBlocklist", "UrlVerdict", "normalize_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Query parameters that only track the visit, never change the page
# (the utm_* family, Google/Facebook/Microsoft click ids, Mailchimp, Google Analytics).
_TRACKING = re.compile(r"^(utm_[a-z]+|gclid|fbclid|msclkid|mc_cid|mc_eid|_ga)$", re.IGNORECASE)


def normalize_url(url: str) -> str:
    """Return a canonical form of ``url`` (unparseable URLs are returned stripped).

    Args:
        url: An absolute URL.

    Returns:
        The normalised URL.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    netloc = host
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{host}"
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        netloc += f":{port}"
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k))
    )
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, query, ""))


@dataclass(frozen=True, slots=True)
class UrlVerdict:
    """Whether a URL is blocked, and by which entry."""

    blocked: bool
    entry: str = ""


class UrlBlocklist:
    """Domains and URL patterns to drop.

    Args:
        entries: Lines of a blocklist file (see the module docstring).
    """

    def __init__(self, entries: list[str]) -> None:
        self._domains: set[str] = set()
        self._regexes: list[tuple[str, re.Pattern[str]]] = []
        for raw in entries:
            entry = raw.strip()
            if not entry or entry.startswith("#"):
                continue
            if entry.startswith("re:"):
                self._regexes.append((entry, re.compile(entry[3:])))
            elif any(c in entry for c in "*?/["):
                self._regexes.append((entry, re.compile(fnmatch.translate(entry))))
            else:
                self._domains.add(entry.lower().lstrip(".").removeprefix("www."))

    @classmethod
    def from_file(cls, path: str) -> UrlBlocklist:
        """Read a blocklist file (UTF-8)."""
        with open(path, encoding="utf-8") as handle:
            return cls(handle.read().splitlines())

    def __len__(self) -> int:
        return len(self._domains) + len(self._regexes)

    def check(self, url: str | None) -> UrlVerdict:
        """Return whether ``url`` is blocked.

        Args:
            url: The document URL (``None`` is never blocked).

        Returns:
            The verdict with the matching entry.
        """
        if not url:
            return UrlVerdict(False)
        try:
            host = (urlsplit(url.strip()).hostname or "").rstrip(".")
        except ValueError:
            host = ""
        labels = host.split(".")
        for i in range(len(labels) - 1):
            candidate = ".".join(labels[i:])
            if candidate in self._domains:
                return UrlVerdict(True, candidate)
        normalized = normalize_url(url)
        for entry, pattern in self._regexes:
            if pattern.search(normalized) if entry.startswith("re:") else pattern.match(normalized):
                return UrlVerdict(True, entry)
        return UrlVerdict(False)
