"""collapse-bench machinery at a tiny size, plus the powered --quick smoke check.

The full run is a benchmark, run by hand; ``--quick`` runs here once (about a minute of CPU)
because CI must catch a curation regression: with 75 % of the crawl synthetic, uncurated
training is far from the oracle and curated training close to it (issue 15).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tailguard.pipelines.cli import main
from tailguard.pipelines.collapse_bench import (
    CONDITIONS,
    POWER_CURATED_MAX,
    POWER_UNCURATED_MIN,
    BenchSettings,
    crawl_share,
    mean_ci,
    run_benchmark,
    seed_table,
    summarize_sweep,
)

TINY = BenchSettings(
    corpora=("pydoc",),
    decodings=("ancestral",),
    seeds=2,
    generations=2,
    budget_tokens=1500,
    test_tokens=1500,
    calib_docs=20,
    metric_tokens=1000,
    sweep_shares=(0.5,),
    recovery_multiples=(0.5, 1.0),
)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_benchmark(TINY, out_dir=str(tmp_path_factory.mktemp("plots")))


def test_result_has_the_interface_the_checks_rely_on(result: dict) -> None:
    data = json.loads(json.dumps(result))  # JSON-serialisable
    assert data["verdict"] in ("prevents", "slows", "neither")
    assert set(data["conditions"]) == set(CONDITIONS) | {"sweep_0.5"}
    for name in ("uncurated", "curated", "oracle", "curated_oof", "curated_rising"):
        ratio = data["conditions"][name]["ppl_ratio_vs_oracle_gen10"]
        assert set(ratio) == {"mean", "ci_low", "ci_high"}
        assert ratio["ci_low"] <= ratio["mean"] <= ratio["ci_high"]
    assert data["conditions"]["oracle"]["ppl_ratio_vs_oracle_gen10"]["mean"] == pytest.approx(1.0)
    assert set(data["verdicts_by_detector"]) == {
        "in_family",
        "out_of_family",
        "rising_in_family",
        "rising_out_of_family",
    }
    assert data["sweep"]["rows"][0]["synthetic_share"] == 0.5
    assert set(data["recovery"]["sources"]) == {"replace", "uncurated"}


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
    names = sorted(Path(p).name for p in result["plots"])
    assert names == ["collapse_pydoc_ancestral.png", "recovery_pydoc_ancestral.png", "sweep_pydoc_ancestral.png"]


def test_sweep_and_rising_schedule_set_the_true_synthetic_share(result: dict) -> None:
    conds = result["settings"]["pydoc/ancestral"]["conditions"]
    # sweep_0.5: half of every generation's training tokens are the previous model's samples
    assert conds["sweep_0.5"]["curves"]["train_synthetic_share"][1] == pytest.approx(0.5, abs=0.05)
    # uncurated_rising: the crawl starts near the article's 15-20 % and rises
    rising = conds["uncurated_rising"]["curves"]["train_synthetic_share"]
    assert 0.1 < rising[1] < 0.3
    assert crawl_share("uncurated_rising", 1, TINY) == pytest.approx(0.175)
    assert crawl_share("uncurated_rising", 10, TINY) == pytest.approx(0.625)
    assert crawl_share("oracle", 3, TINY) is None


def test_recovery_adds_human_data_to_the_collapsed_data(result: dict) -> None:
    rec = result["recovery"]
    assert rec["human_tokens"][0] < rec["human_tokens"][1]  # nested draws: 0.5 B then 1 B
    rows = rec["sources"]["replace"]["rows"]
    assert len(rows) == 2 and all(set(r["returned"]) == {"mean", "ci_low", "ci_high"} for r in rows)
    # Continued training on human text lowers the collapsed model's perplexity.
    assert rows[-1]["ppl_ratio_vs_oracle"]["mean"] < rec["sources"]["replace"]["collapsed_ppl_ratio_vs_oracle"]["mean"]


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


def _run(oracle: float, by_share: dict[float, tuple[list[float], list[float]]]) -> list[dict]:
    """Synthetic runs: per seed, the oracle's ppl/rare survival and each sweep share's."""
    runs = []
    for i in range(3):
        curves = {"oracle": [{}, {"ppl": oracle + i, "rare_type_survival": 0.5}]}
        for share, (ppl, rare) in by_share.items():
            curves[f"sweep_{share:g}"] = [{}, {"ppl": ppl[i], "rare_type_survival": rare[i]}]
        runs.append({"curves": curves})
    return runs


def test_safe_ratio_is_the_share_below_the_first_degrading_one() -> None:
    settings = BenchSettings(generations=1, sweep_shares=(0.1, 0.3, 0.5))
    runs = _run(100.0, {
        0.1: ([99.0, 102.0, 101.0], [0.5, 0.49, 0.51]),  # noise around the oracle
        0.3: ([110.0, 111.0, 112.5], [0.5, 0.5, 0.5]),  # clearly worse perplexity, same rare survival
        0.5: ([130.0, 131.0, 133.0], [0.3, 0.31, 0.29]),
    })  # fmt: skip
    sweep = summarize_sweep(runs, settings)
    assert [r["ppl_degraded"] for r in sweep["rows"]] == [False, True, True]
    assert [r["rare_degraded"] for r in sweep["rows"]] == [False, False, True]
    assert sweep["safe_ratio_ppl"] == 0.1 and sweep["safe_ratio_rare"] == 0.3


def test_cli_rejects_bad_sizes(tmp_path: Path) -> None:
    assert main(["collapse-bench", "--quick", "--seeds", "0", "--json", str(tmp_path / "x.json")]) == 2
    assert main(["collapse-bench", "--budget-tokens", "5", "--json", str(tmp_path / "x.json")]) == 2


@pytest.mark.slow
def test_quick_has_power_to_catch_a_curation_regression(tmp_path: Path) -> None:
    """The CI smoke check: --quick separates curated from uncurated training (issue 15)."""
    corpus = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "human" / "jane-austen-6-novels.jsonl.gz"
    if not corpus.exists():
        pytest.skip(f"{corpus} not present: --quick runs on Austen from ../shared/data")
    out = tmp_path / "quick.json"
    assert main(["collapse-bench", "--quick", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["config"]["corpora_run"] == ["austen"]
    uncurated = data["conditions"]["uncurated"]["ppl_ratio_vs_oracle_gen10"]["mean"]
    curated = data["conditions"]["curated"]["ppl_ratio_vs_oracle_gen10"]["mean"]
    assert uncurated >= POWER_UNCURATED_MIN, f"uncurated only {uncurated:.3f}x the oracle: --quick lost its power"
    assert curated <= POWER_CURATED_MAX, f"curated {curated:.3f}x the oracle: curation regressed"
    assert data["power"]["ok"] is True
