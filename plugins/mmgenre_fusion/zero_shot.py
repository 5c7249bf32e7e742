"""Zero-shot CLIP: genre scores from the similarity between a poster and genre prompts; nothing is trained."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def genre_prompt_embeddings(text_encoder, labels: list[str], templates: list[str], device: str) -> torch.Tensor:
    """(C, D) unit vectors: each genre's prompts embedded and averaged (CLIP's prompt ensembling)."""
    text_encoder.load(device)
    rows = []
    with torch.inference_mode():
        for label in labels:
            prompts = [t.format(genre=label.lower()) for t in templates]
            embedded = F.normalize(text_encoder.encode(prompts).pooled.float(), dim=-1)
            rows.append(F.normalize(embedded.mean(0), dim=-1))
    return torch.stack(rows).cpu()


class ZeroShotClip(nn.Module):
    """Softmax over genre similarities (as CLIP classifies), returned as logits of those probabilities."""

    def __init__(self, prompts: torch.Tensor, temperature: float) -> None:
        super().__init__()
        self.register_buffer("prompts", prompts)  # (C, D)
        self.temperature = temperature

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        image = F.normalize(batch["image"], dim=-1)  # (B, D)
        probabilities = (self.temperature * image @ self.prompts.T).softmax(dim=-1)  # (B, C)
        return torch.logit(probabilities, eps=1e-6)
