"""The loss interface for multi-label training."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

from mmgenre.components.base import Component

if TYPE_CHECKING:
    import torch
    from torch import nn


class Loss(Component):
    """Builds a module computing `loss(logits (B, C), targets (B, C) in {0, 1}) -> scalar`."""

    @abstractmethod
    def build(self, positive_rate: torch.Tensor) -> nn.Module:
        """`positive_rate` (C,) is each genre's frequency in the training split."""
