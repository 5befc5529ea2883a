"""Versioned reference snapshot of human text: vocabulary, counts, tail set, trigram model.

The reference-based collapse indicators compare a corpus with this snapshot.
A snapshot is a directory with two files:

* ``reference.json`` — format, snapshot id (sha256 of the counts), sources,
  settings, unigram counts (the vocabulary is every type with a count);
* ``trigrams.tsv.gz`` — the trigram counts the Kneser–Ney model is rebuilt from
  (rebuilding takes well under a second per million tokens, and a count table is
  portable where a pickle is not).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tailguard.filters.collapse.ngram import KneserNeyTrigram, Vocabulary, tokenize

__all__ = ["FORMAT", "RARE_MAX_COUNT", "TAIL_MASS", "Reference", "build_reference", "load_reference", "save_reference"]

FORMAT = "tailguard.reference/1"
#: Rare reference types: count ≤ 3 (the issue's definition; Shumailov et al. 2024 show these vanish first).
RARE_MAX_COUNT = 3
#: Tail set: the rarest reference types that together carry 10 % of the reference tokens (issue 7).
TAIL_MASS = 0.10


@dataclass(frozen=True)
class Reference:
    """A loaded reference snapshot.

    Attributes:
        snapshot_id: sha256 (hex, 16 digits) of the unigram and trigram counts.
        counts: Unigram counts of the reference text.
        rare_types: Types with count ≤ :data:`RARE_MAX_COUNT`.
        tail_types: Rarest types carrying :data:`TAIL_MASS` of the tokens.
        tail_mass_share: Exact share of reference tokens in ``tail_types``.
        model: Kneser–Ney trigram trained on the reference (vocabulary = all types).
        sources: Free-form descriptions of what the reference was built from.
    """

    snapshot_id: str
    counts: dict[str, int]
    rare_types: frozenset[str]
    tail_types: frozenset[str]
    tail_mass_share: float
    model: KneserNeyTrigram
    sources: tuple[str, ...] = ()


def _tail(counts: dict[str, int], mass: float) -> tuple[frozenset[str], float]:
    total = sum(counts.values())
    acc, tail = 0, list[str]()
    for w, c in sorted(counts.items(), key=lambda kv: (kv[1], kv[0])):
        if acc + c > mass * total and tail:
            break
        acc += c
        tail.append(w)
    return frozenset(tail), acc / total if total else 0.0


def _snapshot_id(counts: dict[str, int], trigrams: Sequence[tuple[str, str, str, int]]) -> str:
    h = hashlib.sha256(FORMAT.encode())
    h.update(json.dumps(sorted(counts.items()), ensure_ascii=False).encode())
    h.update(json.dumps(trigrams, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def _from_parts(
    counts: dict[str, int], model: KneserNeyTrigram, sources: Sequence[str], snapshot_id: str | None = None
) -> Reference:
    tail, share = _tail(counts, TAIL_MASS)
    return Reference(
        snapshot_id=snapshot_id or _snapshot_id(counts, model.trigram_counts()),
        counts=counts,
        rare_types=frozenset(w for w, c in counts.items() if c <= RARE_MAX_COUNT),
        tail_types=tail,
        tail_mass_share=share,
        model=model,
        sources=tuple(sources),
    )


def build_reference(texts: Iterable[str], sources: Sequence[str] = ()) -> Reference:
    """Build a reference from human-written texts (one document per item)."""
    docs = [tokenize(t) for t in texts]
    docs = [d for d in docs if d]
    counts = dict(Counter(w for d in docs for w in d))
    if not counts:
        raise ValueError("reference text is empty")
    vocab = Vocabulary.from_tokens(docs)
    return _from_parts(counts, KneserNeyTrigram(vocab, docs), sources)


#: The files of a snapshot directory.
REFERENCE_FILES = ("reference.json", "trigrams.tsv.gz")


def save_reference(ref: Reference, out_dir: str | Path) -> Path:
    """Write the snapshot to ``out_dir`` (created); return the ``reference.json`` path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "snapshot_id": ref.snapshot_id,
        "sources": list(ref.sources),
        "rare_max_count": RARE_MAX_COUNT,
        "tail_mass": TAIL_MASS,
        "tokens": sum(ref.counts.values()),
        "types": len(ref.counts),
        "counts": dict(sorted(ref.counts.items())),
    }
    path = out / "reference.json"
    path.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    buf = io.StringIO()
    for u, v, w, c in ref.model.trigram_counts():
        buf.write(f"{u}\t{v}\t{w}\t{c}\n")
    with gzip.open(out / "trigrams.tsv.gz", "wt", encoding="utf-8", compresslevel=6) as fh:
        fh.write(buf.getvalue())
    return path


def load_reference(path: str | Path) -> Reference:
    """Load a snapshot from its directory (or its ``reference.json``)."""
    p = Path(path)
    if p.is_dir():
        p = p / "reference.json"
    if not p.exists():
        raise FileNotFoundError(f"no reference snapshot at {p}")
    meta = json.loads(p.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{p}: unsupported reference format {meta.get('format')!r} (expected {FORMAT})")
    counts = {str(k): int(v) for k, v in meta["counts"].items()}
    vocab = Vocabulary(("<unk>", "</s>", *sorted(w for w in counts if w not in ("<unk>", "</s>", "<s>"))))
    with gzip.open(p.parent / "trigrams.tsv.gz", "rt", encoding="utf-8") as fh:
        rows = (line.rstrip("\n").split("\t") for line in fh)
        model = KneserNeyTrigram.from_trigram_counts(vocab, ((u, v, w, int(c)) for u, v, w, c in rows))
    return _from_parts(counts, model, meta.get("sources", []), meta["snapshot_id"])
