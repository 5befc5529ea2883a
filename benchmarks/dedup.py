"""Benchmark of the dedup stages: planted near-duplicates, hard negatives, real labelled sets.

Usage: ``python benchmarks/dedup.py --docs 10000 [--peers]`` prints ONE JSON object (logs go to stderr).

The synthetic corpus has Zipf-distributed words and
* planted near-duplicates of base documents at target word-5-gram Jaccard levels
  (0.70-0.98; the exact Jaccard of every pair is measured and reported);
* hard negatives: pairs sharing a large template (60 % of the words) and pairs
  sharing half their paragraphs (true Jaccard ~0.3-0.45: must NOT be merged);
* unique documents.

Measured side by side in one run, on the same corpus, all in CPU seconds
(user + sys; wall time is reported too but depends on the other jobs):

* **tailguard**: ``tailguard run`` with only ``dedup_exact`` + ``dedup_near`` enabled
  (the dedup-only config), in a fresh interpreter on the in-process FnApiRunner;
  CPU from ``wait4`` (start-up, reading and writing included).  Keys ``cpu_s``,
  ``docs_per_s`` (wall), ``docs_per_cpu_s``, ``precision``, ``recall_j07``, ``recall_j08``.
* **datasketch**: single-process ``datasketch.MinHash`` + ``MinHashLSH`` with the same
  bands/rows, the same verification cut-off and union-find (``datasketch_cpu_s``,
  ``ratio_vs_datasketch`` = tailguard docs/CPU-s ÷ datasketch docs/CPU-s).
* **signing alone**: ``BatchSigner`` (vectorised shingling + one-permutation MinHash)
  vs the datasketch-compatible path (``word_shingles`` + ``MinHasher``), docs/CPU-s.
* ``--peers``: text-dedup and datatrove, each from its own venv when present
  (``benchmarks/README.md`` says how to create them), same corpus and threshold.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

_LOG = logging.getLogger("bench.dedup")
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "neardup"
_LAST_RUN: dict[str, float] = {}  # CPU seconds of the last run_beam (in-process runner: this process)
_LEVELS = (0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 0.98)


def _rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


# ----------------------------------------------------------------------------- corpus


class _Words:
    def __init__(self, rng: np.random.Generator, vocab: int = 30000) -> None:
        self._rng = rng
        ranks = np.arange(1, vocab + 1)
        p = 1.0 / ranks**1.05
        self._p = p / p.sum()
        self._vocab = np.array([f"w{i}" for i in range(vocab)])

    def draw(self, n: int) -> list[str]:
        return list(self._vocab[self._rng.choice(self._vocab.size, size=n, p=self._p)])


def _mutate(words: list[str], target: float, rng: np.random.Generator, fresh: _Words) -> list[str]:
    """Replace random words so that about ``target`` of the 5-gram Jaccard remains."""
    keep = 2 * target / (1 + target)  # fraction of shingles that must survive
    p = 1 - keep ** (1 / 5)
    out = list(words)
    positions = np.nonzero(rng.random(len(words)) < p)[0]
    for pos, word in zip(positions, fresh.draw(len(positions))):
        out[int(pos)] = word
    return out


def _shingle_set(text: str) -> set[bytes]:
    from tailguard.filters.dedup import word_shingles

    return word_shingles(text, 5)


def _jaccard(a: set[bytes], b: set[bytes]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def make_corpus(
    n_docs: int, seed: int = 0
) -> tuple[list[dict[str, Any]], dict[str, str], list[tuple[str, str, float]]]:
    """Return (rows, truth group of each id, planted (dup, base, true J) pairs)."""
    rng = np.random.default_rng(seed)
    words = _Words(rng)
    rows: list[dict[str, Any]] = []
    group: dict[str, str] = {}
    planted: list[tuple[str, str, float]] = []
    hard_pairs: list[tuple[str, str, float]] = []

    def add(doc_id: str, text_words: list[str], truth: str) -> None:
        rows.append({"id": doc_id, "text": " ".join(text_words)})
        group[doc_id] = truth

    n_dup_docs = int(n_docs * 0.3)
    n_hard = int(n_docs * 0.2)
    i = 0
    while len(rows) < n_dup_docs:  # clusters: one base + 1-3 near-duplicates
        base_id = f"b{i:07d}"
        base = words.draw(int(rng.integers(150, 600)))
        add(base_id, base, base_id)
        for k in range(int(rng.integers(1, 4))):
            level = float(rng.choice(_LEVELS))
            dup_id = f"p{i:07d}-{k}"
            add(dup_id, _mutate(base, level, rng, words), base_id)
        i += 1
    j = 0
    while len(rows) < n_dup_docs + n_hard:  # hard negatives, in pairs
        if j % 2 == 0:  # shared template: 60 % of the words (boilerplate) + own content
            template = words.draw(240)
            a = template[:120] + words.draw(160) + template[120:]
            b = template[:120] + words.draw(160) + template[120:]
        else:  # share half of their paragraphs
            paras = [words.draw(60) for _ in range(8)]
            a = [w for para in paras[:4] + [words.draw(60) for _ in range(4)] for w in para]
            b = [w for para in paras[:4] + [words.draw(60) for _ in range(4)] for w in para]
        add(f"h{j:07d}-a", a, f"h{j:07d}-a")
        add(f"h{j:07d}-b", b, f"h{j:07d}-b")
        j += 1
    k = 0
    while len(rows) < n_docs:
        add(f"u{k:07d}", words.draw(int(rng.integers(100, 600))), f"u{k:07d}")
        k += 1
    texts = {r["id"]: r["text"] for r in rows}
    for doc_id, truth in group.items():
        if doc_id.startswith("p"):
            planted.append((doc_id, truth, _jaccard(_shingle_set(texts[doc_id]), _shingle_set(texts[truth]))))
        elif doc_id.endswith("-a"):
            other = doc_id[:-2] + "-b"
            hard_pairs.append((doc_id, other, _jaccard(_shingle_set(texts[doc_id]), _shingle_set(texts[other]))))
    perm = rng.permutation(len(rows))
    rows = [rows[int(x)] for x in perm]
    return rows, group, planted + [("hard", a, jv) for a, _, jv in hard_pairs]


# ----------------------------------------------------------------------------- beam run


def run_beam(
    rows: list[dict[str, Any]], workdir: str, near_cfg: Any = None
) -> tuple[dict[str, str], dict[str, str], float]:
    """Run DedupExact + DedupNearDuplicates; return (cluster id per doc, reason per removed doc, seconds)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from tailguard.filters.document import Document
    from tailguard.filters.layout import OutputLayout
    from tailguard.transforms.dedup_exact import DedupExact, DedupExactConfig
    from tailguard.transforms.dedup_near import DedupNearConfig, DedupNearDuplicates

    src = os.path.join(workdir, "in.jsonl")
    with open(src, "w") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    prefix = os.path.join(workdir, "result")
    near_cfg = near_cfg or DedupNearConfig()
    start, cpu_start = time.perf_counter(), time.process_time()
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        docs = (
            p
            | "Read" >> beam.io.ReadFromText(src)
            | "Parse"
            >> beam.Map(lambda line: Document(**{k: v for k, v in json.loads(line).items() if k in ("id", "text")}))
        )
        exact = docs | "Exact" >> DedupExact(DedupExactConfig())
        near = exact.docs | "Near" >> DedupNearDuplicates(near_cfg, OutputLayout(workdir))
        kept = near.docs | "K" >> beam.Map(lambda d: json.dumps([d.id, d.dup_cluster_id, "kept"]))
        dropped = (exact.rejected, near.rejected) | "AllRejected" >> beam.Flatten()
        dropped_json = dropped | "R" >> beam.Map(lambda r: json.dumps([r.id, r.detail, r.reason]))
        _ = (kept, dropped_json) | "Both" >> beam.Flatten() | "Write" >> beam.io.WriteToText(prefix)
    seconds = time.perf_counter() - start
    _LAST_RUN["cpu_seconds"] = time.process_time() - cpu_start
    cluster: dict[str, str] = {}
    reason: dict[str, str] = {}
    for path in glob.glob(prefix + "*"):
        with open(path) as handle:
            for line in handle:
                doc_id, root, why = json.loads(line)
                cluster[doc_id] = root
                if why != "kept":
                    reason[doc_id] = why
    return cluster, reason, seconds


