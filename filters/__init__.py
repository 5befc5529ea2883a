"""tailguard.filters: the Beam-free core (pure, typed functions and small dataclasses)."""
