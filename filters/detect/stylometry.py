"""Stylometric features: burstiness, vocabulary richness, punctuation, function words, chat boilerplate.

All features except the Unicode-trick ones are computed on the normalised text of :mod:`.base`
(no case, no newlines), so they cannot learn the dataset artefacts; list markers are matched
inline for the same reason.  Column 0 is the logit of a logistic regression fitted on these
features alone at training time (the detector's own score); the ensemble sees every column.
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tailguard.filters.detect.base import PreparedText, register_detector_class
from tailguard.filters.detect.logistic import LogisticModel, fit_logistic

__all__ = ["StylometryDetector", "StylometryParams", "stylometric_features"]

# Function words: the most frequent English closed-class words (Mosteller & Wallace 1964 style
# function-word profiles; list = top of the Brown corpus frequency list).
FUNCTION_WORDS = (
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "that",
    "it",
    "was",
    "for",
    "on",
    "with",
    "as",
    "but",
    "be",
    "this",
    "are",
    "by",
    "not",
    "or",
    "have",
    "from",
    "at",
    "which",
    "an",
    "so",
    "if",
    "they",
    "there",
    "can",
    "would",
    "will",
    "their",
    "also",
    "these",
    "such",
    "may",
    "its",
    "more",
)
PRONOUNS = {
    "i": "first",
    "me": "first",
    "my": "first",
    "we": "first_plural",
    "our": "first_plural",
    "us": "first_plural",
    "you": "second",
    "your": "second",
}
# Words whose frequency rose sharply after ChatGPT (Kobak et al. 2024, "Delving into ChatGPT usage in
# academic writing through excess vocabulary", Table 1 / Fig. 2; Liang et al. 2024).
AI_VOCABULARY = frozenset(
    [
        "delve",
        "delves",
        "delving",
        "tapestry",
        "intricate",
        "intricacies",
        "pivotal",
        "crucial",
        "showcase",
        "showcasing",
        "showcases",
        "underscore",
        "underscores",
        "underscoring",
        "notably",
        "additionally",
        "furthermore",
        "moreover",
        "comprehensive",
        "vibrant",
        "enhance",
        "enhancing",
        "realm",
        "landscape",
        "seamless",
        "seamlessly",
        "navigate",
        "navigating",
        "multifaceted",
        "testament",
        "foster",
        "fostering",
        "commendable",
        "meticulous",
        "meticulously",
        "garnered",
        "invaluable",
        "noteworthy",
        "leverage",
        "leveraging",
        "elevate",
        "unwavering",
        "profound",
        "insights",
        "overall",
        "ensuring",
        "essential",
        "utilize",
    ]
)
# Chat-assistant boilerplate (issue 5; shared/data/README.md detect/ lists the preambles and refusals).
_BOILERPLATE = re.compile(
    r"as an ai\b|language model|i hope this helps|here is an?\b|here are\b|here's an?\b|^sure\b|^certainly\b"
    r"|in conclusion|in summary|it is important to note|it's important to note|i'm sorry|i apologi[sz]e"
    r"|i cannot\b|i can't\b|feel free to|let me know|i'm not able to|i am not able to|\bdelve"
)
_LIST_MARKER = re.compile(r"(?:^|[.:!?] )(?:\d{1,2}[.)]|[-*•]) ")
_MARKDOWN = re.compile(r"\*\*|__|^#{1,6} |`")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_DIGIT = re.compile(r"\d")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_PUNCT = (",", ".", ";", ":", "!", "?", '"', "'", "(", "-", "—", "…")
_MIXED_SCRIPT_WORD = re.compile(r"\b\w*[A-Za-z]\w*\b")


def _homoglyph_words(raw: str) -> int:
    """Count words that mix Latin letters with Cyrillic/Greek look-alikes (a classic filter evasion)."""
    if raw.isascii():
        return 0
    count = 0
    for word in _MIXED_SCRIPT_WORD.findall(raw):
        if word.isascii():
            continue
        if any(
            ord(ch) > 127 and ch.isalpha() and unicodedata.name(ch, "").split(" ")[0] in ("CYRILLIC", "GREEK")
            for ch in word
        ):
            count += 1
    return count


FEATURE_NAMES: tuple[str, ...] = (
    "stylometry_score",
    "log_tokens",
    "mean_word_length",
    "ttr_100",
    "hapax_100",
    "sentence_len_mean",
    "sentence_len_std",
    "sentence_burstiness",
    "sentence_len_max_ratio",
    *(f"punct_{i}" for i in range(len(_PUNCT))),
    *(f"fw_{w}" for w in FUNCTION_WORDS),
    "pron_first",
    "pron_first_plural",
    "pron_second",
    "ai_vocabulary_rate",
    "boilerplate_count",
    "list_marker_rate",
    "markdown_rate",
    "digit_rate",
    "zero_width_count",
    "homoglyph_words",
)


def stylometric_features(doc: PreparedText) -> list[float]:
    """Return the stylometric feature values of one document (without the score column)."""
    tokens = doc.tokens
    n = max(len(tokens), 1)
    words = [t for t in tokens if t[0].isalnum()]
    nw = max(len(words), 1)
    counts = Counter(tokens)
    head = words[:100]
    head_counts = Counter(head)
    sentence_lengths = [len(s.split()) for s in _SENTENCE.split(doc.norm) if s]
    if sentence_lengths:
        s_mean = sum(sentence_lengths) / len(sentence_lengths)
        s_std = math.sqrt(sum((x - s_mean) ** 2 for x in sentence_lengths) / len(sentence_lengths))
        s_max = max(sentence_lengths) / max(s_mean, 1.0)
    else:
        s_mean = s_std = s_max = 0.0
    pronouns = {"first": 0, "first_plural": 0, "second": 0}
    for word, kind in PRONOUNS.items():
        pronouns[kind] += counts.get(word, 0)
    values = [
        math.log1p(len(tokens)),
        sum(len(w) for w in words) / nw,
        len(head_counts) / max(len(head), 1),
        sum(1 for c in head_counts.values() if c == 1) / max(len(head), 1),
        s_mean,
        s_std,
        s_std / s_mean if s_mean else 0.0,
        s_max,
        *(counts.get(p, 0) / n for p in _PUNCT),
        *(counts.get(w, 0) / nw for w in FUNCTION_WORDS),
        pronouns["first"] / nw,
        pronouns["first_plural"] / nw,
        pronouns["second"] / nw,
        sum(counts.get(w, 0) for w in AI_VOCABULARY) / nw,
        float(len(_BOILERPLATE.findall(doc.norm))),
        len(_LIST_MARKER.findall(doc.norm)) / nw,
        len(_MARKDOWN.findall(doc.norm)) / nw,
        len(_DIGIT.findall(doc.norm)) / max(len(doc.norm), 1),
        float(len(_ZERO_WIDTH.findall(doc.raw))),
        float(_homoglyph_words(doc.raw)),
    ]
    return values


@dataclass(frozen=True)
class StylometryParams:
    """Settings of the stylometry detector (the ``stylometry`` section of the detector config).

    Attributes:
        l2: Ridge penalty of the stylometry-only logistic regression (column 0).
    """

    l2: float = 1.0

    def __post_init__(self) -> None:
        if self.l2 < 0:
            raise ValueError("stylometry.l2 must be >= 0")


class StylometryDetector:
    """Stylometric feature rows plus a stylometry-only logistic score."""

    name = "stylometry"
    feature_names = FEATURE_NAMES

    def __init__(self, model: LogisticModel) -> None:
        self._model = model

    @staticmethod
    def raw_features(docs: Sequence[PreparedText]) -> np.ndarray:
        """Return the feature rows without the score column."""
        return np.array([stylometric_features(d) for d in docs], dtype=np.float64).reshape(
            len(docs), len(FEATURE_NAMES) - 1
        )

    @classmethod
    def train(
        cls,
        docs: Sequence[PreparedText],
        labels: Sequence[int],
        params: StylometryParams,
    ) -> StylometryDetector:
        """Fit the stylometry-only logistic regression."""
        return cls(fit_logistic(cls.raw_features(docs), np.asarray(labels), l2=params.l2))

    def save(self, directory: str) -> None:
        """Write ``stylometry.json`` into ``directory``."""
        with open(os.path.join(directory, "stylometry.json"), "w", encoding="utf-8") as handle:
            json.dump(self._model.to_json(), handle)

    @classmethod
    def load(cls, directory: str, params: StylometryParams) -> StylometryDetector:
        """Load ``stylometry.json``."""
        with open(os.path.join(directory, "stylometry.json"), encoding="utf-8") as handle:
            return cls(LogisticModel.from_json(json.load(handle)))

    def features(self, docs: Sequence[PreparedText]) -> np.ndarray:
        """Return ``[score, *features]`` per document."""
        raw = self.raw_features(docs)
        return np.hstack([self._model.decision(raw)[:, None], raw])


register_detector_class("stylometry", StylometryDetector, StylometryParams)
