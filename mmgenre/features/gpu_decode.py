"""Decoding and preprocessing JPEG posters on the GPU (nvJPEG), so the GPU isn't starved by PIL.

A batch of JPEG byte strings is decoded by `torchvision.io.decode_jpeg(device="cuda")`, placed on one
padded canvas, and every poster's centre crop is resampled to the encoder's resolution by a single
`roi_align` call (bilinear, 2x2 samples per output pixel), then normalised with the encoder's mean/std.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.ops import roi_align

MAX_SIDE = 1024  # larger posters are shrunk one by one before they join the shared canvas


def decode_jpegs(datas: list[torch.Tensor], device: str) -> list[torch.Tensor | None]:
    """(3, H, W) uint8 images on `device`; None where a file doesn't decode."""
    try:
        return list(decode_jpeg(datas, mode=ImageReadMode.RGB, device=device))
    except RuntimeError:  # one bad file fails the batch: decode one by one to find it
        images: list[torch.Tensor | None] = []
        for data in datas:
            try:
                images.append(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
            except RuntimeError:
                images.append(None)
        return images


def crop_resize_normalise(images: list[torch.Tensor], preprocessing: dict) -> torch.Tensor:
    """Centre crop (side = short side x crop_pct) resized to the encoder's resolution: (B, 3, R, R)."""
    size = int(preprocessing["resolution"])
    crop = float(preprocessing.get("crop_pct", 1.0))
    shrunk = []
    for image in images:
        height, width = image.shape[1:]
        if max(height, width) > MAX_SIDE:
            scale = MAX_SIDE / max(height, width)
            image = F.interpolate(image[None].float(), scale_factor=scale, mode="bilinear", antialias=True)[0]
        shrunk.append(image)
    sizes = torch.tensor([image.shape[1:] for image in shrunk], dtype=torch.float32)  # (B, 2): h, w
    device = shrunk[0].device
    canvas = torch.zeros(len(shrunk), 3, int(sizes[:, 0].max()), int(sizes[:, 1].max()), device=device)
    for index, image in enumerate(shrunk):
        canvas[index, :, : image.shape[1], : image.shape[2]] = image
    side = sizes.min(dim=1).values * crop
    left, top = (sizes[:, 1] - side) / 2, (sizes[:, 0] - side) / 2
    boxes = torch.stack([torch.arange(len(shrunk), dtype=torch.float32), left, top, left + side, top + side], 1)
    pixels = roi_align(
        canvas, boxes.to(device), output_size=(size, size), spatial_scale=1.0, sampling_ratio=2, aligned=True
    )  # (B, 3, R, R), 0..255
    mean = torch.tensor(preprocessing["mean"], device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(preprocessing["std"], device=device).view(1, 3, 1, 1) * 255
    return (pixels.float() - mean) / std
