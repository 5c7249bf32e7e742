"""Encoders that learn: a head behind the trainable tails of its encoders, which finish the cached prefix's
tokens into the features the head was built for."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from mmgenre.components import FusionContext

SIDES = {"image": "image_encoder", "text": "text_encoder"}  # feature name -> its encoder in the context


def encoder_tails(context: FusionContext, needs: frozenset[str]) -> dict[str, nn.Module]:
    """A new pretrained tail for each modality the head reads whose encoder has one."""
    tails = {}
    for side, attribute in SIDES.items():
        encoder = getattr(context, attribute)
        if side in needs and encoder is not None and encoder.has_tail():
            tails[side] = encoder.tail()
    return tails


def final_dims(context: FusionContext, tails: dict[str, nn.Module], head_tokens: bool) -> FusionContext:
    """The context the head is built in: the widths the tails give, not the cached prefix's."""
    widths = {}
    for side, tail in tails.items():
        widths[side] = int(tail.dim)
        widths[f"{side}_tokens"] = int(tail.token_dim) if head_tokens else None
    return dataclasses.replace(context, dims=dataclasses.replace(context.dims, **widths))


class TailedHead(nn.Module):
    """Runs each tail on the batch's prefix tokens (`image_tokens`/`image_mask`, `text_tokens`/`text_mask`), then
    the head on the pooled outputs (and the final tokens, when the head reads tokens)."""

    def __init__(self, head: nn.Module, tails: dict[str, nn.Module], head_tokens: bool) -> None:
        super().__init__()
        self.head = head
        self.tails = nn.ModuleDict(tails)
        self.head_tokens = head_tokens

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = dict(batch)
        for side, tail in self.tails.items():
            tokens, mask = batch.pop(f"{side}_tokens"), batch.pop(f"{side}_mask")
            length = max(int(mask.sum(dim=1).max()), 1) if mask.numel() else 1  # padding past the longest: cut
            pooled, tokens, mask = tail(tokens[:, :length], mask[:, :length])  # (B, D), (B, L, D'), (B, L)
            batch[side] = pooled
            if self.head_tokens:
                batch[f"{side}_tokens"], batch[f"{side}_mask"] = tokens, mask
        return self.head(batch)


def with_tails(recipe, context: FusionContext) -> nn.Module:
    """The recipe's head, behind its encoders' tails when any encoder has trainable layers."""
    head_tokens = recipe.fusion.uses_tokens()
    tails = encoder_tails(context, recipe.fusion.modalities())
    if not tails:
        return recipe.fusion.build(context)
    return TailedHead(recipe.fusion.build(final_dims(context, tails, head_tokens)), tails, head_tokens)


def tail_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters of the encoder tails in `model` (empty: it has none)."""
    return [p for name, p in model.named_parameters() if name.startswith("tails.") or ".tails." in name]
