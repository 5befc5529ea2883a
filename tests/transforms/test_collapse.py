"""MeasureCollapse: the CombineFn in a real (FnApiRunner) pipeline writes collapse.json."""

from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from tailguard.filters.collapse.indicators import IndicatorSettings, accumulate
from tailguard.filters.collapse.reference import (
    build_reference,
    load_reference,
    save_reference,
)
from tailguard.filters.document import Document
from tailguard.filters.layout import OutputLayout
from tailguard.transforms.collapse import CollapseConfig, MeasureCollapse, check_alarms


def _docs() -> list[Document]:
    words = ["river", "stone", "cloud", "ember", "willow", "harbor", "lantern", "meadow", "quarry", "saddle", "thistle"]
    docs = []
    for i in range(40):
        text = " ".join(words[(i + j * (1 + i % 4)) % len(words)] for j in range(15 + i % 9))
        docs.append(Document(id=f"doc{i:02d}", text=text, tier=("tier1", "tier2", None)[i % 3], ai_score=(i % 7) / 7))
    return docs


def test_measure_collapse_writes_per_tier_and_overall_indicators(tmp_path: Path) -> None:
    docs = _docs()
    save_reference(build_reference([d.text for d in docs[:10]], sources=["test"]), tmp_path / "ref")
    config = CollapseConfig(reference=str(tmp_path / "ref"), sample_tokens=200, seed=1, human_tiers=("tier1",))
    out = str(tmp_path / "out")
    with TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        summary = p | beam.Create(docs) | MeasureCollapse(config, OutputLayout(out))

        def check(lines: list[str]) -> None:
            assert len(lines) == 1
            data = json.loads(lines[0])
            assert set(data["groups"]) == {"all", "tier1", "tier2", "untiered"}
            assert data["groups"]["all"]["docs"] == 40
            assert data["groups"]["tier1"]["docs"] == 14

        assert_that(summary, check, label="OneSummary")
    written = json.loads((tmp_path / "out" / "_work" / "stats" / "collapse.json").read_text())
    ref = load_reference(tmp_path / "ref")
    single = accumulate(docs, config.settings(), ref)["all"].result(ref)
    got = written["groups"]["all"]
    for key in (
        "tokens",
        "types",
        "distinct_2",
        "mattr",
        "ref_vocab_coverage",
        "tail_mass",
        "ref_ppl_mean",
        "gzip_ratio",
    ):
        assert got[key] == pytest.approx(single[key], rel=1e-9), key
    assert written["reference_snapshot"] == ref.snapshot_id
    assert got["verified_human_token_share"] == pytest.approx(
        sum(len(d.text.split()) for d in docs if d.tier == "tier1") / got["tokens"]
    )


def test_disabled_measure_collapse_writes_nothing(tmp_path: Path) -> None:
    with TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        _ = p | beam.Create(_docs()) | MeasureCollapse(CollapseConfig(enabled=False), OutputLayout(str(tmp_path)))
    assert not (tmp_path / "_work").exists()


def test_config_rejects_bad_values_and_missing_reference(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        CollapseConfig(sample_tokens=0)
    with pytest.raises(ValueError):
        CollapseConfig(alarms=(("tail_mass", "between", 0.1),))
    with pytest.raises(FileNotFoundError):
        MeasureCollapse(CollapseConfig(reference=str(tmp_path / "missing")), OutputLayout(str(tmp_path)))


def test_synthetic_tiers_raise_no_alarms(tmp_path: Path) -> None:
    docs = [
        Document(id=f"s{i}", text="same words again " * 5, tier="synthetic_detected", ai_score=0.99) for i in range(5)
    ]
    config = CollapseConfig(alarms=(("ai_above_threshold_share", "max", 0.2),))
    with TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        _ = p | beam.Create(docs) | MeasureCollapse(config, OutputLayout(str(tmp_path)))
    written = json.loads((tmp_path / "_work" / "stats" / "collapse.json").read_text())
    assert [a["group"] for a in written["alarms"]] == ["all"]


def test_alarms_fire_only_when_a_bound_is_crossed() -> None:
    groups = {"all": {"tail_mass": 0.01, "exact_dup_rate": 0.0}, "tier1": {"tail_mass": 0.2}}
    alarms = check_alarms(groups, [("tail_mass", "min", 0.05), ("exact_dup_rate", "max", 0.05)])
    assert alarms == [{"group": "all", "indicator": "tail_mass", "value": 0.01, "rule": "min", "bound": 0.05}]
    assert IndicatorSettings().sample_tokens > 0
