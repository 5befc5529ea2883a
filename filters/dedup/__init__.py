"""Deduplication core (no Beam): normalisation, shingles, MinHash, LSH banding, star clustering."""

from tailguard.filters.dedup.components import (
    SURVIVOR_CRITERIA,
    BucketVerdict,
    bucket_edges,
    cap_bucket,
    label_id,
    large_star,
    sample_bucket,
    settle_children,
    small_star,
    survivor_label,
    verify_cutoff,
)
from tailguard.filters.dedup.lsh import (
    LshParams,
    band_hashes,
    band_keys,
    candidate_buckets,
    candidate_probability,
    optimal_params,
)
from tailguard.filters.dedup.minhash import (
    EMPTY_HASH,
    MinHasher,
    estimate_jaccard,
    hash_shingles,
    permutations,
)
from tailguard.filters.dedup.normalize import (
    TextNormalization,
    line_key,
    normalize_text,
    normalize_url,
    text_key,
)
from tailguard.filters.dedup.shingles import (
    ShingleType,
    char_shingles,
    shingles,
    split_words,
    word_shingles,
)

__all__ = [
    "EMPTY_HASH",
    "SURVIVOR_CRITERIA",
    "BucketVerdict",
    "LshParams",
    "MinHasher",
    "ShingleType",
    "TextNormalization",
    "band_hashes",
    "band_keys",
    "bucket_edges",
    "candidate_buckets",
    "candidate_probability",
    "cap_bucket",
    "char_shingles",
    "estimate_jaccard",
    "hash_shingles",
    "label_id",
    "large_star",
    "line_key",
    "normalize_text",
    "normalize_url",
    "optimal_params",
    "permutations",
    "sample_bucket",
    "settle_children",
    "shingles",
    "small_star",
    "split_words",
    "survivor_label",
    "text_key",
    "verify_cutoff",
    "word_shingles",
]
