"""`train.ema`: the weights validated and kept are a moving average of the trajectory, not the last step's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mmgenre.features.featureset import FeatureSet
from mmgenre.recipe import TrainSpec
from mmgenre.training.loop import fit


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(8, 3)

    def forward(self, batch: dict) -> torch.Tensor:
        return self.layer(batch["image"])


def features(rows: int, seed: int) -> tuple[FeatureSet, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 8)).astype(np.float32)
    y = (x[:, :3] > 0).astype(np.float32)  # learnable: each genre is the sign of one feature
    return FeatureSet(rows=np.arange(rows), arrays={"image": x}), y


def trained_distance(ema: float | None) -> float:
    torch.manual_seed(0)
    model = Linear()
    start = [p.detach().clone() for p in model.parameters()]
    (train, train_y), (val, val_y) = features(256, 1), features(64, 2)
    spec = TrainSpec(lr=0.05, batch_size=16, max_epochs=3, patience=3, monitor="map", ema=ema)
    result = fit(model, nn.BCEWithLogitsLoss(), train, train_y, val, val_y, spec)
    assert result.best_epoch >= 1
    return float(sum((p.detach() - s).norm() for p, s in zip(model.parameters(), start)))


def test_the_kept_weights_are_the_moving_average():
    moved = trained_distance(None)
    assert moved > 0.5  # the plain weights travel
    assert trained_distance(0.99999) < moved / 5  # an average this slow stays near its start (the first step)
    assert moved / 20 < trained_distance(0.9) < moved * 1.5  # a fast one follows the trajectory


def test_ema_must_be_a_decay():
    with pytest.raises(ValueError):
        TrainSpec(ema=1.0)
