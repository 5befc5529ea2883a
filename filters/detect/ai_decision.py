"""The AI-score verdict: does a stored ai_score / watermark z put a document over the line, and how surely?

Pure and Beam-free; ``transforms/ai_decide.py`` turns the verdict into drop / tag / down-weight.
Two lines (issue 16): at or above ``threshold`` (calibrated at the target FPR, 1 % by default) a
document counts as AI; only at or above ``confident_threshold`` (calibrated at a much lower FPR,
0.1 % by default) is the call *confident*.  The pipeline drops only confident calls and down-weights
(or tags) the uncertain band between the two, so a wrong call costs a weight, not a human document.

The *decision breakdown* (issue 16 §3, "what was removed and down-weighted by domain and length"):
every decided document becomes one small record (domain, length bucket, outcome, words, chars);
:func:`add_outcome` / :func:`merge_tallies` sum them per key, :func:`top_domains` keeps the largest
domains exactly and folds the rest into :data:`OTHER_DOMAINS`, and :func:`decision_breakdown` turns
the sums into the rows of the manifest section ``decide_ai.breakdown`` and of the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tailguard.filters.document import domain_of

__all__ = [
    "AI_GENERATED",
    "LENGTH_EDGES",
    "NO_DOMAIN",
    "OTHER_DOMAINS",
    "OUTCOMES",
    "PASSED_ON",
    "REMOVED",
    "AIDecision",
    "HumanProvenance",
    "Tally",
    "add_outcome",
    "breakdown_domain",
    "decide_ai",
    "decision_breakdown",
    "length_bucket",
    "length_labels",
    "merge_tallies",
    "new_tally",
    "top_domains",
    "word_count",
]

AI_GENERATED = "ai_generated"

#: What decide_ai did with a document.  ``dropped``: reason ai_generated; ``downweighted`` /
#: ``tagged``: an AI call kept with a smaller weight / a lineage tag; ``kept``: below the threshold
#: (or unscored and ``unscored: keep``); ``calibration_human``: in-run calibration evidence, exempt
#: from the decision; ``dropped_unscored``: no ai_score and ``unscored: drop``.
OUTCOMES = ("dropped", "downweighted", "tagged", "kept", "calibration_human", "dropped_unscored")
#: Outcomes that remove the document from the corpus.
REMOVED = ("dropped", "dropped_unscored")
#: Outcomes that pass the document on (the corpus decide_ai keeps).
PASSED_ON = ("downweighted", "tagged", "kept", "calibration_human")
#: Word-count bucket edges (whitespace-separated words).  Chosen, not tuned: < 100 words are the
#: short texts where detectors are least reliable (and the issue's "short texts" register),
#: 100-300 a typical essay or abstract, 300-1000 an article, 1000-3000 a long article, >= 3000
#: book chapters and dumps.
LENGTH_EDGES = (100, 300, 1000, 3000)
#: Domain key of documents without a URL (and without ``Document.domain``).
NO_DOMAIN = "(no url)"
#: Domain key of every domain outside the largest ``top`` ones.
OTHER_DOMAINS = "(other)"

#: Per outcome: ``[documents, words, chars]``.
Tally = dict[str, list[int]]


@dataclass(frozen=True, slots=True)
class AIDecision:
    """Verdict on one document.

    Attributes:
        reason: ``ai_generated`` when the document counts as machine-written, else ``None``.
        detail: Human-readable values behind the verdict (goes to lineage / rejected detail).
        confident: The call is at or above the confident threshold (or a watermark hit).
    """

    reason: str | None
    detail: str
    confident: bool = False


def decide_ai(
    ai_score: float | None,
    watermark_z: float | None,
    threshold: float,
    watermark_z_threshold: float,
    confident_threshold: float | None = None,
) -> AIDecision:
    """Compare stored scores with the thresholds.

    Args:
        ai_score: Calibrated P(AI) written by the ``detect_ai`` stage (``None`` = not scored).
        watermark_z: Watermark z statistic, when a watermark key was configured.
        threshold: ai_score at or above which the document counts as AI.
        watermark_z_threshold: z at or above which the document counts as (our own) watermarked AI text.
        confident_threshold: ai_score at or above which the call is confident (``None``: every AI call is).

    Returns:
        The :class:`AIDecision`.
    """
    if watermark_z is not None and watermark_z >= watermark_z_threshold:
        return AIDecision(AI_GENERATED, f"watermark_z={watermark_z:.2f}>={watermark_z_threshold:g}", True)
    if ai_score is None:
        return AIDecision(None, "unscored")
    if ai_score >= threshold:
        confident = confident_threshold is None or ai_score >= max(confident_threshold, threshold)
        band = "" if confident_threshold is None else (" confident" if confident else " uncertain")
        return AIDecision(AI_GENERATED, f"ai_score={ai_score:.4f}>={threshold:.4f}{band}", confident)
    return AIDecision(None, f"kept ai_score={ai_score:.4f}<{threshold:.4f}")


@dataclass(frozen=True, slots=True)
class HumanProvenance:
    """Which documents of a run count as human by provenance (in-run calibration of ``decide_ai``).

    Attributes:
        crawl_before: ISO date; documents captured before it count as human (e.g. ``2022-11-30``,
            before ChatGPT).  Empty: not used.
        sources: ``fnmatch`` patterns of input files holding verified-human text.
        metadata: ``key=value``: documents whose ``metadata[key]`` (JSON-decoded) equals ``value``.
    """

    crawl_before: str = ""
    sources: tuple[str, ...] = ()
    metadata: str = ""

    @property
    def enabled(self) -> bool:
        """Whether any rule is set."""
        return bool(self.crawl_before or self.sources or self.metadata)

    def matches(self, crawl_date: str | None, source: str, metadata: dict[str, str]) -> bool:
        """Whether a document with these fields counts as human by provenance."""
        import fnmatch
        import json

        if self.crawl_before and crawl_date and crawl_date[:10] < self.crawl_before[:10]:
            return True
        if any(fnmatch.fnmatch(source, pattern) for pattern in self.sources):
            return True
        if self.metadata:
            key, _, value = self.metadata.partition("=")
            raw = metadata.get(key)
            if raw is not None:
                try:
                    decoded = json.loads(raw)
                except ValueError:
                    decoded = raw
                return str(decoded) == value
        return False


def word_count(text: str) -> int:
    """Whitespace-separated words of ``text`` (the length unit of the breakdown)."""
    return len(text.split())


def length_labels(edges: Sequence[int] = LENGTH_EDGES) -> tuple[str, ...]:
    """Labels of the word-count buckets, shortest first (``<100``, ``100-300`` ... ``>=3000``).

    Args:
        edges: Increasing bucket edges; a bucket ``a-b`` holds ``a <= words < b``.

    Returns:
        ``len(edges) + 1`` labels.
    """
    inner = [f"{lo}-{hi}" for lo, hi in zip(edges, edges[1:], strict=False)]
    return (f"<{edges[0]}", *inner, f">={edges[-1]}")


def length_bucket(words: int, edges: Sequence[int] = LENGTH_EDGES) -> str:
    """The label of the word-count bucket holding ``words``.

    Args:
        words: Word count (see :func:`word_count`).
        edges: Increasing bucket edges (see :func:`length_labels`).

    Returns:
        One of :func:`length_labels`.
    """
    labels = length_labels(edges)
    for edge, label in zip(edges, labels, strict=False):
        if words < edge:
            return label
    return labels[-1]


def breakdown_domain(domain: str | None, url: str | None) -> str:
    """Domain key of a document: ``Document.domain``, else the host of its URL, else :data:`NO_DOMAIN`.

    Args:
        domain: ``Document.domain`` (lower-case host without ``www.``), when the reader set it.
        url: ``Document.url``.

    Returns:
        The domain key.
    """
    return domain or domain_of(url) or NO_DOMAIN


def new_tally() -> Tally:
    """An empty tally: every outcome at zero documents, words and chars."""
    return {outcome: [0, 0, 0] for outcome in OUTCOMES}


def add_outcome(tally: Tally, outcome: str, words: int, chars: int) -> Tally:
    """Count one document into ``tally`` (in place, as a combiner accumulator) and return it.

    Args:
        tally: The accumulator (see :func:`new_tally`).
        outcome: One of :data:`OUTCOMES`.
        words: The document's word count.
        chars: The document's length in characters.

    Returns:
        ``tally``.

    Raises:
        ValueError: ``outcome`` is not one of :data:`OUTCOMES`.
    """
    if outcome not in tally:
        raise ValueError(f"unknown decide_ai outcome {outcome!r}; expected one of {OUTCOMES}")
    row = tally[outcome]
    row[0] += 1
    row[1] += words
    row[2] += chars
    return tally


def merge_tallies(tallies: Iterable[Tally]) -> Tally:
    """Sum tallies into a new one."""
    out = new_tally()
    for tally in tallies:
        for outcome, values in tally.items():
            out[outcome] = [a + b for a, b in zip(out[outcome], values, strict=True)]
    return out


def _docs(tally: Tally) -> int:
    return sum(values[0] for values in tally.values())


def top_domains(
    entries: Iterable[tuple[str, Tally]], limit: int, other: Tally | None = None, other_domains: int = 0
) -> tuple[list[tuple[str, Tally]], Tally, int]:
    """Keep the ``limit`` domains with the most documents; fold the rest into one tally.

    Exact when every domain comes once (after a per-domain sum): a domain outside the top of a
    part is outside the top of the whole, because the order (most documents, then name) is total.

    Args:
        entries: ``(domain, tally)`` pairs, each domain at most once.
        limit: How many domains to keep.
        other: The tally of domains folded before (added to).
        other_domains: How many domains ``other`` holds already.

    Returns:
        ``(top, other, other_domains)``: the kept pairs, most documents first (ties by name), the
        sum of the rest and how many domains that sum holds.
    """
    ranked = sorted(entries, key=lambda kv: (-_docs(kv[1]), kv[0]))
    rest = ranked[limit:]
    folded = merge_tallies([other or new_tally(), *(t for _, t in rest)])
    return ranked[:limit], folded, other_domains + len(rest)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _row(key: str, tally: Tally, totals: Tally) -> dict[str, Any]:
    docs, words, chars = (sum(v[i] for v in tally.values()) for i in range(3))
    kept_words = sum(tally[o][1] for o in PASSED_ON)
    removed_docs = sum(tally[o][0] for o in REMOVED)
    removed_words = sum(tally[o][1] for o in REMOVED)
    row: dict[str, Any] = {"key": key, "docs": docs, "words": words, "chars": chars}
    row.update({o: tally[o][0] for o in OUTCOMES})
    row.update({f"{o}_words": tally[o][1] for o in OUTCOMES})
    all_docs = sum(v[0] for v in totals.values())
    all_words = sum(v[1] for v in totals.values())
    row.update(
        share_of_input_docs=_ratio(docs, all_docs),
        share_of_input_words=_ratio(words, all_words),
        share_of_kept_words=_ratio(kept_words, sum(totals[o][1] for o in PASSED_ON)),
        share_removed_docs=_ratio(removed_docs, docs),
        share_removed_words=_ratio(removed_words, words),
        share_downweighted_docs=_ratio(tally["downweighted"][0], docs),
    )
    return row


def decision_breakdown(
    by_length: Mapping[str, Tally],
    domains: Sequence[tuple[str, Tally]],
    other: Tally,
    other_domains: int,
    edges: Sequence[int] = LENGTH_EDGES,
) -> dict[str, Any]:
    """The manifest's ``decide_ai.breakdown``: one row per length bucket and per domain, plus totals.

    Every row holds documents / words / chars seen, documents and words per outcome, its share of
    the stage's input (documents and words), its share of the words decide_ai passed on
    (``share_of_kept_words``: the kept corpus beside the input) and the share removed.

    Args:
        by_length: Tally per length-bucket label (missing buckets count as empty).
        domains: The largest domains' tallies (see :func:`top_domains`), in order.
        other: The sum of every other domain.
        other_domains: How many domains ``other`` holds.
        edges: The length-bucket edges used.

    Returns:
        ``{length_unit, length_edges, outcomes, totals, by_length, by_domain, top_domains,
        other_domains}``; ``by_domain`` ends with :data:`OTHER_DOMAINS` when ``other_domains > 0``.
    """
    totals = merge_tallies(by_length.values())
    domain_rows = [_row(name, tally, totals) for name, tally in domains]
    if other_domains:
        domain_rows.append({**_row(OTHER_DOMAINS, other, totals), "domains": other_domains})
    return {
        "length_unit": "whitespace-separated words",
        "length_edges": list(edges),
        "outcomes": list(OUTCOMES),
        "totals": _row("all", totals, totals),
        "by_length": [_row(label, by_length.get(label) or new_tally(), totals) for label in length_labels(edges)],
        "by_domain": domain_rows,
        "top_domains": len(domains),
        "other_domains": other_domains,
    }
