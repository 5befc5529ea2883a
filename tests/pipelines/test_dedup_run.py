"""`tailguard run` with only the dedup stages enabled, on a JSONL input."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import yaml
import zstandard

from tailguard.pipelines.curate import run
from tailguard.pipelines.stages import STAGES

_DEDUP = {"dedup_exact", "dedup_near"}


def _read_zst_jsonl(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        with path.open("rb") as handle:
            text = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(handle), encoding="utf-8")
            rows += [json.loads(line) for line in text if line.strip()]
    return rows


def test_dedup_only_run_writes_survivors_and_rejections(tmp_path: Path) -> None:
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(3000)]
    base = [rng.choice(vocab) for _ in range(200)]
    near = list(base)
    near[100:103] = ["x", "y", "z"]
    rows = [
        {"id": "a-keep", "text": " ".join(base)},
        {"id": "b-near", "text": " ".join(near)},
        {"id": "c-exact", "text": " ".join(base).upper()},
        {"id": "d-other", "text": " ".join(rng.choice(vocab) for _ in range(200))},
    ]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {
        "pipeline": {"runner": "FnApiRunner"},
        "write": {"format": "jsonl.zst", "num_shards": 1},
        **{spec.name: {"enabled": spec.name in _DEDUP} for spec in STAGES},
    }
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"

    assert run(["--config", str(config_path), "--input", str(data), "--output", str(out)]) == 0

    kept = _read_zst_jsonl(sorted((out / "corpus").glob("*.jsonl.zst")))
    assert sorted((d["id"], d["dup_cluster_size"]) for d in kept) == [("a-keep", 2), ("d-other", 1)]
    rejected = _read_zst_jsonl(sorted((out / "rejected").glob("*/*.jsonl.zst")))
    assert sorted((r["id"], r["stage"], r["reason"], r["detail"]) for r in rejected) == [
        ("b-near", "dedup_near", "near_duplicate", "a-keep"),
        ("c-exact", "dedup_exact", "exact_duplicate", "a-keep"),
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["ledger"]["balanced"]
    assert manifest["dedup_near"]["bands"] * manifest["dedup_near"]["rows"] <= 128
    assert manifest["dedup_near"]["near_duplicates"] == 1
