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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Importing the detector modules registers them in DETECTORS.
from tailguard.filters.detect import compression, fasttext_clf, lm, ngram_lm, stylometry  # noqa: F401
from tailguard.filters.detect.base import (
    DETECTORS,
    MAX_SCORE_CHARS,
    SCORE_MODES,
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
    "SCORE_MODES",
    "AIDetector",
    "AIScore",
    "EnsembleConfig",
    "TierModel",
    "align_scores",
    "calibrate_threshold",
    "cascade_fraction",
    "selected_for_lm",
    "load_detector",
    "train_detector",
]

DEFAULT_DETECTORS = ("fasttext", "ngram", "compression", "stylometry")
# One score column per detector (the stacker input of the ``scores*`` feature sets).
_SCORE_COLUMNS = frozenset(
    {"fasttext_logit", "ngram_llr_mean", "compression_dict_gain", "stylometry_score", "lm_fastdetect"}
)
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
            return name.startswith(("ngram_", "compression_", "lm_"))
        # no_stylometry_raw: detector outputs, not the raw stylometric rates (every LM-tier column stays)
        return name.startswith(("fasttext_", "ngram_", "compression_", "lm_")) or (name == "stylometry_score")

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
        target_fprs: FPRs at which thresholds are calibrated (issue 5: 1 % and 5 %; issue 16: 0.1 %,
            the confident end where ``decide_ai`` drops).
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
        cascade_budget: Share of documents the LM tier scores in ``cascade`` mode; the uncertain band
            of cheap-tier scores saved in the model holds this share of the calib fold, centred (by
            rank) on the cheap tier's calibrated threshold.

    With an LM-tier detector (``lm``) in ``detectors`` two stackers are fitted: the *cheap* one on the
    cheap detectors' features of every stack-fold row, and the *full* one (cheap + LM features) on at
    most ``params.lm.rows_per_source`` rows per source of the stack fold (its ``l2`` scaled by the
    row ratio, so shrinkage per row stays the same); each has its own Platt scaling and thresholds
    (calib fold, the full one on the LM subsample).  Full-tier scores are mapped onto the cheap
    tier's threshold scale (piecewise linear in logit space through the calibrated thresholds), so
    one set of thresholds serves every document whichever tier scored it.

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
    # 0.001: the confident threshold of decide_ai (drop only there; the band below is down-weighted)
    target_fprs: tuple[float, ...] = (0.001, 0.01, 0.05)
    default_fpr: float = 0.01
    max_chars: int = MAX_SCORE_CHARS
    balance_power: float = 0.5
    balance_cap: float = 8.0
    seed: int = 0
    stack_features: str = "no_stylometry_raw"
    stack_balance_power: float = 1.0
    stack_balance_cap: float = 64.0
    cascade_budget: float = 0.05

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
        if not 0 < self.cascade_budget <= 1:
            raise ValueError("cascade_budget must be in (0, 1]")

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


_EPS = 1e-9


def _features_with_progress(
    det: Detector, docs: Sequence[PreparedText], say: Callable[[str], None], every: int = 100
) -> np.ndarray:
    """``det.features(docs)`` in slices of ``every`` documents, saying how far it is (LM features take minutes)."""
    parts: list[np.ndarray] = []
    started = time.perf_counter()
    for i in range(0, len(docs), every):
        parts.append(det.features(docs[i : i + every]))
        done = min(i + every, len(docs))
        if done < len(docs):
            rate = done / max(time.perf_counter() - started, 1e-9)
            left_min = (len(docs) - done) / rate / 60
            say(f"{det.name} features: {done}/{len(docs)} texts, {rate:.1f}/s, about {left_min:.0f} min left")
    return np.vstack(parts) if parts else det.features(docs)


def _logit(p: np.ndarray | float) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)))


