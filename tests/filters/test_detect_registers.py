"""The human-side audit maths: registers, FPR per register, ratio to overall FPR, generator families.

Every expected figure below is counted by hand from the inputs the test builds (no model).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tailguard.filters.detect.calibration import HUMAN_REGISTERS, human_registers, register_fpr_report
from tailguard.filters.detect.metrics import GENERATOR_FAMILIES, generator_family

# 60 long words in one sentence: not short, not simple prose (60 words per sentence, long words).
_COMPLEX = " ".join(["extraordinarily complicated administrative considerations"] * 15) + "."
# 60 words in 10 sentences of 6 short words: simple prose (6 words/sentence, 2.83 letters/word).
_SIMPLE = "The cat sat on the mat. " * 10
_SHORT = "A few plain words here."


def _simple_with_sentence_length(words_per_sentence: int, sentences: int) -> str:
    return " ".join(" ".join(["the"] * (words_per_sentence - 1) + ["cat."]) for _ in range(sentences))


def test_human_registers_by_length_domain_and_readability() -> None:
    assert human_registers(_SHORT, "web") == ["short_text"]
    assert human_registers(_COMPLEX, "web") == []
    assert human_registers(_SIMPLE, "web") == ["simple_prose"]
    assert human_registers(_SHORT, "learner_essay_ellipse") == ["short_text", "learner_nonnative"]
    assert human_registers(_COMPLEX, "learner_short_answer_cefrasag") == ["learner_nonnative"]
    assert human_registers(_COMPLEX, "student_essay_persuade") == ["student_essay"]
    for domain in ("arxiv_abstract", "academic_research", "technical_writing", "pubmedqa_answer", "medical_text"):
        assert human_registers(_COMPLEX, domain) == ["technical_abstract"], domain
    # a document can sit in several registers, in HUMAN_REGISTERS order
    assert human_registers(_SIMPLE, "student_essay_persuade") == ["student_essay", "simple_prose"]
    assert set(HUMAN_REGISTERS) == {
        "short_text",
        "learner_nonnative",
        "student_essay",
        "technical_abstract",
        "simple_prose",
    }


def test_register_boundaries_fifty_words_and_fourteen_words_per_sentence() -> None:
    # < 50 words is short; simple prose needs >= 50 words
    assert human_registers(" ".join(["cat"] * 49), "web") == ["short_text"]
    assert human_registers(" ".join(["cat"] * 50), "web") == []  # 50 words in one sentence: not simple
    # 70 words: 14 words per sentence is simple prose, 70 words in 4 sentences (17.5) is not
    assert human_registers(_simple_with_sentence_length(14, 5), "web") == ["simple_prose"]
    assert human_registers(_simple_with_sentence_length(35, 2), "web") == []
    # mean word length: 4.3 letters is the limit
    long_words = " ".join(["abcde fghij."] * 30)  # 5 letters a word, 2 words a sentence
    assert human_registers(long_words, "web") == []


def _corpus() -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Human groups with known flagged counts at threshold 0.5 (>= counts), plus AI rows to ignore."""
    scores: list[float] = []
    labels: list[int] = []
    texts: list[str] = []
    domains: list[str] = []

    def add(n: int, flagged: int, text: str, domain: str, label: int = 0, high: float = 0.9) -> None:
        for i in range(n):
            # exactly the threshold counts as flagged; 0.4999 does not
            scores.append((high if i % 2 else 0.5) if i < flagged else 0.4999)
            labels.append(label)
            texts.append(text)
            domains.append(domain)

    add(20, 5, _COMPLEX, "learner_essay_ellipse")  # learner: 5/20 = 0.25
    add(30, 3, _COMPLEX, "arxiv_abstract")  # technical: 3/30 = 0.1
    add(10, 5, _SHORT, "web")  # short: 5/10 = 0.5 but only 10 humans: no ratio
    add(40, 0, _COMPLEX, "news")  # no register: 0/40
    add(20, 2, _SIMPLE, "fiction")  # simple prose: 2/20 = 0.1
    add(15, 15, _SHORT, "learner_essay_ellipse", label=1, high=0.99)  # AI rows never count as humans
    return np.array(scores), np.array(labels), texts, domains


