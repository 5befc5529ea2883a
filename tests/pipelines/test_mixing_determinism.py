"""Two ``tailguard run`` s with different worker counts give byte-identical mixed shards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tailguard.filters.hashing import stable_hash64
from tailguard.pipelines import curate
from tailguard.pipelines.stages import STAGES

_WORDS = [
    "river",
    "stone",
    "harbour",
    "lantern",
    "meadow",
    "copper",
    "whistle",
    "orchard",
    "thimble",
    "falcon",
    "pewter",
    "quarry",
    "bramble",
    "cinder",
    "gable",
    "hollow",
    "juniper",
    "kestrel",
    "larch",
    "mortar",
    "nettle",
    "osier",
    "parapet",
    "quill",
]


def _text(kind: str, i: int) -> str:
    n = 20 + stable_hash64(kind, "len", i) % 40
    words = [_WORDS[stable_hash64(kind, i, j) % len(_WORDS)] for j in range(n)]
    return f"{kind} {i}: " + " ".join(words) + "."


def _write_jsonl(path: Path, kind: str, count: int, **extra: object) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            row = {"id": f"{kind}-{i}", "text": _text(kind, i), "lang": "en", **extra}
            if kind == "human" and i % 10 == 0:
                row["lang"] = "gd"  # a rare language: the up-weighting signal
            handle.write(json.dumps(row) + "\n")


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("mixing_inputs")
    _write_jsonl(root / "human_books.jsonl", "human", 700)
    _write_jsonl(root / "web_crawl.jsonl", "web", 500, url="https://example.org/page")
    _write_jsonl(root / "synthetic_curated.jsonl", "synthetic", 300)
    config = {
        "seed": 7,
        "write": {"format": "jsonl.zst", "num_shards": 3},
        "tiers": {
            "source_labels": {
                "verified_human": ["*human_books*"],
                "curated_synthetic": ["*synthetic_curated*"],
            },
        },
        "mix": {
            "max_repeats": 3,
            "rarity": {"strength": 2.0, "rare_language_share": 0.2},
        },
    }
    # Only tiers and mix run: the other stages' own tests cover them.
    for spec in STAGES:
        if spec.name not in ("tiers", "mix"):
            config[spec.name] = {"enabled": False}
    config_path = root / "mix.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return root, config_path


def _run(root: Path, config: Path, out: Path, *runner_flags: str) -> dict:
    argv = [
        "--config",
        str(config),
        "--input",
        str(root / "*.jsonl"),
        "--output",
        str(out),
        *runner_flags,
    ]
    assert curate.run(argv) == 0
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_mixed_shards_are_byte_identical_across_worker_counts(mixed_inputs: tuple[Path, Path], tmp_path: Path) -> None:
    root, config = mixed_inputs
    one = _run(root, config, tmp_path / "one", "--direct_running_mode=in_memory")
    two = _run(
        root,
        config,
        tmp_path / "two",
        "--direct_running_mode=multi_threading",
        "--direct_num_workers=2",
    )
    shards_one = sorted((tmp_path / "one" / "corpus").glob("part-*"))
    shards_two = sorted((tmp_path / "two" / "corpus").glob("part-*"))
    assert [p.name for p in shards_one] == [p.name for p in shards_two]
    assert len(shards_one) == 3
    for a, b in zip(shards_one, shards_two, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert one["mixing"] == two["mixing"]


def test_manifest_reports_tiers_and_shares_within_tolerance(mixed_inputs: tuple[Path, Path], tmp_path: Path) -> None:
    root, config = mixed_inputs
    manifest = _run(root, config, tmp_path / "run")
    tiers = manifest["tiers"]
    assert tiers["tier1"]["documents"] == 700
    assert tiers["curated_synthetic"]["documents"] == 300
    assert tiers["tier3"]["documents"] == 500
    components = manifest["mixing"]["components"]
    assert set(components) == {"human", "filtered_web", "curated_synthetic"}
    for name, target in (
        ("human", 0.7),
        ("filtered_web", 0.2),
        ("curated_synthetic", 0.1),
    ):
        assert components[name]["target_token_share"] == pytest.approx(target)
        assert abs(components[name]["realized_token_share"] - target) <= 0.005, name
    # The ledger counts distinct documents; the corpus rows count every repeat.
    rows = sum(c["rows"] for c in components.values())
    assert manifest["outputs"]["records"] == rows
    assert manifest["ledger"]["kept"] == sum(c["documents"] for c in components.values())
    assert manifest["ledger"]["balanced"]
    assert manifest["mixing"]["upweighting"]["upweighted_documents"] > 0
