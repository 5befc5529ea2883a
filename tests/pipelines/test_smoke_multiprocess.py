"""CI smoke run: configs/smoke.yaml in multi-processing mode (2 SDK worker processes).

In-process tests share one interpreter with the pipeline, so a DoFn that cannot be pickled,
or that relies on module-level state set up in the launching process, still passes there.
With ``--direct_running_mode=multi_processing`` every DoFn is pickled and runs in separate
worker processes, as on Dataflow or Flink.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tailguard.pipelines.config import load_config
from tailguard.pipelines.curate import run_config
from tests.pipelines.helpers import read_jsonl_zst_dir

REPO = Path(__file__).resolve().parents[2]
WORDS = [
    "river",
    "hill",
    "stone",
    "cloud",
    "market",
    "bridge",
    "garden",
    "letter",
    "winter",
    "harbour",
    "lantern",
    "orchard",
]


def _write_inputs(folder: Path, files: int, per_file: int) -> int:
    folder.mkdir()
    for f in range(files):
        lines = []
        for i in range(per_file):
            n = f * per_file + i
            words = [WORDS[(n * 7 + k * k) % len(WORDS)] for k in range(40 + n % 30)]
            lines.append(json.dumps({"id": f"smoke-{n:05d}", "text": f"Note {n}. " + " ".join(words) + "."}))
        (folder / f"shard-{f}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return files * per_file


@pytest.mark.slow
def test_smoke_config_balances_in_multi_processing_mode(tmp_path: Path):
    total = _write_inputs(tmp_path / "in", files=3, per_file=20)
    cfg = load_config(REPO / "configs" / "smoke.yaml")
    cfg = cfg.replace(
        inputs=(str(tmp_path / "in" / "*.jsonl"),),
        output=str(tmp_path / "out"),
        pipeline=dataclasses.replace(cfg.pipeline, direct_running_mode="multi_processing", direct_num_workers=2),
    )

    result = run_config(cfg)

    ledger = result.manifest.data["ledger"]
    assert ledger["balanced"] is True
    assert ledger["input_records"] == total
    # Every shard written by a worker process is there and holds what the manifest says.
    outputs = result.manifest.data["outputs"]
    assert len(outputs["shards"]) == cfg.write.num_shards
    assert len(read_jsonl_zst_dir(tmp_path / "out" / "corpus")) == outputs["records"]
