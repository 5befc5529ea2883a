"""Helpers of the AI-detection tests: a synthetic labelled corpus and small real subsets."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tailguard.filters.detect.data import LabelledText, read_labelled
from tailguard.filters.hashing import unit_interval
from tests.conftest import shared_data

_WORDS = [
    "river",
    "stone",
    "market",
    "winter",
    "garden",
    "letter",
    "window",
    "bridge",
    "village",
    "morning",
    "story",
    "mother",
    "road",
    "train",
    "kitchen",
    "paper",
    "music",
    "doctor",
    "teacher",
    "summer",
    "forest",
    "island",
    "coffee",
    "street",
    "friend",
    "night",
    "city",
]
_AI_PHRASES = (
    "Furthermore, it is important to note that",
    "Additionally, this highlights",
    "Overall, the",
    "In conclusion,",
    "This showcases the intricate",
    "Moreover, we delve into the crucial",
)


def synthetic_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    """Return ``n`` labelled rows: bursty plain 'human' text vs templated 'ai' text (test fixture only)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "ai" if i % 2 else "human"
        sentences = []
        for _ in range(rng.randint(3, 7)):
            if label == "ai":
                words = [rng.choice(_WORDS) for _ in range(12)]
                sentences.append(f"{rng.choice(_AI_PHRASES)} {' '.join(words)}.")
            else:
                words = [rng.choice(_WORDS) for _ in range(rng.choice([3, 5, 20, 28]))]
                sentences.append(" ".join(words).capitalize() + rng.choice([".", "!", "?", "..."]))
        rows.append({"id": f"syn-{seed}-{i}", "text": " ".join(sentences), "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    """Write rows as JSON lines."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def real_subset(name: str, split: str, fraction: float, seed: str = "t") -> list[LabelledText]:
    """Rows of ``../shared/data/detect/<name>.jsonl.zst`` (skips when absent), sampled by group hash."""
    path = shared_data("detect", f"{name}.jsonl.zst")
    return [r for r in read_labelled([str(path)], split) if unit_interval(seed, r.group) < fraction]
