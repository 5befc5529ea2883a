"""Report additions of issue 14: plain words, indicator definitions, dead letters by kind, inputs, duration."""

from __future__ import annotations

import html
import json
from pathlib import Path

import zstandard

from tailguard.pipelines.report import INDICATORS, write_report


def _manifest() -> dict:
    return {
        "created": "2026-01-01T00:00:00+00:00",
        "tailguard_version": "0.1.0",
        "stages": ["read"],
        "inputs": [{"path": "/data/a.jsonl", "bytes": 10}, {"path": "/data/b.warc.gz", "bytes": 20}],
        "run": {"mode": "single", "duration_s": 12.5},
        "outputs": {"records": 5, "num_shards": 1, "shards": []},
        "ledger": {
            "input_records": 7,
            "kept": 5,
            "dropped": {},
            "dead_letter": 2,
            "dead_letter_by_stage": {"read": 2},
            "file_failures": {"files": 1, "bytes_not_read": 300, "records_not_read": 0, "records_not_read_unknown": 1},
            "balanced": True,
        },
        "mixing": {
            "components": {
                "human": {"target_token_share": 0.7, "realized_token_share": 0.0, "documents": 0, "empty": True},
                "web": {"target_token_share": 0.3, "realized_token_share": 1.0, "documents": 5, "empty": False},
            }
        },
        "collapse": {
            "groups": {"all": {"docs": 5, "tail_mass": 0.01, "distinct_2": 0.2, "mattr": 0.5}},
            "alarms": [{"group": "all", "indicator": "distinct_2", "value": 0.2, "rule": "min", "bound": 0.3}],
        },
    }


def _run_folder(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    (out / "dead_letter").mkdir(parents=True)
    (out / "manifest.json").write_text(json.dumps(_manifest()))
    letters = [
        {"stage": "read", "unit": "record", "error": "invalid JSON: Expecting value", "source": "/data/a.jsonl"},
        {"stage": "read", "unit": "record", "error": "invalid JSON: Unterminated string", "source": "/data/a.jsonl"},
        {
            "stage": "read",
            "unit": "file",
            "error": "unreadable input stream (CorruptStreamError: x)",
            "source": "/data/b",
        },
    ]
    blob = "".join(json.dumps(d) + "\n" for d in letters).encode()
    (out / "dead_letter" / "part-00000-of-00001.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(blob))
    return out


def test_report_says_in_plain_words_what_went_wrong(tmp_path: Path):
    out = _run_folder(tmp_path)
    write_report(str(out))
    report = json.loads((out / "report.json").read_text())
    assert any("Component human is empty" in w and "0.7" in w for w in report["component_words"])
    assert report["alarm_words"] == [
        "In all, distinct_2 (distinct word pairs / word pairs in the sample) is 0.2, below the minimum of 0.3; "
        "higher is better."
    ]
    assert any("mix component 'human' is empty" in w for w in report["warnings"])
    assert any("1 input file(s) could not be read to the end" in w for w in report["warnings"])


def test_report_defines_every_indicator_it_shows_and_its_good_direction(tmp_path: Path):
    out = _run_folder(tmp_path)
    write_report(str(out))
    page = (out / "report.html").read_text()
    for name in ("docs", "tail_mass", "distinct_2", "mattr"):
        definition, good = INDICATORS[name]
        assert html.escape(definition) in page and html.escape(good) in page
    assert "what it measures" in page and "<th>good</th>" in page


def test_report_groups_dead_letters_by_kind_with_links_and_lists_inputs_and_duration(tmp_path: Path):
    out = _run_folder(tmp_path)
    write_report(str(out))
    report = json.loads((out / "report.json").read_text())
    kinds = {(k["unit"], k["kind"]): k["count"] for k in report["dead_letter_kinds"]}
    assert kinds == {("record", "invalid JSON"): 2, ("file", "unreadable input stream"): 1}
    page = (out / "report.html").read_text()
    assert '<a href="dead_letter/part-00000-of-00001.jsonl.zst">' in page
    assert "/data/b.warc.gz" in page and "run took 12.5 s" in page and "tailguard 0.1.0" in page
