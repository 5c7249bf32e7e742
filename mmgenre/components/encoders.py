"""The encoder interfaces: images or strings in, a pooled vector and optional token sequence out."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from mmgenre.components.base import Component
from mmgenre.components.exporting import ExportedPart, cannot_export

if TYPE_CHECKING:
    import torch
    from PIL import Image
    from torch import nn


@dataclass
class Encoded:
    """A batch of embeddings. `mask` is True for real tokens (padding is False)."""

    pooled: torch.Tensor  # (B, D)
    tokens: torch.Tensor | None = None  # (B, L, Dt)
    mask: torch.Tensor | None = None  # (B, L)


@dataclass(frozen=True)
class EncoderInfo:
    """What an encoder produces and how it prepares its input."""

    dim: int
    token_dim: int | None
    preprocessing: dict  # resolution, mean/std, tokenizer, max length ...


class Encoder(Component):
    """Shared life cycle of image and text encoders: load once, then encode batches."""

    provides_tokens: ClassVar[bool] = False

    @abstractmethod
    def load(self, device: str) -> None:
        """Load the weights onto `device`; raise ComponentUnavailableError if they can't be had."""

    @abstractmethod
    def info(self) -> EncoderInfo:
        """Output dims and preprocessing; valid after `load`."""

    def has_tail(self) -> bool:
        """Whether `encode` gives a frozen prefix's output and `tail()` the trainable rest (checked without
        loading anything: the feature pipeline then keeps the prefix's tokens for the tail)."""
        return False

    def tail(self) -> nn.Module:
        """The encoder's last, trainable layers, with their pretrained weights (a new copy on each call):
        `forward(tokens (B, L, D), mask (B, L))` maps what `encode` gives to `(pooled (B, D'), tokens (B, L', D'),
        mask (B, L'))` as the whole frozen encoder computes them; its int attributes `dim` and `token_dim` are
        D' and the final token width. Only encoders whose `has_tail()` is True implement it."""
        raise NotImplementedError(f"the {self.kind_label} '{self.name}' has no trainable tail")

    def export_onnx(self, folder: Path, stem: str) -> ExportedPart:
        """Write `folder/stem.onnx` (pooled and token outputs, as `encode` gives them) and whatever its
        preprocessing needs; components that can't be exported keep this default, which says so."""
        raise cannot_export(self)


class ImageEncoder(Encoder):
    """Encodes poster images."""

    @abstractmethod
    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """RGB image -> (3, H, W) float tensor; runs in data-loader workers, so it must be picklable."""

    @abstractmethod
    def encode(self, pixels: torch.Tensor) -> Encoded:
        """(B, 3, H, W) preprocessed pixels -> embeddings."""


class TextEncoder(Encoder):
    """Encodes strings (the OCR text of posters, or prompts)."""

    @abstractmethod
    def encode(self, texts: list[str]) -> Encoded:
        """A batch of strings -> embeddings."""
