"""tailguard reference build: a versioned snapshot from text files."""

from __future__ import annotations

import json
from pathlib import Path

from tailguard.filters.collapse.reference import FORMAT, load_reference
from tailguard.pipelines.cli import main


def test_reference_build_writes_a_loadable_snapshot(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("The quick brown fox.\n\nJumps over the lazy dog.\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "A lazy fox sleeps."}) + "\n", encoding="utf-8")
    out = tmp_path / "ref"
    assert (
        main(
            [
                "reference",
                "build",
                "--input",
                str(tmp_path / "*.txt"),
                "--input",
                str(tmp_path / "*.jsonl"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    meta = json.loads((out / "reference.json").read_text())
    assert meta["format"] == FORMAT and meta["counts"]["fox"] == 2
    ref = load_reference(out)
    assert ref.snapshot_id == meta["snapshot_id"] and "lazy" in ref.counts


def test_reference_build_with_no_matching_input_is_a_config_error(tmp_path: Path) -> None:
    assert main(["reference", "build", "--input", str(tmp_path / "none*.txt"), "--out", str(tmp_path / "r")]) == 2
