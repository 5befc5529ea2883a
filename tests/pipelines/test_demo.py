"""`tailguard demo` runs the whole pipeline on the embedded sample (no ../shared needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from tailguard.pipelines.cli import main


def test_demo_produces_corpus_manifest_report_and_balanced_ledger(tmp_path: Path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    ledger = manifest["ledger"]
    assert ledger["balanced"] is True and ledger["kept"] > 0
    # the sample plants malformed records and a truncated gzip file: dead-lettered, not lost
    assert ledger["dead_letter"] >= 5
    # WARC input was read: request records are skipped with their own reason
    assert ledger["dropped"]["read"].get("warc_request", 0) > 0
    shards = sorted((out / "corpus").glob("part-*-of-00002.parquet"))
    assert len(shards) == 2
    ids = [i for shard in shards for i in pq.read_table(shard).column("id").to_pylist()]
    assert len(ids) == manifest["outputs"]["records"]
    # planted exact duplicates never reach the corpus; most planted machine documents do not either
    assert not [i for i in ids if i.startswith("web-x")]
    planted_machine = sum(1 for line in (out / "_demo" / "sample" / "labelled" / "train.jsonl").open() if '"ai"' in line)
    assert planted_machine > 0
    assert sum(1 for i in ids if i.startswith("web-m")) <= 5
    assert {"human", "filtered_web", "curated_synthetic"} <= set(manifest["mixing"]["components"])
    assert (out / "report.html").stat().st_size > 10_000 and (out / "report.json").exists()
    printed = capsys.readouterr().out
    assert "ledger:" in printed and "[balanced]" in printed
