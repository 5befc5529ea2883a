"""``benchmarks/dedup.py --peers`` without the peers' venvs: skips with a reason, never fails the run.

The peers themselves (text-dedup, datatrove) are not installed here (benchmarks/README.md says how);
these tests only run the parts that need no peer venv, for real.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tailguard.transforms.dedup_near import DedupNearConfig

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_dedup", REPO / "benchmarks" / "dedup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(bench: ModuleType) -> tuple[Any, Any, Any]:
    return bench.make_corpus(60, seed=3)


def test_empty_peers_dir_skips_every_peer_with_its_venv_path(
    bench: ModuleType, corpus: tuple[Any, Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venvs = tmp_path / "peers"
    venvs.mkdir()
    monkeypatch.setenv("TAILGUARD_PEERS_DIR", str(venvs))
    rows, group, pairs = corpus
    out = bench.run_peers(rows, group, pairs, DedupNearConfig(), str(tmp_path))
    assert set(out) == {"text-dedup", "datatrove"}
    for name, report in out.items():
        assert report == {"skipped": f"no venv at {venvs / name / 'bin' / 'python'} (see benchmarks/README.md)"}
    assert not (tmp_path / "peers-corpus.jsonl").exists()  # nothing to run: no corpus written


def test_failing_peer_is_skipped_with_its_error_tail(
    bench: ModuleType, corpus: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    # a "venv" whose python is this interpreter: the runner really starts and fails to import datatrove
    venvs = tmp_path / "peers"
    (venvs / "datatrove" / "bin").mkdir(parents=True)
    os.symlink(sys.executable, venvs / "datatrove" / "bin" / "python")
    rows, group, pairs = corpus
    out = bench.run_peers(rows, group, pairs, DedupNearConfig(), str(tmp_path), venvs=venvs)
    assert out["text-dedup"]["skipped"].startswith("no venv at ")
    skipped = out["datatrove"]["skipped"]
    assert skipped.startswith("RuntimeError: exit 1 after ")
    assert "No module named 'datatrove'" in skipped
    written = (tmp_path / "peers-corpus.jsonl").read_text().splitlines()
    assert len(written) == len(rows)  # the corpus the runner was given: every generated document


def test_peer_clusters_point_members_at_the_kept_document(bench: ModuleType) -> None:
    peer = {"survivors": ["a", "c", "e"], "clusters": {"a": "7", "b": "7", "c": "9", "d": "9", "x": "5", "y": "5"}}
    cluster, reason, unaccounted = bench.peer_clusters(peer, ["a", "b", "c", "d", "e", "x", "y", "z"])
    assert cluster == {"a": "a", "b": "a", "c": "c", "d": "c", "x": "x", "y": "x"}  # x, y: none kept
    assert reason == {d: "near_duplicate" for d in ("b", "d", "x", "y", "z")}
    assert unaccounted == 1  # z: neither kept nor in a cluster