def test_register_fpr_report_counts_humans_only_and_gives_ratios_from_twenty_humans() -> None:
    scores, labels, texts, domains = _corpus()
    report = register_fpr_report(scores, labels, texts, domains, threshold=0.5)
    # humans: 20 + 30 + 10 + 40 + 20 = 120; flagged: 5 + 3 + 5 + 0 + 2 = 15
    overall = 15 / 120
    assert report["overall_fpr"] == round(overall, 4) == 0.125
    per = report["per_register"]
    assert set(per) == set(HUMAN_REGISTERS)
    assert per["learner_nonnative"] == {
        "n_human": 20,
        "threshold_fpr": 0.25,
        "ratio_to_overall": round(0.25 / overall, 3),
    }
    assert per["learner_nonnative"]["ratio_to_overall"] == 2.0
    assert per["technical_abstract"] == {"n_human": 30, "threshold_fpr": 0.1, "ratio_to_overall": 0.8}
    assert per["simple_prose"] == {"n_human": 20, "threshold_fpr": 0.1, "ratio_to_overall": 0.8}
    # 10 short humans: the FPR is reported, the ratio is not (fewer than 20)
    assert per["short_text"] == {"n_human": 10, "threshold_fpr": 0.5, "ratio_to_overall": None}
    assert per["student_essay"] == {"n_human": 0, "threshold_fpr": None, "ratio_to_overall": None}
    # the worst rated register is learner (2.0x); short_text (4.0x, unrated) does not count
    assert report["worst_ratio"] == {"register": "learner_nonnative", "ratio": 2.0}


def test_ratio_needs_twenty_humans_in_the_register() -> None:
    def report_with_short(n_short: int) -> dict:
        # n_short short humans, all flagged; 100 complex unflagged humans in no register
        scores = np.array([0.9] * n_short + [0.1] * 100)
        texts = [_SHORT] * n_short + [_COMPLEX] * 100
        return register_fpr_report(scores, np.zeros(len(scores), dtype=int), texts, ["web"] * len(texts), 0.5)

    at_19, at_20 = report_with_short(19), report_with_short(20)
    assert at_19["per_register"]["short_text"]["threshold_fpr"] == 1.0
    assert at_19["per_register"]["short_text"]["ratio_to_overall"] is None and at_19["worst_ratio"] is None
    # 20 flagged of 120 humans: overall 1/6, short FPR 1.0, ratio 6.0
    assert at_20["overall_fpr"] == round(20 / 120, 4)
    assert at_20["per_register"]["short_text"]["ratio_to_overall"] == 6.0
    assert at_20["worst_ratio"] == {"register": "short_text", "ratio": 6.0}


def test_no_ratio_when_nothing_human_is_flagged_or_there_are_no_humans() -> None:
    texts = [_SHORT] * 30
    zero = register_fpr_report(np.full(30, 0.1), np.zeros(30, dtype=int), texts, ["web"] * 30, 0.5)
    assert zero["overall_fpr"] == 0.0
    assert zero["per_register"]["short_text"] == {"n_human": 30, "threshold_fpr": 0.0, "ratio_to_overall": None}
    assert zero["worst_ratio"] is None
    only_ai = register_fpr_report(np.full(30, 0.9), np.ones(30, dtype=int), texts, ["web"] * 30, 0.5)
    assert only_ai["overall_fpr"] is None and only_ai["worst_ratio"] is None
    assert all(v["n_human"] == 0 for v in only_ai["per_register"].values())


