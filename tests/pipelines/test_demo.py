"""`tailguard demo` runs the whole pipeline on the embedded sample (no ../shared needed)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tailguard.pipelines.cli import main


def _demo_command(out: Path) -> subprocess.CompletedProcess[str]:
    # The command a user types, in a fresh process each time (issue 14: "the same command").
    cmd = [sys.executable, "-m", "tailguard.pipelines.cli", "demo", "--output", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo-a") / "demo"
    done = _demo_command(out)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out, done.stdout


def _shard_digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out / "corpus").glob("part-*"))}


def test_demo_produces_corpus_manifest_report_and_balanced_ledger(demo_run):
    out, printed = demo_run
    assert "ledger:" in printed and "[balanced]" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    ledger = manifest["ledger"]
    assert ledger["balanced"] is True and ledger["kept"] > 0
    # the sample plants 4 malformed records and a truncated gzip file: dead-lettered, not lost;
    # the truncated file is a failed file, counted as a file (issue 14)
    assert ledger["dead_letter"] >= 4 and ledger["file_failures"]["files"] == 1
    # WARC input was read: request records are skipped with their own reason
    assert ledger["dropped"]["read"].get("warc_request", 0) > 0
    shards = sorted((out / "corpus").glob("part-*-of-00002.parquet"))
    assert len(shards) == 2
    ids = [i for shard in shards for i in pq.read_table(shard).column("id").to_pylist()]
    assert len(ids) == manifest["outputs"]["records"]
    # planted exact duplicates never reach the corpus; most planted machine documents do not either
    assert not [i for i in ids if i.startswith("web-x")]
    planted_machine = sum(
        1 for line in (out / "_demo" / "sample" / "labelled" / "train.jsonl").open() if '"ai"' in line
    )
    assert planted_machine > 0
    assert sum(1 for i in ids if i.startswith("web-m")) <= 5
    assert {"human", "filtered_web", "curated_synthetic"} <= set(manifest["mixing"]["components"])
    assert (out / "report.html").stat().st_size > 10_000 and (out / "report.json").exists()
    # no document records where the output folder is (issue 14: the demo is reproducible)
    sources = {s for shard in shards for s in pq.read_table(shard).column("source").to_pylist()}
    assert sources and not [s for s in sources if str(out) in s]


@pytest.mark.slow
def test_demo_gives_identical_shards_on_another_run_and_output_path(demo_run, tmp_path: Path):
    first, _ = demo_run
    second = tmp_path / "elsewhere" / "deeper" / "demo-b"
    done = _demo_command(second)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert _shard_digests(second) == _shard_digests(first) != {}
    ledger_a = json.loads((first / "manifest.json").read_text())["ledger"]
    ledger_b = json.loads((second / "manifest.json").read_text())["ledger"]
    assert ledger_a == ledger_b


def test_demo_refuses_a_finished_run_without_overwrite(tmp_path: Path, capsys):
    out = tmp_path / "finished"
    (out / "corpus").mkdir(parents=True)
    (out / "manifest.json").write_text('{"ledger": {"balanced": true}}')
    (out / "corpus" / "part-00000-of-00001.parquet").write_bytes(b"a user's earlier corpus")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["demo", "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--overwrite" in err[0] and "finished run" in err[0]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not (out / "_demo").exists()


def test_demo_refuses_a_folder_that_is_not_a_tailguard_run(tmp_path: Path, capsys):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"\xff\xd8 not a run")
    assert main(["demo", "--output", str(out)]) == 2
    assert "not a tailguard run" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["holiday.jpg"]
