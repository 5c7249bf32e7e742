"""Multi-label metrics (scikit-learn), including the paper's hit ratio."""

from __future__ import annotations

import numpy as np


def predicted_sets(scores: np.ndarray, thresholds: np.ndarray | float) -> np.ndarray:
    """Genres over threshold, or the top-scoring genre when none is (B, C) bool."""
    predicted = scores >= thresholds
    empty = ~predicted.any(axis=1)
    predicted[empty, scores[empty].argmax(axis=1)] = True
    return predicted


def hit_ratio(targets: np.ndarray, predicted: np.ndarray) -> float:
    """Fraction of posters with at least one correct predicted genre."""
    return float((targets.astype(bool) & predicted).any(axis=1).mean()) if len(targets) else 0.0


def hit_at_1(targets: np.ndarray, scores: np.ndarray) -> float:
    """Fraction of posters whose top-scoring genre is one of theirs."""
    if not len(targets):
        return 0.0
    return float(targets[np.arange(len(targets)), scores.argmax(axis=1)].mean())


def mean_average_precision(targets: np.ndarray, scores: np.ndarray) -> float:
    """Macro mAP over the genres that have at least one positive."""
    present = targets.sum(axis=0) > 0
    if not present.any():
        return 0.0
    from sklearn.metrics import average_precision_score  # lazily: predicting needs none of scikit-learn

    return float(average_precision_score(targets[:, present], scores[:, present], average="macro"))


def classification_metrics(targets: np.ndarray, predicted: np.ndarray, labels: list[str]) -> dict:
    """F1s, hit ratio and per-genre precision/recall/F1/support of a 0/1 prediction."""
    targets = targets.astype(int)
    predicted = predicted.astype(int)
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(targets, predicted, average=None, zero_division=0)
    return {
        "macro_f1": float(f1_score(targets, predicted, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(targets, predicted, average="micro", zero_division=0)),
        "samples_f1": float(f1_score(targets, predicted, average="samples", zero_division=0)),
        "hit_ratio": hit_ratio(targets, predicted.astype(bool)),
        "per_genre": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
    }


def score_metrics(targets: np.ndarray, scores: np.ndarray, thresholds: np.ndarray | float, labels: list[str]) -> dict:
    """All metrics of scores at the given threshold(s); the hit ratio uses the top-1 fallback."""
    metrics = classification_metrics(targets, scores >= thresholds, labels)
    metrics["hit_ratio"] = hit_ratio(targets, predicted_sets(scores, thresholds))
    metrics["hit_at_1"] = hit_at_1(targets, scores)
    metrics["map"] = mean_average_precision(targets, scores)
    return metrics


def evaluate_scores(targets: np.ndarray, scores: np.ndarray, thresholds: np.ndarray, labels: list[str]) -> dict:
    """Metrics at 0.5 and at the tuned thresholds; the tuned ones are also the top-level headline."""
    tuned = score_metrics(targets, scores, thresholds, labels)
    return {
        **{k: v for k, v in tuned.items() if k != "per_genre"},
        "posters": int(len(targets)),
        "tuned": tuned,
        "threshold_0.5": score_metrics(targets, scores, 0.5, labels),
    }
