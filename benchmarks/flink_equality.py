"""The real Flink cluster against the in-process runner on a generated corpus: same ledger, same bytes.

Usage (with ``deploy/flink/local.sh up`` running)::

    python benchmarks/flink_equality.py [--docs 20000] [--docs-per-file 5000] [--num-shards 16]

prints ONE JSON object (logs go to stderr) and exits 1 when the two runs differ.  It is the full-size
form of ``tests/pipelines/test_flink_cluster.py`` (which runs the demo sample in CI): ``scale.py``'s
generated documents with planted exact and near duplicates, ``configs/flink-local.yaml`` with
``dedup_near.max_rounds: 3`` (the rounds the Flink 1.19 DataSet optimizer plans in about a minute),
the same config with the in-process ``FnApiRunner``, and a comparison of the manifests' ledgers and of
the sha256 of every corpus shard.  Wall seconds are given per runner; the cluster's CPU is spent in its
own processes (``scale.py --runner flink`` measures that), so only the driver's CPU is reported here.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import emit  # noqa: E402
from scale import make_input  # noqa: E402  (the same generated corpus as the scale benchmark)

from tailguard.pipelines.config import CurationConfig, PipelineConfig, load_config  # noqa: E402
from tailguard.pipelines.curate import run_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
_LOG = logging.getLogger("flink_equality")


def _shards(output: str) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(output, "corpus").glob("part-*"))}


def _run(cfg: CurationConfig) -> dict[str, Any]:
    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    result = run_config(cfg)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    ledger = json.loads(Path(cfg.output, "manifest.json").read_text())["ledger"]
    return {
        "wall_s": round(time.monotonic() - wall0, 1),
        "driver_cpu_s": round(cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime, 1),
        "balanced": result.balanced,
        "kept": ledger["kept"],
        "ledger": ledger,
        "shards": _shards(cfg.output),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--docs-per-file", type=int, default=5_000, help="input files = docs / this")
    parser.add_argument("--num-shards", type=int, default=16)
    parser.add_argument("--max-rounds", type=int, default=3, help="dedup_near rounds (Flink plans 3 in ~1 min)")
    parser.add_argument("--workdir", default=None, help="keep inputs/outputs here (default: a temp dir)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    _LOG.setLevel(logging.INFO)  # this script's progress; Beam's job-state chatter stays out
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp)
        generated = make_input(root / "input", args.docs, docs_per_file=args.docs_per_file)
        flink = load_config(REPO / "configs" / "flink-local.yaml")
        stages = dict(flink.stages)
        stages["dedup_near"] = dataclasses.replace(stages["dedup_near"], max_rounds=args.max_rounds)
        flink = flink.replace(
            inputs=(str(root / "input" / "*.jsonl.zst"),),
            write=dataclasses.replace(flink.write, num_shards=args.num_shards),
            stages=stages,
        )
        runs: dict[str, dict[str, Any]] = {}
        for name, cfg in (("flink", flink), ("in_process", flink.replace(pipeline=PipelineConfig()))):
            _LOG.info("%s run of %d documents", name, args.docs)
            runs[name] = _run(cfg.replace(output=str(root / name)))
            _LOG.info("%s: %.1f s wall, %d kept", name, runs[name]["wall_s"], runs[name]["kept"])
    same_ledger = runs["flink"].pop("ledger") == runs["in_process"].pop("ledger")
    shards = {name: run.pop("shards") for name, run in runs.items()}
    same_shards = bool(shards["flink"]) and shards["flink"] == shards["in_process"]
    emit(
        {
            "benchmark": "flink_equality",
            "docs": args.docs,
            "input_files": generated["files"],
            "num_shards": len(shards["flink"]),
            "dedup_near_max_rounds": args.max_rounds,
            "same_ledger": same_ledger,
            "same_shard_bytes": same_shards,
            "runs": runs,
        }
    )
    if not (same_ledger and same_shards and all(run["balanced"] for run in runs.values())):
        sys.exit(1)


if __name__ == "__main__":
    main()
