"""Per-tier corpora (``write.per_tier``, ensemble recipes) and the enforced curriculum spread, on real runs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tailguard.pipelines.cli import main
from tests.pipelines.helpers import minimal_config


def _write(path: Path, prefix: str, n: int, seed: int) -> None:
    rng = random.Random(seed)
    words = [f"{prefix}{i}" for i in range(800)]
    rows = [{"id": f"{prefix}-{i}", "text": " ".join(rng.choice(words) for _ in range(80)) + "."} for i in range(n)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    _write(src / "human.jsonl", "h", 40, 1)  # verified human -> tier1
    _write(src / "synth.jsonl", "s", 15, 2)  # declared curated synthetic
    _write(src / "web.jsonl", "w", 30, 3)  # unknown provenance -> tier3
    return src


def _config(tmp_path: Path, inputs: Path, **sections: dict) -> Path:
    labels = {"verified_human": [str(inputs / "human.jsonl")], "curated_synthetic": [str(inputs / "synth.jsonl")]}
    return minimal_config(
        tmp_path, enable=tuple(sections.pop("enable", ("tiers",))), tiers={"source_labels": labels}, **sections
    )


def _ids(directory: Path) -> list[str]:
    return sorted(
        i for f in sorted(directory.glob("*.parquet")) for i in pq.read_table(f, columns=["id"])["id"].to_pylist()
    )


def test_per_tier_views_are_written_beside_the_corpus_with_an_exact_ledger(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ensembles = {"A": ["tier1"], "D": ["curated_synthetic"], "AC": ["tier1", "tier3"]}
    config = _config(tmp_path, inputs, write={"num_shards": 2, "per_tier": True, "ensembles": ensembles},
                     collapse={"enabled": True, "sample_tokens": 1000})  # fmt: skip
    assert main(["run", "--config", str(config), "--input", str(inputs / "*.jsonl"), "--output", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    views = manifest["tiers_written"]
    assert set(views) == {"tier1", "tier3", "curated_synthetic", "A", "D", "AC"}
    corpus = _ids(out / "corpus")
    for name, view in views.items():
        folder = out / "tiers" / name
        assert sorted(p.name for p in folder.glob("*.parquet")) == [
            "part-00000-of-00002.parquet",
            "part-00001-of-00002.parquet",
        ]
        assert [s["path"] for s in view["shards"]] == ["part-00000-of-00002.parquet", "part-00001-of-00002.parquet"]
        assert view["rows"] == len(_ids(folder)) and view["tokens"] > 0
    assert _ids(out / "tiers" / "tier1") == sorted(i for i in corpus if i.startswith("h-")) == _ids(out / "tiers" / "A")
    assert _ids(out / "tiers" / "AC") == sorted(i for i in corpus if i[0] in "hw")
    # The views hold every kept document exactly once, and are not new records in the ledger.
    ledger = manifest["ledger"]
    assert ledger["balanced"] and ledger["kept"] == 85 == sum(
        views[t]["rows"] for t in ("tier1", "tier3", "curated_synthetic")
    )
    assert ledger["views"]["counted_in_ledger"] is False
    assert views["tier1"]["indicators"] == manifest["collapse"]["groups"]["tier1"]
    assert "indicators" not in views["AC"]
    page = (out / "report.html").read_text()
    assert "Per-tier corpora" in page and "tiers/tier3" in page


def test_unknown_tier_in_a_recipe_exits_2_naming_the_key(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = _config(tmp_path, inputs, write={"per_tier": True, "ensembles": {"A": ["tier9"]}})
    assert (
        main(["run", "--config", str(config), "--input", str(inputs / "*.jsonl"), "--output", str(tmp_path / "o")]) == 2
    )
    assert "write.ensembles.A" in capsys.readouterr().err


def _mix_run(tmp_path: Path, inputs: Path, shards: int, enforce: bool) -> tuple[int, Path]:
    out = tmp_path / f"mix{shards}{enforce}"
    curriculum = {"enforce": enforce, "human_share_tolerance": 0.05}
    config = _config(tmp_path, inputs, enable=("tiers", "mix"), write={"num_shards": shards},
                     mix={"curriculum": curriculum, "max_repeats": 8})  # fmt: skip
    return main(["run", "--config", str(config), "--input", str(inputs / "*.jsonl"), "--output", str(out)]), out


@pytest.mark.slow
def test_curriculum_spread_is_checked_and_enforced(inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # One shard holds the whole mix: its human share is the realised share, within tolerance.
    code, out = _mix_run(tmp_path, inputs, 1, True)
    assert code == 0
    spread = json.loads((out / "manifest.json").read_text())["mixing"]["curriculum"]
    assert spread["ok"] and spread["enforced"] and spread["violations"] == []
    # ~100 rows over 16 shards: some shard strays beyond ±0.05 of the human target -> clear error, exit 2.
    code, out = _mix_run(tmp_path, inputs, 16, True)
    assert code == 2
    err = capsys.readouterr().err
    assert "mix.curriculum" in err and "human token share" in err and "write.num_shards" in err
    assert not (out / "manifest.json").exists()  # a run that breaks an enforced curriculum is not finished
    # Report-only (the default): the same run finishes and names the violations in the manifest.
    code, out = _mix_run(tmp_path, inputs, 16, False)
    assert code == 0
    spread = json.loads((out / "manifest.json").read_text())["mixing"]["curriculum"]
    assert not spread["ok"] and spread["violations"] and len(spread["shard_tokens"]) == 16
