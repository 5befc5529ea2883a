"""Provenance tiers: ordered, configurable rules that give every document a tier and a label.

Tiers follow the seed: ``tier1`` (pre-2022 archives, verified human books,
peer-reviewed), ``tier2`` (authenticated 2022-2024 sources, publisher
partnerships, crawl that passed AI detection), ``tier3`` (unfiltered crawl,
unknown provenance), plus ``curated_synthetic`` (synthetic data declared and
curated as such) and ``synthetic_detected`` (AI score above the synthetic
threshold).  A rule matches when *all* of its set conditions hold; the first
matching rule wins and the last resort is ``tier3``.  A rule also carries a
``weight`` (down-weighting, e.g. for uncertain AI scores) that mixing multiplies
into the sampling weight.  Elements in: document facts; out: :class:`TierVerdict`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "CHATGPT_RELEASE_DATE",
    "DEFAULT_REVIEW_THRESHOLD",
    "DEFAULT_REVIEW_WEIGHT",
    "DEFAULT_SYNTHETIC_THRESHOLD",
    "FALLBACK_RULE",
    "TIERS",
    "TierRule",
    "TierVerdict",
    "assign_tier",
    "default_rules",
    "format_lineage",
    "label_from_lineage",
]

TIERS = ("tier1", "tier2", "tier3", "curated_synthetic", "synthetic_detected")

#: Pre-AI web cutoff: ChatGPT's public release (OpenAI, "Introducing ChatGPT", 2022-11-30).
CHATGPT_RELEASE_DATE = "2022-11-30"
#: AI score at or above which a document is ``synthetic_detected``.  An operating
#: point, not a published constant: the calibrated ai_score of the detect stage is a
#: probability, and 0.9 keeps the false-positive rate on human text low; re-choose it
#: from the detector's calibration report (docs/detect.md) for your data.
DEFAULT_SYNTHETIC_THRESHOLD = 0.9
#: Scores in [review, synthetic) are kept but down-weighted (same caveat as above).
DEFAULT_REVIEW_THRESHOLD = 0.5
#: Sampling weight of documents in the review band (a design choice: half weight).
DEFAULT_REVIEW_WEIGHT = 0.5

Inc = Callable[..., None]


@dataclass(frozen=True)
class TierRule:
    """One tier rule; every condition that is set must hold for the rule to match.

    Attributes:
        name: Rule name (recorded in lineage).
        tier: Tier given to matching documents (one of :data:`TIERS`).
        label: Provenance label recorded for mixing selectors (default: ``name``).
        source_label: Matches documents whose input file matches a glob declared
            for this label in the stage's ``source_labels``.
        sources: Globs (fnmatch) on the document's input file (``Document.source``).
        domains: Allowlisted domains; a document matches its domain or any parent.
        publisher_allowlist: Matches documents whose domain is in the stage's
            ``publisher_domains`` allowlist (or a subdomain of one).
        crawl_before: ISO date; matches ``crawl_date < crawl_before`` (dated docs only).
        crawl_from: ISO date; matches ``crawl_date >= crawl_from`` (dated docs only).
        ai_score_min: Matches scored documents with ``ai_score >= ai_score_min``.
        ai_score_max: Matches scored documents with ``ai_score < ai_score_max``.
        require_ai_score: Matches only documents that have an ``ai_score``.
        weight: Sampling weight multiplier given to matching documents (>= 0).
    """

    name: str
    tier: str
    label: str = ""
    source_label: str = ""
    sources: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    publisher_allowlist: bool = False
    crawl_before: str = ""
    crawl_from: str = ""
    ai_score_min: float | None = None
    ai_score_max: float | None = None
    require_ai_score: bool = False
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("tier rule: name must not be empty")
        if self.tier not in TIERS:
            raise ValueError(f"tier rule {self.name!r}: tier {self.tier!r} is not one of {', '.join(TIERS)}")
        if self.weight < 0:
            raise ValueError(f"tier rule {self.name!r}: weight must be >= 0")
        for bound in (self.ai_score_min, self.ai_score_max):
            if bound is not None and not 0.0 <= bound <= 1.0:
                raise ValueError(f"tier rule {self.name!r}: ai_score bounds must be in [0, 1]")
        for date in (self.crawl_before, self.crawl_from):
            if date and not _looks_like_date(date):
                raise ValueError(f"tier rule {self.name!r}: {date!r} is not an ISO date (YYYY-MM-DD)")

    @property
    def effective_label(self) -> str:
        """The label recorded for matching documents."""
        return self.label or self.name


@dataclass(frozen=True, slots=True)
class TierVerdict:
    """The tier decision for one document.

    Attributes:
        tier: One of :data:`TIERS`.
        label: Provenance label (selects mixture components).
        rule: Name of the rule that matched.
        weight: Sampling weight multiplier from the rule.
        reason: Human-readable reason (what matched).
    """

    tier: str
    label: str
    rule: str
    weight: float
    reason: str


#: The last resort: unfiltered crawl / unknown provenance.
FALLBACK_RULE = TierRule(name="unknown_provenance", tier="tier3")


def _looks_like_date(value: str) -> bool:
    return len(value) >= 10 and value[4] == "-" and value[7] == "-" and value[:4].isdigit()


def default_rules(
    cutoff_date: str = CHATGPT_RELEASE_DATE,
    synthetic_threshold: float = DEFAULT_SYNTHETIC_THRESHOLD,
    review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
    review_weight: float = DEFAULT_REVIEW_WEIGHT,
    authenticated_until: str = "2025-01-01",
) -> tuple[TierRule, ...]:
    """Return the seed's rule order.

    Declared labels first (a declared source is trusted over a score), then the
    AI score, then dates and publisher allowlists, then what AI detection says.

    Args:
        cutoff_date: Pre-AI cutoff (``crawl_date`` before it → tier1).
        synthetic_threshold: ``ai_score >=`` this → ``synthetic_detected``.
        review_threshold: ``ai_score`` in [review, synthetic) → tier3, down-weighted.
        review_weight: Weight of the review band.
        authenticated_until: End (exclusive) of the seed's "authenticated 2022-2024" window.

    Returns:
        The ordered rules (the fallback rule is implicit).
    """
    return (
        TierRule("verified_human", "tier1", source_label="verified_human"),
        TierRule("peer_reviewed", "tier1", source_label="peer_reviewed"),
        TierRule("licensed", "tier2", source_label="licensed"),
        TierRule("curated_synthetic", "curated_synthetic", source_label="curated_synthetic"),
        TierRule("ai_detected", "synthetic_detected", ai_score_min=synthetic_threshold),
        TierRule("pre_cutoff", "tier1", crawl_before=cutoff_date),
        TierRule("publisher", "tier2", publisher_allowlist=True),
        TierRule(
            "authenticated_window",
            "tier2",
            source_label="authenticated",
            crawl_from=cutoff_date,
            crawl_before=authenticated_until,
        ),
        TierRule("ai_uncertain", "tier3", ai_score_min=review_threshold, weight=review_weight),
        TierRule("ai_checked", "tier2", require_ai_score=True, ai_score_max=review_threshold),
    )


def _domain_matches(domain: str | None, allowed: Sequence[str]) -> bool:
    if not domain:
        return False
    return any(domain == d or domain.endswith("." + d) for d in allowed)


def _rule_matches(
    rule: TierRule,
    source: str,
    domain: str | None,
    crawl_date: str | None,
    ai_score: float | None,
    source_labels: Mapping[str, Sequence[str]],
    publisher_domains: Sequence[str],
) -> str | None:
    """Return why ``rule`` matches (its conditions, as text) or ``None``."""
    why: list[str] = []
    if rule.source_label:
        globs = source_labels.get(rule.source_label, ())
        hit = next((g for g in globs if fnmatch.fnmatchcase(source, g)), None)
        if hit is None:
            return None
        why.append(f"source matches {hit!r} ({rule.source_label})")
    if rule.publisher_allowlist:
        if not _domain_matches(domain, publisher_domains):
            return None
        why.append(f"publisher domain {domain}")
    if rule.sources:
        hit = next((g for g in rule.sources if fnmatch.fnmatchcase(source, g)), None)
        if hit is None:
            return None
        why.append(f"source matches {hit!r}")
    if rule.domains:
        if not _domain_matches(domain, rule.domains):
            return None
        why.append(f"domain {domain} is allowlisted")
    if rule.crawl_before or rule.crawl_from:
        # ISO-8601 strings compare in date order on their first 10 characters.
        day = (crawl_date or "")[:10]
        if not _looks_like_date(day):
            return None
        if rule.crawl_before and not day < rule.crawl_before:
            return None
        if rule.crawl_from and not day >= rule.crawl_from:
            return None
        why.append(f"crawl_date {day}")
    if rule.require_ai_score or rule.ai_score_min is not None or rule.ai_score_max is not None:
        if ai_score is None:
            return None
        if rule.ai_score_min is not None and ai_score < rule.ai_score_min:
            return None
        if rule.ai_score_max is not None and ai_score >= rule.ai_score_max:
            return None
        why.append(f"ai_score {ai_score:.3f}")
    return "; ".join(why) or "always"


def assign_tier(
    rules: Sequence[TierRule],
    *,
    source: str,
    domain: str | None,
    crawl_date: str | None,
    ai_score: float | None,
    source_labels: Mapping[str, Sequence[str]],
    publisher_domains: Sequence[str] = (),
    inc: Inc | None = None,
) -> TierVerdict:
    """Return the tier of one document: the first rule whose conditions all hold.

    Args:
        rules: Ordered rules (:func:`default_rules` or the config's list).
        source: The document's input file.
        domain: The document's domain.
        crawl_date: ISO-8601 crawl date, when known.
        ai_score: Calibrated AI score, when the document was scored.
        source_labels: Label → input-file globs (``verified_human: ["human/*.jsonl"]``).
        publisher_domains: Allowlisted publisher domains (rules with ``publisher_allowlist``).
        inc: Optional counter callback ``inc(name, n=1)``; counts the tier.

    Returns:
        The verdict (tier, label, rule, weight, reason).
    """
    for rule in (*rules, FALLBACK_RULE):
        why = _rule_matches(rule, source, domain, crawl_date, ai_score, source_labels, publisher_domains)
        if why is not None:
            if inc is not None:
                inc(rule.tier)
            return TierVerdict(rule.tier, rule.effective_label, rule.name, rule.weight, why)
    raise AssertionError("the fallback rule always matches")  # pragma: no cover


def format_lineage(verdict: TierVerdict) -> str:
    """Return the lineage entry of a verdict: ``tier1 label=verified_human rule=... weight=1 (reason)``."""
    return f"{verdict.tier} label={verdict.label} rule={verdict.rule} weight={verdict.weight:g} ({verdict.reason})"


def label_from_lineage(entry: str | None) -> str | None:
    """Return the label recorded by :func:`format_lineage` (``None`` when absent)."""
    if not entry:
        return None
    for part in entry.split(" ", 3)[1:3]:
        if part.startswith("label="):
            return part[len("label=") :]
    return None
