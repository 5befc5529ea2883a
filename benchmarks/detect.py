"""Bulk-scoring speed of the default AI-text detector ensemble (one process, one core).

    python benchmarks/detect.py [--model DIR] [--docs N] [--batch B]

Without ``--model`` a model is trained first on a quarter of ../shared/data/detect train rows
(or on synthetic text when ../shared is absent).  Scores ``--docs`` test texts in batches of
``--batch`` (as ``ScoreAIContent`` does) and prints ONE JSON object: ``docs_per_s_per_core`` for
the whole ensemble (normalisation + every detector + stacker), the cost of each part in µs/doc,
and peak RSS.  Logs go to stderr.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tailguard.filters.detect.base import prepare
from tailguard.filters.detect.data import read_labelled
from tailguard.filters.detect.ensemble import EnsembleConfig, load_detector, train_rows
from tailguard.filters.hashing import unit_interval

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "detect"


def _texts_and_model(model: str | None, n_docs: int) -> tuple[list[str], str]:
    paths = sorted(glob.glob(str(SHARED / "*.jsonl.zst")))
    if paths:
        rows = list(read_labelled(paths))
        test = [r.text for r in rows if r.split == "test"]
        train = [r for r in rows if r.split == "train" and unit_interval("bench", r.group) < 0.25]
    else:
        print("../shared/data/detect absent: synthetic text", file=sys.stderr)
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tailguard.filters.detect.data import LabelledText
        from tests.filters.detect_helpers import synthetic_rows

        syn = synthetic_rows(4000)
        train = [LabelledText(r["text"], int(r["label"] == "ai"), "syn", group=r["id"]) for r in syn]
        test = [r["text"] for r in synthetic_rows(n_docs, seed=9)]
    if model is None:
        model = tempfile.mkdtemp(prefix="tailguard-bench-model-")
        started = time.perf_counter()
        train_rows(train, EnsembleConfig()).save(model)
        print(
            f"trained on {len(train)} rows in {time.perf_counter() - started:.1f}s",
            file=sys.stderr,
        )
    reps = (n_docs + len(test) - 1) // len(test)
    return (test * reps)[:n_docs], model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model")
    parser.add_argument("--docs", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()
    texts, model_dir = _texts_and_model(args.model, args.docs)
    detector = load_detector(model_dir)
    detector.score_batch(texts[:64])  # warm-up (lazy allocations)
    cost = {"prepare": 0.0, **{d.name: 0.0 for d in detector.detectors}, "stacker": 0.0}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for start in range(0, len(texts), args.batch):
        batch = texts[start : start + args.batch]
        t = time.process_time()
        docs = prepare(batch, detector.max_chars)
        cost["prepare"] += time.process_time() - t
        blocks = []
        for det in detector.detectors:
            t = time.process_time()
            blocks.append(det.features(docs))
            cost[det.name] += time.process_time() - t
        t = time.process_time()
        detector.stacker.decision(np.hstack(blocks))
        cost["stacker"] += time.process_time() - t
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    mean_chars = sum(len(t[: detector.max_chars]) for t in texts) / len(texts)
    print(
        json.dumps(
            {
                "benchmark": "detect",
                "docs": len(texts),
                "mean_chars_scored": round(mean_chars, 1),
                "batch": args.batch,
                "docs_per_s_per_core": round(len(texts) / cpu, 1),
                "docs_per_s_wall": round(len(texts) / wall, 1),
                "us_per_doc": {k: round(v / len(texts) * 1e6, 1) for k, v in cost.items()},
                "detectors": detector.info.detectors,
                "lm_tier": "not implemented (optional small-LM tier out of scope)",
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "cpu_count": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
