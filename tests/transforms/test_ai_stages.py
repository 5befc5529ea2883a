"""detect_ai scores every document in batches; decide_ai acts on stored scores without rescoring."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to

from tailguard.filters.detect.ensemble import AIScore, train_detector
from tailguard.filters.document import Document
from tailguard.transforms.ai_decide import DecideAIConfig, DecideAIContent
from tailguard.transforms.ai_score import ScoreAIConfig, ScoreAIContent
from tests.conftest import beam_options
from tests.filters.detect_helpers import synthetic_rows, write_jsonl


class _FakeScorer:
    """ai_score = 0.9 when the text mentions 'robot', else 0.1; records batch sizes."""

    def score_batch(self, texts: Sequence[str]) -> list[AIScore]:
        return [AIScore(0.9 if "robot" in t else 0.1, {"fake": float(len(texts))}) for t in texts]


def _docs() -> list[Document]:
    return [Document(id=f"d{i}", text=("robot text" if i % 3 == 0 else "plain text") + f" {i}") for i in range(10)]


def _counter(result, stage: str, name: str) -> int:  # type: ignore[no-untyped-def]
    found = result.metrics().query(MetricsFilter().with_namespace(f"tailguard.{stage}").with_name(name))["counters"]
    return sum(c.committed for c in found)


def test_score_stage_writes_scores_in_batches_with_fake_scorer() -> None:
    config = ScoreAIConfig(enabled=False, min_batch_size=4, max_batch_size=4)
    p = beam.Pipeline(options=beam_options())
    out = p | beam.Create(_docs()) | ScoreAIContent(config, scorer_factory=_FakeScorer)
    scored = out.docs | "Ids" >> beam.Map(lambda d: (d.id, d.ai_score, d.detector_scores["fake"] <= 4))
    expected = [(f"d{i}", 0.9 if i % 3 == 0 else 0.1, True) for i in range(10)]
    assert_that(scored, equal_to(expected), label="Scored")
    assert_that(out.rejected, equal_to([]), label="NoneRejected")
    result = p.run()
    result.wait_until_finish()
    assert _counter(result, "detect_ai", "passed") == 10


@pytest.mark.parametrize(
    ("action", "kept", "rejected"),
    [("drop", 6, 4), ("tag", 10, 0), ("downweight", 10, 0)],
    ids=["drop", "tag", "downweight"],
)
def test_decide_stage_routes_by_stored_score(action: str, kept: int, rejected: int) -> None:
    docs = _docs()
    for doc in docs:
        doc.ai_score = 0.9 if "robot" in doc.text else 0.1
    p = beam.Pipeline(options=beam_options())
    out = p | beam.Create(docs) | DecideAIContent(DecideAIConfig(enabled=True, action=action, threshold=0.5))
    assert_that(
        out.docs | "Count" >> beam.combiners.Count.Globally(),
        equal_to([kept]),
        label="Kept",
    )
    assert_that(
        out.rejected | "Reasons" >> beam.Map(lambda r: (r.id, r.reason)),
        equal_to([(f"d{i}", "ai_generated") for i in range(0, 10, 3)] if rejected else []),
        label="Rejected",
    )
    if action == "downweight":
        weights = out.docs | "Weights" >> beam.Map(lambda d: (d.id, d.sample_weight))
        assert_that(
            weights,
            equal_to([(f"d{i}", 0.1 if i % 3 == 0 else None) for i in range(10)]),
            label="W",
        )
    if action == "tag":
        tags = out.docs | "Tags" >> beam.Map(lambda d: (d.id, d.lineage["decide_ai"].startswith("synthetic")))
        assert_that(tags, equal_to([(f"d{i}", i % 3 == 0) for i in range(10)]), label="Tags")
    result = p.run()
    result.wait_until_finish()
    assert _counter(result, "decide_ai", "ai_generated") == 4
    assert _counter(result, "decide_ai", "passed") == 6


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("ai")
    data = write_jsonl(root / "labelled.jsonl", synthetic_rows(600, seed=5))
    out = root / "model"
    train_detector([str(data)], str(out), {"params": {"ngram": {"hash_bits": 16}}})
    return str(out)


def test_score_then_decide_with_real_tiny_model(tiny_model: str) -> None:
    rows = synthetic_rows(40, seed=99)
    docs = [Document(id=f"s{i}", text=r["text"]) for i, r in enumerate(rows)]
    is_ai = {f"s{i}": r["label"] == "ai" for i, r in enumerate(rows)}
    p = beam.Pipeline(options=beam_options())
    scored = p | beam.Create(docs) | ScoreAIContent(ScoreAIConfig(enabled=True, model_dir=tiny_model))
    decided = scored.docs | DecideAIContent(
        DecideAIConfig(enabled=True, action="drop", model_dir=tiny_model, target_fpr=0.05)
    )
    has_scores = scored.docs | "HasScores" >> beam.Map(
        lambda d: (
            d.ai_score is not None and {"fasttext", "ngram", "compression", "stylometry"} <= set(d.detector_scores)
        )
    )
    assert_that(
        has_scores | "All" >> beam.combiners.ToSet(),
        equal_to([{True}]),
        label="AllScored",
    )
    dropped_ai = decided.rejected | "WasAI" >> beam.Map(lambda r: is_ai[r.id])

    def mostly_ai(flags: list[bool]) -> None:
        # 20 AI / 20 human docs; threshold calibrated at 5 % FPR on ~45 held-out human docs.
        assert sum(flags) >= 15 and len(flags) - sum(flags) <= 3, flags

    assert_that(dropped_ai, mostly_ai, label="MostlyAIDropped")
    p.run().wait_until_finish()


def test_score_config_requires_loadable_model_dir(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="model_dir is required"):
        ScoreAIConfig(enabled=True)
    with pytest.raises(ValueError, match="not a trained detector model"):
        ScoreAIConfig(enabled=True, model_dir=str(tmp_path))


def test_decide_config_needs_threshold_or_model() -> None:
    with pytest.raises(ValueError, match="threshold or model_dir"):
        DecideAIConfig(enabled=True)
