"""Mixing benchmark: throughput and share error of the token-exact sampler.

``python benchmarks/mix.py [--docs 100000]`` prints ONE JSON object:

* ``core``: the two-pass plan in one process (:func:`mix_in_memory`) on ``--docs``
  synthetic documents (tokens 20-2,000, weights 0.5-1.5, 5 % rare-language human docs,
  components 0.7/0.2/0.1, rarity guard on).
* ``beam``: the same documents (text of a few words, tokens preset) through
  :class:`MixByTokens` on the in-process FnApiRunner: docs/s and the manifest's
  realised vs target shares.
* ``tokenizers``: cl100k (tiktoken, bundled ranks) vs the regex estimate on the
  first Austen novel from ../shared/data when present (skipped otherwise).

Each measurement runs in a fresh process (peak RSS is its own).  Logs go to stderr.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import emit, measure_in_subprocess

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SHARES = {"human": 0.7, "filtered_web": 0.2, "curated_synthetic": 0.1}
POOLS = {
    "human": 0.4,
    "filtered_web": 0.5,
    "curated_synthetic": 0.1,
}  # share of documents per pool


def _facts(n: int) -> list[tuple[str, str, int, float, bool]]:
    from tailguard.filters.hashing import stable_hash64

    out = []
    for i in range(n):
        h = stable_hash64("bench", i)
        pick = (h % 1000) / 1000
        component = "human" if pick < POOLS["human"] else "filtered_web" if pick < 0.9 else "curated_synthetic"
        tokens = 20 + (h >> 10) % 1981
        weight = 0.5 + ((h >> 30) % 101) / 100
        rare = component == "human" and (h >> 40) % 20 == 0
        out.append((f"doc-{i:07d}", component, int(tokens), weight, rare))
    return out


def _components() -> Any:
    from tailguard.filters.mixing import ComponentSpec

    return tuple(ComponentSpec(name, share, tiers=(name,)) for name, share in SHARES.items())


def _shares(tokens: dict[str, int]) -> dict[str, float]:
    total = sum(tokens.values())
    return {name: value / total for name, value in tokens.items()}


def run_core(n: int) -> dict[str, Any]:
    from tailguard.filters.mixing import (
        RARITY_SCALE,
        WEIGHT_SCALE,
        MixItem,
        RarityOptions,
        mix_in_memory,
        quantise,
    )

    items = [MixItem(i, c, t, quantise(w, WEIGHT_SCALE), RARITY_SCALE if r else 0) for i, c, t, w, r in _facts(n)]
    start = time.perf_counter()
    plan, copies = mix_in_memory(items, _components(), seed=0, default_max_repeats=4, rarity=RarityOptions())
    seconds = time.perf_counter() - start
    tokens: dict[str, int] = {}
    for item in items:
        tokens[item.component] = tokens.get(item.component, 0) + item.tokens * copies[item.id]
    realised = _shares(tokens)
    return {
        "docs": n,
        "mix_seconds": round(seconds, 3),
        "docs_per_s": round(n / seconds),
        "realized_token_share": {k: round(v, 6) for k, v in realised.items()},
        "max_abs_share_error": max(abs(realised[k] - plan.shares[k]) for k in plan.shares),
        "max_abs_token_error_vs_target": max(abs(tokens[k] - plan.targets[k]) for k in plan.targets),
        "total_tokens": sum(tokens.values()),
        "gamma": plan.gamma,
        "tail": plan.tail,
    }


def run_beam(n: int) -> dict[str, Any]:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from tailguard.filters.document import Document
    from tailguard.filters.mixing import RarityOptions
    from tailguard.transforms.mix import MixByTokens, MixConfig

    docs = [
        Document(
            i,
            f"text of {i}",
            tier=c,
            tokens=t,
            sample_weight=w,
            lang="gd" if r else "en",
        )
        for i, c, t, w, r in _facts(n)
    ]
    with tempfile.TemporaryDirectory() as out:
        # "gd" is 2 % of documents: rare below a 5 % token share.
        rarity = RarityOptions(rare_language_share=0.05)
        config = MixConfig(components=_components(), tokenizer="estimate", rarity=rarity)
        start = time.perf_counter()
        with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
            _ = p | beam.Create(docs, reshuffle=False) | MixByTokens(config, out, seed=0, num_shards=16)
        seconds = time.perf_counter() - start
        report = json.loads((Path(out) / "_work" / "stats" / "mixing.json").read_text())
    return {
        "docs": n,
        "pipeline_seconds": round(seconds, 2),
        "docs_per_s": round(n / seconds),
        "runner": "FnApiRunner in_memory, 1 worker",
        "components": {
            name: {
                "target_token_share": c["target_token_share"],
                "realized_token_share": round(c["realized_token_share"], 6),
                "documents": c["documents"],
                "rows": c["rows"],
            }
            for name, c in report["components"].items()
        },
        "max_abs_share_error": report["max_abs_share_error"],
        "upweighting": {
            k: report["upweighting"].get(k)
            for k in (
                "status",
                "gamma",
                "reference_tail_mass",
                "realized_tail_mass",
                "upweighted_documents",
            )
        },
        "curriculum": report["curriculum"],
    }


def run_tokenizers() -> dict[str, Any]:
    from tailguard.filters.tokens import make_token_counter

    path = SHARED / "human" / "jane-austen-6-novels.jsonl.gz"
    if not path.exists():
        return {"skipped": "../shared/data not present"}
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        text = json.loads(handle.readline())["text"]
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    out: dict[str, Any] = {
        "paragraphs": len(paragraphs),
        "chars": sum(map(len, paragraphs)),
    }
    for name in ("cl100k", "estimate"):
        counter = make_token_counter(name)
        start = time.perf_counter()
        tokens = sum(counter.count(p) for p in paragraphs)
        seconds = time.perf_counter() - start
        out[name] = {
            "tokens": tokens,
            "docs_per_s": round(len(paragraphs) / seconds),
            "mb_per_s": round(out["chars"] / seconds / 1e6, 2),
        }
    out["estimate_over_cl100k"] = round(out["estimate"]["tokens"] / out["cl100k"]["tokens"], 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--skip-beam", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "mix", "docs": args.docs}
    print(f"core mix on {args.docs} docs ...", file=sys.stderr)
    result["core"] = measure_in_subprocess(run_core, args.docs)
    if not args.skip_beam:
        print(f"Beam MixByTokens on {args.docs} docs ...", file=sys.stderr)
        result["beam"] = measure_in_subprocess(run_beam, args.docs)
    print("tokenizers ...", file=sys.stderr)
    result["tokenizers"] = measure_in_subprocess(run_tokenizers)
    emit(result)


if __name__ == "__main__":
    main()
