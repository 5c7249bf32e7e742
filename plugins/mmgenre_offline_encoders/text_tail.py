"""MiniLM split in two: frozen first layers whose hidden states are cached, and the last N transformer layers
(with mean pooling and normalising) as a trainable tail."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, L, D), (B, L) -> (B, D): the mean of the real tokens, as sentence-transformers pools."""
    weights = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def bert_of(model) -> nn.Module:
    """The Hugging Face BertModel inside a SentenceTransformer."""
    return model[0].auto_model


def prefix_states(model, features: dict, keep: int) -> torch.Tensor:
    """Hidden states (B, L, D) after the first `keep` transformer layers."""
    bert = bert_of(model)
    inputs = {k: features[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in features}
    return bert(**inputs, output_hidden_states=True).hidden_states[keep]


class TextTail(nn.Module):
    """The last transformer layers, mean pooling and (optionally) unit length: (B, L, D) hidden states ->
    (pooled, tokens, mask) as the whole encoder gives them."""

    def __init__(self, model, count: int, normalise: bool) -> None:
        super().__init__()
        layers = bert_of(model).encoder.layer
        self.layers = nn.ModuleList(copy.deepcopy(list(layers[len(layers) - count :])))
        self.normalise = normalise
        self.dim = self.token_dim = int(bert_of(model).config.hidden_size)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mask = mask.bool()
        blocked = (~mask)[:, None, None, :].to(tokens.dtype) * torch.finfo(tokens.dtype).min  # (B, 1, 1, L)
        x = tokens
        for layer in self.layers:
            out = layer(x, attention_mask=blocked)
            x = out[0] if isinstance(out, tuple) else out  # (B, L, D)
        pooled = masked_mean(x, mask)
        if self.normalise:
            pooled = F.normalize(pooled, dim=-1)
        return pooled, x, mask
