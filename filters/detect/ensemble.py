"""The stacked ensemble: logistic regression over every detector's features, Platt-calibrated,
with ai_score thresholds calibrated at target false-positive rates on held-out human text.

Training rows are split by a hash of their group (pairs stay together) into three roles:
``base`` (fit the detectors), ``stack`` (fit the logistic regression on scores the detectors never
saw — stacked generalisation, Wolpert 1992) and ``calib`` (Platt scaling, Platt 1999, and the
thresholds: the ai_score above which at most 1 % / 5 % of the calib-fold *human* texts fall).

Elements in: labelled texts (training) or raw texts (scoring).  Out: a saved model directory;
per text an :class:`AIScore` (calibrated probability + per-detector scores).
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Importing the detector modules registers them in DETECTORS.
from tailguard.filters.detect import compression, fasttext_clf, ngram_lm, stylometry  # noqa: F401
from tailguard.filters.detect.base import (
    DETECTORS,
    MAX_SCORE_CHARS,
    Detector,
    PreparedText,
    prepare,
)
from tailguard.filters.detect.data import (
    LabelledText,
    file_sha256,
    read_labelled,
    split_role,
)
from tailguard.filters.detect.logistic import LogisticModel, fit_logistic, sigmoid
from tailguard.filters.detect.metrics import auroc, tpr_at_fpr
from tailguard.filters.detect.model_dir import (
    ModelInfo,
    read_model_info,
    write_model_info,
)

__all__ = [
    "AIDetector",
    "AIScore",
    "EnsembleConfig",
    "calibrate_threshold",
    "load_detector",
    "train_detector",
]

DEFAULT_DETECTORS = ("fasttext", "ngram", "compression", "stylometry")
# One score column per detector (the stacker input of the ``scores*`` feature sets).
_SCORE_COLUMNS = frozenset({"fasttext_logit", "ngram_llr_mean", "compression_dict_gain", "stylometry_score"})
STACK_FEATURE_SETS = (
    "all",
    "no_fasttext",
    "scores",
    "scores_no_fasttext",
    "lr_compression",
    "no_stylometry_raw",
)


def stack_columns(feature_names: Sequence[str], feature_set: str) -> list[int]:
    """Return the indices of ``feature_names`` the stacker uses under ``feature_set``."""
    if feature_set not in STACK_FEATURE_SETS:
        raise ValueError(f"unknown stack feature set {feature_set!r}")

    def keep(name: str) -> bool:
        fasttext = name.startswith("fasttext_")
        if feature_set == "all":
            return True
        if feature_set == "no_fasttext":
            return not fasttext
        if feature_set == "scores":
            return name in _SCORE_COLUMNS
        if feature_set == "scores_no_fasttext":
            return name in _SCORE_COLUMNS and not fasttext
        if feature_set == "lr_compression":
            return name.startswith(("ngram_", "compression_"))
        # no_stylometry_raw: detector outputs, not the raw stylometric rates
        return name.startswith(("fasttext_", "ngram_", "compression_")) or (name == "stylometry_score")

    cols = [i for i, n in enumerate(feature_names) if keep(n)]
    return cols or list(range(len(feature_names)))


def _embed(model: LogisticModel, cols: list[int], width: int) -> LogisticModel:
    """Widen a stacker fitted on ``cols`` to all ``width`` columns (weight 0 elsewhere)."""
    mean, scale, weights = np.zeros(width), np.ones(width), np.zeros(width)
    mean[cols], scale[cols], weights[cols] = model.mean, model.scale, model.weights
    return LogisticModel(mean, scale, weights, model.bias)


@dataclass(frozen=True)
class EnsembleConfig:
    """Training config of the whole detector (``--config`` YAML/JSON of ``tailguard detector train``).

    Attributes:
        name: Model name recorded in ``model.json``.
        detectors: Detector kinds to train, in feature order (see ``DETECTORS``).
        params: Per-detector parameters by detector name (e.g. ``{"fasttext": {"epoch": 5}}``).
        l2: Ridge penalty of the stacked logistic regression.
        base_fraction: Share of training groups used to fit the detectors.
        stack_fraction: Share used to fit the stacker; the rest calibrates (Platt + thresholds).
        target_fprs: FPRs at which thresholds are calibrated (issue 5: 1 % and 5 %).
        default_fpr: The threshold the pipeline uses by default.
        max_chars: Characters of each document that are scored.
        balance_power: Rows of dataset ``d`` get weight ``(n_largest / n_d) ** balance_power`` (capped at
            ``balance_cap``) so small sources are not swamped by a big one: base detectors see rows
            repeated ``round(weight)`` times, the stacker uses the weights.  0 disables it.
        balance_cap: Largest weight / repeat factor.
        seed: Seed of the role split and of fastText.
        stack_features: Which detector features the stacker sees (see :data:`STACK_FEATURE_SETS`):
            ``all`` (every column), ``no_fasttext``, ``scores`` (one score column per detector),
            ``scores_no_fasttext``, ``lr_compression`` (n-gram + compression features only) or
            ``no_stylometry_raw`` (all but the raw stylometric rates; the stylometry score stays).
            Excluded columns get weight 0 in the saved stacker, so the model format is unchanged.
        stack_balance_power: Like ``balance_power`` but for the stacker's sample weights only.
        stack_balance_cap: Largest stacker sample weight.

    The stacker defaults (``l2`` 1000 on standardised features — strong shrinkage —,
    ``no_stylometry_raw``, full per-source balancing) were chosen by leave-one-source-out validation
    on the *train* split (``benchmarks/detect_loso_select.py``, docs/detect.md): mean held-out AUROC
    0.680 → 0.702 against the old ``l2`` 1 / ``all`` / 0.5.  Larger ``l2`` validated slightly better
    but, being an absolute penalty, swamps the stacker of a small training set (the demo's).
    """

    name: str = "tailguard-ai-detect"
    detectors: tuple[str, ...] = DEFAULT_DETECTORS
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    l2: float = 1000.0
    base_fraction: float = 0.6
    stack_fraction: float = 0.25
    target_fprs: tuple[float, ...] = (0.01, 0.05)
    default_fpr: float = 0.01
    max_chars: int = MAX_SCORE_CHARS
    balance_power: float = 0.5
    balance_cap: float = 8.0
    seed: int = 0
    stack_features: str = "no_stylometry_raw"
    stack_balance_power: float = 1.0
    stack_balance_cap: float = 64.0

    def __post_init__(self) -> None:
        if self.stack_features not in STACK_FEATURE_SETS:
            raise ValueError(f"stack_features must be one of {sorted(STACK_FEATURE_SETS)}")
        unknown = [d for d in self.detectors if d not in DETECTORS]
        if unknown or not self.detectors:
            raise ValueError(f"detectors: unknown {unknown} (known: {sorted(DETECTORS)})")
        if unknown_params := set(self.params) - set(DETECTORS):
            raise ValueError(f"params: unknown detectors {sorted(unknown_params)}")
        if not (
            0 < self.base_fraction < 1 and 0 < self.stack_fraction < 1 and self.base_fraction + self.stack_fraction < 1
        ):
            raise ValueError("base_fraction and stack_fraction must be in (0, 1) and sum to < 1")
        if not all(0 < f < 0.5 for f in self.target_fprs) or self.default_fpr not in self.target_fprs:
            raise ValueError("target_fprs must be in (0, 0.5) and include default_fpr")
        if self.max_chars < 100:
            raise ValueError("max_chars must be >= 100")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnsembleConfig:
        """Build from plain data (lists become tuples); unknown keys raise ValueError."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown detector config keys {sorted(unknown)}")
        data = dict(data)
        for key in ("detectors", "target_fprs"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class AIScore:
    """The verdict-free output of scoring one document.

    Attributes:
        ai_score: Calibrated probability that the text is machine-generated.
        detector_scores: Each detector's own score (column 0 of its features) by detector name.
    """

    ai_score: float
    detector_scores: dict[str, float]


def calibrate_threshold(human_scores: np.ndarray, fpr: float) -> float:
    """Return the smallest threshold ``t`` with ``mean(human_scores >= t) <= fpr``."""
    scores = np.sort(np.asarray(human_scores, dtype=np.float64))[::-1]
    if len(scores) == 0:
        return 1.0
    allowed = math.floor(fpr * len(scores))
    if allowed >= len(scores):
        return float(scores[-1])
    return float(np.nextafter(scores[allowed], np.inf))


class AIDetector:
    """A trained ensemble: detectors + stacker + Platt + thresholds (implements ``Scorer``)."""

    def __init__(
        self,
        detectors: list[Detector],
        stacker: LogisticModel,
        platt: tuple[float, float],
        info: ModelInfo,
    ) -> None:
        self.detectors = detectors
        self.stacker = stacker
        self.platt = platt
        self.info = info
        self.max_chars = int(info.config.get("max_chars", MAX_SCORE_CHARS))

    def features(self, docs: Sequence[PreparedText]) -> np.ndarray:
        """Return the concatenated feature rows of every detector."""
        return np.hstack([d.features(docs) for d in self.detectors])

    def _calibrated(self, logits: np.ndarray) -> np.ndarray:
        a, b = self.platt
        return sigmoid(a * logits + b)

    def score_prepared(self, docs: Sequence[PreparedText]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Return (ai_score array, {detector: score array}) for prepared docs."""
        blocks = [d.features(docs) for d in self.detectors]
        feats = np.hstack(blocks) if blocks else np.zeros((len(docs), 0))
        scores = self._calibrated(self.stacker.decision(feats)) if len(docs) else np.zeros(0)
        return scores, {d.name: block[:, 0] for d, block in zip(self.detectors, blocks, strict=True)}

    def score_batch(self, texts: Sequence[str]) -> list[AIScore]:
        """Score a batch of raw texts."""
        scores, per_detector = self.score_prepared(prepare(texts, self.max_chars))
        return [
            AIScore(
                float(scores[i]),
                {name: float(values[i]) for name, values in per_detector.items()},
            )
            for i in range(len(texts))
        ]

    def score(self, texts: Sequence[str]) -> list[float]:
        """``Scorer`` protocol: calibrated ai_score per text."""
        return [s.ai_score for s in self.score_batch(texts)]

    def save(self, directory: str) -> ModelInfo:
        """Write every detector's files and ``model.json`` into ``directory`` (created if needed)."""
        os.makedirs(directory, exist_ok=True)
        for detector in self.detectors:
            detector.save(directory)
        self.info.files = sorted(n for n in os.listdir(directory) if n != "model.json")
        self.info.directory = directory
        write_model_info(directory, self.info)
        return self.info


def load_detector(directory: str) -> AIDetector:
    """Load a model directory written by :meth:`AIDetector.save` (local path; see ``localize_model_dir``).

    Raises:
        ValueError: The directory is not a loadable tailguard detector model.
    """
    info = read_model_info(directory)
    params = info.config.get("params", {})
    try:
        detectors = [DETECTORS[name].load(directory, params.get(name, {})) for name in info.detectors]
    except (OSError, KeyError) as exc:
        raise ValueError(f"detector model {directory!r} is incomplete: {exc}") from exc
    return AIDetector(
        detectors,
        LogisticModel.from_json(info.stacker),
        (info.platt["a"], info.platt["b"]),
        info,
    )


def _fit_platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    if len(set(labels.tolist())) < 2:
        return 1.0, 0.0
    # Fit on unit-variance logits: a strongly shrunk stacker has tiny logits, and the ridge on the
    # Platt slope must not squash the calibrated probabilities.
    spread = float(np.std(logits)) or 1.0
    model = fit_logistic(logits[:, None] / spread, labels, l2=1e-3, standardize=False)
    return float(model.weights[0]) / spread, model.bias


def train_rows(rows: Sequence[LabelledText], config: EnsembleConfig, log: Any = None) -> AIDetector:
    """Train the whole ensemble on labelled rows (all rows are used; filter splits before).

    Args:
        rows: Training rows with both labels.
        config: Ensemble config.
        log: Optional ``log(message)`` callback for progress.

    Returns:
        The trained (unsaved) :class:`AIDetector`; ``info.metrics`` holds calibration-fold figures.

    Raises:
        ValueError: A role or a class has no rows.
    """
    say = log or (lambda message: None)
    labels = np.array([r.label for r in rows])
    if len(set(labels.tolist())) < 2:
        raise ValueError("training data needs both human and ai rows")
    roles = np.array([split_role(r.group, config.seed, config.base_fraction, config.stack_fraction) for r in rows])
    started = time.perf_counter()
    prepared = prepare([r.text for r in rows], config.max_chars)
    say(
        f"prepared {len(rows)} texts in {time.perf_counter() - started:.1f}s; roles: "
        + ", ".join(f"{k}={int((roles == k).sum())}" for k in ("base", "stack", "calib"))
    )
    for role in ("base", "stack", "calib"):
        if len(set(labels[roles == role].tolist())) < 2:
            raise ValueError(f"the {role!r} part of the training data lacks one class; add more rows")
    sizes = Counter(r.dataset for r in rows)
    largest = max(sizes.values())
    weights = np.array([min((largest / sizes[r.dataset]) ** config.balance_power, config.balance_cap) for r in rows])
    base_idx = np.flatnonzero(roles == "base")
    base_idx = np.repeat(base_idx, np.maximum(np.rint(weights[base_idx]), 1).astype(int))
    base_docs = [prepared[i] for i in base_idx]
    detectors: list[Detector] = []
    skipped: dict[str, str] = {}
    for name in config.detectors:
        started = time.perf_counter()
        params = dict(config.params.get(name, {}))
        if name == "fasttext":
            params.setdefault("seed", config.seed)
        try:
            detectors.append(DETECTORS[name].train(base_docs, labels[base_idx].tolist(), params))
        except RuntimeError as exc:
            # fastText 0.9.3 can abort with "Encountered NaN" on some inputs even after its retries:
            # train the rest of the ensemble and record the gap instead of failing the whole run.
            if len(config.detectors) == 1:
                raise
            skipped[name] = str(exc)
            say(f"WARNING: {name} failed to train ({exc}); ensemble continues without it")
            continue
        say(f"trained {name} on {len(base_idx)} texts in {time.perf_counter() - started:.1f}s")
    rest_idx = np.flatnonzero(roles != "base")
    rest_docs = [prepared[i] for i in rest_idx]
    feats = np.hstack([d.features(rest_docs) for d in detectors])
    in_stack = roles[rest_idx] == "stack"
    stack_weights = np.array(
        [
            min(
                (largest / sizes[r.dataset]) ** config.stack_balance_power,
                config.stack_balance_cap,
            )
            for r in rows
        ]
    )
    cols = stack_columns([n for d in detectors for n in d.feature_names], config.stack_features)
    stacker = _embed(
        fit_logistic(
            feats[in_stack][:, cols],
            labels[rest_idx][in_stack],
            l2=config.l2,
            sample_weight=stack_weights[rest_idx][in_stack],
        ),
        cols,
        feats.shape[1],
    )
    calib_logits = stacker.decision(feats[~in_stack])
    calib_labels = labels[rest_idx][~in_stack]
    platt = _fit_platt(calib_logits, calib_labels)
    calib_scores = sigmoid(platt[0] * calib_logits + platt[1])
    human = calib_scores[calib_labels == 0]
    thresholds = {f"{f:g}": calibrate_threshold(human, f) for f in config.target_fprs}
    metrics: dict[str, Any] = {
        "skipped_detectors": skipped,
        "calib_rows": len(calib_labels),
        "calib_human_rows": int((calib_labels == 0).sum()),
        "calib_auroc": auroc(calib_scores, calib_labels),
        **{f"calib_tpr_at_{k}": tpr_at_fpr(calib_scores, calib_labels, float(k)) for k in thresholds},
        "detector_calib_auroc": {
            d.name: auroc(d_feats[:, 0], calib_labels)
            for d, d_feats in zip(
                detectors,
                np.split(
                    feats[~in_stack],
                    np.cumsum([len(x.feature_names) for x in detectors])[:-1],
                    axis=1,
                ),
                strict=True,
            )
        },
    }
    feature_names = [n for d in detectors for n in d.feature_names]
    info = ModelInfo(
        name=config.name,
        config=json_safe(asdict(config)),
        detectors=[d.name for d in detectors],
        feature_names=feature_names,
        stacker=stacker.to_json(),
        platt={"a": platt[0], "b": platt[1]},
        thresholds=thresholds,
        default_fpr=config.default_fpr,
        metrics=metrics,
    )
    return AIDetector(detectors, stacker, platt, info)


def json_safe(data: Any) -> Any:
    """Turn tuples into lists recursively (JSON round trip without surprises)."""
    if isinstance(data, dict):
        return {k: json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    return data


def train_detector(
    data_paths: list[str],
    out_dir: str,
    config: EnsembleConfig | dict[str, Any] | None = None,
    log: Any = None,
) -> ModelInfo:
    """Train the ensemble on labelled JSONL files and save it as a versioned model directory.

    Rows whose ``split`` is ``test`` are never used; rows with ``split`` ``train`` or no split are.

    Args:
        data_paths: JSONL files (plain, ``.gz``, ``.zst``) with ``text`` and ``label`` in {human, ai}.
        out_dir: Model directory to write (created if needed).
        config: :class:`EnsembleConfig`, a dict of its fields, or ``None`` for defaults.
        log: Optional ``log(message)`` progress callback.

    Returns:
        The saved model's :class:`ModelInfo`.
    """
    cfg = config if isinstance(config, EnsembleConfig) else EnsembleConfig.from_dict(config or {})
    paths = sorted(data_paths)
    rows = [r for r in read_labelled(paths) if r.split != "test"]
    detector = train_rows(rows, cfg, log)
    per_file: dict[str, int] = {}
    for row in rows:
        per_file[row.dataset] = per_file.get(row.dataset, 0) + 1
    from tailguard.filters.detect.data import dataset_name

    detector.info.training_data = [
        {"path": p, "sha256": file_sha256(p), "rows": per_file.get(dataset_name(p), 0)} for p in paths
    ]
    return detector.save(out_dir)
