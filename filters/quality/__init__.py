"""Document quality rules: one module per rule family, each rule a pure function.

* :mod:`~tailguard.filters.quality.gopher` — Gopher quality and repetition rules (Rae et al. 2021);
* :mod:`~tailguard.filters.quality.c4` — C4 line cleaning and page filters (Raffel et al. 2020);
* :mod:`~tailguard.filters.quality.fineweb` — FineWeb's additional rules (Penedo et al. 2024).

Every rule returns a :class:`RuleVerdict` (keep, reason, detail, signals); the
quality stage records the signals in ``Document.quality`` and drops on the first
failing rule with that rule's reason.
"""

from tailguard.filters.quality.base import RuleVerdict, split_words

__all__ = ["RuleVerdict", "split_words"]