def threshold_alignment(full: dict[str, float], cheap: dict[str, float]) -> dict[str, list[float]]:
    """Return the anchors (in logit space) that map full-tier scores onto the cheap tier's thresholds.

    Each calibrated threshold of the full tier is mapped onto the cheap tier's threshold at the same
    FPR; between anchors the map is linear in logit space, outside them it has slope 1, so it is
    monotone and thresholds stay the same numbers for every tier.
    """
    pairs = sorted((float(_logit(full[k])), float(_logit(cheap[k]))) for k in full if k in cheap)
    xs: list[float] = []
    ys: list[float] = []
    for x, y in pairs:
        if xs and (x <= xs[-1] or y <= ys[-1]):
            continue  # ties / non-monotone anchors (tiny calib sets): keep the map monotone
        xs.append(x)
        ys.append(y)
    return {"full": xs, "cheap": ys}


def align_scores(scores: np.ndarray, anchors: dict[str, list[float]]) -> np.ndarray:
    """Apply :func:`threshold_alignment` anchors to full-tier ai_scores."""
    xs, ys = anchors.get("full", []), anchors.get("cheap", [])
    if not xs:
        return np.asarray(scores, dtype=np.float64)
    z = _logit(scores)
    if len(xs) == 1:
        mapped = z + (ys[0] - xs[0])
    else:
        mapped = np.interp(z, xs, ys)
        mapped = np.where(z < xs[0], z + (ys[0] - xs[0]), mapped)
        mapped = np.where(z > xs[-1], z + (ys[-1] - xs[-1]), mapped)
    return np.asarray(sigmoid(mapped))


def cascade_fraction(n_docs: int, n_band: int, budget: float) -> float:
    """Share of in-band documents the LM tier may score so that at most ``budget`` of all are scored."""
    if n_band <= 0:
        return 0.0
    return min(1.0, budget * n_docs / n_band)


def selected_for_lm(key: str, fraction: float, seed: int = 0) -> bool:
    """Whether an in-band document (by id / text key) is one of the ``fraction`` the LM tier scores."""
    from tailguard.filters.hashing import unit_interval

    return fraction >= 1.0 or unit_interval("lm-cascade", seed, key) < fraction


