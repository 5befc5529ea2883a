"""Error classes named for what the caller should do about them (STYLE §27).

They live in the Beam-free core so that every command line — the detector,
reference and collapse-bench CLIs included — can raise and catch them without
importing Beam or any transform.
"""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """The configuration is invalid; the message says which key and what is allowed.

    The ``tailguard`` command maps it to exit code 2, before any pipeline starts.
    """
