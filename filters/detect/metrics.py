"""Detection metrics and the sliced evaluation report of ``tailguard detector eval``.

AUROC is the Mann-Whitney statistic with ties counted half.  ``tpr_at_fpr`` reads the ROC curve
at a given FPR (threshold chosen on the evaluated scores: a curve point, not a calibrated result);
``threshold_fpr``/``threshold_tpr``/``accuracy`` use the model's thresholds calibrated at training
time on held-out human text — the figures a user of the pipeline actually gets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "GENERATOR_FAMILIES",
    "LENGTH_BUCKETS",
    "generator_family",
    "auroc",
    "length_bucket",
    "slice_metrics",
    "sliced_report",
    "tpr_at_fpr",
]

#: Word-count buckets of the per-length report (DetectRL's Varying_Length set spans 20–360 words).
LENGTH_BUCKETS = (
    (0, 50, "000-049w"),
    (50, 150, "050-149w"),
    (150, 300, "150-299w"),
    (300, 10**9, "300+w"),
)


#: Generator → family (issue 16): sampled base-model continuations, instruction-tuned models, chat
#: models.  Names as normalised in shared/data/detect/README.md; anything else is ``unknown``.
GENERATOR_FAMILIES = {
    "base": ("gpt2", "gpt-neo", "gpt-j", "llama", "gpt-3-davinci"),
    "instruction": ("text-davinci-003", "flan-t5-xxl", "gpt3re", "google-palm"),
    "chat": (
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-0613",
        "gpt-4",
        "gpt-4o",
        "gemini-1.5-pro",
        "llama-3-70b",
        "llama-2-70b",
        "llama-2-70b-chat",
        "claude-instant",
    ),
}


def generator_family(generator: str) -> str:
    """Return ``human``, ``base``, ``instruction``, ``chat`` or ``unknown`` for a generator name."""
    if generator == "human":
        return "human"
    return next((fam for fam, names in GENERATOR_FAMILIES.items() if generator in names), "unknown")


def length_bucket(text: str) -> str:
    """Return the word-count bucket name of ``text``."""
    n = len(text.split())
    return next(name for lo, hi, name in LENGTH_BUCKETS if lo <= n < hi)


def auroc(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float | None:
    """Area under the ROC curve (``None`` when one class is missing)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def tpr_at_fpr(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, fpr: float) -> float | None:
    """TPR at the strictest threshold whose FPR on these scores is <= ``fpr`` (``None`` if a class is missing)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    neg = np.sort(s[y == 0])[::-1]
    pos = s[y == 1]
    if len(neg) == 0 or len(pos) == 0:
        return None
    allowed = int(np.floor(fpr * len(neg)))
    threshold = np.nextafter(neg[allowed], np.inf) if allowed < len(neg) else -np.inf
    return float((pos >= threshold).mean())


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def slice_metrics(
    scores: np.ndarray,
    labels: np.ndarray,
    thresholds: dict[str, float],
    default_fpr: str,
) -> dict[str, Any]:
    """Metrics of one slice (see the module docstring for what each means)."""
    out: dict[str, Any] = {
        "n": len(labels),
        "n_human": int((labels == 0).sum()),
        "n_ai": int((labels == 1).sum()),
        "auroc": _round(auroc(scores, labels)),
        "tpr_at_1pct_fpr": _round(tpr_at_fpr(scores, labels, 0.01)),
        "tpr_at_5pct_fpr": _round(tpr_at_fpr(scores, labels, 0.05)),
    }
    for key, threshold in sorted(thresholds.items()):
        flagged = scores >= threshold
        human, ai = labels == 0, labels == 1
        fpr = float(flagged[human].mean()) if human.any() else None
        tpr = float(flagged[ai].mean()) if ai.any() else None
        acc = float((flagged == (labels == 1)).mean()) if len(labels) else None
        suffix = "" if key == default_fpr else f"_at_{key}"
        out[f"threshold{suffix}"] = _round(threshold)
        out[f"threshold_fpr{suffix}"] = _round(fpr)
        out[f"threshold_tpr{suffix}"] = _round(tpr)
        out[f"accuracy{suffix}"] = _round(acc)
    return out


def sliced_report(
    scores: np.ndarray,
    labels: np.ndarray,
    keys: dict[str, list[str]],
    thresholds: dict[str, float],
    default_fpr: str,
    detector_scores: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Return ``{"overall": ..., "per_<key>": {value: metrics}}`` for every slicing key.

    Slices holding only AI rows (a generator, an attack) are scored against *all* human rows of the
    same datasets (``"vs_human_of_datasets": true``) so AUROC and TPR at FPR stay defined; the
    threshold figures always use only the slice's own rows.
    """
    report: dict[str, Any] = {"overall": slice_metrics(scores, labels, thresholds, default_fpr)}
    if detector_scores:
        # a detector that scored only some rows (the LM tier in a cascade) is rated on those rows
        report["overall"]["detector_auroc"] = {
            k: _round(auroc(v[~np.isnan(v)], labels[~np.isnan(v)])) for k, v in detector_scores.items()
        }
    datasets = np.array(keys.get("source", [""] * len(labels)))
    for key, values in keys.items():
        column = np.array(values)
        per: dict[str, Any] = {}
        for value in sorted(set(values)):
            mask = column == value
            metrics = slice_metrics(scores[mask], labels[mask], thresholds, default_fpr)
            if metrics["n_human"] == 0 and key != "source":
                ref = (labels == 0) & np.isin(datasets, np.unique(datasets[mask]))
                both = mask | ref
                metrics.update(
                    auroc=_round(auroc(scores[both], labels[both])),
                    tpr_at_1pct_fpr=_round(tpr_at_fpr(scores[both], labels[both], 0.01)),
                    tpr_at_5pct_fpr=_round(tpr_at_fpr(scores[both], labels[both], 0.05)),
                    vs_human_of_datasets=True,
                )
            per[value] = metrics
        report[f"per_{key}"] = per
    return report


def worst(per: dict[str, Any], metric: str, min_n: int = 50, key: Callable[[Any], Any] = max) -> dict[str, Any] | None:
    """Return ``{"slice", metric, "n_human"}`` of the slice with the extreme ``metric`` (≥ ``min_n`` humans)."""
    candidates = [
        (v[metric], k, v["n_human"]) for k, v in per.items() if v.get(metric) is not None and v["n_human"] >= min_n
    ]
    if not candidates:
        return None
    value, name, n_human = key(candidates)
    return {"slice": name, metric: value, "n_human": n_human}
