"""``tailguard detector train|eval``: train the AI-text detector ensemble and evaluate it honestly.

::

    tailguard detector train --data 'labelled/*.jsonl.zst' --out models/ai [--config detector.yaml]
    tailguard detector eval  --data 'labelled/*.jsonl.zst' --model models/ai --json eval.json \\
                             [--leave-one-source-out]

Training uses rows whose ``split`` is ``train`` (or that have no split); evaluation uses ``split ==
test`` (``--split all`` for files without a split column).  ``eval`` prints a summary and writes JSON
with ``overall`` and ``per_source`` / ``per_generator`` / ``per_domain`` / ``per_length`` /
``per_attack`` / ``per_flag`` metrics; ``--leave-one-source-out`` retrains once per input file on the
train rows of the other files and reports on the held-out file's test rows.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import yaml

from tailguard.filters.detect.base import prepare
from tailguard.filters.detect.data import LabelledText, read_labelled
from tailguard.filters.detect.ensemble import (
    AIDetector,
    EnsembleConfig,
    load_detector,
    train_detector,
    train_rows,
)
from tailguard.filters.detect.metrics import length_bucket, sliced_report, worst
from tailguard.filters.detect.model_dir import ModelInfo
from tailguard.filters.errors import ConfigError

__all__ = ["evaluate_rows", "run_detector", "train_detector"]

_LOG = logging.getLogger("tailguard.detector")


def _expand(patterns: Sequence[str]) -> list[str]:
    paths: list[str] = []
    for pattern in patterns:
        matched = sorted(glob.glob(pattern))
        if not matched:
            raise ConfigError(f"--data {pattern!r} matches no files")
        paths += matched
    return sorted(set(paths))


def _load_config(path: str | None) -> EnsembleConfig:
    if not path:
        return EnsembleConfig()
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        return EnsembleConfig.from_dict(data)
    except (OSError, yaml.YAMLError, ValueError, TypeError) as exc:
        raise ConfigError(f"--config {path}: {exc}") from exc


def _flag(note: str) -> str:
    if "ARTEFACT" in note:
        return "artefact_lowercased_human"
    if "chat preamble" in note:
        return "chat_preamble"
    if "refusal" in note:
        return "refusal"
    if "data-mixing" in note:
        return "data_mixing"
    return "none"


def evaluate_rows(detector: AIDetector, rows: Sequence[LabelledText]) -> dict[str, Any]:
    """Score ``rows`` and return the sliced report (see :func:`~tailguard.filters.detect.metrics.sliced_report`)."""
    started = time.perf_counter()
    scores, per_detector = detector.score_prepared(prepare([r.text for r in rows], detector.max_chars))
    elapsed = time.perf_counter() - started
    labels = np.array([r.label for r in rows])
    keys = {
        "source": [r.dataset for r in rows],
        "generator": [r.generator for r in rows],
        "domain": [r.domain for r in rows],
        "length": [length_bucket(r.text) for r in rows],
        "attack": [r.attack for r in rows],
        "flag": [_flag(r.note) for r in rows],
    }
    info = detector.info
    report = sliced_report(scores, labels, keys, info.thresholds, f"{info.default_fpr:g}", per_detector)
    report["worst_domain_fpr"] = worst(report["per_domain"], "threshold_fpr")
    report["scoring_docs_per_s"] = round(len(rows) / elapsed, 1) if elapsed > 0 else None
    return report


def _read_eval_rows(paths: list[str], split: str) -> list[LabelledText]:
    rows = list(read_labelled(paths, None if split == "all" else split))
    if not rows:
        raise ConfigError(
            f"no rows with split == {split!r} in {paths}; use --split all for files without a split column"
        )
    return rows


def _leave_one_source_out(paths: list[str], config: EnsembleConfig, split: str) -> dict[str, Any]:
    out: dict[str, Any] = {"per_source": {}}
    for held in paths:
        others = [p for p in paths if p != held]
        train = [r for r in read_labelled(others) if r.split != "test"]
        test = _read_eval_rows([held], split)
        name = test[0].dataset
        _LOG.info("leave-one-source-out: training without %s on %d rows", name, len(train))
        try:
            detector = train_rows(train, config, _LOG.info)
        except ValueError as exc:
            out["per_source"][name] = {"error": str(exc)}
            continue
        report = evaluate_rows(detector, test)
        out["per_source"][name] = {
            "train_rows": len(train),
            "detectors": detector.info.detectors,
            **report["overall"],
        }
    done = [v for v in out["per_source"].values() if "auroc" in v and v["auroc"] is not None]
    for metric in (
        "auroc",
        "tpr_at_1pct_fpr",
        "tpr_at_5pct_fpr",
        "threshold_fpr",
        "threshold_tpr",
        "accuracy",
    ):
        values = [v[metric] for v in done if v.get(metric) is not None]
        out[f"mean_{metric}"] = round(float(np.mean(values)), 4) if values else None
    return out


def _fmt(value: Any) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def _print_table(title: str, per: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(f"  {'slice':<34}{'n':>7}{'AUROC':>8}{'TPR@1%':>8}{'TPR@5%':>8}{'FPR@t':>8}{'TPR@t':>8}{'acc@t':>8}")
    for name, m in per.items():
        if "error" in m:
            print(f"  {name:<34} error: {m['error']}")
            continue
        print(
            f"  {name[:34]:<34}{m['n']:>7} {_fmt(m['auroc'])} {_fmt(m['tpr_at_1pct_fpr'])} {_fmt(m['tpr_at_5pct_fpr'])}"
            f" {_fmt(m.get('threshold_fpr'))} {_fmt(m.get('threshold_tpr'))} {_fmt(m.get('accuracy'))}"
        )


def _train(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="tailguard detector train", description="train the AI-text detector")
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        help="labelled JSONL glob (repeatable)",
    )
    parser.add_argument("--out", required=True, help="model directory to write")
    parser.add_argument(
        "--config",
        help="YAML/JSON with EnsembleConfig fields (detectors, params, l2 ...)",
    )
    args = parser.parse_args(argv)
    paths = _expand(args.data)
    config = _load_config(args.config)
    started = time.perf_counter()
    try:
        info: ModelInfo = train_detector(paths, args.out, config, _LOG.info)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    print(
        json.dumps(
            {
                "model": args.out,
                "name": info.name,
                "thresholds": info.thresholds,
                "metrics": info.metrics,
                "train_seconds": round(time.perf_counter() - started, 1),
            },
            indent=1,
        )
    )
    return 0


def _eval(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tailguard detector eval",
        description="evaluate a trained AI-text detector",
    )
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        help="labelled JSONL glob (repeatable)",
    )
    parser.add_argument("--model", required=True, help="model directory from `tailguard detector train`")
    parser.add_argument("--json", required=True, help="where to write the JSON report")
    parser.add_argument("--split", default="test", help="rows to evaluate: test (default), train or all")
    parser.add_argument(
        "--leave-one-source-out",
        action="store_true",
        help="also retrain once per held-out file",
    )
    parser.add_argument(
        "--config",
        help="training config for --leave-one-source-out (default: the model's)",
    )
    args = parser.parse_args(argv)
    paths = _expand(args.data)
    try:
        detector = load_detector(args.model)
    except ValueError as exc:
        raise ConfigError(f"--model: {exc}") from exc
    rows = _read_eval_rows(paths, args.split)
    report: dict[str, Any] = {
        "model": {
            "dir": args.model,
            "name": detector.info.name,
            "format": detector.info.format,
            "thresholds": detector.info.thresholds,
            "default_fpr": detector.info.default_fpr,
            "training_data": detector.info.training_data,
        },
        "data": paths,
        "split": args.split,
        **evaluate_rows(detector, rows),
    }
    if args.leave_one_source_out:
        if args.config:
            config = _load_config(args.config)
        else:
            stored = {k: v for k, v in detector.info.config.items() if k in EnsembleConfig.__dataclass_fields__}
            if "stack_features" not in stored:
                # a model trained before the stacker options existed: retrain it the way it was
                stored.update(
                    stack_features="all",
                    stack_balance_power=stored.get("balance_power", 0.5),
                    stack_balance_cap=stored.get("balance_cap", 8.0),
                )
            config = EnsembleConfig.from_dict(stored)
        report["leave_one_source_out"] = _leave_one_source_out(paths, config, args.split)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1, sort_keys=False)
    _print_table("overall", {"all": report["overall"]})
    for key in ("source", "generator", "domain", "length", "attack", "flag"):
        _print_table(f"per {key}", report[f"per_{key}"])
    if "leave_one_source_out" in report:
        loso = report["leave_one_source_out"]
        _print_table("leave-one-source-out (trained without the source)", loso["per_source"])
        print(f"  mean AUROC {loso['mean_auroc']}  mean TPR@1% {loso['mean_tpr_at_1pct_fpr']}")
    print(f"\nworst domain FPR at the calibrated threshold: {report['worst_domain_fpr']}")
    print(f"report written to {args.json}")
    return 0


def run_detector(argv: Sequence[str]) -> int:
    """Entry point of ``tailguard detector``: dispatch ``train`` / ``eval``."""
    args = list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    sub, rest = args[0], args[1:]
    if sub == "train":
        return _train(rest)
    if sub == "eval":
        return _eval(rest)
    raise ConfigError(f"unknown detector subcommand {sub!r}; use train or eval")
