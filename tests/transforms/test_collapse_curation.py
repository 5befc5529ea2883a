"""collapse-bench's in-memory curation removes exactly what the real dedup stages remove.

The benchmark calls the Beam-free dedup functions without Beam (``filters/collapse/curation.py``);
this test runs the same documents through ``DedupExact`` + ``DedupNearDuplicates`` on the
in-process runner and asserts the same survivors, so the benchmark cannot drift from the pipeline.
"""

from __future__ import annotations

import random

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tailguard.filters.collapse.curation import (
    BenchDoc,
    NearDedupSettings,
    connected_components,
    exact_dedup,
    near_dedup,
)
from tailguard.filters.document import Document
from tailguard.transforms.dedup_exact import DedupExact, DedupExactConfig
from tailguard.transforms.dedup_near import DedupNearConfig, DedupNearDuplicates

_VOCAB = [f"w{i}" for i in range(3000)]


def _corpus() -> list[BenchDoc]:
    """Random documents plus exact copies, near copies (a few words changed) and chains of near copies."""
    rng = random.Random(7)
    docs: list[BenchDoc] = []
    for i in range(40):
        words = [rng.choice(_VOCAB) for _ in range(rng.randint(60, 200))]
        docs.append(BenchDoc(f"d{i:03d}", tuple(words), False))
        if i % 5 == 0:
            docs.append(BenchDoc(f"e{i:03d}", tuple(words), True))  # exact copy
        if i % 4 == 0:
            variant = list(words)
            for _ in range(2):
                variant[rng.randrange(len(variant))] = rng.choice(_VOCAB)
            docs.append(BenchDoc(f"n{i:03d}", tuple(variant), True))  # near copy
        if i % 7 == 0:
            shifted = words[8:] + [rng.choice(_VOCAB) for _ in range(8)]
            docs.append(BenchDoc(f"c{i:03d}", tuple(shifted), True))  # borderline near copy
    return docs


def test_in_memory_curation_keeps_the_same_documents_as_the_dedup_stages() -> None:
    docs = _corpus()
    settings = NearDedupSettings()
    expected = sorted(d.id for d in near_dedup(exact_dedup(docs), settings))
    assert len(expected) < len(docs) - 10  # the corpus really has duplicates to remove
    near = DedupNearConfig(
        threshold=settings.threshold,
        num_perm=settings.num_perm,
        ngram=settings.ngram,
        seed=settings.seed,
        false_positive_weight=settings.false_positive_weight,
        false_negative_weight=settings.false_negative_weight,
        verify_z=settings.verify_z,
        hot_bucket_cap=settings.hot_bucket_cap,
        max_rounds=settings.max_rounds,
    )
    p = TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]), blocking=True)
    exact = p | beam.Create([Document(d.id, d.text) for d in docs]) | DedupExact(DedupExactConfig())
    kept = exact.docs | DedupNearDuplicates(near)
    assert_that(kept.docs | beam.Map(lambda d: d.id), equal_to(expected))
    p.run()


def test_connected_components_join_a_chain_to_its_minimum() -> None:
    assigned, unconverged = connected_components([("c", "b"), ("b", "a"), ("e", "d")], max_rounds=10)
    assert assigned == {"b": "a", "c": "a", "e": "d"} and unconverged == 0


def test_exact_dedup_keeps_the_smallest_id_per_text() -> None:
    docs = [BenchDoc("b", ("x", "y"), False), BenchDoc("a", ("X", "y"), True), BenchDoc("c", ("z",), False)]
    assert [d.id for d in exact_dedup(docs)] == ["a", "c"]
