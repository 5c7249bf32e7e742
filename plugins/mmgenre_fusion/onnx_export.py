"""ONNX export of a trained head: the features its `forward` reads as named inputs, genre probabilities out."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mmgenre.api import ExportedPart, FeatureDims, export_torch_module


class NamedInputs(nn.Module):
    """A head whose `forward` takes a dict, called with one tensor per feature instead; sigmoid applied."""

    def __init__(self, module: nn.Module, names: list[str]) -> None:
        super().__init__()
        self.module, self.names = module, names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.module(dict(zip(self.names, tensors))).float())  # (B, C)


def feature_names(modalities: frozenset[str], tokens: bool, dims: FeatureDims) -> list[str]:
    """The features a head reads, in a fixed order: pooled vectors, and token sequences with masks."""
    names = []
    for modality in sorted(modalities):
        names.append(modality)
        if tokens and getattr(dims, f"{modality}_tokens"):
            names += [f"{modality}_tokens", f"{modality}_mask"]
    return names


def example_feature(name: str, dims: FeatureDims) -> torch.Tensor:
    """A made-up batch of two for tracing (the second poster's last token is padding); each size differs from
    every other, so that the tracer can't take one for another."""
    length = 3 if name.startswith("image") else 5
    if name.endswith("_mask"):
        mask = torch.ones(2, length, dtype=torch.bool)
        mask[1, -1] = False
        return mask
    width = getattr(dims, name)
    return torch.randn(2, length, width) if name.endswith("_tokens") else torch.randn(2, width)


def export_dims(axes: dict[str, dict[int, str]], names: list[str]) -> tuple:
    """`dynamic_axes` as torch.export's `dynamic_shapes` for `forward(*tensors)`: one Dim per axis name, so inputs
    that share a name (a sequence and its mask) share the size."""
    shared: dict[str, object] = {}
    return (tuple({axis: shared.setdefault(label, torch.export.Dim(label)) for axis, label in axes[name].items()}
                  for name in names),)  # fmt: skip


def export_head(
    module: nn.Module, modalities: frozenset[str], tokens: bool, dims: FeatureDims, path: Path
) -> ExportedPart:
    names = feature_names(modalities, tokens, dims)
    axes = {name: {0: "batch", 1: f"{name.split('_')[0]}_length"} if "_" in name else {0: "batch"} for name in names}
    export_torch_module(
        NamedInputs(module, names), tuple(example_feature(name, dims) for name in names), path,
        inputs=names, outputs=["scores"], dynamic_axes={**axes, "scores": {0: "batch"}},
        dynamic_shapes=export_dims(axes, names) if tokens else None,  # attention over any length
    )  # fmt: skip
    return ExportedPart(path.name, names, ["scores"])
