"""detect_ai scores every document in batches; decide_ai acts on stored scores without rescoring
and writes what it decided by domain and length (the breakdown) to its stats file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to

from tailguard.filters.detect.ai_decision import (
    NO_DOMAIN,
    add_outcome,
    breakdown_domain,
    length_bucket,
    merge_tallies,
    new_tally,
    top_domains,
)
from tailguard.filters.detect.ensemble import AIScore, train_detector
from tailguard.filters.document import Document
from tailguard.filters.layout import OutputLayout
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


# ----------------------------------------------------------------------------- decision breakdown


def _words(n: int) -> str:
    return " ".join(["w"] * n)


#: (url, words, ai_score) -> with threshold 0.5, confident 0.9, action drop, unscored keep:
_BREAKDOWN_DOCS = [
    ("https://a.com/1", 50, 0.95),  # dropped (confident)
    ("https://www.a.com/2", 150, 0.6),  # down-weighted (uncertain band)
    ("http://a.com/3", 50, 0.1),  # kept
    ("https://b.org/x", 400, 0.92),  # dropped
    ("https://b.org/y", 1500, 0.2),  # kept
    ("https://www.c.net/", 5000, 0.7),  # down-weighted
    (None, 20, None),  # kept (unscored: keep)
]


def test_decide_stage_writes_the_breakdown_by_domain_and_length(tmp_path: Path) -> None:
    docs = [
        Document(id=f"b{i}", text=_words(n), url=url, ai_score=score)
        for i, (url, n, score) in enumerate(_BREAKDOWN_DOCS)
    ]
    layout = OutputLayout(str(tmp_path))
    config = DecideAIConfig(
        enabled=True, action="drop", threshold=0.5, confident_threshold=0.9, breakdown_top_domains=2
    )
    p = beam.Pipeline(options=beam_options())
    out = p | beam.Create(docs) | DecideAIContent(config, layout)
    assert_that(out.rejected | beam.Map(lambda r: r.id), equal_to(["b0", "b3"]), label="Dropped")
    p.run().wait_until_finish()
    breakdown = json.loads(Path(layout.stats("decide_ai")).read_text())["breakdown"]

    def counts(row: dict) -> tuple:
        return row["key"], row["docs"], row["dropped"], row["downweighted"], row["tagged"], row["kept"], row["words"]

    assert [counts(r) for r in breakdown["by_length"]] == [
        ("<100", 3, 1, 0, 0, 2, 120),
        ("100-300", 1, 0, 1, 0, 0, 150),
        ("300-1000", 1, 1, 0, 0, 0, 400),
        ("1000-3000", 1, 0, 0, 0, 1, 1500),
        (">=3000", 1, 0, 1, 0, 0, 5000),
    ]
    # two largest domains one by one; c.net and the url-less document folded into "(other)"
    assert [counts(r) for r in breakdown["by_domain"]] == [
        ("a.com", 3, 1, 1, 0, 1, 250),
        ("b.org", 2, 1, 0, 0, 1, 1900),
        ("(other)", 2, 0, 1, 0, 1, 5020),
    ]
    assert breakdown["by_domain"][-1]["domains"] == 2 and breakdown["other_domains"] == 2
    totals = breakdown["totals"]
    assert totals["docs"] == len(docs) == sum(r["docs"] for r in breakdown["by_length"])
    assert sum(r["docs"] for r in breakdown["by_domain"]) == len(docs)
    assert totals["chars"] == sum(len(d.text) for d in docs)
    a_com = breakdown["by_domain"][0]
    assert a_com["share_of_input_docs"] == 3 / 7 and a_com["share_removed_docs"] == 1 / 3
    longest = breakdown["by_length"][-1]
    assert longest["share_of_kept_words"] == 5000 / (7170 - 450)  # dropped words are not in the kept corpus
    assert longest["share_of_input_words"] == 5000 / 7170


def test_breakdown_totals_equal_the_stage_input_on_an_empty_and_a_tagging_run(tmp_path: Path) -> None:
    for name, docs in (("empty", []), ("tag", _docs())):
        for doc in docs:
            doc.ai_score = 0.9 if "robot" in doc.text else 0.1
        layout = OutputLayout(str(tmp_path / name))
        p = beam.Pipeline(options=beam_options())
        _ = (
            p
            | beam.Create(docs, reshuffle=False).with_output_types(Document)
            | DecideAIContent(DecideAIConfig(enabled=True, threshold=0.5), layout)
        )
        p.run().wait_until_finish()
        stats = json.loads(Path(layout.stats("decide_ai")).read_text())
        assert stats["confident_threshold"] is None and "every AI call is confident" in stats["confident_note"]
        totals = stats["breakdown"]["totals"]
        assert totals["docs"] == len(docs) and totals["tagged"] == (4 if docs else 0), (name, totals)
        assert totals["kept"] == (6 if docs else 0) and totals["share_of_input_docs"] == (1.0 if docs else None)


@pytest.mark.parametrize(
    ("words", "bucket"),
    [(0, "<100"), (99, "<100"), (100, "100-300"), (299, "100-300"), (300, "300-1000"), (2999, "1000-3000"),
     (3000, ">=3000"), (10**6, ">=3000")],
)  # fmt: skip
def test_length_bucket_edges_are_lower_inclusive(words: int, bucket: str) -> None:
    assert length_bucket(words) == bucket


def test_breakdown_domain_prefers_document_domain_then_url_host() -> None:
    assert breakdown_domain("given.org", "https://other.com/") == "given.org"
    assert breakdown_domain(None, "https://WWW.Example.COM:8080/a") == "example.com"
    assert breakdown_domain(None, None) == NO_DOMAIN and breakdown_domain(None, "not a url") == NO_DOMAIN


def test_top_domains_is_exact_when_parts_are_merged_in_any_order() -> None:
    sizes = {"a": 5, "b": 4, "c": 4, "d": 1, "e": 3}
    entries = []
    for name, n in sizes.items():
        tally = new_tally()
        for _ in range(n):
            add_outcome(tally, "kept", 10, 50)
        entries.append((name, tally))
    whole = top_domains(entries, 2)
    # fold two parts separately, then merge the folded parts (what the CombineFn does)
    first, second = top_domains(entries[:3], 2), top_domains(entries[3:], 2)
    merged = top_domains(first[0] + second[0], 2, merge_tallies([first[1], second[1]]), first[2] + second[2])
    assert [k for k, _ in whole[0]] == [k for k, _ in merged[0]] == ["a", "b"]  # ties broken by name
    assert whole[1] == merged[1] and whole[1]["kept"] == [8, 80, 400] and whole[2] == merged[2] == 3


def test_add_outcome_refuses_an_unknown_outcome() -> None:
    with pytest.raises(ValueError, match="unknown decide_ai outcome"):
        add_outcome(new_tally(), "removed", 1, 1)