def test_worst_ratio_is_the_largest_rated_register() -> None:
    # learner 2/20 flagged (0.1), technical 6/20 (0.3), 60 other humans 0: overall 8/100 = 0.08
    texts = [_COMPLEX] * 100
    domains = ["learner_essay_ellipse"] * 20 + ["medical_text"] * 20 + ["news"] * 60
    scores = np.array([0.9] * 2 + [0.1] * 18 + [0.9] * 6 + [0.1] * 14 + [0.1] * 60)
    report = register_fpr_report(scores, np.zeros(100, dtype=int), texts, domains, 0.5)
    assert report["per_register"]["learner_nonnative"]["ratio_to_overall"] == 1.25
    assert report["per_register"]["technical_abstract"]["ratio_to_overall"] == 3.75
    assert report["worst_ratio"] == {"register": "technical_abstract", "ratio": 3.75}


def test_eval_report_worst_register_ratio_is_the_register_audit_of_its_scores(tmp_path: Path) -> None:
    """``detector eval``'s ``worst_register_ratio`` / ``per_register`` come from the model's own scores."""
    from tailguard.filters.detect.base import prepare
    from tailguard.filters.detect.data import LabelledText
    from tailguard.filters.detect.ensemble import load_detector, train_detector
    from tailguard.pipelines.detector_training import evaluate_rows
    from tests.filters.detect_helpers import synthetic_rows, write_jsonl

    data = write_jsonl(tmp_path / "train.jsonl", synthetic_rows(400, seed=11))
    train_detector([str(data)], str(tmp_path / "model"), {"params": {"ngram": {"hash_bits": 14}}})
    detector = load_detector(str(tmp_path / "model"))
    rows = [
        LabelledText(
            text=r["text"],
            label=int(r["label"] == "ai"),
            dataset="syn",
            domain="learner_essay_ellipse" if (i // 2) % 2 else "web",
        )
        for i, r in enumerate(synthetic_rows(160, seed=12))
    ]
    report = evaluate_rows(detector, rows)
    scores, _ = detector.score_prepared(prepare([r.text for r in rows], detector.max_chars))
    assert len(scores) == 160
    expected = register_fpr_report(
        scores,
        np.array([r.label for r in rows]),
        [r.text for r in rows],
        [r.domain for r in rows],
        detector.info.threshold(),
    )
    assert report["per_register"] == expected["per_register"]
    assert report["worst_register_ratio"] == expected["worst_ratio"]
    # humans are the even rows; every other one of them is a learner row: 40 of the 80
    assert report["per_register"]["learner_nonnative"]["n_human"] == 40


def test_generator_family_of_every_documented_generator() -> None:
    # the generators of shared/data/detect as normalised in its README (generator column)
    expected = {
        "gpt2": "base",
        "gpt-neo": "base",
        "gpt-j": "base",
        "llama": "base",
        "gpt-3-davinci": "base",
        "text-davinci-003": "instruction",
        "flan-t5-xxl": "instruction",
        "gpt3re": "instruction",
        "google-palm": "instruction",
        "gpt-3.5-turbo": "chat",
        "gpt-3.5-turbo-0613": "chat",
        "gpt-4": "chat",
        "gpt-4o": "chat",
        "gemini-1.5-pro": "chat",
        "llama-3-70b": "chat",
        "llama-2-70b": "chat",
        "llama-2-70b-chat": "chat",
        "claude-instant": "chat",
    }
    assert {g: generator_family(g) for g in expected} == expected
    assert generator_family("human") == "human"
    assert generator_family("unknown") == "unknown"
    assert generator_family("some-new-model") == "unknown"
    # each generator is in exactly one family
    names = [n for family in GENERATOR_FAMILIES.values() for n in family]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_threshold_extremes(threshold: float) -> None:
    scores = np.array([0.0] * 10 + [1.0] * 20)
    report = register_fpr_report(scores, np.zeros(30, dtype=int), [_SHORT] * 30, ["web"] * 30, threshold)
    # >= threshold: at 0.0 every human is flagged (FPR 1), at 1.0 only the 20 scored exactly 1.0
    assert report["overall_fpr"] == (1.0 if threshold == 0.0 else round(20 / 30, 4))
    assert report["per_register"]["short_text"]["ratio_to_overall"] == 1.0
