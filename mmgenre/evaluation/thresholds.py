"""Per-genre decision thresholds tuned for F1 on the validation split."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve


def tune_thresholds(targets: np.ndarray, scores: np.ndarray, default: float = 0.5) -> np.ndarray:
    """For each genre, the score threshold that maximises its F1 (default when it has no positives)."""
    thresholds = np.full(targets.shape[1], default, dtype=np.float64)
    for genre in range(targets.shape[1]):
        if targets[:, genre].sum() == 0:
            continue
        precision, recall, candidates = precision_recall_curve(targets[:, genre], scores[:, genre])
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        best = int(np.argmax(f1[:-1])) if len(candidates) else None  # the last point has no threshold
        if best is not None:
            thresholds[genre] = candidates[best]
    return thresholds
