"""datatrove's MinHash near-dedup on the benchmark corpus; run by the datatrove venv's python.

Usage (``benchmarks/dedup.py --peers`` runs it; stdlib + datatrove only, no tailguard import)::

    PEER_PYTHON benchmarks/peers/datatrove_minhash.py --input corpus.jsonl --workdir DIR --output result.json \
        --ngram 5 --bands 20 --rows 6 --seed 1

The four public pipeline steps of datatrove's FineWeb recipe, each through a ``LocalPipelineExecutor``
with ``workers=1`` (everything in this process, so the parent's ``wait4`` sees all of its CPU):
``JsonlReader -> MinhashDedupSignature`` (tasks=1), ``MinhashDedupBuckets`` (tasks = bands: the step
asserts that its task count is a multiple of ``num_buckets``, one bucket per task, run one after the
other), ``MinhashDedupCluster`` (tasks=1, cluster ids saved), ``JsonlReader -> MinhashDedupFilter ->
JsonlWriter`` (tasks=1, removed documents to an exclusion writer).

Writes ``{"version", "settings", "not_matched", "survivors", "clusters"}``: survivor ids and, for
every document in a duplicate cluster, its cluster id (``minhash_cluster_id``).
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
from importlib.metadata import version


def _read_jsonl_gz(pattern: str) -> list[dict]:
    rows: list[dict] = []
    for path in sorted(glob.glob(pattern)):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle if line.strip()]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True, help="JSONL file of {id, text}")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--ngram", type=int, default=5)
    parser.add_argument("--bands", type=int, default=20)
    parser.add_argument("--rows", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.text import TextNormConfig
    from datatrove.utils.typeshelper import Languages

    # FineWeb's defaults except the banding and one normalisation flag: 64-bit xxhash shingle
    # hashes, datatrove's text normalisation and its English (spaCy blank) word tokenizer.
    # norm_numbers is off: it maps every digit run to "0", and the benchmark's generated words are
    # "w<rank>", so with it on every document shares the same shingles and all merge into one cluster.
    config = MinhashConfig(
        n_grams=args.ngram,
        num_buckets=args.bands,
        hashes_per_bucket=args.rows,
        seed=args.seed,
        norm_config=TextNormConfig(norm_numbers=False),
        hash_config=HashConfig(precision=64, hash_fc="xxhash"),
    )
    work = args.workdir
    input_dir, input_name = os.path.split(os.path.abspath(args.input))

    def reader() -> JsonlReader:
        return JsonlReader(input_dir, glob_pattern=input_name, text_key="text", id_key="id", add_file_path=False)

    def run(pipeline: list, tasks: int, name: str) -> None:
        LocalPipelineExecutor(
            pipeline=pipeline, tasks=tasks, workers=1, logging_dir=os.path.join(work, "logs", name)
        ).run()

    sigs, buckets, remove_ids = (os.path.join(work, d) for d in ("signatures", "buckets", "remove_ids"))
    signature = MinhashDedupSignature(sigs, config=config, language=Languages.english)
    run([reader(), signature], 1, "1-signatures")
    run([MinhashDedupBuckets(sigs, buckets, config=config)], args.bands, "2-buckets")
    run([MinhashDedupCluster(buckets, remove_ids, config=config, save_cluster_id=True)], 1, "3-clusters")
    run(
        [
            reader(),
            MinhashDedupFilter(
                remove_ids,
                exclusion_writer=JsonlWriter(os.path.join(work, "removed")),
                load_cluster_ids=True,
            ),
            JsonlWriter(os.path.join(work, "kept")),
        ],
        1,
        "4-filter",
    )
    kept = _read_jsonl_gz(os.path.join(work, "kept", "*.jsonl.gz"))
    removed = _read_jsonl_gz(os.path.join(work, "removed", "*.jsonl.gz"))
    clusters = {
        row["id"]: str(row["metadata"]["minhash_cluster_id"])
        for row in kept + removed
        if row.get("metadata", {}).get("minhash_cluster_id", -1) != -1
    }
    result = {
        "version": {"datatrove": version("datatrove"), "spacy": version("spacy"), "xxhash": version("xxhash")},
        "settings": {
            "ngram": args.ngram,
            "bands": args.bands,
            "rows": args.rows,
            "num_perm": args.bands * args.rows,
            "seed": args.seed,
            "hash": "xxhash64 shingles, (a*x+b) mod 2^61-1 permutations",
            "tokenizer": "datatrove simplify_text (norm_numbers off) + spaCy blank 'en' word tokenizer",
            "executor": "LocalPipelineExecutor workers=1; tasks 1 / bands / 1 / 1",
            "verification": "none (every band collision is a duplicate pair)",
        },
        "not_matched": [
            f"num_perm {args.bands * args.rows} (bands x rows), not 128: datatrove computes exactly "
            "num_buckets x hashes_per_bucket hashes",
            "no estimated-Jaccard verification of candidate pairs (tailguard verifies down to its cut-off)",
            "shingles from datatrove's own normalisation and tokenizer, not tailguard's \\w+ words; "
            "norm_numbers turned off (FineWeb default on) because the generated words are w<number>",
            "survivor: datatrove keeps one member per cluster (union-find root), not the smallest id",
        ],
        "survivors": sorted(row["id"] for row in kept),
        "removed": sorted(row["id"] for row in removed),
        "clusters": clusters,
    }
    with open(args.output, "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