def _root(cluster: dict[str, str], doc_id: str) -> str:
    seen = 0
    while cluster.get(doc_id, doc_id) != doc_id and seen < 10:  # exact dup → near dup chains
        doc_id = cluster[doc_id]
        seen += 1
    return doc_id


def score(
    cluster: dict[str, str], reason: dict[str, str], group: dict[str, str], pairs: list[tuple[str, str, float]]
) -> dict[str, Any]:
    """Precision of removals, recall of planted pairs by Jaccard level, hard-negative merges."""
    removed = list(reason)
    correct = sum(1 for d in removed if group[d] == group[_root(cluster, d)])
    out: dict[str, Any] = {"removed": len(removed), "precision": round(correct / len(removed), 4) if removed else 1.0}
    planted = [(a, b, j) for a, b, j in pairs if a != "hard"]
    for name, lo in (("recall_j07", 0.7), ("recall_j08", 0.8), ("recall_j09", 0.9)):
        chosen = [(a, b) for a, b, j in planted if j >= lo]
        hit = sum(1 for a, b in chosen if _root(cluster, a) == _root(cluster, b))
        out[name] = round(hit / len(chosen), 4) if chosen else None
        out[name.replace("recall", "pairs")] = len(chosen)
    below = [(a, b) for a, b, j in planted if j < 0.7]
    out["pairs_below_j07"] = len(below)
    out["merged_below_j07"] = sum(1 for a, b in below if _root(cluster, a) == _root(cluster, b))
    hard = [(a, a[:-2] + "-b", j) for x, a, j in pairs if x == "hard"]
    out["hard_negative_pairs"] = len(hard)
    out["hard_negative_max_jaccard"] = round(max((j for _, _, j in hard), default=0.0), 3)
    out["hard_negatives_merged"] = sum(1 for a, b, _ in hard if _root(cluster, a) == _root(cluster, b))
    return out


