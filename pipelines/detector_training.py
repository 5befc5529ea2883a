"""``tailguard detector train|eval|calibrate``: train the AI-text detector ensemble, evaluate it honestly,
re-calibrate it on your own human text.

::

    tailguard detector train --data 'labelled/*.jsonl.zst' --out models/ai [--config detector.yaml]
    tailguard detector eval  --data 'labelled/*.jsonl.zst' --model models/ai --json eval.json \\
                             [--leave-one-source-out] [--lm-tier all|cheap|cascade] [--lm-budget 0.05]
    tailguard detector calibrate --model models/ai --human 'pre2022/*.jsonl.zst' [--target-fpr 0.01] \\
                             --out models/ai-mycrawl

Default detectors: fasttext, ngram, compression, stylometry (the cheap tier).  The LM tier (``lm``,
SmolLM2-135M through llama.cpp, extra ``.[lm]``) is added with ``--config`` (``detectors: [fasttext,
ngram, compression, stylometry, lm]``, e.g. ``configs/detector_lm.yaml``).

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
import shutil
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import yaml

from tailguard.filters.detect.base import PreparedText, prepare
from tailguard.filters.detect.calibration import recalibrate, register_fpr_report
from tailguard.filters.detect.data import LabelledText, file_sha256, read_labelled
from tailguard.filters.detect.ensemble import (
    SCORE_MODES,
    AIDetector,
    EnsembleConfig,
    load_detector,
    train_detector,
    train_rows,
)
from tailguard.filters.detect.metrics import generator_family, length_bucket, sliced_report, worst
from tailguard.filters.detect.model_dir import ModelInfo, write_model_info
from tailguard.filters.errors import ConfigError

__all__ = ["evaluate_rows", "run_detector", "train_detector"]

_LOG = logging.getLogger("tailguard.detector")


def _expand(patterns: Sequence[str], flag: str = "--data") -> list[str]:
    paths: list[str] = []
    for pattern in patterns:
        matched = sorted(glob.glob(pattern))
        if not matched:
            raise ConfigError(f"{flag} {pattern!r} matches no files")
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


def _score_with_progress(
    detector: AIDetector, docs: Sequence[PreparedText], every: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``detector.score_prepared(docs)``, logged every ``every`` rows when each row is scored on its own.

    The cascade picks its LM rows per call (a share of the band), so it is scored in one call.
    """
    if detector.mode == "cascade" or len(docs) <= every:
        return detector.score_prepared(docs)
    parts = []
    started = time.perf_counter()
    for i in range(0, len(docs), every):
        parts.append(detector.score_prepared(docs[i : i + every]))
        done = min(i + every, len(docs))
        rate = done / max(time.perf_counter() - started, 1e-9)
        _LOG.info("scored %d/%d rows (%s), %.1f rows/s", done, len(docs), detector.mode, rate)
    per_detector = {name: np.concatenate([part[1][name] for part in parts]) for name in parts[0][1]}
    return np.concatenate([part[0] for part in parts]), per_detector


def evaluate_rows(detector: AIDetector, rows: Sequence[LabelledText], progress_every: int = 200) -> dict[str, Any]:
    """Score ``rows`` (in the detector's :attr:`~AIDetector.mode`) and return the sliced report.

    See :func:`~tailguard.filters.detect.metrics.sliced_report`; adds ``per_register`` (FPR at the
    calibrated threshold per human register and its ratio to the overall FPR), ``lm_tier`` (mode and
    share of rows the LM scored) and the scoring speed.  Outside the cascade, rows are scored in
    slices of ``progress_every`` with a log line each (the LM tier scores ~1-2 rows/s per core).
    """
    started = time.perf_counter()
    docs = prepare([r.text for r in rows], detector.max_chars)
    scores, per_detector = _score_with_progress(detector, docs, progress_every)
    elapsed = time.perf_counter() - started
    labels = np.array([r.label for r in rows])
    keys = {
        "source": [r.dataset for r in rows],
        "generator": [r.generator for r in rows],
        "generator_family": [generator_family(r.generator) for r in rows],
        "domain": [r.domain for r in rows],
        "length": [length_bucket(r.text) for r in rows],
        "attack": [r.attack for r in rows],
        "flag": [_flag(r.note) for r in rows],
    }
    info = detector.info
    report = sliced_report(scores, labels, keys, info.thresholds, f"{info.default_fpr:g}", per_detector)
    report["worst_domain_fpr"] = worst(report["per_domain"], "threshold_fpr")
    registers = register_fpr_report(scores, labels, [r.text for r in rows], [r.domain for r in rows], info.threshold())
    report["per_register"] = registers["per_register"]
    report["worst_register_ratio"] = registers["worst_ratio"]
    lm_scored = [v for k, v in per_detector.items() if k in detector.lm_names]
    report["lm_tier"] = {
        "mode": detector.mode if detector.has_lm else "none",
        "scored_share": round(float((~np.isnan(lm_scored[0])).mean()), 4) if lm_scored and len(rows) else 0.0,
    }
    report["scoring_docs_per_s"] = round(len(rows) / elapsed, 1) if elapsed > 0 else None
    return report


