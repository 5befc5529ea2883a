"""Bad input and misuse (issue 14): nothing lost, deleted or rewritten silently.

Colliding ids, foreign output folders, mixing shares, directory inputs,
unwritable outputs, loud warnings and ``--strict``, counters across resumes,
failed files counted as files, and the progress line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import zstandard

from tailguard.pipelines.cli import main
from tailguard.transforms.progress import ProgressTally
from tests.pipelines.helpers import minimal_config, read_jsonl_zst_dir

_TEXT = "The same paragraph of text appears in two input files with the same id, " * 3


def _run(config: Path, inputs: str | list[str], out: Path, *extra: str) -> int:
    argv = ["run", "--config", str(config), "--output", str(out), *extra]
    for pattern in [inputs] if isinstance(inputs, str) else inputs:
        argv += ["--input", pattern]
    return main(argv)


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _corpus(out: Path) -> list[dict]:
    return read_jsonl_zst_dir(out / "corpus")


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if "configuration error" in line]
    assert len(err) == 1, err
    return err[0]


# ----------------------------------------------------------------------------- document identity


def test_colliding_ids_across_files_are_deduplicated(tmp_path: Path):
    _jsonl(tmp_path / "a.jsonl", [{"id": "same", "text": _TEXT}, {"id": "1", "text": "first file, row one " * 5}])
    _jsonl(tmp_path / "b.jsonl", [{"id": "same", "text": _TEXT}, {"id": "1", "text": "second file, row one " * 5}])
    config = minimal_config(tmp_path, enable=("dedup_exact",), write={"format": "jsonl.zst", "num_shards": 2})
    out = tmp_path / "out"
    assert _run(config, str(tmp_path / "*.jsonl"), out) == 0
    corpus = _corpus(out)
    texts = [r["text"] for r in corpus]
    assert texts.count(_TEXT) == 1, "two exact copies of one text reached the corpus"
    # per-file integer ids with different texts: both kept, under distinct ids, originals recorded
    ones = [r for r in corpus if r["provenance"]["record_id"] == "1"]
    assert len(ones) == 2 and len({r["id"] for r in ones}) == 2
    assert len({r["id"] for r in corpus}) == len(corpus)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["ledger"]["balanced"] and manifest["ledger"]["dropped"]["dedup_exact"] == {"exact_duplicate": 1}
    assert manifest["unique_ids"] == {"colliding_ids": 2, "renamed_documents": 4}


def test_colliding_ids_within_one_file_are_deduplicated(tmp_path: Path):
    _jsonl(
        tmp_path / "a.jsonl",
        [{"id": "7", "text": _TEXT}, {"id": "7", "text": _TEXT}, {"id": "7", "text": "another text entirely " * 5}],
    )
    config = minimal_config(tmp_path, enable=("dedup_exact",), write={"format": "jsonl.zst", "num_shards": 1})
    out = tmp_path / "out"
    assert _run(config, str(tmp_path / "a.jsonl"), out) == 0
    corpus = _corpus(out)
    assert sorted(r["text"] for r in corpus) == sorted([_TEXT, "another text entirely " * 5])
    assert all(r["lineage"]["unique_ids"] == "renamed_from:7" for r in corpus)


# ----------------------------------------------------------------------------- output folders


def test_non_empty_folder_that_is_not_a_tailguard_run_is_refused(tmp_path: Path, capsys):
    src = _jsonl(tmp_path / "in.jsonl", [{"text": "a document"}])
    out = tmp_path / "mine"
    (out / "corpus").mkdir(parents=True)
    (out / "corpus" / "my-notes.txt").write_text("not tailguard's")
    (out / "rejected").mkdir()
    assert _run(minimal_config(tmp_path), str(src), out) == 2
    assert "not a tailguard run" in _one_line_error(capsys)
    assert (out / "corpus" / "my-notes.txt").read_text() == "not tailguard's"
    assert sorted(p.name for p in out.rglob("*")) == ["corpus", "my-notes.txt", "rejected"]


def test_resuming_an_unfinished_run_deletes_only_tailguards_files(tmp_path: Path):
    src = _jsonl(tmp_path / "in.jsonl", [{"id": f"d{i}", "text": f"document {i}"} for i in range(4)])
    config = minimal_config(tmp_path, write={"format": "jsonl.zst", "num_shards": 2})
    out = tmp_path / "out"
    assert _run(config, str(src), out) == 0
    (out / "manifest.json").unlink()  # as if the run had been killed before it finished
    (out / "corpus" / "README.txt").write_text("a user's own file")
    (out / "dead_letter").mkdir(exist_ok=True)
    (out / "dead_letter" / "triage-notes.md").write_text("notes")
    assert _run(config, str(src), out) == 0
    assert (out / "corpus" / "README.txt").read_text() == "a user's own file"
    assert (out / "dead_letter" / "triage-notes.md").read_text() == "notes"
    assert len(_corpus(out)) == 4


def test_overwrite_of_a_finished_run_keeps_foreign_files(tmp_path: Path):
    src = _jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "one document"}])
    config = minimal_config(tmp_path, write={"format": "jsonl.zst", "num_shards": 1})
    out = tmp_path / "out"
    assert _run(config, str(src), out) == 0
    (out / "corpus" / "keep-me.txt").write_text("x")
    assert _run(config, str(src), out) == 2
    assert _run(config, str(src), out, "--overwrite") == 0
    assert (out / "corpus" / "keep-me.txt").exists() and len(_corpus(out)) == 1


def test_unwritable_output_is_a_config_error_before_the_pipeline(tmp_path: Path, capsys):
    src = _jsonl(tmp_path / "in.jsonl", [{"text": "a document"}])
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert _run(minimal_config(tmp_path), str(src), blocker / "out") == 2
    line = _one_line_error(capsys)
    assert "--output" in line and "cannot write" in line


# ----------------------------------------------------------------------------- configuration


def test_mix_shares_that_do_not_sum_to_one_are_a_config_error(tmp_path: Path, capsys):
    src = _jsonl(tmp_path / "in.jsonl", [{"text": "a document"}])
    components = [
        {"name": "human", "target_share": 0.5, "tiers": ["tier1"]},
        {"name": "web", "target_share": 0.2, "tiers": ["tier3"]},
        {"name": "synthetic", "target_share": 0.1, "tiers": ["curated_synthetic"]},
    ]
    config = minimal_config(tmp_path, mix={"enabled": True, "components": components})
    out = tmp_path / "out"
    assert _run(config, str(src), out) == 2
    line = _one_line_error(capsys)
    assert "mix" in line and "target_share" in line and "0.8" in line and "normalise" in line
    assert not out.exists()


def test_mix_normalise_true_accepts_shares_that_do_not_sum_to_one(tmp_path: Path):
    from tailguard.pipelines.config import config_from_dict

    components = [{"name": "a", "target_share": 0.5}, {"name": "b", "target_share": 0.3}]
    cfg = config_from_dict({"mix": {"components": components, "normalise": True}})
    assert cfg.stage("mix").normalise is True


def test_directory_input_is_refused(tmp_path: Path, capsys):
    folder = tmp_path / "crawl"
    folder.mkdir()
    _jsonl(folder / "in.jsonl", [{"text": "a document"}])
    assert _run(minimal_config(tmp_path), str(folder), tmp_path / "out") == 2
    line = _one_line_error(capsys)
    assert "is a directory" in line and "crawl/*" in line


def test_pattern_that_matches_nothing_still_exits_2(tmp_path: Path, capsys):
    assert _run(minimal_config(tmp_path), str(tmp_path / "nothing-*.jsonl"), tmp_path / "out") == 2
    assert "matches no files" in _one_line_error(capsys)


def test_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_bytes(b"pipeline:\n  runner: \xff\xfe\n")
    src = _jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    assert _run(config, str(src), tmp_path / "out") == 2
    assert "not UTF-8" in _one_line_error(capsys)


def test_yaml_with_numeric_keys_is_a_config_error_not_a_crash(tmp_path: Path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("write:\n  2: 0.1\n  format: parquet\n1: x\n")
    src = _jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    assert _run(config, str(src), tmp_path / "out") == 2
    assert "unknown" in _one_line_error(capsys)


# ----------------------------------------------------------------------------- loud endings


def test_empty_corpus_warns_and_strict_exits_4(tmp_path: Path, capsys):
    src = _jsonl(tmp_path / "in.jsonl", [{"text": "   "}, {"text": ""}])
    config = minimal_config(tmp_path)
    assert _run(config, str(src), tmp_path / "loose") == 0
    assert "WARNING: the corpus is empty" in capsys.readouterr().out
    assert _run(config, str(src), tmp_path / "strict", "--strict") == 4


def test_failed_file_is_counted_as_a_file_and_warned_about(tmp_path: Path, capsys):
    payload = "".join(json.dumps({"id": f"t{i}", "text": f"row {i} {i * 7919:x} " * 9}) + "\n" for i in range(3000))
    blob = zstandard.ZstdCompressor().compress(payload.encode())
    (tmp_path / "cut.jsonl.zst").write_bytes(blob[: len(blob) // 2])
    _jsonl(tmp_path / "ok.jsonl", [{"id": "ok", "text": "fine"}])
    config = minimal_config(tmp_path, write={"format": "jsonl.zst", "num_shards": 1})
    out = tmp_path / "out"
    assert _run(config, [str(tmp_path / "*.jsonl.zst"), str(tmp_path / "ok.jsonl")], out, "--strict") == 4
    printed = capsys.readouterr().out
    assert "failed files: 1 not read to the end" in printed and "WARNING: 1 input file(s)" in printed
    ledger = json.loads((out / "manifest.json").read_text())["ledger"]
    assert ledger["balanced"] and ledger["dead_letter"] == 0 and ledger["file_failures"]["files"] == 1
    assert 1000 < ledger["kept"] < 3001  # the records before the cut were read


def test_progress_counts_drops_of_every_stage_and_corpus_rows_only(tmp_path: Path):
    rows = [{"id": f"d{i}", "text": f"short {i}"} for i in range(5)]
    rows += [{"id": f"long{i}", "text": " ".join(f"word{j}" for j in range(120)) + f" tail {i}."} for i in range(3)]
    src = _jsonl(tmp_path / "in.jsonl", rows)
    config = minimal_config(
        tmp_path,
        enable=("extract", "quality"),
        resume={"enabled": True, "batch_files": 1},
        write={"format": "jsonl.zst", "num_shards": 1},
    )
    before = ProgressTally.get().snapshot()
    out = tmp_path / "out"
    assert _run(config, str(src), out) == 0
    after = ProgressTally.get().snapshot()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    quality_drops = sum(v for k, v in delta.items() if k.startswith("dropped:quality/"))
    ledger = json.loads((out / "manifest.json").read_text())["ledger"]
    assert quality_drops == sum(ledger["dropped"].get("quality", {}).values()) > 0
    assert delta.get("kept", 0) == len(_corpus(out))  # checkpoint rows are not counted as written


# ----------------------------------------------------------------------------- counters


def test_counters_count_every_input_file_once_also_after_a_resume(tmp_path: Path):
    for f in range(3):
        _jsonl(tmp_path / f"in-{f}.jsonl", [{"id": f"f{f}-{i}", "text": f"document {i} of {f}"} for i in range(4)])
    config = minimal_config(
        tmp_path,
        enable=("extract",),
        resume={"enabled": True, "batch_files": 1, "keep_checkpoints": True},
        write={"format": "jsonl.zst", "num_shards": 1},
    )
    out = tmp_path / "out"
    assert _run(config, str(tmp_path / "in-*.jsonl"), out) == 0
    counters = json.loads((out / "manifest.json").read_text())["counters"]
    assert counters["read"]["files"] == 3 and counters["read"]["passed"] == 12
    # a resumed run: every batch is complete, only the curate phase runs again
    (out / "manifest.json").unlink()
    assert _run(config, str(tmp_path / "in-*.jsonl"), out) == 0
    counters = json.loads((out / "manifest.json").read_text())["counters"]
    assert counters["read"]["files"] == 3 and counters["read"]["passed"] == 12
    assert os.path.isdir(out / "_work" / "ingest")
