"""Each detector, trained on a small real train subset, ranks a real test subset better than chance.

Data: ../shared/data/detect (DetectRL; split column respected).  Thresholds are behavioural
(AUROC clearly above 0.5 with a fixed seed), not tuned figures.
"""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.filters.detect.base import DETECTORS, prepare
from tailguard.filters.detect.data import LabelledText
from tailguard.filters.detect.ensemble import EnsembleConfig, load_detector, train_rows
from tailguard.filters.detect.metrics import auroc
from tests.filters.detect_helpers import real_subset

_SMALL = {"ngram": {"hash_bits": 18}, "compression": {"dict_size": 8192}}


@pytest.fixture(scope="module")
def data() -> tuple[list[LabelledText], list[LabelledText]]:
    return real_subset("detectrl", "train", 0.06), real_subset("detectrl", "test", 0.1)


@pytest.mark.parametrize("name", ["fasttext", "ngram", "compression", "stylometry"])
def test_detector_beats_chance_on_unseen_real_text(
    name: str, data: tuple[list[LabelledText], list[LabelledText]]
) -> None:
    train, test = data
    detector = DETECTORS[name].train(prepare([r.text for r in train]), [r.label for r in train], _SMALL.get(name, {}))
    scores = detector.features(prepare([r.text for r in test]))[:, 0]
    assert auroc(scores, [r.label for r in test]) > 0.6  # AUROC std error here is ~0.017


@pytest.fixture(scope="module")
def ensemble_and_test(
    data: tuple[list[LabelledText], list[LabelledText]],
    tmp_path_factory: pytest.TempPathFactory,
):  # type: ignore[no-untyped-def]
    train, test = data
    detector = train_rows(train, EnsembleConfig(params=_SMALL, seed=1))
    out = tmp_path_factory.mktemp("model")
    detector.save(str(out))
    return detector, str(out), test


def test_ensemble_beats_every_single_detector_floor(ensemble_and_test) -> None:  # type: ignore[no-untyped-def]
    detector, _, test = ensemble_and_test
    scores, per = detector.score_prepared(prepare([r.text for r in test]))
    labels = np.array([r.label for r in test])
    assert auroc(scores, labels) > 0.8
    assert auroc(scores, labels) >= min(auroc(v, labels) for v in per.values())


def test_saved_model_scores_identically_after_load(ensemble_and_test) -> None:  # type: ignore[no-untyped-def]
    detector, directory, test = ensemble_and_test
    texts = [r.text for r in test[:50]]
    loaded = load_detector(directory)
    assert np.allclose(detector.score(texts), loaded.score(texts))
    assert loaded.info.files and "fasttext.bin" in loaded.info.files


def test_threshold_holds_target_fpr_on_held_out_human_text(ensemble_and_test) -> None:  # type: ignore[no-untyped-def]
    # Calibrated on the calib fold of the *training* rows; checked on human rows of the test split.
    detector, _, test = ensemble_and_test
    human = [r.text for r in test if r.label == 0]
    scores = np.array(detector.score(human))
    for fpr in (0.01, 0.05):
        observed = float((scores >= detector.info.threshold(fpr)).mean())
        assert observed <= fpr + 0.04, (fpr, observed)


def test_load_detector_rejects_non_model_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="not a tailguard detector model"):
        load_detector(str(tmp_path))


def test_stacker_ignores_raw_stylometric_rates_by_default(ensemble_and_test) -> None:  # type: ignore[no-untyped-def]
    detector, _, _ = ensemble_and_test
    weights = dict(zip(detector.info.feature_names, detector.stacker.weights, strict=True))
    assert weights["ttr_100"] == 0.0 and weights["fw_the"] == 0.0
    assert weights["stylometry_score"] != 0.0 and weights["ngram_llr_mean"] != 0.0
