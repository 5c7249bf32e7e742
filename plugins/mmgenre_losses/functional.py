"""Loss modules (torch)."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import sigmoid_focal_loss


class AsymmetricLossModule(nn.Module):
    """ASL as in the reference implementation; `reduction='sum'` matches it, 'mean' divides by B*C."""

    def __init__(self, gamma_pos: float, gamma_neg: float, clip: float, eps: float, reduction: str) -> None:
        super().__init__()
        self.gamma_pos, self.gamma_neg, self.clip, self.eps = gamma_pos, gamma_neg, clip, eps
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(logits)  # (B, C)
        p_neg = 1 - p
        if self.clip > 0:
            p_neg = (p_neg + self.clip).clamp(max=1)  # probability shifting of negatives
        loss = targets * torch.log(p.clamp(min=self.eps)) + (1 - targets) * torch.log(p_neg.clamp(min=self.eps))
        if self.gamma_pos > 0 or self.gamma_neg > 0:
            pt = p * targets + p_neg * (1 - targets)
            gamma = self.gamma_pos * targets + self.gamma_neg * (1 - targets)
            loss = loss * torch.pow(1 - pt, gamma)
        return -loss.sum() if self.reduction == "sum" else -loss.mean()


class FocalLossModule(nn.Module):
    def __init__(self, gamma: float, alpha: float) -> None:
        super().__init__()
        self.gamma, self.alpha = gamma, alpha

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return sigmoid_focal_loss(logits, targets, alpha=self.alpha, gamma=self.gamma, reduction="mean")