def _read_eval_rows(paths: list[str], split: str) -> list[LabelledText]:
    try:
        rows = list(read_labelled(paths, None if split == "all" else split))
    except ValueError as exc:
        raise ConfigError(f"--data: {exc}") from exc
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
    _add_lm_args(parser)
    parser.add_argument(
        "--rows-per-source",
        type=int,
        default=0,
        help="evaluate at most N rows per source, picked by a hash of the pair/group id (0 = all)",
    )
    args = parser.parse_args(argv)
    paths = _expand(args.data)
    detector = _load_model(args.model, args.lm_tier, args.lm_budget)
    rows = _subsample(_read_eval_rows(paths, args.split), args.rows_per_source)
    report: dict[str, Any] = {
        "model": {
            "dir": args.model,
            "name": detector.info.name,
            "format": detector.info.format,
            "thresholds": detector.info.thresholds,
            "default_fpr": detector.info.default_fpr,
            "training_data": detector.info.training_data,
            "detectors": detector.info.detectors,
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
    for key in ("source", "generator", "generator_family", "domain", "length", "attack", "flag"):
        _print_table(f"per {key}", report[f"per_{key}"])
    _print_registers(report["per_register"])
    if "leave_one_source_out" in report:
        loso = report["leave_one_source_out"]
        _print_table("leave-one-source-out (trained without the source)", loso["per_source"])
        print(f"  mean AUROC {loso['mean_auroc']}  mean TPR@1% {loso['mean_tpr_at_1pct_fpr']}")
    print(f"\nworst domain FPR at the calibrated threshold: {report['worst_domain_fpr']}")
    print(f"worst human-register FPR / overall FPR: {report['worst_register_ratio']}")
    print(f"LM tier: {report['lm_tier']}")
    print(f"report written to {args.json}")
    return 0


def _add_lm_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lm-tier",
        choices=SCORE_MODES,
        default="all",
        help="with an LM-tier model: all (every row), cheap (cheap tier only) or cascade (LM on the uncertain band)",
    )
    parser.add_argument(
        "--lm-budget", type=float, default=None, help="cascade: share of rows the LM may score (default: the model's)"
    )


def _load_model(path: str, mode: str, budget: float | None) -> AIDetector:
    try:
        detector = load_detector(path)
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"--model: {exc}") from exc
    if budget is not None:
        if not 0 < budget <= 1:
            raise ConfigError("--lm-budget must be in (0, 1]")
        detector.cascade_budget = budget
    detector.set_mode(mode)
    return detector


def _subsample(rows: list[LabelledText], per_source: int) -> list[LabelledText]:
    """At most ``per_source`` rows per dataset, chosen by a hash of the group (pairs stay together)."""
    if per_source <= 0:
        return rows
    from tailguard.filters.hashing import unit_interval

    by_source: dict[str, list[LabelledText]] = {}
    for row in rows:
        by_source.setdefault(row.dataset, []).append(row)
    out: list[LabelledText] = []
    for name in sorted(by_source):
        ranked = sorted(by_source[name], key=lambda r: (unit_interval("eval-sample", r.group), r.text))
        out += ranked[:per_source]
    return out


def _print_registers(per: dict[str, Any]) -> None:
    print("\nhuman registers (FPR at the calibrated threshold, ratio to the overall FPR)")
    for name, m in per.items():
        fpr = "-" if m["threshold_fpr"] is None else f"{m['threshold_fpr']:.3f}"
        ratio = "-" if m["ratio_to_overall"] is None else f"{m['ratio_to_overall']:.2f}x"
        print(f"  {name:<22}{m['n_human']:>7}  FPR {fpr:>6}  ratio {ratio:>6}")


def _read_human(paths: list[str]) -> list[dict[str, str]]:
    """Rows of JSONL files with ``text`` (optional ``domain``, ``id``); rows labelled other than human are refused."""
    from tailguard.filters.detect.data import _open_text

    rows: list[dict[str, str]] = []
    for path in paths:
        with _open_text(path) as handle:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"--human {path}:{line_no}: not JSON ({exc})") from exc
                label = str(row.get("label") or "human").lower()
                if label != "human":
                    raise ConfigError(f"--human {path}:{line_no}: label {label!r}; --human takes human text only")
                text = str(row.get("text") or "")
                if text.strip():
                    rows.append(
                        {
                            "text": text,
                            "domain": str(row.get("domain") or "unknown"),
                            "key": str(row.get("id") or row.get("pair_id") or f"{path}:{line_no}"),
                        }
                    )
    return rows