# ----------------------------------------------------------------------------- reference


def datasketch_reference(rows: list[dict[str, Any]], near_cfg: Any) -> tuple[dict[str, str], float, float]:
    """Single-process datasketch MinHash + MinHashLSH + verification + union-find.

    Returns:
        (root per id, wall seconds, CPU seconds); shingling (``word_shingles``) included.
    """
    import datasketch

    from tailguard.filters.dedup import word_shingles

    params = near_cfg.lsh_params()
    cutoff = near_cfg.cutoff()
    start, cpu_start = time.perf_counter(), time.process_time()
    lsh = datasketch.MinHashLSH(num_perm=near_cfg.num_perm, params=(params.bands, params.rows))
    sigs: dict[str, Any] = {}
    for r in rows:
        m = datasketch.MinHash(num_perm=near_cfg.num_perm, seed=near_cfg.seed)
        m.update_batch(list(word_shingles(r["text"], near_cfg.ngram)))
        sigs[r["id"]] = m
        lsh.insert(r["id"], m)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for doc_id, m in sigs.items():
        for other in lsh.query(m):
            if other != doc_id and (cutoff is None or m.jaccard(sigs[other]) >= cutoff):
                a, b = find(doc_id), find(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    roots = {d: find(d) for d in sigs}
    return roots, time.perf_counter() - start, time.process_time() - cpu_start


# ----------------------------------------------------------------------------- real sets


def ndd_sets(workdir: str) -> dict[str, Any]:
    """NDD docsets: 5 graded clusters (file00-file49) among 1,000 documents per collection."""
    path = SHARED / "ndd-docsets" / "NDD-Collection.zip"
    if not path.exists():
        return {"skipped": "../shared/data/neardup not present"}
    out: dict[str, Any] = {}
    with zipfile.ZipFile(path) as archive:
        for collection in ("R8", "webkb"):
            rows, group = [], {}
            for name in archive.namelist():
                if not (name.startswith(collection + "/") and name.endswith(".txt")):
                    continue
                stem = name.rsplit("/", 1)[-1][:-4]
                number = int(stem[4:]) if stem[4:].isdigit() else -1
                doc_id = f"{collection}-{stem}"
                rows.append({"id": doc_id, "text": archive.read(name).decode("utf-8", "replace")})
                heads = (0, 11, 21, 31, 41)
                head = max((h for h in heads if h <= number), default=None) if 0 <= number <= 49 else None
                group[doc_id] = f"{collection}-file{head:02d}" if head is not None else doc_id
            texts = {r["id"]: r["text"] for r in rows}
            pairs = [
                (d, g, _jaccard(_shingle_set(texts[d]), _shingle_set(texts[g])))
                for d, g in group.items()
                if g != d and g in texts
            ]
            sub = os.path.join(workdir, collection)
            os.makedirs(sub)
            cluster, reason, _ = run_beam(rows, sub)
            result = score(cluster, reason, group, pairs)
            result["docs"] = len(rows)
            result["cluster_member_pairs"] = len(pairs)
            result["recall_all_members"] = round(
                sum(1 for a, b, _ in pairs if _root(cluster, a) == _root(cluster, b)) / len(pairs), 4
            )
            out[collection] = result
    return out


def cs336_fixture(workdir: str) -> dict[str, Any]:
    """CS336 fuzzy-duplicate fixture: the two MIT licences are near-duplicates, PyTorch's is not."""
    folder = SHARED / "cs336-fixtures" / "documents_with_fuzzy_duplicates"
    if not folder.exists():
        return {"skipped": "../shared/data/neardup not present"}
    rows = [{"id": p.stem, "text": p.read_text()} for p in sorted(folder.glob("*.txt"))]
    sub = os.path.join(workdir, "cs336")
    os.makedirs(sub)
    cluster, reason, _ = run_beam(rows, sub)
    kept = sorted(d for d in cluster if d not in reason)
    j = _jaccard(_shingle_set(rows[1]["text"]), _shingle_set(rows[2]["text"])) if len(rows) == 3 else None
    return {
        "kept": kept,
        "removed": {d: cluster[d] for d in reason},
        "expected_kept_count": 2,
        "correct": len(kept) == 2 and "pytorch_license" in kept,
        "mit_pair_jaccard_w5": round(j, 3) if j is not None else None,
    }


def _read_jsonl_zst(paths: list[str]) -> list[dict[str, Any]]:
    import io

    import zstandard

    rows: list[dict[str, Any]] = []
    for path in paths:
        with open(path, "rb") as handle:
            text = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(handle), encoding="utf-8")
            rows += [json.loads(line) for line in text if line.strip()]
    return rows


