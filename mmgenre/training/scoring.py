"""Running a fusion head over a feature set."""

from __future__ import annotations

import numpy as np
import torch

from mmgenre.features.featureset import FeatureSet


@torch.inference_mode()
def predict_scores(
    model: torch.nn.Module, features: FeatureSet, batch_size: int = 512, device: str = "cpu"
) -> np.ndarray:
    """Per-genre probabilities (N, C) of every row."""
    model.eval()
    scores = []
    for start in range(0, len(features), batch_size):
        positions = np.arange(start, min(start + batch_size, len(features)))
        scores.append(torch.sigmoid(model(features.batch(positions, device)).float()).cpu().numpy())
    if not scores:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(scores)
