"""collapse-bench machinery at a tiny size (the real --quick/full runs are benchmarks, run by hand)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tailguard.pipelines.cli import main
from tailguard.pipelines.collapse_bench import (
    CONDITIONS,
    BenchSettings,
    mean_ci,
    run_benchmark,
    seed_table,
)

TINY = BenchSettings(corpora=("pydoc",), decodings=("ancestral",), seeds=2, generations=2, budget_tokens=1500,
                     test_tokens=1500, calib_docs=20, metric_tokens=1000)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_benchmark(TINY, out_dir=str(tmp_path_factory.mktemp("plots")))


def test_result_has_the_interface_the_checks_rely_on(result: dict) -> None:
    data = json.loads(json.dumps(result))  # JSON-serialisable
    assert data["verdict"] in ("prevents", "slows", "neither")
    assert set(data["conditions"]) == set(CONDITIONS)
    for name in ("uncurated", "curated", "oracle"):
        ratio = data["conditions"][name]["ppl_ratio_vs_oracle_gen10"]
        assert set(ratio) == {"mean", "ci_low", "ci_high"}
        assert ratio["ci_low"] <= ratio["mean"] <= ratio["ci_high"]
    assert data["conditions"]["oracle"]["ppl_ratio_vs_oracle_gen10"]["mean"] == pytest.approx(1.0)


def test_curves_table_and_plots_cover_every_generation(result: dict) -> None:
    setting = result["settings"]["pydoc/ancestral"]
    curves = setting["conditions"]["curated"]["curves"]
    assert len(curves["ppl"]) == TINY.generations + 1
    assert curves["train_synthetic_share"][0] == 0.0
    assert setting["conditions"]["replace"]["curves"]["train_synthetic_share"][1] == 1.0
    assert setting["conditions"]["oracle"]["curves"]["train_synthetic_share"][-1] == 0.0
    rows = result["table"]
    assert [r["generation"] for r in rows if r["condition"] == "curated"] == [0, 1, 2]
    assert rows[0]["quality_pct"] == pytest.approx(100.0)
    assert len(result["plots"]) == 1 and result["plots"][0].endswith(".png")


def test_paired_seeds_share_generation_zero(result: dict) -> None:
    setting = result["settings"]["pydoc/ancestral"]["conditions"]
    gen0 = {name: entry["curves"]["ppl"][0] for name, entry in setting.items()}
    assert len(set(gen0.values())) == 1  # every condition starts from the same generation-0 model


def test_mean_ci_uses_student_t() -> None:
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci["mean"] == 2.0
    assert ci["ci_high"] - 2.0 == pytest.approx(4.303 * 1.0 / math.sqrt(3), rel=1e-6)
    assert math.isnan(mean_ci([1.0])["ci_low"])


def test_seed_table_is_percent_of_generation_zero() -> None:
    setting = {"conditions": {"curated": {"curves": {"types": [10, 5], "distinct_3": [0.5, 0.25], "ppl": [100, 200]}}}}
    rows = seed_table(setting, ("curated",))
    assert rows[1]["vocabulary_diversity_pct"] == 50 and rows[1]["content_uniqueness_pct"] == 50
    assert rows[1]["quality_pct"] == 50


def test_cli_rejects_bad_sizes(tmp_path: Path) -> None:
    assert main(["collapse-bench", "--quick", "--seeds", "0", "--json", str(tmp_path / "x.json")]) == 2
    assert main(["collapse-bench", "--budget-tokens", "5", "--json", str(tmp_path / "x.json")]) == 2
