"""Scale benchmark: time and peak RSS of the whole pipeline (``configs/local.yaml``) by input size.

Usage::

    python benchmarks/scale.py                       # 10k and 100k documents, per-stage at 10k
    python benchmarks/scale.py --sizes 10000 100000 1000000 --per-stage-size 10000

Input: generated JSONL.zst of human prose (sentences of the Python reference docs that
every Python ships, ``tailguard.pipelines.sample.human_paragraph_documents``), ~15
sentences per document drawn by a seeded RNG, with 3 % exact and 3 % near duplicates
planted so the dedup stages do real work.  Each run is ``tailguard run`` (``run_config``)
with the stages ``configs/local.yaml`` enables, in a fresh interpreter on the in-process
FnApiRunner (one process, one core); wall time, CPU time and peak RSS of that process come
from ``wait4``, so ``docs_per_cpu_s`` (documents per CPU-second, start-up included) is the
per-core throughput.

Per stage: the stages are enabled cumulatively in pipeline order at ``--per-stage-size``;
a stage's cost is the difference between consecutive runs (noisy when it is small).

Prints ONE JSON object to stdout (progress to stderr): per size ``docs_per_s``,
``docs_per_cpu_s``, ``peak_rss_mb``, wall and CPU seconds, and the ledger.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import emit

REPO = Path(__file__).resolve().parents[1]
_LOG = logging.getLogger("scale")
SENTENCES_PER_DOC = (8, 22)
EXACT_DUP_RATE = 0.03
NEAR_DUP_RATE = 0.03


def _sentence_pool() -> list[str]:
    from tailguard.pipelines.sample import human_paragraph_documents

    pool = []
    for doc in human_paragraph_documents():
        pool += [s.strip() for s in re.split(r"(?<=[.!?])\s+", doc) if len(s.split()) >= 5]
    return list(dict.fromkeys(pool))


def make_input(folder: Path, n: int, seed: int = 0, docs_per_file: int = 50_000) -> dict[str, Any]:
    """Write ``n`` documents as JSONL.zst files of ``docs_per_file`` each under ``folder``; return size facts.

    Several files, as a crawl comes (a Common Crawl WET file holds ~40k documents): the reader
    splits work by file, so one big file would run the per-document stages on one worker.
    The documents do not depend on ``docs_per_file`` (one RNG stream across the files).
    """
    rng = random.Random(seed)
    pool = _sentence_pool()
    texts: list[str] = []
    text_bytes = 0
    folder.mkdir(parents=True, exist_ok=True)
    files = -(-n // docs_per_file)
    for f in range(files):
        cctx = zstandard.ZstdCompressor(level=3)
        with (folder / f"part-{f:05d}.jsonl.zst").open("wb") as raw, cctx.stream_writer(raw) as out:
            for i in range(f * docs_per_file, min(n, (f + 1) * docs_per_file)):
                roll = rng.random()
                if texts and roll < EXACT_DUP_RATE:
                    text = rng.choice(texts)
                elif texts and roll < EXACT_DUP_RATE + NEAR_DUP_RATE:
                    # Case-only variants: `dedup_exact` (normalization: lower) already removes them,
                    # so in this corpus dedup_near signs and bands everything but finds no new cluster.
                    words = rng.choice(texts).split(" ")
                    for j in rng.sample(range(len(words)), max(1, len(words) // 30)):
                        words[j] = words[j].upper()
                    text = " ".join(words)
                else:
                    text = " ".join(rng.sample(pool, rng.randint(*SENTENCES_PER_DOC)))
                if len(texts) < 5000:
                    texts.append(text)
                else:
                    texts[rng.randrange(5000)] = text
                text_bytes += len(text.encode("utf-8"))
                record = {"id": f"doc-{i:08d}", "text": text, "url": f"https://site{i % 997}.example/page/{i}"}
                out.write(json.dumps(record).encode("utf-8") + b"\n")
    size = sum(p.stat().st_size for p in folder.glob("*.jsonl.zst"))
    return {
        "input_bytes": size,
        "text_bytes": text_bytes,
        "sentence_pool": len(pool),
        "files": files,
        "docs_per_file": docs_per_file,
    }


RUNNER_CONFIGS = {"local": "local.yaml", "flink": "flink-local.yaml"}


def run_once(
    input_path: str, output: str, enabled: list[str], runner: str = "local", max_rounds: int = 0
) -> dict[str, Any]:
    """Run the pipeline with the runner's config and only ``enabled`` stages (in a child process)."""
    logging.disable(logging.INFO)
    from tailguard.pipelines.config import load_config
    from tailguard.pipelines.curate import run_config

    cfg = load_config(REPO / "configs" / RUNNER_CONFIGS[runner])
    stages = {
        name: stage_cfg if name in enabled else dataclasses.replace(stage_cfg, enabled=False)
        for name, stage_cfg in cfg.stages.items()
    }
    if max_rounds:
        stages["dedup_near"] = dataclasses.replace(stages["dedup_near"], max_rounds=max_rounds)
    cfg = cfg.replace(inputs=(input_path,), output=output, stages=stages)
    parallelism = int(os.environ.get("TAILGUARD_SCALE_PARALLELISM", "0"))
    if parallelism:
        options = {**cfg.pipeline.options, "parallelism": parallelism}
        cfg = cfg.replace(pipeline=dataclasses.replace(cfg.pipeline, options=options))
    curate_parallelism = int(os.environ.get("TAILGUARD_SCALE_CURATE_PARALLELISM", "0"))
    if curate_parallelism:
        curate_options = {**cfg.resume.curate_options, "parallelism": curate_parallelism}
        cfg = cfg.replace(resume=dataclasses.replace(cfg.resume, curate_options=curate_options))
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    result = run_config(cfg)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    data = result.manifest.data
    return {
        # CPU of run_config alone (without interpreter start-up and imports).
        "cpu_s": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "stages": data["stages"],
        "ledger": data["ledger"],
        "output_records": data["outputs"]["records"],
    }


