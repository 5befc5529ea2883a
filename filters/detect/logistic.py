"""L2-regularised logistic regression in numpy (Newton / IRLS), with feature standardisation.

Small and dependency-free: the stacked ensemble has < 100 features and is fitted on tens of
thousands of rows, where Newton's method converges in ~10 iterations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LogisticModel", "fit_logistic", "sigmoid"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass(frozen=True)
class LogisticModel:
    """``P(y=1|x) = sigmoid(((x - mean) / scale) @ weights + bias)``."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def decision(self, x: np.ndarray) -> np.ndarray:
        """Return the logit for each row of ``x``."""
        z = (np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0) - self.mean) / self.scale
        # Not ``z @ weights``: BLAS gemv rounds a row differently depending on where it sits in
        # the batch, and Beam's BatchElements sizes batches by timing, so the same document got
        # scores differing in the last bit from run to run.  Element-wise products summed along
        # the row are the same for a row wherever it sits.
        return np.asarray((np.clip(z, -20, 20) * self.weights).sum(axis=1) + self.bias)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Return P(y=1) for each row of ``x``."""
        return sigmoid(self.decision(x))

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogisticModel:
        """Inverse of :meth:`to_json`."""
        return cls(
            np.array(data["mean"]),
            np.array(data["scale"]),
            np.array(data["weights"]),
            float(data["bias"]),
        )


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    l2: float = 1.0,
    max_iter: int = 50,
    standardize: bool = True,
    sample_weight: np.ndarray | None = None,
) -> LogisticModel:
    """Fit an L2-regularised logistic regression by Newton's method.

    Args:
        x: ``(n, d)`` features.
        y: ``(n,)`` labels in {0, 1}.
        l2: Ridge penalty on the (standardised) weights; the bias is not penalised.
        max_iter: Newton iterations at most.
        standardize: Centre and scale each feature first (scale = std, 1 for constant features).
        sample_weight: Per-row weights (default 1), normalised to mean 1.

    Returns:
        The fitted :class:`LogisticModel`.
    """
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    y = np.asarray(y, dtype=np.float64)
    d = x.shape[1]
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    w = w / max(w.mean(), 1e-12)
    mean = x.mean(axis=0) if standardize else np.zeros(d)
    scale = x.std(axis=0) if standardize else np.ones(d)
    scale = np.where(scale > 1e-12, scale, 1.0)
    z = np.clip((x - mean) / scale, -20, 20)
    design = np.hstack([z, np.ones((len(z), 1))])
    theta = np.zeros(d + 1)
    penalty = np.full(d + 1, float(l2))
    penalty[-1] = 0.0
    for _ in range(max_iter):
        p = sigmoid(design @ theta)
        grad = design.T @ (w * (p - y)) + penalty * theta
        hess = (design * (w * p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-7:
            break
    return LogisticModel(mean, scale, theta[:-1], float(theta[-1]))
