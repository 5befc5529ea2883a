"""`tailguard run` end to end: the ledger balances and every bad record is accounted for."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import zstandard

from tailguard.pipelines.curate import run
from tests.pipelines.helpers import minimal_config, read_jsonl_zst_dir


@pytest.fixture
def malformed_inputs(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    good = [json.dumps({"id": f"g{i}", "text": f"good document number {i}"}) for i in range(6)]
    (src / "mixed.jsonl").write_bytes(
        "\n".join([good[0], '{"id": "bad-json", "text": ', good[1]]).encode()
        + b"\n\xff\xfe\xfa invalid utf-8\n"
        + b'{"id": "no-text", "body": "x"}\n'
        + b'{"id": "empty", "text": ""}\n'
    )
    (src / "empty.jsonl").write_bytes(b"")
    (src / "empty.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b""))
    many = b"".join(
        json.dumps({"id": f"t{i}", "text": f"truncated doc {i} {i * 31337} " * 30}).encode() + b"\n"
        for i in range(3000)
    )
    gz = gzip.compress(many)
    (src / "cut.jsonl.gz").write_bytes(gz[: len(gz) // 2])
    zst = zstandard.ZstdCompressor().compress(many)
    (src / "cut.jsonl.zst").write_bytes(zst[: len(zst) // 2])
    big = json.dumps({"id": "huge", "text": "word " * 400_000}).encode()  # ~2 MB, over the 1 MB limit below
    (src / "big.jsonl").write_bytes(big + b"\n" + good[2].encode() + b"\n")
    (src / "ok.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress("\n".join(good[3:]).encode()))
    return src


def test_malformed_inputs_balance_and_are_all_accounted_for(malformed_inputs: Path, tmp_path: Path):
    out = tmp_path / "out"
    config = minimal_config(tmp_path, read={"max_record_bytes": 1_000_000})
    code = run(["--config", str(config), "--input", str(malformed_inputs / "*"), "--output", str(out)])
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    ledger = manifest["ledger"]
    assert ledger["balanced"] is True
    assert ledger["input_records"] == ledger["kept"] + ledger["dead_letter"] + sum(
        sum(r.values()) for r in ledger["dropped"].values()
    )
    assert ledger["dropped"]["read"]["empty_text"] == 1
    assert ledger["dropped"]["read"]["oversized_record"] == 1
    dead = read_jsonl_zst_dir(out / "dead_letter")
    by_file = {}
    for letter in dead:
        by_file.setdefault(Path(letter["source"]).name, []).append(letter)
    # bad JSON, invalid UTF-8 and the record without text, each with its line number
    assert sorted(d["position"] for d in by_file["mixed.jsonl"]) == [2, 4, 5]
    # each truncated file ends with exactly one dead letter naming the stream error
    for name in ("cut.jsonl.gz", "cut.jsonl.zst"):
        assert len(by_file[name]) == 1 and "unreadable input stream" in by_file[name][0]["error"]
    rejected = read_jsonl_zst_dir(out / "rejected" / "read")
    assert sorted(r["reason"] for r in rejected) == ["empty_text", "oversized_record"]
    # the two truncated files are failed files (counted as files, not records; issue 14)
    assert ledger["dead_letter"] == len([d for d in dead if d["unit"] == "record"]) == 3
    assert ledger["file_failures"]["files"] == len([d for d in dead if d["unit"] == "file"]) == 2
    assert ledger["file_failures"]["records_not_read_unknown"] == 2


def test_rerun_refuses_to_overwrite_a_finished_run(tmp_path: Path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "a"}\n')
    config = minimal_config(tmp_path)
    argv = ["--config", str(config), "--input", str(src), "--output", str(tmp_path / "out")]
    assert run(argv) == 0
    from tailguard.pipelines.config import ConfigError

    with pytest.raises(ConfigError, match="--overwrite"):
        run(argv)
    assert run([*argv, "--overwrite"]) == 0


def test_input_pattern_that_matches_nothing_is_a_config_error(tmp_path: Path):
    from tailguard.pipelines.config import ConfigError

    config = minimal_config(tmp_path)
    with pytest.raises(ConfigError, match="matches no files"):
        run(["--config", str(config), "--input", str(tmp_path / "nope*.jsonl"), "--output", str(tmp_path / "o")])


def test_unfilled_placeholders_in_runner_options_are_a_config_error(tmp_path: Path):
    from tailguard.pipelines.config import ConfigError

    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "a"}\n')
    config = minimal_config(tmp_path, pipeline={"options": {"project": "FILL-my-gcp-project"}})
    with pytest.raises(ConfigError, match="FILL placeholders: project"):
        run(["--config", str(config), "--input", str(src), "--output", str(tmp_path / "o")])
