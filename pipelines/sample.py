"""The embedded demo sample: a small simulated polluted crawl, generated on the fly.

Nothing is downloaded and nothing is copied from third-party datasets.  The
sample is built from text every Python installation ships — the Python
reference documentation in ``pydoc_data.topics`` (human-written) — and from a
word-trigram model that this module trains on that text:

* ``crawl/web-0000.warc.gz``   — HTML pages (human paragraphs inside nav/footer
  boilerplate) as WARC ``response`` records, with the ``request`` records and an
  image payload a crawler writes alongside;
* ``crawl/web-0001.jsonl.zst`` — human documents, **machine-like documents**
  sampled from the trigram model, exact and near-duplicates of human documents,
  and malformed lines (invalid JSON, invalid UTF-8, a record without text);
* ``crawl/web-0002.parquet``   — more documents as Parquet;
* ``crawl/web-0003.jsonl.gz``  — a truncated gzip file (the tail is lost);
* ``labelled/train.jsonl``     — a separate labelled human/machine set for
  training the demo's AI-text detector (disjoint documents from the crawl);
* ``curated/synthetic.jsonl``  — a small "curated synthetic" source for mixing;
* ``human/verified.jsonl``     — a "verified human" source for mixing.

The sample is byte-identical for the same seed on every run (no random WARC
record ids, no time stamps), so the demo's shards are too.

``SampleInfo.truth`` records what was planted (ids of machine documents,
duplicate pairs, number of malformed records) so tests can check the pipeline.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from tailguard.filters.collapse.corpora import python_docstring_documents

__all__ = ["SampleInfo", "human_paragraph_documents", "write_sample"]

_WORD = re.compile(r"\S+")


def human_paragraph_documents(min_words: int = 60, max_words: int = 200) -> list[str]:
    """Human-written prose from the Python installation: reference docs and docstrings.

    ``pydoc_data.topics`` (the language reference) is split into paragraphs and
    joined into documents; long standard-library docstrings are added as they
    are.  Code blocks, doctests and headings are dropped so that documents are
    running text.  Deterministic for a given Python version.

    Args:
        min_words: Shortest document kept.
        max_words: Paragraphs are joined until a document reaches this length.

    Returns:
        Document texts in a fixed order.
    """
    import pydoc_data.topics as topics

    docs: list[str] = []
    for key in sorted(topics.topics):
        current: list[str] = []
        for block in re.split(r"\n\s*\n", topics.topics[key]):
            lines = block.splitlines()
            if not lines or lines[0].startswith((" ", "\t")) or set(block.strip()) <= set("*=-~^ "):
                continue
            paragraph = " ".join(line.strip() for line in lines)
            if len(paragraph.split()) < 8 or paragraph.endswith(("::", ":")):
                continue
            current.append(paragraph)
            if sum(len(p.split()) for p in current) >= max_words:
                docs.append("\n\n".join(current))
                current = []
        if current and sum(len(p.split()) for p in current) >= min_words:
            docs.append("\n\n".join(current))
    docs.extend(python_docstring_documents(min_words))
    return list(dict.fromkeys(docs))  # identical docstrings (aliases) only once


class _TrigramSampler:
    """A word-trigram model of the human sample: the 'small model the project trains'."""

    def __init__(self, texts: list[str]) -> None:
        self._next: dict[tuple[str, str], list[str]] = defaultdict(list)
        for text in texts:
            words = ["<s>", "<s>", *_WORD.findall(text), "</s>"]
            for a, b, c in zip(words, words[1:], words[2:], strict=False):
                self._next[(a, b)].append(c)

    def sample(self, rng: random.Random, max_words: int) -> str:
        """Sample sentences until ``max_words``; paragraphs of 3-5 sentences, one sentence per line."""
        sentences: list[str] = []
        words_total = 0
        while words_total < max_words:
            sentence = self._sentence(rng)
            if len(sentence) >= 4:
                sentences.append(" ".join(sentence))
                words_total += len(sentence)
        paragraphs, i = [], 0
        while i < len(sentences):
            size = rng.randrange(3, 6)
            paragraphs.append("\n".join(sentences[i : i + size]))
            i += size
        return "\n\n".join(paragraphs)

    def _sentence(self, rng: random.Random, limit: int = 60) -> list[str]:
        a, b = "<s>", "<s>"
        out: list[str] = []
        while len(out) < limit:
            choices = self._next.get((a, b))
            if not choices:
                break
            # Greedy-ish decoding (top of a small sample) mimics truncated decoding of chat models.
            c = max(rng.sample(choices, min(3, len(choices))), key=choices.count)
            if c == "</s>":
                break
            out.append(c)
            a, b = b, c
            if c.endswith((".", "!", "?")) and len(out) >= 6:
                break
        if out and not out[-1].endswith((".", "!", "?")):
            out[-1] += "."
        return out


@dataclass
class SampleInfo:
    """Where the sample was written and what was planted in it."""

    root: Path
    crawl_glob: str
    labelled_train: Path
    curated_synthetic: Path
    verified_human: Path
    truth: dict[str, Any] = field(default_factory=dict)


_BOILERPLATE_NAV = (
    '<nav class="menu"><a href="/">Home</a> | <a href="/docs">Docs</a> | <a href="/blog">Blog</a> | '
    '<a href="/about">About us</a> | <a href="/contact">Contact</a></nav>'
)
_BOILERPLATE_FOOTER = (
    '<footer><p>Copyright 2021 Example Docs. All rights reserved.</p><p><a href="/privacy">Privacy policy</a> '
    '| <a href="/terms">Terms of use</a> | Subscribe to our newsletter</p></footer>'
)


def _html_page(title: str, text: str) -> bytes:
    paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head><body>'
        f"{_BOILERPLATE_NAV}<main><article><h1>{title}</h1>{paragraphs}</article></main>{_BOILERPLATE_FOOTER}"
        "</body></html>"
    )
    return page.encode("utf-8")


def _near_duplicate(text: str, rng: random.Random, rate: float = 0.03) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), max(1, int(len(words) * rate))):
        words[i] = words[i].upper() if rng.random() < 0.5 else words[i] + ","
    return " ".join(words)


def _write_warc(path: Path, pages: list[tuple[str, str, str]], rng: random.Random, seed: int) -> int:
    """Write HTML pages as a WARC; return the number of WARC records written.

    Record ids and dates are set here, never left to warcio (which draws a random
    uuid and stamps the current time): the demo's document ids come from the
    WARC-Record-IDs, so random ids would give new shards on every run.
    """
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    records = 0

    def fixed(date: str = "2021-06-30T12:00:00Z") -> dict[str, str]:
        # A uuid5 of (seed, record number): unique within the sample, identical on every run.
        record_id = uuid.uuid5(uuid.NAMESPACE_URL, f"tailguard-demo:{seed}:{path.name}:{records}")
        return {"WARC-Record-ID": f"<urn:uuid:{record_id}>", "WARC-Date": date}

    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        info = b"software: tailguard-demo\r\n"
        writer.write_record(
            writer.create_warc_record(
                "",
                "warcinfo",
                payload=io.BytesIO(info),
                length=len(info),
                warc_content_type="application/warc-fields",
                warc_headers_dict={**fixed(), "WARC-Filename": path.name},
            )
        )
        records += 1
        for url, title, text in pages:
            request = writer.create_warc_record(
                url,
                "request",
                payload=io.BytesIO(f"GET / HTTP/1.1\r\nHost: {url.split('/')[2]}\r\n\r\n".encode()),
                warc_headers_dict=fixed(),
            )
            writer.write_record(request)
            records += 1
            body = _html_page(title, text)
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            response = writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                http_headers=headers,
                warc_headers_dict=fixed(f"2021-06-{1 + rng.randrange(28):02d}T12:00:00Z"),
            )
            writer.write_record(response)
            records += 1
        image = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                "https://docs.example.org/logo.png",
                "response",
                payload=io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(256))),
                http_headers=image,
                warc_headers_dict=fixed(),
            )
        )
        records += 1
    return records


def write_sample(root: str | Path, seed: int = 0) -> SampleInfo:
    """Generate the demo sample under ``root``.

    Args:
        root: Directory to write into (created).
        seed: Seed of the generator (the sample is identical for the same seed).

    Returns:
        Paths and the planted ground truth.
    """
    rng = random.Random(seed)
    root = Path(root)
    for sub in ("crawl", "labelled", "curated", "human"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    human = human_paragraph_documents()
    rng.shuffle(human)
    # Disjoint pools: detector training, verified-human source, crawl.
    n = len(human)
    train_human, verified, crawl_human = human[: n // 4], human[n // 4 : n // 2], human[n // 2 :]
    sampler = _TrigramSampler(human)
    machine = [
        sampler.sample(rng, rng.randrange(120, 260)) for _ in range(len(crawl_human) // 3 + len(train_human) + 40)
    ]
    train_machine, crawl_machine, synthetic = (
        machine[: len(train_human)],
        machine[len(train_human) : len(train_human) + len(crawl_human) // 3],
        machine[len(train_human) + len(crawl_human) // 3 :],
    )
    truth: dict[str, Any] = {"machine_ids": [], "exact_duplicate_ids": [], "near_duplicate_ids": [], "malformed": 0}

    with (root / "labelled" / "train.jsonl").open("w", encoding="utf-8") as out:
        for i, text in enumerate(train_human):
            out.write(json.dumps({"id": f"train-h{i}", "text": text, "label": "human"}) + "\n")
        for i, text in enumerate(train_machine):
            out.write(json.dumps({"id": f"train-m{i}", "text": text, "label": "ai"}) + "\n")
    with (root / "curated" / "synthetic.jsonl").open("w", encoding="utf-8") as out:
        for i, text in enumerate(synthetic):
            out.write(json.dumps({"id": f"synthetic-{i}", "text": text, "crawl_date": "2025-01-15"}) + "\n")
    with (root / "human" / "verified.jsonl").open("w", encoding="utf-8") as out:
        for i, text in enumerate(verified):
            out.write(json.dumps({"id": f"verified-{i}", "text": text, "crawl_date": "2019-03-01"}) + "\n")

    # The crawl: split human docs over the WARC, JSONL and Parquet files.
    third = len(crawl_human) // 3
    warc_docs, jsonl_docs, parquet_docs = crawl_human[:third], crawl_human[third : 2 * third], crawl_human[2 * third :]
    pages = [(f"https://docs.example.org/page/{i}", f"Reference page {i}", t) for i, t in enumerate(warc_docs)]
    truth["warc_records"] = _write_warc(root / "crawl" / "web-0000.warc.gz", pages, rng, seed)

    lines: list[bytes] = []
    for i, text in enumerate(jsonl_docs):
        lines.append(
            json.dumps(
                {"id": f"web-h{i}", "text": text, "url": f"https://blog.example.net/{i}", "crawl_date": "2023-04-02"}
            ).encode()
        )
    for i, text in enumerate(crawl_machine):
        truth["machine_ids"].append(f"web-m{i}")
        lines.append(
            json.dumps(
                {
                    "id": f"web-m{i}",
                    "text": text,
                    "url": f"https://content-farm.example.com/{i}",
                    "crawl_date": "2024-02-11",
                }
            ).encode()
        )
    for i, text in enumerate(jsonl_docs[:12]):
        truth["exact_duplicate_ids"].append(f"web-x{i}")
        lines.append(
            json.dumps(
                {"id": f"web-x{i}", "text": text, "url": f"https://mirror.example.net/{i}", "crawl_date": "2023-05-02"}
            ).encode()
        )
    for i, text in enumerate(jsonl_docs[12:30]):
        truth["near_duplicate_ids"].append(f"web-n{i}")
        lines.append(
            json.dumps(
                {
                    "id": f"web-n{i}",
                    "text": _near_duplicate(text, rng),
                    "url": f"https://scraper.example.org/{i}",
                    "crawl_date": "2023-06-02",
                }
            ).encode()
        )
    malformed = [
        b'{"id": "broken-1", "text": "unterminated',
        b"\xff\xfe not utf-8 \xc3\x28",
        b'{"id": "broken-3", "body": "no text field"}',
        b'["a", "list"]',
    ]
    truth["malformed"] += len(malformed)
    lines.extend(malformed)
    order = list(range(len(lines)))
    rng.shuffle(order)
    data = b"\n".join(lines[i] for i in order) + b"\n"
    (root / "crawl" / "web-0001.jsonl.zst").write_bytes(zstandard.ZstdCompressor(level=3).compress(data))

    rows = [
        {"id": f"pq-h{i}", "text": t, "url": f"https://wiki.example.org/{i}", "crawl_date": "2020-09-09"}
        for i, t in enumerate(parquet_docs)
    ]
    pq.write_table(pa.Table.from_pylist(rows), root / "crawl" / "web-0002.parquet")

    # A gzip file cut short, as when a transfer dies: the tail must be dead-lettered, not lost.
    tail = [json.dumps({"id": f"gz-h{i}", "text": t}).encode() for i, t in enumerate(jsonl_docs[30:45])]
    blob = gzip.compress(b"\n".join(tail) + b"\n", mtime=0)  # mtime=0: no time stamp in the bytes
    (root / "crawl" / "web-0003.jsonl.gz").write_bytes(blob[: len(blob) * 2 // 3])
    truth["truncated_gzip_records"] = len(tail)

    return SampleInfo(
        root=root,
        crawl_glob=str(root / "crawl" / "*"),
        labelled_train=root / "labelled" / "train.jsonl",
        curated_synthetic=root / "curated" / "synthetic.jsonl",
        verified_human=root / "human" / "verified.jsonl",
        truth=truth,
    )
