"""The baseline heads: concatenation, late fusion, and single-modality MLPs."""

from __future__ import annotations

import torch
from torch import nn

from mmgenre_fusion.layers import mlp


class ConcatFusion(nn.Module):
    def __init__(self, image_dim: int, text_dim: int, classes: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.image_norm, self.text_norm = nn.LayerNorm(image_dim), nn.LayerNorm(text_dim)
        self.classifier = mlp(image_dim + text_dim, hidden, classes, dropout)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        joined = torch.cat([self.image_norm(batch["image"]), self.text_norm(batch["text"])], dim=-1)  # (B, Di+Dt)
        return self.classifier(joined)


class LateFusion(nn.Module):
    def __init__(self, image_dim: int, text_dim: int, classes: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.image_head = mlp(image_dim, hidden, classes, dropout)
        self.text_head = mlp(text_dim, hidden, classes, dropout)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return (self.image_head(batch["image"]) + self.text_head(batch["text"])) / 2


class SingleModality(nn.Module):
    def __init__(self, modality: str, dim: int, classes: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.modality = modality
        self.head = mlp(dim, hidden, classes, dropout)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(batch[self.modality])
