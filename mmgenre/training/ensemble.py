"""A recipe's classifier: one head, or (`train.ensemble: K`) K heads trained from different seeds whose genre
probabilities are averaged."""

from __future__ import annotations

import torch
from torch import nn

from mmgenre.components import FusionContext
from mmgenre.training.tails import with_tails


class Ensemble(nn.Module):
    """Averages its members' probabilities; returns them as logits, so a sigmoid gives the mean probability."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        probabilities = torch.stack([torch.sigmoid(member(batch).float()) for member in self.members]).mean(0)
        return torch.logit(probabilities, eps=1e-6)  # (B, C)


def build_model(recipe, context: FusionContext) -> nn.Module:
    """The recipe's head (behind its encoders' trainable tails, if any), or an ensemble of `train.ensemble` of them
    (built the same way when a run is loaded)."""
    count = recipe.spec.train.ensemble
    if count == 1:
        return with_tails(recipe, context)
    return Ensemble([with_tails(recipe, context) for _ in range(count)])
