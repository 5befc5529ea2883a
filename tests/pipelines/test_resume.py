"""A run killed midway and restarted finishes without redoing completed input files,
and without duplicating or losing records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.pipelines.helpers import minimal_config

N_FILES = 12


def _inputs(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for f in range(N_FILES):
        lines = [json.dumps({"id": f"f{f}-d{i}", "text": f"document {i} of file {f} " * 5}) for i in range(30)]
        lines.append("{broken line")  # one dead letter per file
        (src / f"part-{f:03d}.jsonl").write_text("\n".join(lines) + "\n")
    return src


def _config(tmp_path: Path) -> Path:
    # A per-document stage (extract: a no-op on JSONL text) so that the run has an ingest phase to
    # checkpoint: without one, a run is a single pipeline (issue 13).
    path = minimal_config(
        tmp_path, enable=("extract",), resume={"enabled": True, "batch_files": 2, "keep_checkpoints": True}
    )
    data = yaml.safe_load(path.read_text())
    data["write"] = {"num_shards": 3, "format": "jsonl.zst"}
    path.write_text(yaml.safe_dump(data))
    return path


def _cmd(config: Path, src: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tailguard.pipelines.cli",
        "run",
        "--config",
        str(config),
        "--input",
        str(src / "*.jsonl"),
        "--output",
        str(out),
    ]


def _done_markers(out: Path) -> dict[str, float]:
    return {str(p.parent.name): p.stat().st_mtime_ns for p in (out / "_work" / "ingest").glob("*/_DONE")}


@pytest.mark.slow
def test_killed_run_resumes_without_redoing_completed_files(tmp_path: Path):
    src, config = _inputs(tmp_path), _config(tmp_path)
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        _cmd(config, src, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "_work" / "ingest").exists() and len(_done_markers(out)) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; give it more input files"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    completed = _done_markers(out)
    assert 2 <= len(completed) < N_FILES // 2

    resumed = subprocess.run(_cmd(config, src, out), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert resumed.stderr.count("already complete, skipped") == len(completed)
    after = _done_markers(out)
    assert all(after[name] == mtime for name, mtime in completed.items()), "a completed batch was redone"

    clean = tmp_path / "clean"
    assert subprocess.run(_cmd(config, src, clean), capture_output=True, timeout=600).returncode == 0
    resumed_manifest = json.loads((out / "manifest.json").read_text())
    clean_manifest = json.loads((clean / "manifest.json").read_text())
    assert resumed_manifest["ledger"] == clean_manifest["ledger"]
    assert resumed_manifest["ledger"]["input_records"] == N_FILES * 31
    assert resumed_manifest["ledger"]["kept"] == N_FILES * 30 and resumed_manifest["ledger"]["dead_letter"] == N_FILES
    for shard in sorted((clean / "corpus").iterdir()):
        assert shard.read_bytes() == (out / "corpus" / shard.name).read_bytes(), shard.name
    dead = list((out / "dead_letter").glob("*.jsonl.zst"))
    assert dead, "the dead letters of resumed batches are collected into OUTPUT/dead_letter"


@pytest.mark.slow
def test_curate_options_apply_to_the_curate_job_only_and_keep_the_checkpoints(tmp_path: Path):
    """resume.curate_options (e.g. Flink parallelism for the curate job) reach that job's flags, are
    left out of the checkpoint key (a rerun with other curate options skips every ingest batch), and
    do not change a byte of the corpus."""
    src, config = _inputs(tmp_path), _config(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["resume"]["curate_options"] = {"direct_running_mode": "multi_threading", "direct_num_workers": 2}
    tuned = tmp_path / "tuned.yaml"
    tuned.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    first = subprocess.run(_cmd(tuned, src, out), capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    (line,) = [line for line in first.stderr.splitlines() if "(resume.curate_options)" in line]
    assert "--direct_running_mode=multi_threading" in line and "--direct_num_workers=2" in line
    assert "already complete, skipped" not in first.stderr
    shards = {p.name: p.read_bytes() for p in (out / "corpus").iterdir()}

    # As if the curate job had been killed (hung on Flink): no manifest, the ingest checkpoints kept.
    (out / "manifest.json").unlink()
    again = subprocess.run(_cmd(config, src, out), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stderr.count("already complete, skipped") == N_FILES // 2
    assert "resume.curate_options" not in again.stderr
    assert {p.name: p.read_bytes() for p in (out / "corpus").iterdir()} == shards
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["ledger"]["input_records"] == N_FILES * 31 and manifest["ledger"]["kept"] == N_FILES * 30
