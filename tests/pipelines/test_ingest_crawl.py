"""`tailguard run` over every file in ../shared/data/crawl (WARC, WET, WAT, ARC, JSONL, broken files).

The 28 MB derived WARC (990 pages) is excluded to keep this test near 30 s; it is
covered by ``benchmarks/ingest.py`` (see docs/ingest.md).
"""

from __future__ import annotations

import json
from pathlib import Path

from tailguard.pipelines.curate import run
from tests.conftest import shared_data
from tests.pipelines.helpers import minimal_config, read_jsonl_zst_dir

_INGEST = ("extract", "langid", "quality")


def test_whole_crawl_runs_with_balanced_ledger_counted_drops_and_dead_letters(tmp_path: Path) -> None:
    crawl = shared_data("crawl")
    config = minimal_config(
        tmp_path,
        enable=_INGEST,
        write={"format": "jsonl.zst", "num_shards": 1},
        extract={"extractor": "resiliparse"},
        langid={"allowed_languages": [], "min_score": 0.0},
        quality={"languages": ["en"], "c4": {"require_terminal_punctuation": False}},
    )
    out = tmp_path / "out"
    argv = ["--config", str(config), "--output", str(out)]
    argv += ["--input", str(crawl / "warc" / "**"), "--input", str(crawl / "cc_text" / "**")]

    assert run(argv) == 0

    manifest = json.loads((out / "manifest.json").read_text())
    ledger = manifest["ledger"]
    assert ledger["balanced"] and ledger["kept"] > 50
    read_drops = ledger["dropped"]["read"]
    for reason in ("warc_request", "warc_warcinfo", "revisit", "wat_metadata", "non_html_payload"):
        assert read_drops.get(reason, 0) > 0, reason
    assert sum(ledger["dropped"]["quality"].values()) > 0
    kept = read_jsonl_zst_dir(out / "corpus")
    assert len(kept) == ledger["kept"] and all(row["text"] and row["lang"] for row in kept)
    assert any(row["provenance"]["record_type"] == "conversion" for row in kept)  # WET text
    dead_sources = {Path(d["source"]).name for d in read_jsonl_zst_dir(out / "dead_letter")}
    assert {
        "example-trunc.warc",
        "clipped.warc.gz",
        "IAH-20080430204825-00000-blackbook-truncated.arc",
    } <= dead_sources
