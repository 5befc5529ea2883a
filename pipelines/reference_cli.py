"""``tailguard reference build --input GLOB [--input GLOB ...] --out DIR``: build a reference snapshot.

Inputs are human-written texts: ``.txt``/``.md`` files (cut into paragraph-run
documents), JSONL(.gz) files with a ``text`` field, or ``corpus:NAME`` for a
built-in corpus (``corpus:shakespeare``, ``corpus:pydoc``, ``corpus:austen``).
The snapshot (see :mod:`tailguard.filters.collapse.reference`) is what
``MeasureCollapse`` compares a written corpus with (``collapse.reference``).
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import logging
from collections.abc import Iterator, Sequence

from tailguard.filters.collapse.corpora import load_corpus
from tailguard.filters.collapse.reference import build_reference, save_reference
from tailguard.filters.errors import ConfigError

__all__ = ["run_reference"]

_LOG = logging.getLogger("tailguard.reference")


def _texts(pattern: str) -> Iterator[str]:
    if pattern.startswith("corpus:"):
        try:
            yield from load_corpus(pattern.split(":", 1)[1])
        except (ValueError, FileNotFoundError) as exc:
            raise ConfigError(str(exc)) from exc
        return
    paths = sorted(glob.glob(pattern, recursive=True))
    if not paths:
        raise ConfigError(f"--input {pattern!r} matches no files")
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:
            if ".jsonl" in path or ".json" in path:
                for line in fh:
                    if line.strip():
                        text = json.loads(line).get("text")
                        if isinstance(text, str):
                            yield text
            else:
                yield from (p for p in fh.read().split("\n\n") if p.strip())


def run_reference(argv: Sequence[str]) -> int:
    """Entry point of ``tailguard reference``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="tailguard reference", description="Build a collapse reference snapshot.")
    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="build a snapshot from human text")
    build.add_argument(
        "--input", action="append", required=True, help="glob of .txt/.md/.jsonl[.gz] files, or corpus:NAME"
    )
    build.add_argument("--out", required=True, help="output directory of the snapshot")
    args = parser.parse_args(list(argv))
    texts = [t for pattern in args.input for t in _texts(pattern)]
    if not texts:
        raise ConfigError("the inputs hold no text")
    ref = build_reference(texts, sources=args.input)
    path = save_reference(ref, args.out)
    _LOG.info(
        "reference %s: %d documents, %d tokens, %d types -> %s",
        ref.snapshot_id,
        len(texts),
        sum(ref.counts.values()),
        len(ref.counts),
        path,
    )
    print(
        json.dumps(
            {
                "snapshot_id": ref.snapshot_id,
                "path": str(path),
                "types": len(ref.counts),
                "tokens": sum(ref.counts.values()),
            }
        )
    )
    return 0