def _child_main(input_path: str, output: str, enabled_csv: str, result_path: str, runner: str, rounds: str) -> None:
    result = run_once(input_path, output, [name for name in enabled_csv.split(",") if name], runner, int(rounds))
    Path(result_path).write_text(json.dumps(result))


def _measure_in_child(input_path: Path, out_dir: Path, enabled: list[str], runner: str = "local") -> dict[str, Any]:
    """Run one pipeline in a fresh interpreter; its own peak RSS and CPU come from wait4.

    With ``runner="flink"`` the Flink cluster's processes (deploy/flink/local.sh: JobManager,
    TaskManagers, job server, worker pool and its SDK harnesses) are sampled every second as
    well: their CPU seconds during the run and the peak of the RSS summed over every process
    (driver included) are added, and the disk used by Flink's spill directory is tracked.
    """
    result_path = out_dir.with_suffix(".result.json")
    cmd = [sys.executable, __file__, "--child", str(input_path), str(out_dir), ",".join(enabled), str(result_path)]
    cmd += [runner, os.environ.get("TAILGUARD_SCALE_MAX_ROUNDS", "0")]
    start = time.perf_counter()
    process = subprocess.Popen(cmd)
    sampler = _ClusterSampler(process.pid) if runner == "flink" else None
    if sampler is not None:
        sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    cluster = sampler.stop() if sampler is not None else None
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"pipeline run failed with exit code {process.returncode}: {' '.join(cmd)}")
    result = json.loads(result_path.read_text())
    # ru_maxrss is KB on Linux; wait4 covers the child (and any workers it waited for).
    out = {
        "seconds": seconds,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "result": result,
        "disk_mb": round(_du(out_dir) / 1e6, 1),
    }
    if cluster is not None:
        out["driver_cpu_s"] = round(out["cpu_s"], 2)
        out["driver_peak_rss_mb"] = out["peak_rss_mb"]
        out["cpu_s"] += cluster["cpu_s"]
        out["peak_rss_mb"] = cluster["peak_total_rss_mb"]
        out["cluster"] = cluster
        out["disk_mb"] = round(out["disk_mb"] + cluster["peak_spill_mb"], 1)
    return out


