"""Benchmark of the dedup stages: planted near-duplicates, hard negatives, real labelled sets.

Usage: ``python benchmarks/dedup.py --docs 10000`` prints ONE JSON object (logs go to stderr).

The synthetic corpus has Zipf-distributed words and
* planted near-duplicates of base documents at target word-5-gram Jaccard levels
  (0.70-0.98; the exact Jaccard of every pair is measured and reported);
* hard negatives: pairs sharing a large template (60 % of the words) and pairs
  sharing half their paragraphs (true Jaccard ~0.3-0.45: must NOT be merged);
* unique documents.

The real Beam stages (``DedupExact`` then ``DedupNearDuplicates``) run on the
in-process FnApiRunner with the default config.  A single-process
``datasketch.MinHashLSH`` reference with the same bands/rows, the same
verification cut-off and union-find clustering runs on the same documents.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import resource
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


def make_corpus(n_docs: int, seed: int = 0) -> tuple[list[dict[str, Any]], dict[str, str], list[tuple[str, str, float]]]:
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


def run_beam(rows: list[dict[str, Any]], workdir: str, near_cfg: Any = None) -> tuple[dict[str, str], dict[str, str], float]:
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
            | "Parse" >> beam.Map(lambda line: Document(**{k: v for k, v in json.loads(line).items() if k in ("id", "text")}))
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


def score(cluster: dict[str, str], reason: dict[str, str], group: dict[str, str], pairs: list[tuple[str, str, float]]) -> dict[str, Any]:
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


def datasketch_reference(rows: list[dict[str, Any]], near_cfg: Any) -> tuple[dict[str, str], float]:
    """Single-process datasketch MinHash + MinHashLSH + verification + union-find; returns (root per id, s)."""
    import datasketch

    from tailguard.filters.dedup import word_shingles

    params = near_cfg.lsh_params()
    cutoff = near_cfg.cutoff()
    start = time.perf_counter()
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
    seconds = time.perf_counter() - start
    return {d: find(d) for d in sigs}, seconds


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference-max", type=int, default=100000, help="skip datasketch above this many docs")
    parser.add_argument("--no-real", action="store_true", help="skip ../shared/data/neardup sets")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tailguard.transforms.dedup_near import DedupNearConfig

    near_cfg = DedupNearConfig()
    t0 = time.perf_counter()
    rows, group, pairs = make_corpus(args.docs, args.seed)
    _LOG.info("generated %d docs in %.1fs", len(rows), time.perf_counter() - t0)
    result: dict[str, Any] = {"docs": len(rows), "config": {
        "num_perm": near_cfg.num_perm, "threshold": near_cfg.threshold, "ngram": near_cfg.ngram,
        "bands": near_cfg.lsh_params().bands, "rows": near_cfg.lsh_params().rows,
        "verify_cutoff": round(near_cfg.cutoff() or 0.0, 4), "runner": "FnApiRunner in_memory, 1 worker",
    }}
    with tempfile.TemporaryDirectory() as workdir:
        cluster, reason, seconds = run_beam(rows, workdir)
        with open(OutputLayout(workdir).stats("dedup_near")) as handle:
            result["stage_stats"] = json.loads(handle.readline())
        result["seconds"] = round(seconds, 2)
        result["docs_per_s"] = round(len(rows) / seconds, 1)
        # CPU time is less sensitive than wall time to other jobs sharing the 2 cores
        result["cpu_seconds"] = round(_LAST_RUN["cpu_seconds"], 2)
        result["peak_rss_mb"] = round(_rss_mb(), 1)
        result.update(score(cluster, reason, group, pairs))
        result["removed_by_reason"] = {k: sum(1 for v in reason.values() if v == k) for k in sorted(set(reason.values()))}
        if len(rows) <= args.reference_max:
            ref, ref_seconds = datasketch_reference(rows, near_cfg)
            ours = {d: _root(cluster, d) for d in ref}
            result["datasketch"] = {
                "seconds": round(ref_seconds, 2),
                "docs_per_s": round(len(rows) / ref_seconds, 1),
                "survivor_agreement": round(sum(1 for d in ref if ref[d] == ours[d]) / len(ref), 5),
                **{k: v for k, v in score(_as_cluster(ref), _as_reason(ref), group, pairs).items()
                   if k in ("precision", "recall_j07", "recall_j08", "removed")},
            }
        else:
            result["datasketch"] = {"skipped": f"--docs above --reference-max {args.reference_max}"}
        if not args.no_real:
            result["ndd"] = ndd_sets(workdir)
            result["cs336_fuzzy"] = cs336_fixture(workdir)
    result["peak_rss_mb_incl_reference"] = round(_rss_mb(), 1)
    print(json.dumps(result, sort_keys=True))
    return 0


def _as_cluster(roots: dict[str, str]) -> dict[str, str]:
    return dict(roots)


def _as_reason(roots: dict[str, str]) -> dict[str, str]:
    return {d: "near_duplicate" for d, r in roots.items() if d != r}


if __name__ == "__main__":
    raise SystemExit(main())
