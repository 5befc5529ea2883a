"""text-dedup's MinHash + LSH near-dedup on the benchmark corpus; run by the text-dedup venv's python.

Usage (``benchmarks/dedup.py --peers`` runs it; stdlib + text-dedup only, no tailguard import)::

    PEER_PYTHON benchmarks/peers/text_dedup_minhash.py --input corpus.jsonl --workdir DIR --output result.json \
        --ngram 5 --num-perm 128 --bands 20 --rows 6 --threshold 0.7

Runs text-dedup's own ``text_dedup.minhash`` command (its click entry point, in this process, so the
parent's ``wait4`` sees all of its CPU) with ``--num_proc 1``: the JSONL is loaded by
``datasets.load_dataset("json")``, signed, banded, clustered with union-find and filtered, and the
kept rows are saved with ``save_to_disk``. ``--debug`` makes it dump its union-find keyed by our ids
(``--idx_column id``), which gives the clusters.

Writes ``{"version", "settings", "not_matched", "survivors", "clusters"}``: survivor ids and, for
every document in a duplicate cluster, its cluster key (the union-find root).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle  # nosec: text-dedup's own dump, written by this process just before
from importlib.metadata import version


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True, help="JSONL file of {id, text}")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--ngram", type=int, default=5)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--bands", type=int, default=20)
    parser.add_argument("--rows", type=int, default=6)
    parser.add_argument("--threshold", type=float, default=0.7)
    args = parser.parse_args()

    # offline: the "json" builder is packaged with datasets; nothing may be fetched from the Hub
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from datasets import load_from_disk
    from text_dedup.minhash import main as text_dedup_minhash

    out_dir = os.path.join(args.workdir, "kept")
    argv = [
        "--path", "json",
        "--data_files", os.path.abspath(args.input),
        "--split", "train",
        "--cache_dir", os.path.join(args.workdir, "hf-cache"),
        "--output", out_dir,
        "--column", "text",
        "--idx_column", "id",
        "--num_proc", "1",
        "--ngram", str(args.ngram),
        "--min_length", "0",  # keep documents shorter than ngram words (the default 5 drops them)
        "--num_perm", str(args.num_perm),
        "--threshold", str(args.threshold),
        "--b", str(args.bands),
        "--r", str(args.rows),
        "--debug",
    ]  # fmt: skip
    text_dedup_minhash.main(args=argv, standalone_mode=False)
    survivors = sorted(load_from_disk(out_dir)["id"])
    with open(os.path.join(out_dir, "uf.pkl"), "rb") as handle:
        union_find = pickle.load(handle)  # nosec
    clusters = {str(doc_id): str(union_find.find(doc_id)) for doc_id in union_find.parent}
    sizes: dict[str, int] = {}
    for root in clusters.values():
        sizes[root] = sizes.get(root, 0) + 1
    result = {
        "version": {"text-dedup": version("text-dedup"), "datasets": version("datasets")},
        "settings": {
            "ngram": args.ngram,
            "num_perm": args.num_perm,
            "threshold": args.threshold,  # passed, but with --b/--r given text-dedup does not use it
            "bands": args.bands,
            "rows": args.rows,
            "hash": "sha1 (32 of its bits) shingles, (a*x+b) mod 2^61-1 permutations (hash_bits 64)",
            "tokenizer": "lowercase, split on \\W, word n-grams",
            "num_proc": 1,
            "min_length": 0,
            "verification": "none (every band collision is a duplicate pair)",
        },
        "not_matched": [
            "no estimated-Jaccard verification of candidate pairs (tailguard verifies down to its cut-off)",
            f"only the first bands x rows = {args.bands * args.rows} of {args.num_perm} permutations are banded",
            "permutation seed fixed by text-dedup (module RandomState(42)); its --seed option is unused",
            "survivor: the union-find root of text-dedup's row index, not the smallest id",
        ],
        "survivors": [str(doc_id) for doc_id in survivors],
        "clusters": {doc_id: root for doc_id, root in clusters.items() if sizes[root] > 1},
    }
    with open(args.output, "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
