"""The fusion-head interface: cached features in, one logit per genre out."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from mmgenre.components.base import Component
from mmgenre.components.exporting import ExportedPart, cannot_export

if TYPE_CHECKING:
    from torch import nn

    from mmgenre.components.encoders import ImageEncoder, TextEncoder

MODALITIES = frozenset({"image", "text"})


@dataclass(frozen=True)
class FeatureDims:
    """Widths of the features a head receives (None: that feature is not provided)."""

    image: int | None = None
    text: int | None = None
    image_tokens: int | None = None
    text_tokens: int | None = None


@dataclass
class FusionContext:
    """Everything a head may need to build itself."""

    labels: list[str]
    dims: FeatureDims
    image_encoder: ImageEncoder | None = None
    text_encoder: TextEncoder | None = None
    device: str = "cpu"


class FusionHead(Component):
    """Builds the classifier that turns features into per-genre logits.

    The built module's `forward(batch)` takes a dict with some of the keys `image` (B, Di),
    `text` (B, Dt), `image_tokens` (B, Li, Di'), `image_mask` (B, Li), `text_tokens`, `text_mask`,
    and returns logits (B, C).
    """

    trainable: ClassVar[bool] = True

    def modalities(self) -> frozenset[str]:
        """Which of 'image' and 'text' the head reads."""
        return MODALITIES

    def uses_tokens(self) -> bool:
        """Whether the head wants token sequences as well as pooled vectors."""
        return False

    @abstractmethod
    def build(self, context: FusionContext) -> nn.Module:
        """The classifier module for these features and labels."""

    def export_onnx(self, module: nn.Module, dims: FeatureDims, path: Path) -> ExportedPart:
        """Write the trained `module` (built by `build`) to the ONNX file `path`: the features `forward` reads
        in, genre probabilities (B, C) out; heads that can't be exported keep this default, which says so."""
        raise cannot_export(self)
