"""EfficientNet-Lite split in two: a frozen prefix whose feature map is cached, and the last N inverted-residual
blocks (with the head convolution) as a trainable tail that finishes the map from the cached cells."""

from __future__ import annotations

import math

import torch
from torch import nn


def flat_blocks(model: nn.Module) -> list[nn.Module]:
    """timm's stages flattened into one list of blocks, in order."""
    return [block for stage in model.blocks for block in stage]


def prefix_width(model: nn.Module, count: int) -> int:
    """Channels of the feature map after all but the last `count` blocks."""
    return int(flat_blocks(model)[-count].conv_pw.in_channels)


def prefix_map(model: nn.Module, pixels: torch.Tensor, count: int) -> torch.Tensor:
    """(B, 3, H, W) pixels -> (B, C, h, w): the feature map before the last `count` blocks."""
    x = model.bn1(model.conv_stem(pixels))
    for block in flat_blocks(model)[:-count]:
        x = block(x)
    return x


class ImageTail(nn.Module):
    """The last blocks, the head convolution and its BatchNorm: prefix cells (B, h*w, C) -> final cells.

    BatchNorm layers stay in eval mode (the pretrained statistics) while training, unless `train_batchnorm`.
    """

    def __init__(self, model: nn.Module, count: int, train_batchnorm: bool = False) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*flat_blocks(model)[-count:])
        self.conv_head, self.bn2 = model.conv_head, model.bn2
        self.train_batchnorm = train_batchnorm
        self.dim = self.token_dim = int(model.conv_head.out_channels)

    def train(self, mode: bool = True) -> ImageTail:
        super().train(mode)
        if mode and not self.train_batchnorm:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, cells, channels = tokens.shape
        side = math.isqrt(cells)
        if side * side != cells:
            raise ValueError(f"{cells} cached cells do not form a square feature map")
        x = tokens.transpose(1, 2).reshape(batch, channels, side, side)  # (B, C, h, w)
        x = self.bn2(self.conv_head(self.blocks(x)))  # (B, 1280, h', w')
        final = x.flatten(2).transpose(1, 2)  # (B, h'*w', 1280)
        return final.mean(dim=1), final, torch.ones(final.shape[:2], dtype=torch.bool, device=final.device)
