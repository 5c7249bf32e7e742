"""Trivial reference predictions that a model must clearly beat on the same posters."""

from __future__ import annotations

import numpy as np

from mmgenre.evaluation.metrics import classification_metrics


def reference_predictions(genre_counts: np.ndarray, count: int) -> dict[str, np.ndarray]:
    """Constant guesses: every genre, and the k most frequent training genres (k = 1..3)."""
    genres = len(genre_counts)
    guesses = {"every genre": np.ones((count, genres), dtype=bool)}
    order = np.argsort(-np.asarray(genre_counts), kind="stable")
    for k in (1, 2, 3):
        row = np.zeros(genres, dtype=bool)
        row[order[:k]] = True
        guesses[f"top-{k} frequent"] = np.tile(row, (count, 1))
    return guesses


def reference_metrics(genre_counts: np.ndarray, targets: np.ndarray, labels: list[str]) -> dict[str, dict]:
    """Macro/micro/samples F1 and hit ratio of each constant guess on `targets`.

    `genre_counts` are the training split's genre frequencies, which rank the "most frequent" guesses.
    """
    results = {}
    for name, predicted in reference_predictions(genre_counts, len(targets)).items():
        metrics = classification_metrics(targets, predicted, labels)
        metrics.pop("per_genre")
        results[name] = metrics
    return results
