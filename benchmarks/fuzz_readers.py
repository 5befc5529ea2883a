"""Fuzz every reader (JSONL plain/gz/zst, Parquet, WARC, WET, ARC) and the YAML config loader.

Usage: ``python benchmarks/fuzz_readers.py [--cases 10000] [--targets jsonl parquet ...] [--seed 0]``.
Prints one JSON object: per target the cases run, seconds, and every distinct
crash signature found (a raise out of the target, a hang, a ledger imbalance,
or a document no corpus writer could store) with its count and the first
input that showed it.  Generators and oracle: ``tests/filters/reader_fuzzing.py``
(the same harness CI runs with a few hundred cases per target).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import emit  # noqa: E402

from tests.filters.reader_fuzzing import TARGETS, run_target  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="generated inputs per target")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (same seed, same inputs)")
    args = parser.parse_args()
    results = {}
    # warcio prints a warning per malformed record on stderr; stdout carries only the JSON.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        for target in args.targets:
            results[target] = run_target(target, args.cases, args.seed).to_json()
    emit(
        {
            "benchmark": "fuzz_readers",
            "python": platform.python_version(),
            "seed": args.seed,
            "cases_per_target": args.cases,
            "targets": results,
            "total_cases": sum(r["cases"] for r in results.values()),
            "total_distinct_crashes": sum(r["distinct_crashes"] for r in results.values()),
        }
    )


if __name__ == "__main__":
    main()
