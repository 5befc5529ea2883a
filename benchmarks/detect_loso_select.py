"""Model selection for the AI-text detector by leave-one-source-out on the TRAIN split only.

For each source file S: train the base detectors (and the default stacker) on the train rows of the
other files exactly as ``train_rows`` does, then score the held-out file's *train* rows (validation;
its test rows are never read).  Stacker variants (ridge strength, feature subsets) are refitted on the
same stack fold and compared by the mean held-out AUROC.  The test split stays untouched, so the
variant chosen here can then be reported once on it (``tailguard detector eval --leave-one-source-out``).

    python benchmarks/detect_loso_select.py --data '../shared/data/detect/*.jsonl.zst' \
        [--cache /tmp/loso_cache] [--max-val 6000]

Prints one JSON object (per variant: per-source validation AUROC / TPR@1%FPR and their means).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import sys
import time
from typing import Any

import numpy as np

from tailguard.filters.detect.base import prepare
from tailguard.filters.detect.data import read_labelled, split_role
from tailguard.filters.detect.ensemble import EnsembleConfig, stack_columns, train_rows
from tailguard.filters.detect.logistic import fit_logistic
from tailguard.filters.detect.metrics import auroc, tpr_at_fpr
from tailguard.filters.hashing import unit_interval


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _fold_features(held: str, paths: list[str], cfg: EnsembleConfig, max_val: int, cache: str) -> dict[str, Any]:
    name = os.path.basename(held).split(".")[0]
    file = os.path.join(cache, f"{name}.npz")
    if os.path.exists(file):
        data = np.load(file, allow_pickle=True)
        return {k: data[k] for k in data.files}
    others = [p for p in paths if p != held]
    train = [r for r in read_labelled(others) if r.split != "test"]
    val = [r for r in read_labelled([held]) if r.split == "train"]
    if len(val) > max_val:  # deterministic subsample by id hash
        val = sorted(val, key=lambda r: unit_interval("loso-val", 0, r.group + r.text[:64]))[:max_val]
    _log(f"{name}: training on {len(train)} rows of other sources, validating on {len(val)} train rows")
    started = time.perf_counter()
    det = train_rows(train, cfg, _log)
    roles = np.array([split_role(r.group, cfg.seed, cfg.base_fraction, cfg.stack_fraction) for r in train])
    rest = [r for r, role in zip(train, roles, strict=True) if role != "base"]
    sizes: dict[str, int] = {}
    for r in train:
        sizes[r.dataset] = sizes.get(r.dataset, 0) + 1
    largest = max(sizes.values())
    out = {
        "rest_x": det.features(prepare([r.text for r in rest], det.max_chars)),
        "rest_y": np.array([r.label for r in rest]),
        "rest_role": roles[roles != "base"],
        "rest_ds": np.array([r.dataset for r in rest]),
        "rest_size": np.array([sizes[r.dataset] / largest for r in rest]),
        "val_x": det.features(prepare([r.text for r in val], det.max_chars)),
        "val_y": np.array([r.label for r in val]),
        "names": np.array(det.info.feature_names),
        "seconds": np.array(time.perf_counter() - started),
    }
    os.makedirs(cache, exist_ok=True)
    np.savez(file, **out)
    return out


def _variant_score(f: dict[str, Any], l2: float, features: str, power: float, cap: float) -> dict[str, float]:
    names = [str(n) for n in f["names"]]
    cols = stack_columns(names, features)
    w = np.minimum((1.0 / f["rest_size"]) ** power, cap)
    st = f["rest_role"] == "stack"
    model = fit_logistic(f["rest_x"][st][:, cols], f["rest_y"][st], l2=l2, sample_weight=w[st])
    s = model.decision(f["val_x"][:, cols])
    cal = model.decision(f["rest_x"][~st][:, cols])
    return {
        "auroc": auroc(s, f["val_y"]),
        "tpr_at_1pct_fpr": tpr_at_fpr(s, f["val_y"], 0.01),
        "in_dist_calib_auroc": auroc(cal, f["rest_y"][~st]),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", default="../shared/data/detect/*.jsonl.zst")
    p.add_argument("--cache", default="/tmp/loso_select_cache")
    p.add_argument("--max-val", type=int, default=6000)
    args = p.parse_args()
    paths = sorted(glob.glob(args.data))
    if not paths:
        print(json.dumps({"error": f"no files match {args.data}"}))
        return 2
    cfg = EnsembleConfig()
    folds = {os.path.basename(h).split(".")[0]: _fold_features(h, paths, cfg, args.max_val, args.cache) for h in paths}
    variants: dict[str, dict[str, Any]] = {}
    for features in ("all", "no_fasttext", "scores", "scores_no_fasttext", "lr_compression", "no_stylometry_raw"):
        for l2 in (1.0, 10.0, 100.0, 1000.0, 3000.0, 10000.0, 30000.0, 100000.0):
            for power, cap in ((0.5, 8.0), (1.0, 8.0), (1.0, 64.0)):
                key = f"features={features} l2={l2:g} balance_power={power:g} cap={cap:g}"
                per = {n: _variant_score(f, l2, features, power, cap) for n, f in folds.items()}
                variants[key] = {
                    "mean_val_auroc": round(float(np.mean([v["auroc"] for v in per.values()])), 4),
                    "mean_val_tpr_at_1pct_fpr": round(float(np.mean([v["tpr_at_1pct_fpr"] for v in per.values()])), 4),
                    "mean_in_dist_calib_auroc": round(
                        float(np.mean([v["in_dist_calib_auroc"] for v in per.values()])), 4
                    ),
                    "per_source_val_auroc": {n: round(v["auroc"], 4) for n, v in per.items()},
                }
    best = max(variants, key=lambda k: variants[k]["mean_val_auroc"])
    print(
        json.dumps(
            {
                "benchmark": "detect_loso_select",
                "protocol": "train on other sources' train rows, validate on held-out source's train rows (test split unused)",
                "fold_train_seconds": {n: round(float(f["seconds"]), 1) for n, f in folds.items()},
                "best": best,
                "variants": dict(sorted(variants.items(), key=lambda kv: -kv[1]["mean_val_auroc"])),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