def run_tailguard(rows: list[dict[str, Any]], workdir: str) -> dict[str, Any]:
    """``tailguard run`` with the dedup-only config in a fresh interpreter; CPU and RSS from ``wait4``.

    Returns:
        ``cluster`` (survivor id per doc), ``reason`` (per removed doc), ``wall_s``,
        ``cpu_s``, ``peak_rss_mb`` and the manifest's ``dedup_near`` section.
    """
    import yaml

    from tailguard.pipelines.stages import STAGES

    src = os.path.join(workdir, "tg-in.jsonl")
    with open(src, "w") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    config = {
        "pipeline": {"runner": "FnApiRunner"},
        "write": {"format": "jsonl.zst", "num_shards": 1},
        "collapse": {"enabled": False},
        **{spec.name: {"enabled": spec.name in ("dedup_exact", "dedup_near")} for spec in STAGES},
    }
    config_path = os.path.join(workdir, "tg-dedup-only.yaml")
    with open(config_path, "w") as handle:
        yaml.safe_dump(config, handle)
    out = os.path.join(workdir, "tg-out")
    cmd = [
        sys.executable,
        "-m",
        "tailguard.pipelines.cli",
        "run",
        "--config",
        config_path,
        "--input",
        src,
        "--output",
        out,
    ]
    start = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "tg.log"), "w"))
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"tailguard run failed (exit {os.waitstatus_to_exitcode(status)}); log: {workdir}/tg.log")
    cluster: dict[str, str] = {}
    reason: dict[str, str] = {}
    for doc in _read_jsonl_zst(sorted(glob.glob(os.path.join(out, "corpus", "*.jsonl.zst")))):
        cluster[doc["id"]] = doc["dup_cluster_id"] or doc["id"]
    for rec in _read_jsonl_zst(sorted(glob.glob(os.path.join(out, "rejected", "*", "*.jsonl.zst")))):
        cluster[rec["id"]] = rec["detail"]
        reason[rec["id"]] = rec["reason"]
    with open(os.path.join(out, "manifest.json")) as handle:
        manifest = json.load(handle)
    return {
        "cluster": cluster,
        "reason": reason,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "dedup_near": manifest.get("dedup_near", {}),
        "balanced": manifest["ledger"]["balanced"],
    }