def _calibrate(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tailguard detector calibrate",
        description="re-fit Platt scaling and FPR thresholds on text you know is human",
    )
    parser.add_argument("--model", required=True, help="model directory from `tailguard detector train`")
    parser.add_argument("--human", action="append", required=True, help="JSONL glob of human text (repeatable)")
    parser.add_argument("--out", required=True, help="model directory to write (eval and the pipeline read it)")
    parser.add_argument("--target-fpr", type=float, default=0.01, help="FPR of the default threshold")
    parser.add_argument(
        "--holdout",
        type=float,
        default=0.3,
        help="share of the human rows (by hash of id) kept out of calibration to report FPR on (0 = none)",
    )
    parser.add_argument(
        "--lm-rows", type=int, default=1000, help="human rows the LM tier scores to re-calibrate the full tier"
    )
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)
    if not 0 < args.target_fpr < 0.5:
        raise ConfigError("--target-fpr must be in (0, 0.5)")
    if not 0 <= args.holdout < 1:
        raise ConfigError("--holdout must be in [0, 1)")
    if os.path.abspath(args.out) == os.path.abspath(args.model):
        raise ConfigError("--out must differ from --model (the trained model is never overwritten)")
    paths = _expand(args.human, "--human")
    detector = _load_model(args.model, "all", None)
    rows = _read_human(paths)
    from tailguard.filters.hashing import unit_interval

    held = [r for r in rows if args.holdout and unit_interval("calib-holdout", r["key"]) < args.holdout]
    fit = [r for r in rows if not (args.holdout and unit_interval("calib-holdout", r["key"]) < args.holdout)]
    fprs = sorted({*(float(k) for k in detector.info.thresholds), args.target_fpr})
    fit_docs = prepare([r["text"] for r in fit], detector.max_chars)
    lm_docs = None
    if detector.has_lm:
        ranked = sorted(range(len(fit)), key=lambda i: unit_interval("calib-lm", fit[i]["key"]))
        lm_docs = [fit_docs[i] for i in sorted(ranked[: args.lm_rows])]
    started = time.perf_counter()
    try:
        info = recalibrate(
            detector,
            fit_docs,
            fprs,
            args.target_fpr,
            lm_docs,
            {"human_data": [{"path": p, "sha256": file_sha256(p)} for p in paths], "holdout": args.holdout},
        )
    except ValueError as exc:
        raise ConfigError(f"--human: {exc}") from exc
    os.makedirs(args.out, exist_ok=True)
    for name in detector.info.files:
        shutil.copyfile(os.path.join(args.model, name), os.path.join(args.out, name))
    info.directory = args.out
    write_model_info(args.out, info)
    report: dict[str, Any] = {
        "model": args.out,
        "from_model": args.model,
        "human_rows": len(rows),
        "calibration_rows": len(fit),
        "holdout_rows": len(held),
        "thresholds_before": detector.info.thresholds,
        "thresholds_after": info.thresholds,
        "calibrate_seconds": round(time.perf_counter() - started, 1),
    }
    recal = _load_model(args.out, "cascade" if detector.has_lm else "all", None)
    audit = held or fit
    scores, _ = recal.score_prepared(prepare([r["text"] for r in audit], recal.max_chars), [r["key"] for r in audit])
    threshold = info.threshold()
    flagged = scores >= threshold
    report["fpr_on"] = "holdout" if held else "calibration rows (no holdout: in-sample)"
    report["lm_tier"] = recal.mode if recal.has_lm else "none"
    report["overall_fpr"] = round(float(flagged.mean()), 4)
    for key, values in (
        ("per_domain", [r["domain"] for r in audit]),
        ("per_length", [length_bucket(r["text"]) for r in audit]),
    ):
        per: dict[str, Any] = {}
        for value in sorted(set(values)):
            mask = np.array([v == value for v in values])
            per[value] = {"n": int(mask.sum()), "threshold_fpr": round(float(flagged[mask].mean()), 4)}
        report[key] = per
    registers = register_fpr_report(
        scores, np.zeros(len(audit), dtype=int), [r["text"] for r in audit], [r["domain"] for r in audit], threshold
    )
    report["per_register"] = registers["per_register"]
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)
    print(json.dumps(report, indent=1))
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
    if sub == "calibrate":
        return _calibrate(rest)
    raise ConfigError(f"unknown detector subcommand {sub!r}; use train, eval or calibrate")
