"""Labelled human/AI text for training and evaluating the detectors.

Reads JSONL (plain, ``.gz`` or ``.zst``) with ``text`` and ``label`` in {``human``, ``ai``}; the other
fields of ``shared/data/detect`` (``generator``, ``domain``, ``attack``, ``pair_id``, ``split``,
``note``) are optional.  ``dataset`` is the file name without extensions: it is the unit of the
per-source report and of leave-one-source-out evaluation.

Elements in: file paths.  Elements out: :class:`LabelledText` records.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import zstandard

__all__ = [
    "LABELS",
    "LabelledText",
    "dataset_name",
    "file_sha256",
    "read_labelled",
    "split_role",
]

LABELS = {"human": 0, "ai": 1}


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One labelled document.

    Attributes:
        text: The document.
        label: 1 = AI-generated, 0 = human.
        dataset: Input file stem (``detectrl``, ``m4_llama2`` ...).
        generator: Generating model (``human`` for human text; ``unknown`` when not given).
        domain: Genre / source corpus (``unknown`` when not given).
        attack: Attack / variant (``none`` when not given).
        split: ``train``, ``test`` or ``""`` when the file has no split column.
        group: Key that keeps paired texts together (``pair_id``, else ``id``, else the text hash).
        note: Upstream caveats (``""`` when none).
    """

    text: str
    label: int
    dataset: str
    generator: str = "unknown"
    domain: str = "unknown"
    attack: str = "none"
    split: str = ""
    group: str = ""
    note: str = ""


def dataset_name(path: str) -> str:
    """Return the file name of ``path`` without directory and ``.jsonl[.gz|.zst]`` extensions."""
    name = os.path.basename(path)
    for ext in (".zst", ".gz", ".jsonl", ".json", ".ndjson"):
        name = name.removesuffix(ext)
    return name


def _open_text(path: str) -> IO[str]:
    if path.endswith(".zst"):
        raw = open(path, "rb")  # noqa: SIM115 - wrapped and closed by the caller's context
        return io.TextIOWrapper(
            zstandard.ZstdDecompressor().stream_reader(raw, closefd=True),
            encoding="utf-8",
        )
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_labelled(paths: Sequence[str], split: str | None = None) -> Iterator[LabelledText]:
    """Yield the labelled rows of ``paths``.

    Args:
        paths: JSONL files.
        split: Keep only rows whose ``split`` equals this (``None`` keeps all rows).

    Yields:
        One :class:`LabelledText` per row with a known label and non-empty text.

    Raises:
        ValueError: A row has a label other than ``human`` / ``ai``.
    """
    for path in paths:
        dataset = dataset_name(path)
        with _open_text(path) as handle:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if split is not None and row.get("split", "") != split:
                    continue
                label = LABELS.get(str(row.get("label", "")).lower())
                if label is None:
                    raise ValueError(f"{path}:{line_no}: label must be 'human' or 'ai', got {row.get('label')!r}")
                text = row.get("text") or ""
                if not text.strip():
                    continue
                group = row.get("pair_id") or row.get("id") or hashlib.sha1(text.encode()).hexdigest()
                yield LabelledText(
                    text=text,
                    label=label,
                    dataset=dataset,
                    generator=str(row.get("generator") or ("human" if label == 0 else "unknown")),
                    domain=str(row.get("domain") or "unknown"),
                    attack=str(row.get("attack") or "none"),
                    split=str(row.get("split") or ""),
                    group=f"{dataset}:{group}",
                    note=str(row.get("note") or ""),
                )


def file_sha256(path: str) -> str:
    """Return the sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def split_role(group: str, seed: int, base_fraction: float, stack_fraction: float) -> str:
    """Assign a training row to ``base`` / ``stack`` / ``calib`` by a hash of its group.

    The base detectors are fitted on ``base``, the stacked logistic regression on ``stack`` (scores
    the base detectors never saw) and the thresholds on the human rows of ``calib``.  Paired texts share
    a group and so a role.
    """
    from tailguard.filters.hashing import unit_interval

    u = unit_interval("detect-role", seed, group)
    if u < base_fraction:
        return "base"
    return "stack" if u < base_fraction + stack_fraction else "calib"