def measure_signing(rows: list[dict[str, Any]], near_cfg: Any, compat_max: int) -> dict[str, Any]:
    """Docs/CPU-s of signing alone: the vectorised signer and the datasketch-compatible path."""
    from tailguard.filters.dedup import BatchSigner, MinHasher, word_shingles
    from tailguard.filters.dedup.signing import word_char_table

    texts = [r["text"] for r in rows]
    batch = near_cfg.batch_size
    word_char_table()  # built once per process (~0.1 s), not per batch
    signer = BatchSigner(near_cfg.num_perm, near_cfg.seed, near_cfg.shingle, near_cfg.ngram, near_cfg.lowercase)
    cpu = time.process_time()
    for i in range(0, len(texts), batch):
        signer.sign(texts[i : i + batch])
    fast = time.process_time() - cpu
    subset = texts[:compat_max]
    hasher = MinHasher(near_cfg.num_perm, near_cfg.seed)
    cpu = time.process_time()
    for i in range(0, len(subset), batch):
        hasher.signatures([word_shingles(t, near_cfg.ngram) for t in subset[i : i + batch]])
    compat = time.process_time() - cpu
    fast_rate, compat_rate = len(texts) / fast, len(subset) / compat
    return {
        "docs_per_cpu_s": round(fast_rate, 1),
        "datasketch_compatible_docs_per_cpu_s": round(compat_rate, 1),
        "datasketch_compatible_docs": len(subset),
        "speedup": round(fast_rate / compat_rate, 2),
        "batch_size": batch,
    }


def peers_dir() -> Path:
    """Where the peers' venvs are: ``$TAILGUARD_PEERS_DIR``, default ``~/.cache/tailguard-peers``."""
    return Path(os.environ.get("TAILGUARD_PEERS_DIR", Path.home() / ".cache" / "tailguard-peers"))


PEER_RUNNERS = {"text-dedup": "text_dedup_minhash.py", "datatrove": "datatrove_minhash.py"}  # benchmarks/peers/
PEER_TIMEOUT_S = 3600.0


