"""Leave-one-source-out with and without the LM tier, plus in-distribution, on a documented subsample.

    python benchmarks/detect_lm_loso.py [--data GLOB] [--lm-rows 100] [--test-rows 150] \\
        [--cache /tmp/lm_cache.npz] [--sources a,b]  > loso.json

For every source file S of ``--data`` (default ``../shared/data/detect/*.jsonl.zst``): train the
ensemble with the LM tier (``detectors: [fasttext, ngram, compression, stylometry, lm]``) on the
*train* rows of the other files — the cheap tier on all of them, the LM-tier stacker on
``--lm-rows`` rows per source and role (stack, calib) — and score at most ``--test-rows`` *test*
rows of S (picked by a hash of the pair/group id) three ways on the same rows: ``cheap`` (cheap tier
only), ``all`` (LM tier on every row) and ``cascade`` (LM on the uncertain band, budget 5 %).
Then the same with every source in training (in-distribution).  Also the zero-shot LM criteria
alone (no training).  Nothing is fitted on test rows; S's rows are never in its fold's training.

LM features are cached by text hash in ``--cache`` (the LM is zero-shot, so a row's features do not
depend on the fold).  Prints ONE JSON object; progress on stderr.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.filters.detect.base import prepare
from tailguard.filters.detect.calibration import register_fpr_report
from tailguard.filters.detect.data import LabelledText, read_labelled
from tailguard.filters.detect.ensemble import AIDetector, EnsembleConfig, train_rows
from tailguard.filters.detect.lm import LMDetector
from tailguard.filters.detect.metrics import auroc, generator_family, tpr_at_fpr
from tailguard.filters.hashing import unit_interval

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "detect"
_CHEAP = ["fasttext", "ngram", "compression", "stylometry"]


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _sample(rows: list[LabelledText], n: int) -> list[LabelledText]:
    ranked = sorted(rows, key=lambda r: (unit_interval("loso-test", r.group), r.text))
    return ranked[:n]


def _metrics(det: AIDetector, rows: list[LabelledText], mode: str) -> dict[str, Any]:
    det.set_mode(mode)
    det.lm_fraction = None
    started = time.process_time()
    scores, per = det.score_prepared(prepare([r.text for r in rows], det.max_chars))
    cpu = time.process_time() - started
    labels = np.array([r.label for r in rows])
    t = det.info.threshold()
    flagged = scores >= t
    human, ai = labels == 0, labels == 1
    out: dict[str, Any] = {
        "n": len(rows),
        "n_human": int(human.sum()),
        "auroc": auroc(scores, labels),
        "tpr_at_1pct_fpr": tpr_at_fpr(scores, labels, 0.01),
        "threshold_fpr": float(flagged[human].mean()) if human.any() else None,
        "threshold_tpr": float(flagged[ai].mean()) if ai.any() else None,
        "cpu_s": round(cpu, 2),
    }
    lm_col = per.get("lm")
    out["lm_scored_share"] = round(float((~np.isnan(lm_col)).mean()), 4) if lm_col is not None else 0.0
    fams: dict[str, Any] = {}
    for fam in sorted({generator_family(r.generator) for r in rows} - {"human"}):
        mask = np.array([generator_family(r.generator) in (fam, "human") for r in rows])
        fams[fam] = {"n_ai": int((mask & ai).sum()), "auroc": auroc(scores[mask], labels[mask])}
    out["per_family"] = fams
    domains: dict[str, Any] = {}
    for domain in sorted({r.domain or "unknown" for r in rows}):
        mask = np.array([(r.domain or "unknown") == domain for r in rows])
        h, a = mask & human, mask & ai
        domains[domain] = {
            "n": int(mask.sum()),
            "n_human": int(h.sum()),
            "auroc": auroc(scores[mask], labels[mask]),
            "threshold_fpr": round(float(flagged[h].mean()), 4) if h.any() else None,
            "threshold_tpr": round(float(flagged[a].mean()), 4) if a.any() else None,
        }
    out["per_domain"] = domains
    out["registers"] = register_fpr_report(scores, labels, [r.text for r in rows], [r.domain for r in rows], t)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def _zero_shot(lm: LMDetector, rows: list[LabelledText]) -> dict[str, Any]:
    """AUROC of single LM criteria, no training (higher = AI; log-rank negated)."""
    feats = lm.features(prepare([r.text for r in rows]))
    labels = np.array([r.label for r in rows])
    out: dict[str, Any] = {}
    for name, values in (
        ("lm_fastdetect", feats[:, 0]),
        ("lm_logprob_mean", feats[:, 1]),
        ("neg_lm_logrank_mean", -feats[:, 3]),
    ):
        value = auroc(values, labels)
        out[name] = None if value is None else round(value, 4)
    return out


def _load_cache(path: str) -> dict[str, np.ndarray]:
    if not path or not os.path.exists(path):
        return {}
    data = np.load(path)
    return {k: data[k] for k in data.files}


def _save_cache(path: str, cache: dict[str, np.ndarray]) -> None:
    if path:
        tmp = path + ".tmp.npz"
        np.savez(tmp, **cache)  # type: ignore[arg-type]
        os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED / "*.jsonl.zst"))
    parser.add_argument("--lm-rows", type=int, default=100, help="LM-subsample rows per source and role")
    parser.add_argument("--test-rows", type=int, default=150, help="test rows per held-out source")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", default="/tmp/tailguard_lm_cache.npz")
    parser.add_argument("--sources", default="", help="comma-separated held-out sources (default: all)")
    parser.add_argument("--no-in-distribution", action="store_true")
    args = parser.parse_args()
    paths = sorted(glob.glob(args.data))
    if not paths:
        print(json.dumps({"benchmark": "detect_lm_loso", "skipped": f"no files match {args.data}"}))
        return
    rows = list(read_labelled(paths))
    sources = sorted({r.dataset for r in rows})
    held_out = [s for s in sources if not args.sources or s in args.sources.split(",")]
    lm_params = {"max_tokens": args.max_tokens, "threads": args.threads, "rows_per_source": args.lm_rows}
    config = EnsembleConfig(detectors=(*_CHEAP, "lm"), params={"lm": lm_params})
    cache = _load_cache(args.cache)
    _log(f"{len(rows)} rows, {len(sources)} sources, LM cache {len(cache)} rows")
    all_tests = {s: [r for r in rows if r.dataset == s and r.split == "test"] for s in sources}
    tests = {s: _sample([r for r in rows if r.dataset == s and r.split == "test"], args.test_rows) for s in sources}
    result: dict[str, Any] = {
        "benchmark": "detect_lm_loso",
        "lm_rows_per_source_and_role": args.lm_rows,
        "test_rows_per_source": args.test_rows,
        "max_tokens": args.max_tokens,
        "per_source": {},
        "in_distribution": {},
        "zero_shot": {},
    }

    LMDetector.shared_cache = cache  # every fold's LM instance reuses the features (zero-shot LM)
    for held in held_out:
        started = time.perf_counter()
        train = [r for r in rows if r.dataset != held and r.split != "test"]
        det = train_rows(train, config, _log)
        _save_cache(args.cache, cache)
        fold: dict[str, Any] = {mode: _metrics(det, tests[held], mode) for mode in ("cheap", "all", "cascade")}
        # the cheap tier is fast enough to score every test row of the held-out source
        fold["cheap_all_test_rows"] = _metrics(det, all_tests[held], "cheap")
        fold["train_seconds"] = round(time.perf_counter() - started, 1)
        fold["lm_rows"] = det.info.tiers.get("lm_rows")
        result["per_source"][held] = fold
        _save_cache(args.cache, cache)
        _log(f"held out {held}: " + json.dumps({m: fold[m]["auroc"] for m in ("cheap", "all", "cascade")}))
        print(json.dumps({"partial": held, **fold}), file=sys.stderr, flush=True)
    for mode in ("cheap", "all", "cascade", "cheap_all_test_rows"):
        for metric in ("auroc", "tpr_at_1pct_fpr", "threshold_fpr", "threshold_tpr"):
            vals = [f[mode][metric] for f in result["per_source"].values() if f[mode][metric] is not None]
            result[f"mean_{metric}_{mode}"] = round(float(np.mean(vals)), 4) if vals else None
    # Per generator family, over the folds (each fold's AUROC on its held-out rows of that family).
    for mode in ("cheap", "all", "cascade"):
        per_family: dict[str, list[float]] = {}
        for fold in result["per_source"].values():
            for fam, entry in fold[mode]["per_family"].items():
                if entry["auroc"] is not None:
                    per_family.setdefault(fam, []).append(entry["auroc"])
        result[f"loso_per_family_{mode}"] = {
            fam: {"folds": len(v), "mean_auroc": round(float(np.mean(v)), 4)} for fam, v in sorted(per_family.items())
        }
    if not args.no_in_distribution:
        train = [r for r in rows if r.split != "test"]
        det = train_rows(train, config, _log)
        lm = next(d for d in det.detectors if isinstance(d, LMDetector))
        test = [r for s in sources for r in tests[s]]
        for mode in ("cheap", "all", "cascade"):
            result["in_distribution"][mode] = _metrics(det, test, mode)
        full_test = [r for s in sources for r in all_tests[s]]
        result["in_distribution"]["cheap_all_test_rows"] = _metrics(det, full_test, "cheap")
        for s in sources:
            result["in_distribution"].setdefault("per_source", {})[s] = {
                mode: _metrics(det, tests[s], mode)["auroc"] for mode in ("cheap", "all")
            }
        for s in sources:
            result["zero_shot"][s] = _zero_shot(lm, tests[s])
        _save_cache(args.cache, cache)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
