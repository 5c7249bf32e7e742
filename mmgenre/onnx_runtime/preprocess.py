"""The exported encoders' preprocessing in PIL and numpy, step for step as the torch path does it (timm's eval
transform, sentence-transformers' tokenising), so that the same poster gives the same numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from mmgenre.onnx_runtime.manifest import ImagePreprocessing, TextPreprocessing

RESAMPLING = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def normalised(image: Image.Image, spec: ImagePreprocessing) -> np.ndarray:
    """RGB image -> (3, H, W) float32: scaled to 0..1, then (x - mean) / std per channel."""
    pixels = np.asarray(image, dtype=np.uint8).astype(np.float32) / 255  # (H, W, 3)
    mean, std = np.array(spec.mean, dtype=np.float32), np.array(spec.std, dtype=np.float32)
    return np.ascontiguousarray(((pixels - mean) / std).transpose(2, 0, 1))


def center_view(image: Image.Image, spec: ImagePreprocessing) -> np.ndarray:
    """The shorter side resized to `spec.resize` (torchvision's rounding), then the centre `spec.crop` square."""
    width, height = image.size
    short, long = min(width, height), max(width, height)
    new_short, new_long = spec.resize, int(spec.resize * long / short)
    size = (new_short, new_long) if width <= height else (new_long, new_short)
    if size != image.size:
        image = image.resize(size, RESAMPLING[spec.interpolation])
    top = int(round((size[1] - spec.crop) / 2.0))
    left = int(round((size[0] - spec.crop) / 2.0))
    if top < 0 or left < 0:
        raise ValueError(f"a {spec.resize}-pixel side cannot be cropped to {spec.crop}")
    return normalised(image.crop((left, top, left + spec.crop, top + spec.crop)), spec)


def whole_view(image: Image.Image, spec: ImagePreprocessing) -> np.ndarray:
    """The whole poster shrunk to fit the crop square, centred on zeros (grey once normalised)."""
    size = spec.crop
    scale = size / max(image.size)
    width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    pixels = normalised(image.resize((width, height), RESAMPLING[spec.interpolation]), spec)
    canvas = np.zeros((3, size, size), dtype=np.float32)
    top, left = (size - height) // 2, (size - width) // 2
    canvas[:, top : top + height, left : left + width] = pixels
    return canvas


def image_pixels(image: Image.Image, spec: ImagePreprocessing) -> np.ndarray:
    """(3 * views, H, W): the views of one RGB poster stacked along the channels, as the encoder was exported."""
    center = center_view(image, spec) if {"center", "flip"} & set(spec.views) else None
    views = {"center": center, "flip": center[:, :, ::-1] if center is not None else None}
    if "whole" in spec.views:
        views["whole"] = whole_view(image, spec)
    return np.concatenate([views[name] for name in spec.views])  # type: ignore[misc]


class TextTokenizer:
    """Word pieces for a batch of texts, padded to the longest and truncated to `max_length` (`tokenizers`)."""

    def __init__(self, folder: Path, spec: TextPreprocessing) -> None:
        from tokenizers import Tokenizer

        from mmgenre.files.reader import read_text

        self.spec = spec
        self.tokenizer = Tokenizer.from_str(read_text(folder / spec.tokenizer, 64 * 2**20))
        self.tokenizer.enable_truncation(max_length=spec.max_length)
        pad = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(pad_id=pad if pad is not None else 0, pad_token="[PAD]")

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        """input_ids, attention_mask and token_type_ids (B, L) int64."""
        encodings = self.tokenizer.encode_batch([text.strip() if self.spec.strip else text for text in texts])
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
