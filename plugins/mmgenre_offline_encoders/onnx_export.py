"""ONNX export of the offline encoders: each network with the pooling its `encode` applies, traced on CPU."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mmgenre.api import ExportedPart, export_torch_module


class ImageEncodeModule(nn.Module):
    """`EfficientNetLite.encode` as a module: (B, 3 * views, H, W) pixels -> pooled (B, D), tokens (B, L, D)."""

    def __init__(self, encoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.network = encoder._model  # registered, so that export sees its weights

    def forward(self, pixels: torch.Tensor):
        encoded = self.encoder.encode(pixels)
        return encoded.pooled, encoded.tokens


def export_efficientnet(encoder, folder: Path, stem: str, size: int, crop: float, mean, std) -> ExportedPart:
    """The encoder's network (views averaged, as `encode` does) and timm's eval transform as plain data."""
    encoder.load("cpu")
    views = encoder.params.views.split("+")
    example = torch.rand(2, 3 * len(views), size, size)
    names, outputs = ["pixels"], ["pooled", "tokens"]
    export_torch_module(
        ImageEncodeModule(encoder), (example,), folder / f"{stem}.onnx", inputs=names, outputs=outputs,
        dynamic_axes={name: {0: "batch"} for name in names + outputs},
    )  # fmt: skip
    preprocessing = {
        "resize": math.floor(size / crop),  # timm: the shorter side, before the centre crop
        "crop": size,
        "interpolation": "bicubic",
        "mean": list(mean),
        "std": list(std),
        "views": views,
    }
    return ExportedPart(f"{stem}.onnx", names, outputs, preprocessing)


class TextEncodeModule(nn.Module):
    """`MiniLM.encode` after tokenising: word-piece ids and masks -> pooled (B, D), tokens (B, L, D)."""

    def __init__(self, model, normalise: bool) -> None:
        super().__init__()
        self.model, self.normalise = model, normalise

    def forward(self, input_ids, attention_mask, token_type_ids):
        output = self.model(
            {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        )
        pooled = F.normalize(output["sentence_embedding"], dim=-1) if self.normalise else output["sentence_embedding"]
        return pooled, output["token_embeddings"]


def export_minilm(encoder, folder: Path, stem: str, model_path: Path) -> ExportedPart:
    """The sentence-transformers model (mean pooling, normalised) and its tokenizer.json, copied beside it."""
    encoder.load("cpu")
    model = encoder._model
    normalise = encoder.params.normalise and not any("Normalize" in type(m).__name__ for m in model)
    tokenizer = model_path / "tokenizer.json"
    if not tokenizer.is_file():
        from mmgenre.api import NotExportableError

        raise NotExportableError(f"the text encoder 'minilm' cannot be exported to ONNX: {tokenizer} is missing")
    (folder / f"{stem}.tokenizer.json").write_bytes(tokenizer.read_bytes())
    names, outputs = ["input_ids", "attention_mask", "token_type_ids"], ["pooled", "tokens"]
    example = tuple(torch.ones(2, 7, dtype=torch.long) for _ in names[:2]) + (torch.zeros(2, 7, dtype=torch.long),)
    axes = {name: {0: "batch", 1: "length"} for name in names} | {"pooled": {0: "batch"}}
    export_torch_module(
        TextEncodeModule(model, normalise), example, folder / f"{stem}.onnx", inputs=names, outputs=outputs,
        dynamic_axes={**axes, "tokens": {0: "batch", 1: "length"}},
    )  # fmt: skip
    preprocessing = {"tokenizer": f"{stem}.tokenizer.json", "max_length": encoder.params.max_length, "strip": True}
    return ExportedPart(f"{stem}.onnx", names, outputs, preprocessing, files=[f"{stem}.tokenizer.json"])
