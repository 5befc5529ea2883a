"""Unicode normalisation of extracted text: mojibake repair, NFC, invisible-character removal.

Steps, in order: ftfy ``fix_text`` (repairs mojibake such as ``cafÃ©`` → ``café``
and applies NFC), removal of zero-width / bidi / other format characters and C0/C1
control characters (tab and newline are kept), newline and blank-line tidying.
How many invisible characters were removed is returned, because their presence
is itself a signal (hidden text, watermark-like insertions) later stages may use.
Elements in: text.  Out: :class:`NormalizedText`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from tailguard.filters.extract import repair_codec_registry

__all__ = ["NormalizedText", "TextNormalizer", "is_invisible"]

_BLANK_RUNS = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def is_invisible(char: str) -> bool:
    """Return whether ``char`` is a zero-width/format (Cf) or control (Cc) character other than tab/newline."""
    if char in "\n\t":
        return False
    category = unicodedata.category(char)
    return category in ("Cf", "Cc")


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """Result of :meth:`TextNormalizer.normalize`.

    Attributes:
        text: The normalised text.
        invisible_chars: Number of zero-width/format/control characters removed.
        mojibake_fixed: Whether ftfy changed the text (beyond NFC).
    """

    text: str
    invisible_chars: int
    mojibake_fixed: bool


class TextNormalizer:
    """Normalises text; holds the ftfy configuration (build once per worker)."""

    def __init__(self, fix_mojibake: bool = True) -> None:
        repair_codec_registry()  # ftfy cannot import while a catch-all codec search function is registered
        import ftfy

        self._fix_mojibake = fix_mojibake
        self._ftfy: Any = ftfy
        # Keep the text's own quotes; control characters are removed (and counted) by us, not ftfy.
        self._config = ftfy.TextFixerConfig(
            normalization="NFC",
            uncurl_quotes=False,
            remove_control_chars=False,
            explain=False,
        )

    def normalize(self, text: str) -> NormalizedText:
        """Normalise ``text``.

        Args:
            text: Extracted or WET text.

        Returns:
            The normalised text with the count of removed invisible characters.
        """
        fixed = self._ftfy.fix_text(text, self._config) if self._fix_mojibake else text
        nfc = unicodedata.normalize("NFC", text)
        mojibake_fixed = fixed != nfc
        fixed = unicodedata.normalize("NFC", fixed.replace("\r\n", "\n").replace("\r", "\n"))
        kept = [c for c in fixed if not is_invisible(c)]
        removed = len(fixed) - len(kept)
        out = "".join(kept) if removed else fixed
        out = _BLANK_RUNS.sub("\n\n", _TRAILING_SPACE.sub("\n", out)).strip()
        return NormalizedText(out, removed, mojibake_fixed)
