"""Shared pieces of the AI-text detectors: text normalisation, the Scorer protocol, the registry.

Every detector sees the same :class:`PreparedText` (normalised text + word tokens) so a batch is
tokenised once.  Normalisation removes the shortcuts listed in ``shared/data/README.md`` (detect/):
newlines vs spaces, letter case, tokenised contractions (``do n't``), Yelp ``nn`` paragraph marks and
zero-width characters, so that no detector can learn "has a newline" or "is lower case" instead of
"was written by a model".  Stylometry also looks at the raw text for the Unicode-trick features.

Elements in: raw strings.  Elements out: :class:`PreparedText` records and per-detector feature rows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "DETECTORS",
    "SCORE_MODES",
    "Detector",
    "PreparedText",
    "Scorer",
    "normalize_text",
    "prepare",
    "register_detector",
    "register_detector_class",
    "tokenize",
]

#: Scoring modes of :class:`~tailguard.filters.detect.ensemble.AIDetector` (config
#: ``detect_ai.lm_tier``): ``all`` = every detector on every document; ``cheap`` = the cheap tier
#: only; ``cascade`` = the cheap tier on every document, the LM tier on those in the uncertain band
#: (at most ``cascade_budget`` of them).  Here, not in ``ensemble``, so configs validate without it.
SCORE_MODES = ("all", "cheap", "cascade")

#: Longer documents are scored on their first ``MAX_SCORE_CHARS`` characters: bulk cost stays
#: bounded (the 2,000 docs/s/core budget of issue 5) and the detectors were trained on texts whose
#: median is ~1,200 characters (shared/data/README.md, detect/).
MAX_SCORE_CHARS = 6000

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Yelp reviews in DetectRL carry "nn" where paragraph breaks were ("good.nnThe"): human-only artefact.
_YELP_NN = re.compile(r"(?<=[.!?])nn(?=[A-Z])")
_SPLIT_NT = re.compile(r"(\w) n' ?t\b", re.IGNORECASE)
_SPLIT_CLITIC = re.compile(r"(\w) '(s|re|ve|ll|d|m)\b", re.IGNORECASE)
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)\]])")
_SPACE_AFTER_OPEN = re.compile(r"([(\[])\s+")
_WHITESPACE = re.compile(r"\s+")
# words (with inner apostrophes, so "don't" is one token) or single punctuation marks
_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def normalize_text(text: str, max_chars: int = MAX_SCORE_CHARS) -> str:
    """Return ``text`` with the dataset shortcuts removed (see the module docstring).

    Args:
        text: Raw document text.
        max_chars: Only this many leading characters are kept.

    Returns:
        NFKC, case-folded text on one line with detokenised contractions and punctuation.
    """
    text = text[:max_chars]
    text = _ZERO_WIDTH.sub("", text)
    text = _YELP_NN.sub(" ", text)
    text = unicodedata.normalize("NFKC", text).replace("’", "'")
    text = _SPLIT_NT.sub(r"\1n't", text)
    text = _SPLIT_CLITIC.sub(r"\1'\2", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _SPACE_AFTER_OPEN.sub(r"\1", text)
    return _WHITESPACE.sub(" ", text).strip().casefold()


def tokenize(normalized: str) -> list[str]:
    """Split normalised text into word and punctuation tokens."""
    return _TOKEN.findall(normalized)


@dataclass(frozen=True, slots=True)
class PreparedText:
    """One document as the detectors see it.

    Attributes:
        raw: The original text, cut to ``MAX_SCORE_CHARS`` (stylometry's Unicode features).
        norm: :func:`normalize_text` output.
        tokens: :func:`tokenize` of ``norm``.
    """

    raw: str
    norm: str
    tokens: list[str]


def prepare(texts: Sequence[str], max_chars: int = MAX_SCORE_CHARS) -> list[PreparedText]:
    """Normalise and tokenise a batch once for every detector."""
    out = []
    for text in texts:
        norm = normalize_text(text, max_chars)
        out.append(PreparedText(text[:max_chars], norm, tokenize(norm)))
    return out


@runtime_checkable
class Scorer(Protocol):
    """Anything that turns a batch of texts into one score per text (higher = more likely AI)."""

    def score(self, texts: Sequence[str]) -> list[float]:
        """Return one float per text."""
        ...


class Detector(Protocol):
    """A trained detector: named feature columns for the ensemble, and a primary score.

    ``features`` returns an ``(n, len(feature_names))`` float array; column 0 is the detector's
    own score (higher = more likely AI), written to ``Document.detector_scores[name]``.
    """

    name: str
    feature_names: tuple[str, ...]

    def features(self, docs: Sequence[PreparedText]) -> np.ndarray:
        """Return the feature rows of ``docs``."""
        ...

    def save(self, directory: str) -> None:
        """Write the detector's files into ``directory``."""
        ...


@dataclass(frozen=True)
class DetectorKind:
    """How to train and load one kind of detector.

    Attributes:
        name: Registry name (also the config key and the ``detector_scores`` key).
        train: ``train(docs, labels, params) -> Detector`` (labels: 1 = AI, 0 = human).
        load: ``load(directory, params) -> Detector``.
        tier: ``cheap`` (scores every document) or ``lm`` (the costly language-model tier: at training
            it sees a subsample, in the pipeline it runs as a cascade behind the cheap tier).
    """

    name: str
    train: Callable[..., Detector]
    load: Callable[..., Detector]
    tier: str = "cheap"


#: Registry of detector kinds by name, filled by :func:`register_detector` in each module.
DETECTORS: dict[str, DetectorKind] = {}


def register_detector(kind: DetectorKind) -> DetectorKind:
    """Add ``kind`` to :data:`DETECTORS` (module import time) and return it."""
    DETECTORS[kind.name] = kind
    return kind


def register_detector_class(name: str, cls: Any, params_cls: Callable[..., Any], tier: str = "cheap") -> DetectorKind:
    """Register ``cls`` under ``name``, building its params dataclass from the config section.

    The shared tail of every detector module: ``train``/``load`` get ``params_cls(**section)`` (so an
    unknown key in the ``params.<name>`` config section fails with ``TypeError`` naming it).

    Args:
        name: Registry name (config key and ``detector_scores`` key).
        cls: The detector class (``cls.train(docs, labels, params)``, ``cls.load(directory, params)``).
        params_cls: The frozen params dataclass of the detector.
        tier: See :class:`DetectorKind`.

    Returns:
        The registered :class:`DetectorKind`.
    """

    def train(docs: Sequence[PreparedText], labels: Sequence[int], params: dict[str, Any]) -> Detector:
        return cls.train(docs, labels, params_cls(**params))

    def load(directory: str, params: dict[str, Any]) -> Detector:
        return cls.load(directory, params_cls(**params))

    return register_detector(DetectorKind(name, train, load, tier))


def primary_scores(detector: Detector, texts: Sequence[str]) -> list[float]:
    """Score raw texts with one detector (its column 0); the :class:`Scorer` view of a detector."""
    return [float(v) for v in detector.features(prepare(texts))[:, 0]]
