"""Metrics, thresholds and references against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from mmgenre.evaluation.metrics import hit_at_1, hit_ratio, mean_average_precision, predicted_sets, score_metrics
from mmgenre.evaluation.references import reference_metrics
from mmgenre.evaluation.thresholds import tune_thresholds

LABELS = ["A", "B", "C"]
TARGETS = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0], [0, 0, 1]])
SCORES = np.array([[0.9, 0.2, 0.1], [0.3, 0.6, 0.4], [0.2, 0.7, 0.1], [0.1, 0.2, 0.3]])


def test_f1_scores_match_hand_computation():
    metrics = score_metrics(TARGETS, SCORES, 0.5, LABELS)
    # predictions at 0.5: [A], [B], [B], [] -> A: tp1 fn1 (F1 2/3); B: tp2 (F1 1); C: tp0 fn2 (F1 0)
    assert metrics["per_genre"]["A"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    # micro: tp 3, fp 0, fn 3 -> P 1, R 0.5
    assert metrics["micro_f1"] == pytest.approx(2 / 3)
    # samples: per poster F1 = 1, 2/3, 2/3, 0
    assert metrics["samples_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3 + 0) / 4)


def test_hit_ratio_falls_back_to_the_top_genre():
    predicted = predicted_sets(SCORES, 0.5)
    assert predicted[3].tolist() == [False, False, True]  # nothing over 0.5: the top genre, C
    # hits: poster 1 (A), 2 (B), 3 (B), 4 (C via fallback)
    assert hit_ratio(TARGETS, predicted) == 1.0
    assert hit_ratio(TARGETS, SCORES >= 0.5) == 0.75
    assert hit_at_1(TARGETS, SCORES) == 1.0
    assert hit_at_1(TARGETS, np.array([[0, 1, 0]] * 4)) == 0.5


def test_mean_average_precision_by_hand():
    # A: ranking 0.9(+) 0.3(-) 0.2(+) 0.1(-) -> AP = (1 + 2/3) / 2
    ap_a = (1 + 2 / 3) / 2
    # B: 0.7(+) 0.6(+) 0.2 0.2 -> AP 1; C: 0.4(+) 0.3(+) 0.1 0.1 -> AP 1
    assert mean_average_precision(TARGETS, SCORES) == pytest.approx((ap_a + 1 + 1) / 3)


def test_tuned_thresholds_maximise_each_genres_f1():
    thresholds = tune_thresholds(TARGETS, SCORES)
    assert thresholds[2] == pytest.approx(0.3)  # C's positives score 0.4 and 0.3: both caught, none wrong
    tuned = score_metrics(TARGETS, SCORES, thresholds, LABELS)
    assert tuned["per_genre"]["C"]["f1"] == 1.0
    assert tuned["macro_f1"] >= score_metrics(TARGETS, SCORES, 0.5, LABELS)["macro_f1"]


def test_genre_without_positives_keeps_the_default_threshold():
    targets = np.array([[1, 0], [0, 0]])
    assert tune_thresholds(targets, np.array([[0.8, 0.1], [0.2, 0.9]]))[1] == 0.5


def test_constant_references():
    train_counts = np.array([5, 9, 2])  # B, then A, then C are the most frequent
    references = reference_metrics(train_counts, TARGETS, LABELS)
    assert references["every genre"]["hit_ratio"] == 1.0
    assert references["top-1 frequent"]["hit_ratio"] == 0.5  # predicting B hits posters 2 and 3
    assert references["top-2 frequent"]["hit_ratio"] == 0.75
    assert references["every genre"]["micro_f1"] == pytest.approx(2 * 6 / 12 / (6 / 12 + 1))
