"""IO round trip: read JSONL.zst → write Parquet through the real pipeline (all stages off).

Usage: ``python benchmarks/io_roundtrip.py [--sizes 10000 100000]``.  Prints one
JSON object with records/s, MB/s (compressed input bytes) and peak RSS per size.
Each size runs in a fresh process on the in-process FnApiRunner.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import emit, measure_in_subprocess  # noqa: E402

_WORDS = (
    "the of and to in is was for on that with as by at from his her it an be this are which or "
    "history river model corpus crawl signal token harbour lantern meadow quartz velvet"
).split()


def make_input(path: Path, n: int, seed: int = 0) -> int:
    """Write ``n`` documents (~1.2 kB each) as JSONL.zst; return the file size."""
    rng = random.Random(seed)
    cctx = zstandard.ZstdCompressor(level=3)
    with path.open("wb") as raw, cctx.stream_writer(raw) as out:
        for i in range(n):
            text = " ".join(rng.choice(_WORDS) for _ in range(200))
            out.write(json.dumps({"id": f"doc-{i}", "text": text, "url": f"https://site{i % 97}.example/{i}"}).encode())
            out.write(b"\n")
    return path.stat().st_size


def run_pipeline(input_path: str, output: str, config_path: str) -> dict[str, Any]:
    logging.disable(logging.INFO)
    import contextlib

    from tailguard.pipelines.curate import run

    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the JSON object
        code = run(["--config", config_path, "--input", input_path, "--output", output])
    manifest = json.loads((Path(output) / "manifest.json").read_text())
    return {"exit_code": code, "ledger": manifest["ledger"], "output_rows": manifest["outputs"]["records"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    from tailguard.pipelines.stages import STAGES

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            src = Path(tmp) / f"in-{n}.jsonl.zst"
            size = make_input(src, n)
            for mode in ("single", "resumable"):
                config = Path(tmp) / f"config-{mode}.yaml"
                config.write_text(
                    yaml.safe_dump(
                        {
                            "pipeline": {"runner": "FnApiRunner"},
                            "write": {"format": "parquet", "num_shards": 4},
                            "resume": {"enabled": mode == "resumable"},
                            "collapse": {"enabled": False},
                            **{spec.name: {"enabled": False} for spec in STAGES},
                        }
                    )
                )
                out = measure_in_subprocess(run_pipeline, str(src), str(Path(tmp) / f"out-{n}-{mode}"), str(config))
                ledger = out["result"]["ledger"]
                results.append(
                    {
                        "docs": n,
                        "mode": mode,
                        "input_mb": round(size / 1e6, 2),
                        "seconds": round(out["seconds"], 2),
                        "records_per_s": round(n / out["seconds"]),
                        "mb_per_s": round(size / 1e6 / out["seconds"], 2),
                        "peak_rss_mb": out["peak_rss_mb"],
                        "ledger_balanced": ledger["balanced"],
                        "kept": ledger["kept"],
                    }
                )
                print(f"io_roundtrip: {n} docs ({mode}) done in {out['seconds']:.1f}s", file=sys.stderr)
    emit(
        {
            "benchmark": "io_roundtrip",
            "what": "read JSONL.zst -> Document -> write 4 Parquet shards, FnApiRunner in_memory, 1 process; "
            "single = one pipeline, resumable = ingest checkpoint + curate phase (the default: data written twice)",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "results": results,
        }
    )


if __name__ == "__main__":
    main()