def write_corpus_jsonl(rows: list[dict[str, Any]], path: str) -> str:
    """Write the generated corpus as JSONL of ``{"id", "text"}`` (what the peer runners read)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows)
    return path


def peer_clusters(peer: dict[str, Any], ids: list[str]) -> tuple[dict[str, str], dict[str, str], int]:
    """Turn a peer runner's survivors + clusters into ``score``'s (cluster, reason) maps.

    Every member of a duplicate cluster points at the cluster's survivor (the smallest surviving id
    when a peer kept several, the smallest id when it kept none); a removed document counts as a
    ``near_duplicate`` removal. Returns (cluster, reason, ids neither kept nor in a cluster).
    """
    survivors = set(peer["survivors"])
    members: dict[str, list[str]] = {}
    for doc_id, key in peer["clusters"].items():
        members.setdefault(key, []).append(doc_id)
    cluster: dict[str, str] = {}
    for docs in members.values():
        kept = sorted(d for d in docs if d in survivors)
        representative = kept[0] if kept else min(docs)
        cluster.update((d, representative) for d in docs)
    reason = {d: "near_duplicate" for d in ids if d not in survivors}
    unaccounted = sum(1 for d in reason if d not in cluster)
    return cluster, reason, unaccounted


def _tail(path: str, chars: int = 2000) -> str:
    try:
        with open(path, errors="replace") as handle:
            return handle.read()[-chars:]
    except OSError as error:
        return f"(no log: {error})"


def run_peer(name: str, python: Path, corpus: str, near_cfg: Any, workdir: str) -> dict[str, Any]:
    """Run one peer's runner script with its own venv's python; CPU (user + sys) from ``wait4``.

    Returns:
        the runner's JSON plus ``cpu_s`` and ``wall_s``; raises ``RuntimeError`` with the log's tail
        when the runner fails or times out.
    """
    import threading

    params = near_cfg.lsh_params()
    script = Path(__file__).resolve().parent / "peers" / PEER_RUNNERS[name]
    peer_dir = os.path.join(workdir, f"peer-{name}")
    os.makedirs(peer_dir)
    result_path, log_path = os.path.join(peer_dir, "result.json"), os.path.join(peer_dir, "run.log")
    cmd = [str(python), str(script), "--input", corpus, "--workdir", os.path.join(peer_dir, "work")]
    cmd += ["--output", result_path, "--ngram", str(near_cfg.ngram), "--bands", str(params.bands)]
    cmd += ["--rows", str(params.rows)]
    if name == "text-dedup":
        cmd += ["--num-perm", str(near_cfg.num_perm), "--threshold", str(near_cfg.threshold)]
    else:
        cmd += ["--seed", str(near_cfg.seed)]
    # the peer's own interpreter and libraries only: no tailguard venv, no PYTHONPATH; progress bars off
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(TQDM_DISABLE="1", HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    start = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=peer_dir)
        timer = threading.Timer(PEER_TIMEOUT_S, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4; keep Popen from waiting
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"exit {process.returncode} after {wall:.0f} s; log tail: {_tail(log_path)}")
    with open(result_path) as handle:
        result: dict[str, Any] = json.load(handle)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["wall_s"] = wall
    # no peak RSS: wait4's ru_maxrss of a child spawned from this process is floored by this
    # process's own RSS at the spawn (the copied address space), so it would not be the peer's
    return result


def run_peers(
    rows: list[dict[str, Any]],
    group: dict[str, str],
    pairs: list[tuple[str, str, float]],
    near_cfg: Any,
    workdir: str,
    venvs: Path | None = None,
) -> dict[str, Any]:
    """text-dedup and datatrove, each from its own venv under ``venvs`` (default ``peers_dir()``).

    Each runs its ``benchmarks/peers/`` script on the same corpus (JSONL) with tailguard's n-gram size
    and bands x rows, and is scored by the same ``score`` as tailguard. A peer whose venv is absent,
    or whose run fails, is ``{"skipped": reason}``; it never fails the benchmark.
    """
    venvs = venvs or peers_dir()
    out: dict[str, Any] = {}
    corpus = os.path.join(workdir, "peers-corpus.jsonl")
    ids = [r["id"] for r in rows]
    for name in PEER_RUNNERS:
        python = venvs / name / "bin" / "python"
        if not python.exists():
            out[name] = {"skipped": f"no venv at {python} (see benchmarks/README.md)"}
            continue
        if not os.path.exists(corpus):
            write_corpus_jsonl(rows, corpus)
        try:
            peer = run_peer(name, python, corpus, near_cfg, workdir)
            cluster, reason, unaccounted = peer_clusters(peer, ids)
            quality = score(cluster, reason, group, pairs)
        except Exception as error:  # noqa: BLE001 - a peer's failure is reported, never fatal
            _LOG.warning("peer %s failed: %s", name, error)
            out[name] = {"skipped": f"{type(error).__name__}: {error}"}
            continue
        out[name] = {
            "cpu_s": round(peer["cpu_s"], 2),
            "wall_s": round(peer["wall_s"], 2),
            "docs_per_cpu_s": round(len(rows) / peer["cpu_s"], 1),
            **{
                k: quality[k]
                for k in (
                    "precision",
                    "recall_j07",
                    "recall_j08",
                    "removed",
                    "merged_below_j07",
                    "hard_negatives_merged",
                )
            },
            "unaccounted": unaccounted,
            "settings": peer["settings"],
            "not_matched": peer["not_matched"],
            "version": peer["version"],
        }
        _LOG.info("%s: %.1f CPU s", name, peer["cpu_s"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference-max", type=int, default=100000, help="skip datasketch above this many docs")
    parser.add_argument("--no-real", action="store_true", help="skip ../shared/data/neardup sets")
    parser.add_argument("--peers", action="store_true", help="also run text-dedup and datatrove from their venvs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tailguard.transforms.dedup_near import DedupNearConfig

    near_cfg = DedupNearConfig()
    t0 = time.perf_counter()
    rows, group, pairs = make_corpus(args.docs, args.seed)
    _LOG.info("generated %d docs in %.1fs", len(rows), time.perf_counter() - t0)
    params = near_cfg.lsh_params()
    result: dict[str, Any] = {
        "docs": len(rows),
        "config": {
            "num_perm": near_cfg.num_perm,
            "threshold": near_cfg.threshold,
            "ngram": near_cfg.ngram,
            "bands": params.bands,
            "rows": params.rows,
            "verify_cutoff": round(near_cfg.cutoff() or 0.0, 4),
            "signer": getattr(near_cfg, "signer", "datasketch"),
            "runner": "tailguard run, FnApiRunner in_memory, 1 worker, dedup_exact + dedup_near only",
        },
    }
    with tempfile.TemporaryDirectory() as workdir:
        run = run_tailguard(rows, workdir)
        cluster, reason = run["cluster"], run["reason"]
        result["stage_stats"] = run["dedup_near"]
        result["balanced"] = run["balanced"]
        result["wall_s"] = round(run["wall_s"], 2)
        result["cpu_s"] = round(run["cpu_s"], 2)
        result["docs_per_s"] = round(len(rows) / run["wall_s"], 1)
        result["docs_per_cpu_s"] = round(len(rows) / run["cpu_s"], 1)
        result["peak_rss_mb"] = run["peak_rss_mb"]
        result.update(score(cluster, reason, group, pairs))
        result["removed_by_reason"] = {
            k: sum(1 for v in reason.values() if v == k) for k in sorted(set(reason.values()))
        }
        _LOG.info("tailguard: %.1f CPU s", run["cpu_s"])
        if len(rows) <= args.reference_max:
            ref, ref_seconds, ref_cpu = datasketch_reference(rows, near_cfg)
            ours = {d: _root(cluster, d) for d in ref}
            result["datasketch_cpu_s"] = round(ref_cpu, 2)
            result["ratio_vs_datasketch"] = round(ref_cpu / run["cpu_s"], 3)
            result["datasketch"] = {
                "seconds": round(ref_seconds, 2),
                "cpu_s": round(ref_cpu, 2),
                "docs_per_cpu_s": round(len(rows) / ref_cpu, 1),
                "survivor_agreement": round(sum(1 for d in ref if ref[d] == ours[d]) / len(ref), 5),
                **{
                    k: v
                    for k, v in score(_as_cluster(ref), _as_reason(ref), group, pairs).items()
                    if k in ("precision", "recall_j07", "recall_j08", "removed")
                },
            }
            _LOG.info("datasketch: %.1f CPU s", ref_cpu)
        else:
            result["datasketch_cpu_s"] = None
            result["ratio_vs_datasketch"] = None
            result["datasketch"] = {"skipped": f"--docs above --reference-max {args.reference_max}"}
        result["signing"] = measure_signing(rows, near_cfg, compat_max=min(len(rows), 20000))
        if args.peers:
            result["peers"] = run_peers(rows, group, pairs, near_cfg, workdir)
        if not args.no_real:
            result["ndd"] = ndd_sets(workdir)
            result["cs336_fuzzy"] = cs336_fixture(workdir)
    print(json.dumps(result, sort_keys=True))
    return 0


def _as_cluster(roots: dict[str, str]) -> dict[str, str]:
    return dict(roots)


def _as_reason(roots: dict[str, str]) -> dict[str, str]:
    return {d: "near_duplicate" for d, r in roots.items() if d != r}


if __name__ == "__main__":
    raise SystemExit(main())