def _du(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


class _ClusterSampler:
    """Samples CPU and RSS of the Flink cluster's process groups and the driver, once a second."""

    RUN_DIR = Path(os.environ.get("TAILGUARD_FLINK_RUN_DIR", Path.home() / ".cache" / "tailguard" / "flink-run"))

    def __init__(self, driver_pid: int):
        import threading

        self._driver = driver_pid
        # process group -> the cluster process it belongs to (jobmanager, taskmanager-1, worker-pool ...)
        self._names = {int(p.read_text()): p.stem for p in (self.RUN_DIR / "pids").glob("*.pid")}
        self._groups = set(self._names)
        self._group_of: dict[int, int] = {}
        self._cpu0 = self._cpu_by_pid()
        # Flink keeps finished jobs' blobs for an hour: count only what this run adds.
        self._spill0 = _du(self.RUN_DIR / "tmp")
        self._last: dict[int, float] = dict(self._cpu0)
        self._peak_rss = 0
        self._peak_spill = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _pids(self) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    group = os.getpgid(int(entry))
                    if group in self._groups:
                        pids.append(int(entry))
                        self._group_of[int(entry)] = group
                except OSError:
                    pass
        return pids

    @staticmethod
    def _stat(pid: int) -> tuple[float, int]:
        """(CPU seconds incl. reaped children, RSS bytes) of one process."""
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        cpu = sum(int(x) for x in fields[11:15]) / tick
        return cpu, int(fields[21]) * os.sysconf("SC_PAGE_SIZE")

    def _cpu_by_pid(self) -> dict[int, float]:
        out = {}
        for pid in self._pids():
            try:
                out[pid] = self._stat(pid)[0]
            except OSError:
                pass
        return out

    def _sample(self) -> None:
        total = 0
        for pid in [*self._pids(), self._driver]:
            try:
                cpu, rss = self._stat(pid)
            except OSError:
                continue
            total += rss
            if pid != self._driver:
                self._last[pid] = cpu
        self._peak_rss = max(self._peak_rss, total)

    def _loop(self) -> None:
        tick = 0
        while not self._stop.wait(1.0):
            self._sample()
            if tick % 5 == 0:
                self._peak_spill = max(self._peak_spill, _du(self.RUN_DIR / "tmp") - self._spill0)
            tick += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        self._sample()
        cpu = sum(v - self._cpu0.get(pid, 0.0) for pid, v in self._last.items())
        by_process: dict[str, float] = {}
        for pid, v in self._last.items():
            name = self._names.get(self._group_of.get(pid, -1), "other")
            by_process[name] = round(by_process.get(name, 0.0) + v - self._cpu0.get(pid, 0.0), 2)
        return {
            "cpu_s": round(cpu, 2),
            "cpu_s_by_process": dict(sorted(by_process.items())),
            "peak_total_rss_mb": round(self._peak_rss / 1e6, 1),
            "peak_spill_mb": round(self._peak_spill / 1e6, 1),
            "processes_seen": len(self._last),
        }


def measure(input_path: Path, out_dir: Path, enabled: list[str], docs: int, runner: str = "local") -> dict[str, Any]:
    out = _measure_in_child(input_path, out_dir, enabled, runner)
    result, seconds = out["result"], out["seconds"]
    ledger = result["ledger"]
    return {
        "docs": docs,
        "stages": result["stages"],
        "wall_s": round(seconds, 2),
        "cpu_s": round(out["cpu_s"], 2),
        "pipeline_cpu_s": round(result["cpu_s"], 2),
        "docs_per_s": round(docs / seconds, 1),
        "docs_per_cpu_s": round(docs / out["cpu_s"], 1),
        "peak_rss_mb": out["peak_rss_mb"],
        "disk_mb": out["disk_mb"],
        **({"cluster": out["cluster"], "driver_cpu_s": out["driver_cpu_s"]} if "cluster" in out else {}),
        "kept": ledger["kept"],
        "dropped": {stage: sum(r.values()) for stage, r in ledger["dropped"].items()},
        "dead_letter": ledger["dead_letter"],
        "balanced": ledger["balanced"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--per-stage-size", type=int, default=10_000, help="0 = skip the per-stage runs")
    parser.add_argument("--workdir", default=None, help="keep inputs/outputs here (default: a temp dir)")
    parser.add_argument(
        "--warc",
        default=None,
        help="also run the pipeline once on these WARC files (glob), e.g. "
        "../shared/data/crawl/derived/trafilatura-eval-pages.warc.gz: HTML extraction cost per page",
    )
    parser.add_argument(
        "--runner",
        choices=sorted(RUNNER_CONFIGS),
        default="local",
        help="local = configs/local.yaml (in-process FnApiRunner); flink = configs/flink-local.yaml on the "
        "cluster of deploy/flink/local.sh (start it first); CPU and RSS then cover every cluster process",
    )
    parser.add_argument(
        "--docs-per-file", type=int, default=50_000, help="documents per generated input file (work splits by file)"
    )
    parser.add_argument("--disable", nargs="*", default=[], help="stages to switch off (e.g. dedup_near on flink)")
    parser.add_argument(
        "--dedup-near-max-rounds",
        type=int,
        default=0,
        help="override dedup_near.max_rounds (0 = the config's 10); the Flink 1.19 DataSet optimizer "
        "does not finish planning 10 rounds (deploy/flink/README.md), 3 plan in about a minute",
    )
    parser.add_argument(
        "--parallelism",
        type=int,
        default=0,
        help="override pipeline.options.parallelism (0 = the config's); on Flink, start the cluster with "
        "TAILGUARD_FLINK_SLOTS=parallelism/2. Beam 2.62's Flink batch runner holds a bundle's whole output "
        "(one bundle = one partition) until the bundle ends and hangs past ~1 GB (deploy/flink/README.md): "
        "1M documents need parallelism 8",
    )
    parser.add_argument(
        "--curate-parallelism",
        type=int,
        default=0,
        help="parallelism of the curate-phase job only (resume.curate_options; 0 = the same as ingest): "
        "the ingest jobs run per file at --parallelism, the curate job re-reads every checkpoint and needs "
        "more partitions on Flink; start the cluster with enough slots for the larger of the two",
    )
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child_main(*args.child)
        return
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s scale: %(message)s")
    os.environ["TAILGUARD_SCALE_MAX_ROUNDS"] = str(args.dedup_near_max_rounds)
    os.environ["TAILGUARD_SCALE_PARALLELISM"] = str(args.parallelism)
    os.environ["TAILGUARD_SCALE_CURATE_PARALLELISM"] = str(args.curate_parallelism)
    from tailguard.pipelines.config import load_config

    enabled = [spec.name for spec, _ in load_config(REPO / "configs" / "local.yaml").enabled_stages()]
    enabled = [name for name in enabled if name not in args.disable]
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp)
        inputs: dict[int, dict[str, Any]] = {}

        def input_for(n: int) -> Path:
            path = root / f"in-{n}"
            if n not in inputs:
                t0 = time.perf_counter()
                inputs[n] = make_input(path, n, docs_per_file=args.docs_per_file)
                _LOG.info(
                    "generated %d docs (%.1f MB) in %.0f s", n, inputs[n]["input_bytes"] / 1e6, time.perf_counter() - t0
                )
            return path / "*.jsonl.zst"

        sizes: dict[str, Any] = {}
        for n in args.sizes:
            src = input_for(n)
            sizes[str(n)] = measure(src, root / f"out-{n}", enabled, n, args.runner)
            sizes[str(n)]["text_mb"] = round(inputs[n]["text_bytes"] / 1e6, 1)
            sizes[str(n)]["input_mb_zst"] = round(inputs[n]["input_bytes"] / 1e6, 1)
            _LOG.info("%d docs: %s", n, json.dumps(sizes[str(n)]))

        per_stage: list[dict[str, Any]] = []
        if args.per_stage_size:
            n = args.per_stage_size
            src = input_for(n)
            previous: dict[str, Any] | None = None
            for k in range(len(enabled) + 1):
                run = measure(src, root / f"stage-{n}-{k}", enabled[:k], n, args.runner)
                label = "read+write only" if k == 0 else enabled[k - 1]
                per_stage.append(
                    {
                        "added_stage": label,
                        "cumulative_wall_s": run["wall_s"],
                        "cumulative_cpu_s": run["cpu_s"],
                        "stage_cpu_s": round(run["cpu_s"] - previous["cpu_s"], 2) if previous else run["cpu_s"],
                        "docs_in_after_stage": run["kept"],
                        "peak_rss_mb": run["peak_rss_mb"],
                    }
                )
                _LOG.info("per-stage %d/%d (%s): %s", k, len(enabled), label, json.dumps(per_stage[-1]))
                previous = run

        warc: dict[str, Any] = {}
        if args.warc:
            import glob

            files = sorted(glob.glob(args.warc))
            if not files:
                parser.error(f"--warc {args.warc!r} matches no files")
            warc_bytes = sum(os.path.getsize(f) for f in files)
            run = _measure_in_child(Path(args.warc), root / "out-warc", enabled, args.runner)
            ledger = run["result"]["ledger"]
            records = ledger["input_records"]
            warc = {
                "files": len(files),
                "warc_mb": round(warc_bytes / 1e6, 1),
                "records": records,
                "kept": ledger["kept"],
                "dropped": {stage: sum(r.values()) for stage, r in ledger["dropped"].items()},
                "dead_letter": ledger["dead_letter"],
                "balanced": ledger["balanced"],
                "wall_s": round(run["seconds"], 2),
                "cpu_s": round(run["cpu_s"], 2),
                "records_per_cpu_s": round(records / run["cpu_s"], 1),
                "warc_mb_per_cpu_s": round(warc_bytes / 1e6 / run["cpu_s"], 3),
                "peak_rss_mb": run["peak_rss_mb"],
            }
            _LOG.info("warc: %s", json.dumps(warc))

    emit(
        {
            "benchmark": "scale",
            "what": "tailguard run with configs/local.yaml stages, generated JSONL.zst, "
            + (
                "FnApiRunner in_memory (1 process)"
                if args.runner == "local"
                else "real Flink session cluster (deploy/flink/local.sh, configs/flink-local.yaml, parallelism "
                + (str(args.parallelism) if args.parallelism else "2")
                + (f", curate job {args.curate_parallelism}" if args.curate_parallelism else "")
                + ")"
            ),
            "runner": args.runner,
            "dedup_near_max_rounds": args.dedup_near_max_rounds or "config",
            "stages_enabled": enabled,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "note": "shared 2-core machine: other jobs ran at the same time, so wall times are upper bounds",
            },
            "input": {
                "generator": "sentences of the Python reference docs, 8-22 per doc, 3% exact + 3% case-only near duplicates (removed by dedup_exact: lower)",
                **({str(n): v for n, v in inputs.items()}),
            },
            "sizes": sizes,
            "per_stage": {"docs": args.per_stage_size, "runs": per_stage},
            "warc": warc,
            "not_run": {str(n): "not run (see deploy/SCALING.md)" for n in (1_000_000,) if n not in args.sizes},
        }
    )


if __name__ == "__main__":
    main()
