"""Fuzzing every reader and the YAML loader: nothing raises, hangs or unbalances the ledger (issue 14).

CI runs a few hundred cases per target (fixed hypothesis seed, so a failure
reproduces); ``TAILGUARD_FUZZ_CASES=10000 pytest tests/filters/test_fuzz_readers.py``
or ``python benchmarks/fuzz_readers.py`` runs the full 10,000 per target.
See ``tests/filters/reader_fuzzing.py`` for the generators and the oracle.
"""

from __future__ import annotations

import os

import pytest

from tests.filters.reader_fuzzing import TARGETS, run_target

CASES = int(os.environ.get("TAILGUARD_FUZZ_CASES", "200"))


@pytest.mark.parametrize("target", TARGETS)
def test_fuzzed_inputs_never_break_the_reader_or_config_loader(target):
    report = run_target(target, CASES, seed=14)
    assert report.cases >= CASES * 9 // 10, f"hypothesis generated only {report.cases} cases"
    assert report.crashes == {}, f"{target}: {report.crashes}; first inputs: {report.examples}"
