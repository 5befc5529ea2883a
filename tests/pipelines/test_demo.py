"""`tailguard demo` runs the whole pipeline on the embedded sample (no ../shared needed)."""

from __future__ import annotations

import json
from pathlib import Path

from tailguard.pipelines.cli import main


def test_demo_produces_corpus_manifest_and_balanced_ledger(tmp_path: Path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    ledger = manifest["ledger"]
    assert ledger["balanced"] is True and ledger["kept"] > 0
    # the sample plants malformed records and a truncated gzip file: they must be dead-lettered, not lost
    assert ledger["dead_letter"] >= 5
    shards = sorted(p.name for p in (out / "corpus").iterdir())
    assert shards and all(name.startswith("part-") for name in shards)
    assert manifest["outputs"]["records"] >= ledger["kept"]
    printed = capsys.readouterr().out
    assert "ledger:" in printed and "[balanced]" in printed
