"""``tailguard report compare`` on real runs: three small pipeline runs whose corpora lose diversity."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tailguard.filters.collapse.compare import CompareSettings, RunIndicators, compare_runs
from tailguard.pipelines.cli import main
from tailguard.pipelines.compare import EXIT_ALARM
from tailguard.pipelines.curate import run
from tests.pipelines.helpers import minimal_config


def _write_version(path: Path, vocabulary: int, seed: int) -> None:
    """60 documents of 120 words drawn from the first ``vocabulary`` words: fewer words, less diversity."""
    rng = random.Random(seed)
    words = [f"word{i}" for i in range(vocabulary)]
    lines = []
    for i in range(60):
        text = " ".join(rng.choice(words) for _ in range(120)) + "."
        lines.append(json.dumps({"id": f"v{seed}-{i}", "text": text}))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("versions")
    out = []
    for k, vocabulary in enumerate((4000, 400, 150)):  # three "monthly dumps", each less diverse
        src = base / f"src{k}"
        src.mkdir()
        _write_version(src / "docs.jsonl", vocabulary, k)
        (base / f"cfg{k}").mkdir()
        config = minimal_config(base / f"cfg{k}", collapse={"enabled": True, "sample_tokens": 2000})
        target = base / f"2024-0{k + 1}"
        assert run(["--config", str(config), "--input", str(src / "*.jsonl"), "--output", str(target)]) == 0
        out.append(target)
    return out


def test_compare_writes_json_and_html_with_alarms(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    code = main(["report", "compare", *map(str, runs), "--out", str(out)])
    assert code == 0
    data = json.loads((out / "compare.json").read_text())
    assert {"runs", "indicators", "alarms"} <= set(data)
    assert [r["name"] for r in data["runs"]] == ["2024-01", "2024-02", "2024-03"]
    distinct = data["indicators"]["all"]["distinct_1"]
    assert len(distinct["values"]) == 3 and distinct["trend"] == "falling"
    kinds = {(a["kind"], a["indicator"]) for a in data["alarms"] if a["group"] == "all"}
    assert ("drop", "distinct_1") in kinds and ("steady_decline", "distinct_1") in kinds
    page = (out / "compare.html").read_text()
    assert "data:image/png;base64," in page and "alarm(s)" in page and "http" not in page.split("<body>")[1]


def test_fail_on_alarm_exits_4_and_stable_runs_exit_0(runs: list[Path], tmp_path: Path) -> None:
    args = ["report", "compare", str(runs[0]), str(runs[1]), "--out", str(tmp_path / "a"), "--fail-on-alarm"]
    assert main(args) == EXIT_ALARM
    same = ["report", "compare", str(runs[0]), str(runs[0]), "--out", str(tmp_path / "b"), "--fail-on-alarm"]
    assert main(same) == 0
    assert json.loads((tmp_path / "b" / "compare.json").read_text())["alarms"] == []


def test_bad_inputs_exit_2_naming_the_problem(runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", "compare", str(runs[0]), "--out", str(tmp_path / "c")]) == 2
    assert main(["report", "compare", str(runs[0]), str(tmp_path / "nothing"), "--out", str(tmp_path / "c")]) == 2
    assert "no manifest.json" in capsys.readouterr().err
    assert main(["report", "compare", str(runs[0]), str(runs[1]), "--out", str(tmp_path / "c"),
                 "--max-drop", "distinct_2=2"]) == 2  # fmt: skip


def test_report_compare_imports_no_beam() -> None:
    code = "import sys, tailguard.pipelines.compare; print('apache_beam' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == (
        "False"
    )


def _runs(series: list[float]) -> list[RunIndicators]:
    return [RunIndicators(f"r{i}", f"/r{i}", None, None, None, {"all": {"tail_mass": v}}) for i, v in enumerate(series)]


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        pytest.param([0.10, 0.10, 0.10], [], id="flat"),
        pytest.param([0.10, 0.085, 0.09], ["drop"], id="one-big-drop"),
        pytest.param([0.10, 0.097, 0.094, 0.091], ["steady_decline"], id="steady-small-falls"),
        pytest.param([0.10, 0.099, 0.0985], [], id="steady-but-below-total-bound"),
        pytest.param([0.10, 0.12, 0.13], [], id="rising"),
    ],
)
def test_alarm_rules(series: list[float], expected: list[str]) -> None:
    result = compare_runs(_runs(series), CompareSettings())
    assert [a["kind"] for a in result["alarms"]] == expected
