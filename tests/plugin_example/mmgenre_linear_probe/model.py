import torch
import torch.nn.functional as F
from torch import nn


class LinearProbeModel(nn.Module):
    def __init__(self, in_dim: int, classes: int, normalise: bool) -> None:
        super().__init__()
        self.normalise = normalise
        self.linear = nn.Linear(in_dim, classes)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        image, text = batch["image"], batch["text"]  # (B, Di), (B, Dt)
        if self.normalise:
            image, text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
        return self.linear(torch.cat([image, text], dim=-1))  # (B, C)