def text_key(text: str) -> str:
    """A stable key of a text (cascade sampling when no document id is at hand)."""
    import hashlib

    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class TierModel:
    """One tier's stacker, Platt scaling and thresholds (the cheap tier of a model with an LM tier).

    Attributes:
        stacker: Logistic regression over the *full* feature width (zero weight on other tiers' columns).
        platt: ``(a, b)`` of ``sigmoid(a * logit + b)``.
        thresholds: Calibrated ai_score thresholds by FPR key.
        ai_logits: 101 quantiles of the calib-fold AI rows' stacker logits (``tailguard detector
            calibrate`` re-fits Platt against them when only human text is given).
    """

    stacker: LogisticModel
    platt: tuple[float, float]
    thresholds: dict[str, float]
    ai_logits: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain-data form stored in ``model.json``."""
        return {
            "stacker": self.stacker.to_json(),
            "platt": {"a": self.platt[0], "b": self.platt[1]},
            "thresholds": self.thresholds,
            "ai_logits": self.ai_logits,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TierModel:
        """Inverse of :meth:`to_json`."""
        return cls(
            LogisticModel.from_json(data["stacker"]),
            (float(data["platt"]["a"]), float(data["platt"]["b"])),
            {k: float(v) for k, v in data["thresholds"].items()},
            [float(v) for v in data.get("ai_logits", [])],
        )

    def scores(self, feats: np.ndarray) -> np.ndarray:
        """Calibrated ai_scores of feature rows."""
        a, b = self.platt
        return np.asarray(sigmoid(a * self.stacker.decision(feats) + b))


class AIDetector:
    """A trained ensemble: detectors + stacker + Platt + thresholds (implements ``Scorer``).

    With an LM-tier detector the top-level stacker/Platt are the *full* tier's and ``tiers["cheap"]``
    holds the cheap tier; :attr:`mode` picks how documents are scored (:data:`SCORE_MODES`).
    """

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
        self.lm_names = [d.name for d in detectors if getattr(d, "tier", "cheap") != "cheap"]
        tiers = info.tiers or {}
        self.cheap = TierModel.from_json(tiers["cheap"]) if "cheap" in tiers else None
        self.alignment: dict[str, list[float]] = tiers.get("alignment", {})
        cascade = tiers.get("cascade", {})
        lo, hi = cascade.get("band", (0.0, 1.0))
        self.band = (float(lo), float(hi))
        self.cascade_budget = float(cascade.get("budget", info.config.get("cascade_budget", 0.05)))
        self.mode = "all"
        #: In ``cascade`` mode: share of in-band documents the LM scores (None = computed per batch).
        self.lm_fraction: float | None = None
        self.seed = int(info.config.get("seed", 0))

    @property
    def has_lm(self) -> bool:
        """Whether the model has an LM tier."""
        return bool(self.lm_names) and self.cheap is not None

    def set_mode(self, mode: str, lm_fraction: float | None = None) -> None:
        """Choose the scoring mode (:data:`SCORE_MODES`); ``lm_fraction`` fixes the cascade's sampling share."""
        if mode not in SCORE_MODES:
            raise ValueError(f"lm_tier must be one of {SCORE_MODES}, got {mode!r}")
        self.mode = mode
        self.lm_fraction = lm_fraction

    def features(self, docs: Sequence[PreparedText]) -> np.ndarray:
        """Return the concatenated feature rows of every detector."""
        return np.hstack([d.features(docs) for d in self.detectors])

    def _calibrated(self, logits: np.ndarray) -> np.ndarray:
        a, b = self.platt
        return sigmoid(a * logits + b)

    def full_scores(self, feats: np.ndarray) -> np.ndarray:
        """Full-tier ai_scores (every detector), on the shared threshold scale."""
        return align_scores(self._calibrated(self.stacker.decision(feats)), self.alignment)

    def _blocks(self, docs: Sequence[PreparedText], lm_rows: np.ndarray) -> list[np.ndarray]:
        blocks = []
        for det in self.detectors:
            if det.name in self.lm_names:
                block = np.zeros((len(docs), len(det.feature_names)))
                idx = np.flatnonzero(lm_rows)
                if len(idx):
                    block[idx] = det.features([docs[int(i)] for i in idx])
            else:
                block = det.features(docs)
            blocks.append(block)
        return blocks

    def in_band(self, cheap_scores: np.ndarray) -> np.ndarray:
        """Mask of cheap-tier scores inside the cascade's uncertain band."""
        lo, hi = self.band
        return np.asarray((cheap_scores >= lo) & (cheap_scores <= hi))

    def score_prepared(
        self, docs: Sequence[PreparedText], keys: Sequence[str] | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Return (ai_score array, {detector: score array}) for prepared docs in :attr:`mode`.

        Detectors that did not score a document (the LM tier outside the cascade's selection) have
        NaN there.  ``keys`` (document ids) drive the cascade's deterministic sampling; default: a
        hash of the text.
        """
        n = len(docs)
        if n == 0:
            return np.zeros(0), {d.name: np.zeros(0) for d in self.detectors}
        if not self.has_lm:
            blocks = self._blocks(docs, np.ones(n, dtype=bool))
            scores = self._calibrated(self.stacker.decision(np.hstack(blocks)))
            return scores, {d.name: b[:, 0] for d, b in zip(self.detectors, blocks, strict=True)}
        assert self.cheap is not None
        if self.mode == "all":
            lm_rows = np.ones(n, dtype=bool)
            blocks = self._blocks(docs, lm_rows)
            scores = self.full_scores(np.hstack(blocks))
        else:
            blocks = self._blocks(docs, np.zeros(n, dtype=bool))
            scores = self.cheap.scores(np.hstack(blocks))
            lm_rows = np.zeros(n, dtype=bool)
            if self.mode == "cascade":
                band = self.in_band(scores)
                fraction = (
                    self.lm_fraction
                    if self.lm_fraction is not None
                    else cascade_fraction(n, int(band.sum()), self.cascade_budget)
                )
                ks = keys if keys is not None else [text_key(d.raw) for d in docs]
                lm_rows = band & np.array([selected_for_lm(k, fraction, self.seed) for k in ks])
                if lm_rows.any():
                    blocks = self._blocks(docs, lm_rows)
                    full = self.full_scores(np.hstack(blocks))
                    scores = np.where(lm_rows, full, scores)
        per = {}
        for det, block in zip(self.detectors, blocks, strict=True):
            col = block[:, 0].astype(np.float64)
            if det.name in self.lm_names:
                col = np.where(lm_rows, col, np.nan)
            per[det.name] = col
        return scores, per

    def score_batch(self, texts: Sequence[str], keys: Sequence[str] | None = None) -> list[AIScore]:
        """Score a batch of raw texts (``keys``: document ids for the cascade's sampling)."""
        scores, per_detector = self.score_prepared(prepare(texts, self.max_chars), keys)
        return [
            AIScore(
                float(scores[i]),
                {name: float(values[i]) for name, values in per_detector.items() if not np.isnan(values[i])},
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


def _fit_platt(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    if len(set(labels.tolist())) < 2:
        return 1.0, 0.0
    # Fit on unit-variance logits: a strongly shrunk stacker has tiny logits, and the ridge on the
    # Platt slope must not squash the calibrated probabilities.
    spread = float(np.std(logits)) or 1.0
    model = fit_logistic(logits[:, None] / spread, labels, l2=1e-3, standardize=False, sample_weight=weights)
    return float(model.weights[0]) / spread, model.bias


def _quantiles(values: np.ndarray) -> list[float]:
    if len(values) == 0:
        return []
    return [round(float(v), 6) for v in np.quantile(values, np.linspace(0, 1, 101))]


def _lm_subsample(
    rows: Sequence[LabelledText], idx: np.ndarray, roles: np.ndarray, per_source: int, seed: int
) -> np.ndarray:
    """Indices (into ``rows``) of at most ``per_source`` rows per (source, role) among ``idx``, by hash."""
    from tailguard.filters.hashing import unit_interval

    if per_source <= 0:
        return idx
    picked: list[int] = []
    by_key: dict[tuple[str, str], list[int]] = {}
    for i in idx:
        by_key.setdefault((rows[i].dataset, str(roles[i])), []).append(int(i))
    for key in sorted(by_key):
        members = sorted(by_key[key], key=lambda i: unit_interval("lm-subsample", seed, rows[i].group, i))
        picked += members[:per_source]
    return np.array(sorted(picked), dtype=int)


def _fit_tier(
    feats: np.ndarray,
    labels: np.ndarray,
    in_stack: np.ndarray,
    stack_weights: np.ndarray,
    cols: list[int],
    l2: float,
    target_fprs: Sequence[float],
) -> tuple[TierModel, np.ndarray]:
    """Fit stacker (stack rows) + Platt + thresholds (the other rows); return the tier and calib scores."""
    stacker = _embed(
        fit_logistic(feats[in_stack][:, cols], labels[in_stack], l2=l2, sample_weight=stack_weights[in_stack]),
        cols,
        feats.shape[1],
    )
    calib_logits = stacker.decision(feats[~in_stack])
    calib_labels = labels[~in_stack]
    platt = _fit_platt(calib_logits, calib_labels)
    calib_scores = sigmoid(platt[0] * calib_logits + platt[1])
    human = calib_scores[calib_labels == 0]
    thresholds = {f"{f:g}": calibrate_threshold(human, f) for f in target_fprs}
    tier = TierModel(stacker, platt, thresholds, _quantiles(calib_logits[calib_labels == 1]))
    return tier, calib_scores


def _cascade_band(cheap_scores: np.ndarray, threshold: float, budget: float) -> tuple[float, float]:
    """The cheap-score interval holding ``budget`` of ``cheap_scores``, centred by rank on ``threshold``."""
    ordered = np.sort(cheap_scores)
    n = len(ordered)
    if n == 0 or budget >= 1:
        return 0.0, 1.0
    pos = int(np.searchsorted(ordered, threshold))
    half = max(int(round(budget * n / 2)), 1)
    lo_i, hi_i = max(pos - half, 0), min(pos + half, n) - 1
    return float(ordered[lo_i]), float(ordered[max(hi_i, lo_i)])


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
            # (An LM tier that cannot load raises LMUnavailableError, a RuntimeError too: that must fail.)
            if len(config.detectors) == 1 or DETECTORS[name].tier != "cheap":
                raise
            skipped[name] = str(exc)
            say(f"WARNING: {name} failed to train ({exc}); ensemble continues without it")
            continue
        say(f"trained {name} on {len(base_idx)} texts in {time.perf_counter() - started:.1f}s")
    lm_names = {d.name for d in detectors if DETECTORS[d.name].tier != "cheap"}
    cheap_dets = [d for d in detectors if d.name not in lm_names]
    if not cheap_dets:
        raise ValueError("detectors: at least one cheap-tier detector is needed besides the LM tier")
    widths = [len(d.feature_names) for d in detectors]
    feature_names = [n for d in detectors for n in d.feature_names]
    lm_cols = [
        c
        for d, start in zip(detectors, np.cumsum([0, *widths[:-1]]), strict=True)
        if d.name in lm_names
        for c in range(int(start), int(start) + len(d.feature_names))
    ]
    cols_all = stack_columns(feature_names, config.stack_features)
    cheap_cols = [c for c in cols_all if c not in set(lm_cols)]
    rest_idx = np.flatnonzero(roles != "base")
    rest_docs = [prepared[i] for i in rest_idx]
    started = time.perf_counter()
    feats = np.hstack(
        [
            d.features(rest_docs) if d.name not in lm_names else np.zeros((len(rest_docs), len(d.feature_names)))
            for d in detectors
        ]
    )
    say(f"cheap features of {len(rest_docs)} stack/calib texts in {time.perf_counter() - started:.1f}s")
    in_stack = roles[rest_idx] == "stack"
    stack_weights = np.array(
        [min((largest / sizes[r.dataset]) ** config.stack_balance_power, config.stack_balance_cap) for r in rows]
    )
    rest_labels = labels[rest_idx]
    cheap_tier, cheap_calib = _fit_tier(
        feats, rest_labels, in_stack, stack_weights[rest_idx], cheap_cols, config.l2, config.target_fprs
    )
    calib_labels = rest_labels[~in_stack]
    metrics: dict[str, Any] = {
        "skipped_detectors": skipped,
        "calib_rows": len(calib_labels),
        "calib_human_rows": int((calib_labels == 0).sum()),
    }
    tiers: dict[str, Any] = {}
    det_feats, det_labels, det_scores = feats[~in_stack], calib_labels, cheap_calib
    if not lm_names:
        top = cheap_tier
        tiers = {"ai_logits": cheap_tier.ai_logits}
    else:
        lm_params = dict(config.params.get(next(iter(sorted(lm_names))), {}))
        per_source = int(lm_params.get("rows_per_source", 150))
        sub = _lm_subsample(rows, rest_idx, roles, per_source, config.seed)
        pos = {int(i): j for j, i in enumerate(rest_idx)}
        sub_local = np.array([pos[int(i)] for i in sub], dtype=int)
        started = time.perf_counter()
        sub_docs = [prepared[i] for i in sub]
        sub_feats = feats[sub_local].copy()
        for det, start in zip(detectors, np.cumsum([0, *widths[:-1]]), strict=True):
            if det.name in lm_names:
                sub_feats[:, int(start) : int(start) + len(det.feature_names)] = _features_with_progress(
                    det, sub_docs, say
                )
        say(f"LM features of {len(sub)} stack/calib texts in {time.perf_counter() - started:.1f}s")
        sub_in_stack = in_stack[sub_local]
        sub_labels = rest_labels[sub_local]
        for part, mask in (("stack", sub_in_stack), ("calib", ~sub_in_stack)):
            if len(set(sub_labels[mask].tolist())) < 2:
                raise ValueError(f"the LM subsample of the {part!r} fold lacks one class; raise lm.rows_per_source")
        sub_sizes = Counter(rows[i].dataset for i in sub[sub_in_stack])
        sub_largest = max(sub_sizes.values())
        sub_weights = np.array(
            [
                min(
                    (sub_largest / max(sub_sizes[rows[i].dataset], 1)) ** config.stack_balance_power,
                    config.stack_balance_cap,
                )
                for i in sub
            ]
        )
        # Same shrinkage per row as the cheap stacker: the ridge penalty is absolute (sum loss).
        l2_full = config.l2 * max(int(sub_in_stack.sum()), 1) / max(int(in_stack.sum()), 1)
        top, full_calib = _fit_tier(
            sub_feats, sub_labels, sub_in_stack, sub_weights, cols_all, l2_full, config.target_fprs
        )
        alignment = threshold_alignment(top.thresholds, cheap_tier.thresholds)
        cheap_t = cheap_tier.thresholds[f"{config.default_fpr:g}"]
        band = _cascade_band(cheap_calib, cheap_t, config.cascade_budget)
        tiers = {
            "cheap": cheap_tier.to_json(),
            "ai_logits": top.ai_logits,
            "full": {"thresholds": top.thresholds, "ai_logits": top.ai_logits, "l2": l2_full},
            "alignment": alignment,
            "cascade": {"band": list(band), "budget": config.cascade_budget},
            "lm_rows": {
                "stack": int(sub_in_stack.sum()),
                "calib": int((~sub_in_stack).sum()),
                "rows_per_source": per_source,
            },
        }
        sub_calib_labels = sub_labels[~sub_in_stack]
        sub_cheap = cheap_tier.scores(sub_feats[~sub_in_stack])
        metrics.update(
            lm_calib_rows=int((~sub_in_stack).sum()),
            cheap_calib_auroc=auroc(cheap_calib, calib_labels),
            lm_subsample_cheap_auroc=auroc(sub_cheap, sub_calib_labels),
            lm_subsample_full_auroc=auroc(full_calib, sub_calib_labels),
        )
        det_feats, det_labels = sub_feats[~sub_in_stack], sub_calib_labels
        det_scores = align_scores(full_calib, alignment)
    thresholds = cheap_tier.thresholds
    metrics.update(
        calib_auroc=auroc(det_scores, det_labels),
        **{f"calib_tpr_at_{k}": tpr_at_fpr(det_scores, det_labels, float(k)) for k in thresholds},
        detector_calib_auroc={
            d.name: auroc(d_feats[:, 0], det_labels)
            for d, d_feats in zip(detectors, np.split(det_feats, np.cumsum(widths)[:-1], axis=1), strict=True)
        },
    )
    info = ModelInfo(
        name=config.name,
        config=json_safe(asdict(config)),
        detectors=[d.name for d in detectors],
        feature_names=feature_names,
        stacker=top.stacker.to_json(),
        platt={"a": top.platt[0], "b": top.platt[1]},
        thresholds=thresholds,
        default_fpr=config.default_fpr,
        metrics=metrics,
        tiers=tiers,
    )
    return AIDetector(detectors, top.stacker, top.platt, info)


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
