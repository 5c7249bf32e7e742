"""A small, real text encoder that fusion-head checks hand to heads needing one (zero-shot heads embed prompts)."""

from __future__ import annotations

import hashlib

from pydantic import Field

from mmgenre.components import Encoded, EncoderInfo, Params, TextEncoder


class ProbeParams(Params):
    dim: int = Field(16, ge=1)


class ProbeTextEncoder(TextEncoder):
    """Hashed bag of words, unit length: each word adds a fixed pseudo-random vector."""

    name = "probe-words"
    Params = ProbeParams
    params: ProbeParams

    def load(self, device: str) -> None:
        self._device = device

    def info(self) -> EncoderInfo:
        return EncoderInfo(dim=self.params.dim, token_dim=None, preprocessing={"tokenizer": "whitespace"})

    def encode(self, texts: list[str]) -> Encoded:
        import torch

        rows = []
        for text in texts:
            row = torch.zeros(self.params.dim)
            for word in text.lower().split():
                seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                row += torch.randn(self.params.dim, generator=torch.Generator().manual_seed(seed))
            rows.append(torch.nn.functional.normalize(row, dim=0))
        return Encoded(pooled=torch.stack(rows).to(getattr(self, "_device", "cpu")))
