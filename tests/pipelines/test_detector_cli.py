"""`tailguard detector train` / `eval` end to end on small labelled files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tailguard.pipelines.cli import main
from tests.filters.detect_helpers import real_subset, synthetic_rows, write_jsonl

_SMALL_CONFIG = "params:\n  ngram: {hash_bits: 16}\n  compression: {dict_size: 8192}\n"


def _config(tmp_path: Path) -> str:
    path = tmp_path / "detector.yaml"
    path.write_text(_SMALL_CONFIG, encoding="utf-8")
    return str(path)


def test_train_then_eval_writes_versioned_model_and_sliced_report(
    tmp_path: Path,
) -> None:
    rows = synthetic_rows(500, seed=1)
    for i, row in enumerate(rows):
        row["split"] = "test" if i % 5 == 0 else "train"
    write_jsonl(tmp_path / "a.jsonl", rows[:250])
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as handle:  # compressed input works too
        handle.writelines(json.dumps(r) + "\n" for r in rows[250:])
    model = tmp_path / "model"
    assert (
        main(
            [
                "detector",
                "train",
                "--data",
                str(tmp_path / "*.jsonl*"),
                "--out",
                str(model),
                "--config",
                _config(tmp_path),
            ]
        )
        == 0
    )
    info = json.loads((model / "model.json").read_text())
    assert info["format"] == "tailguard_ai_detect_v1"
    assert [len(d["sha256"]) for d in info["training_data"]] == [64, 64]
    assert set(info["thresholds"]) == {"0.001", "0.01", "0.05"}
    report_path = tmp_path / "eval.json"
    argv = [
        "detector",
        "eval",
        "--data",
        str(tmp_path / "*.jsonl*"),
        "--model",
        str(model),
        "--json",
        str(report_path),
    ]
    assert main([*argv, "--leave-one-source-out"]) == 0
    report = json.loads(report_path.read_text())
    for key in (
        "auroc",
        "tpr_at_1pct_fpr",
        "tpr_at_5pct_fpr",
        "threshold_fpr",
        "threshold_tpr",
        "accuracy",
    ):
        assert key in report["overall"]
    assert set(report["per_source"]) == {"a", "b"}
    assert report["overall"]["n"] == 100  # only split == test rows
    assert set(report["leave_one_source_out"]["per_source"]) == {"a", "b"}
    assert report["overall"]["auroc"] > 0.9  # the synthetic classes are easy


def test_train_and_eval_on_real_shared_subset(tmp_path: Path) -> None:
    rows = real_subset("m4_llama2", "train", 0.5) + real_subset("m4_llama2", "test", 1.0)
    data = write_jsonl(
        tmp_path / "m4.jsonl",
        [
            {
                "text": r.text,
                "label": "ai" if r.label else "human",
                "split": r.split,
                "domain": r.domain,
            }
            for r in rows
        ],
    )
    model = tmp_path / "model"
    assert (
        main(
            [
                "detector",
                "train",
                "--data",
                str(data),
                "--out",
                str(model),
                "--config",
                _config(tmp_path),
            ]
        )
        == 0
    )
    report_path = tmp_path / "eval.json"
    assert (
        main(
            [
                "detector",
                "eval",
                "--data",
                str(data),
                "--model",
                str(model),
                "--json",
                str(report_path),
            ]
        )
        == 0
    )
    report = json.loads(report_path.read_text())
    assert report["overall"]["auroc"] > 0.7
    assert "wikipedia" in report["per_domain"]


def test_eval_with_missing_model_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_jsonl(tmp_path / "x.jsonl", synthetic_rows(10))
    code = main(
        [
            "detector",
            "eval",
            "--data",
            str(data),
            "--model",
            str(tmp_path / "nope"),
            "--json",
            str(tmp_path / "e.json"),
        ]
    )
    assert code == 2
    assert "not a tailguard detector model" in capsys.readouterr().err


def test_unknown_subcommand_exits_2() -> None:
    assert main(["detector", "fly"]) == 2


def _train_m4(tmp_path: Path) -> Path:
    rows = real_subset("m4_llama2", "train", 0.5)
    data = write_jsonl(
        tmp_path / "m4.jsonl",
        [{"text": r.text, "label": "ai" if r.label else "human", "split": r.split} for r in rows],
    )
    model = tmp_path / "model"
    assert main(["detector", "train", "--data", str(data), "--out", str(model), "--config", _config(tmp_path)]) == 0
    return model


def test_calibrate_on_own_human_text_brings_held_out_fpr_to_target(tmp_path: Path) -> None:
    model = _train_m4(tmp_path)
    learner = [r for r in real_subset("learner_english_human", "train", 0.35)]
    human = write_jsonl(
        tmp_path / "human.jsonl",
        [{"id": f"h{i}", "text": r.text, "domain": r.domain} for i, r in enumerate(learner)],
    )
    out = tmp_path / "calibrated"
    report_path = tmp_path / "calib.json"
    argv = ["detector", "calibrate", "--model", str(model), "--human", str(human), "--out", str(out)]
    assert main([*argv, "--target-fpr", "0.05", "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["fpr_on"] == "holdout" and report["holdout_rows"] > 100
    # 5 % target on ~300 held-out essays: binomial sd ~1.3 points
    assert report["overall_fpr"] <= 0.1
    assert set(report["per_domain"]) <= {"learner_essay_ellipse", "learner_short_answer_cefrasag"}
    assert report["per_length"] and "learner_nonnative" in report["per_register"]
    info = json.loads((out / "model.json").read_text())
    assert info["default_fpr"] == 0.05 and "0.05" in info["thresholds"]
    assert info["tiers"]["calibration"]["human_rows"] == report["calibration_rows"]
    # eval accepts the calibrated model directory
    eval_json = tmp_path / "eval.json"
    assert (
        main(
            ["detector", "eval", "--data", str(human), "--split", "all", "--model", str(out), "--json", str(eval_json)]
        )
        == 2
    )
    labelled = write_jsonl(tmp_path / "lab.jsonl", [{"text": r.text, "label": "human"} for r in learner[:50]])
    assert (
        main(
            [
                "detector",
                "eval",
                "--data",
                str(labelled),
                "--split",
                "all",
                "--model",
                str(out),
                "--json",
                str(eval_json),
            ]
        )
        == 0
    )
    assert json.loads(eval_json.read_text())["per_register"]["learner_nonnative"]["n_human"] == 0  # no domain given


def test_calibrate_refuses_ai_rows_and_overwriting_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _train_m4(tmp_path)
    mixed = write_jsonl(tmp_path / "mixed.jsonl", synthetic_rows(20))
    argv = ["detector", "calibrate", "--model", str(model), "--human", str(mixed), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "human text only" in capsys.readouterr().err
    assert main([*argv[:-1], str(model)]) == 2


def test_eval_scored_in_logged_slices_gives_the_same_report(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tailguard.filters.detect.data import read_labelled
    from tailguard.filters.detect.ensemble import load_detector
    from tailguard.pipelines.detector_training import evaluate_rows

    data = write_jsonl(tmp_path / "a.jsonl", synthetic_rows(300, seed=3))
    model = tmp_path / "model"
    assert main(["detector", "train", "--data", str(data), "--out", str(model), "--config", _config(tmp_path)]) == 0
    detector = load_detector(str(model))
    rows = list(read_labelled([str(data)]))
    whole = evaluate_rows(detector, rows, progress_every=len(rows))
    with caplog.at_level("INFO", logger="tailguard.detector"):
        sliced = evaluate_rows(detector, rows, progress_every=37)
    for report in (whole, sliced):
        report.pop("scoring_docs_per_s")
    assert json.dumps(sliced, sort_keys=True) == json.dumps(whole, sort_keys=True)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("scored ")]
    assert len(lines) == 9 and lines[0].startswith("scored 37/300 rows (all)")  # ceil(300 / 37) slices
