"""The run report shows what decide_ai removed and down-weighted by domain and length (issue 16 §3).

A tiny real cheap-tier model is trained on generated text (no ../shared/data needed); a real
in-process ``tailguard run`` scores and decides JSONL input with known URLs and lengths.  The
breakdown in ``manifest.json["decide_ai"]`` must equal what the written corpus and the rejected
records say, its totals must equal the stage's input, and report.json / report.html must show it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tailguard.filters.detect.ai_decision import OTHER_DOMAINS, breakdown_domain, length_bucket, word_count
from tailguard.filters.detect.ensemble import train_detector
from tailguard.pipelines.curate import run
from tailguard.pipelines.report import build_report, render_html
from tests.filters.detect_helpers import synthetic_rows, write_jsonl
from tests.pipelines.helpers import minimal_config, read_jsonl_zst_dir

_URLS = ("https://www.news.example/a/{i}", "https://blog.example/{i}", "http://forum.example/t/{i}", None)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("breakdown_model")
    data = write_jsonl(root / "labelled.jsonl", synthetic_rows(600, seed=41))
    train_detector([str(data)], str(root / "model"), {"params": {"ngram": {"hash_bits": 14}}})
    return str(root / "model")


def _inputs(tmp_path: Path) -> tuple[Path, dict[str, dict[str, Any]]]:
    """80 labelled rows; every fifth text repeated to reach the longer buckets; four URL kinds."""
    rows = {}
    for i, row in enumerate(synthetic_rows(80, seed=42)):
        text = row["text"] if i % 5 else " ".join([row["text"]] * (3 + i % 40))
        url = _URLS[i % len(_URLS)]
        rows[row["id"]] = {"id": row["id"], "text": text, **({"url": url.format(i=i)} if url else {})}
    return write_jsonl(tmp_path / "in.jsonl", list(rows.values())), rows


def _outcomes(out: Path) -> dict[str, str]:
    """Document id -> decide_ai outcome, read back from the written corpus and the rejected records."""
    found: dict[str, str] = {}
    for path in sorted((out / "corpus").glob("*.parquet")):
        for doc in pq.read_table(path).to_pylist():
            lineage = {e["key"]: e["value"] for e in doc["lineage"]}["decide_ai"]
            found[doc["id"]] = (
                "downweighted"
                if lineage.startswith("downweighted")
                else "tagged"
                if lineage.startswith("synthetic")
                else "kept"
            )
    rejected = out / "rejected" / "decide_ai"
    for record in read_jsonl_zst_dir(rejected) if rejected.exists() else []:
        assert record["reason"] == "ai_generated"
        found[record["id"]] = "dropped"
    return found


def test_run_report_shows_the_decisions_by_domain_and_length(model: str, tmp_path: Path) -> None:
    src, rows = _inputs(tmp_path)
    out = tmp_path / "out"
    config = minimal_config(
        tmp_path,
        enable=("detect_ai", "decide_ai"),
        resume={"enabled": False},
        detect_ai={"model_dir": model, "min_batch_size": 16, "max_batch_size": 16},
        # the model's 5 % threshold and a high explicit confident line: drops and down-weights both
        decide_ai={
            "model_dir": model,
            "target_fpr": 0.05,
            "action": "drop",
            "confident_threshold": 0.9999,
            "breakdown_top_domains": 2,
        },
    )
    assert run(["--config", str(config), "--input", str(src), "--output", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    breakdown = manifest["decide_ai"]["breakdown"]

    outcomes = _outcomes(out)
    assert sorted(outcomes) == sorted(rows)  # every input document decided exactly once
    assert {"dropped", "downweighted", "kept"} <= set(outcomes.values()), Counter(outcomes.values())
    by_length: Counter[tuple[str, str]] = Counter()
    by_domain: Counter[tuple[str, str]] = Counter()
    for doc_id, outcome in outcomes.items():
        by_length[length_bucket(word_count(rows[doc_id]["text"])), outcome] += 1
        by_domain[breakdown_domain(None, rows[doc_id].get("url")), outcome] += 1
    assert len({key for key, _ in by_length}) >= 3  # the repeated texts reach longer buckets
    for row in breakdown["by_length"]:
        for outcome in ("dropped", "downweighted", "tagged", "kept"):
            assert row[outcome] == by_length[row["key"], outcome], (row["key"], outcome)
    # four domains of 20 documents each: two by name (ties broken by name), two folded into (other)
    names = [r["key"] for r in breakdown["by_domain"]]
    assert names == ["(no url)", "blog.example", OTHER_DOMAINS]
    for row in breakdown["by_domain"][:2]:
        for outcome in ("dropped", "downweighted", "tagged", "kept"):
            assert row[outcome] == by_domain[row["key"], outcome], (row["key"], outcome)
    other = breakdown["by_domain"][-1]
    assert other["domains"] == 2 and other["docs"] == 40
    assert other["dropped"] == by_domain["forum.example", "dropped"] + by_domain["news.example", "dropped"]

    # the totals are the stage's input, as the ledger counts it
    funnel = {r["stage"]: r for r in build_report(manifest)["funnel"]}
    assert breakdown["totals"]["docs"] == funnel["decide_ai"]["in"] == len(rows) == manifest["ledger"]["input_records"]
    assert breakdown["totals"]["dropped"] == funnel["decide_ai"]["in"] - funnel["decide_ai"]["kept"]
    assert breakdown["totals"]["downweighted"] == sum(r["downweighted"] for r in breakdown["by_domain"]) > 0

    report = json.loads((out / "report.json").read_text())
    ai = report["ai_decisions"]
    assert ai["action"] == "drop" and ai["thresholds"]["source"] == "model"
    assert ai["by_domain"] == breakdown["by_domain"] and ai["by_length"] == breakdown["by_length"]
    assert ai["reference_share"] is None and ai["reference_note"] == "no collapse reference configured"
    page = (out / "report.html").read_text()
    assert "<h2>AI decisions</h2>" in page and "blog.example" in page and "&gt;=3000" in page
    assert "share removed" in page and "kept corpus share (words)" in page


def _section(totals_docs: int) -> dict[str, Any]:
    row = {"key": "<100", "docs": totals_docs, "dropped": 1, "downweighted": 2, "tagged": 0, "kept": 3}
    return {
        "threshold": 0.5,
        "source": "explicit",
        "breakdown": {"length_unit": "whitespace-separated words", "totals": row, "by_length": [row], "by_domain": []},
    }


def test_report_says_the_reference_holds_no_length_or_domain_distribution() -> None:
    manifest = {
        "decide_ai": _section(6),
        "config": {"decide_ai": {"action": "drop", "uncertain_action": "downweight"}},
        "collapse": {"reference": "/refs/r", "reference_snapshot": "0123456789abcdef", "groups": {}},
    }
    report = build_report(manifest)
    ai = report["ai_decisions"]
    assert ai["reference_snapshot"] == "0123456789abcdef" and ai["reference_share"] is None
    assert "no length or domain distribution" in ai["reference_note"]
    page = render_html(report)
    assert "<h2>AI decisions</h2>" in page and "no length or domain distribution" in page


def test_report_has_no_ai_decisions_section_when_decide_ai_did_not_run() -> None:
    for manifest in ({}, {"decide_ai": {"threshold": 0.5}}):  # absent; thresholds only (an older run)
        report = build_report(manifest)
        assert "ai_decisions" not in report
        assert "AI decisions" not in render_html(report)
