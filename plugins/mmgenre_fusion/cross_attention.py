"""The paper's fusion: alignment, cross-modal attention (MCAM), sequential self-attention (SMSAM), FFN.

With pooled inputs each modality is one token, so cross-attention over a single key reduces to a
projection of the other modality (as in the paper); with token sequences (and masks) it attends.
"""

from __future__ import annotations

import torch
from torch import nn

from mmgenre_fusion.layers import Alignment, mlp


class CrossModalAttention(nn.Module):
    """MCAM: visual queries attend to text tokens and text queries to visual tokens (residual + norm)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.image_to_text = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.text_to_image = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.image_norm, self.text_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, image, text, image_pad, text_pad):
        # image (B, Lv, D), text (B, Lt, D); *_pad (B, L) True where padding
        attended_image, _ = self.image_to_text(image, text, text, key_padding_mask=text_pad, need_weights=False)
        attended_text, _ = self.text_to_image(text, image, image, key_padding_mask=image_pad, need_weights=False)
        return self.image_norm(image + attended_image), self.text_norm(text + attended_text)


class CrossAttentionSmsam(nn.Module):
    def __init__(
        self,
        image_dim: int,
        text_dim: int,
        classes: int,
        *,
        dim: int,
        heads: int,
        layers: int,
        ffn_hidden: int,
        dropout: float,
        tokens: bool,
        cross_attention: bool = True,
    ) -> None:
        super().__init__()
        self.tokens = tokens
        self.align_image, self.align_text = Alignment(image_dim, dim), Alignment(text_dim, dim)
        self.cross = CrossModalAttention(dim, heads, dropout) if cross_attention else None
        self.modality = nn.Parameter(torch.zeros(2, dim))  # tells SMSAM which tokens are visual or textual
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=2 * dim, dropout=dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.smsam = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False) if layers else None
        self.classifier = mlp(2 * dim, ffn_hidden, classes, dropout)

    def _inputs(self, batch: dict[str, torch.Tensor], name: str):
        """(B, L, D) tokens and (B, L) padding mask of one modality (L = 1 for pooled vectors)."""
        if self.tokens and f"{name}_tokens" in batch:
            return batch[f"{name}_tokens"], ~batch[f"{name}_mask"]
        pooled = batch[name].unsqueeze(1)  # (B, 1, D)
        return pooled, torch.zeros(pooled.shape[:2], dtype=torch.bool, device=pooled.device)

    def fuse(self, batch: dict[str, torch.Tensor]):
        """The refined token sequence (B, Lv + Lt, D), its padding mask, and the visual length Lv."""
        image, image_pad = self._inputs(batch, "image")
        text, text_pad = self._inputs(batch, "text")
        image, text = self.align_image(image), self.align_text(text)  # (B, Lv, D), (B, Lt, D)
        if self.cross is not None:  # without MCAM the aligned features go straight to SMSAM (the paper's ablation)
            image, text = self.cross(image, text, image_pad, text_pad)
        fused = torch.cat([image + self.modality[0], text + self.modality[1]], dim=1)  # (B, Lv+Lt, D)
        pad = torch.cat([image_pad, text_pad], dim=1)
        if self.smsam is not None:
            fused = self.smsam(fused, src_key_padding_mask=pad)
        return fused, pad, image.shape[1]

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        fused, pad, image_length = self.fuse(batch)
        keep = (~pad).unsqueeze(-1).float()  # (B, L, 1)
        pooled = [
            (part * weight).sum(1) / weight.sum(1).clamp(min=1)  # masked mean per modality (B, D)
            for part, weight in (
                (fused[:, :image_length], keep[:, :image_length]),
                (fused[:, image_length:], keep[:, image_length:]),
            )
        ]
        return self.classifier(torch.cat(pooled, dim=-1))  # (B, C)
