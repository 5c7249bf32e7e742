"""Decoding and preprocessing JPEG posters on the GPU, so the GPU isn't starved by PIL.

A batch of JPEG byte strings is decoded by `torchvision.io.decode_jpeg(device="cuda")` (nvJPEG on CUDA
cores) or by nvImageCodec (`decoder="nvimgcodec"`: the GPU's hardware JPEG decoders where it has them, A100
and later), placed on one padded canvas, and every poster's centre crop is resampled to the encoder's
resolution by a single `roi_align` call (bilinear, 2x2 samples per output pixel), then normalised with the
encoder's mean/std.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.ops import roi_align

MAX_SIDE = 1024  # larger posters are shrunk one by one before they join the shared canvas
NVIMGCODEC_HINT = "pip install nvidia-nvimgcodec-cu13 (cu12 with a CUDA 12 torch)"
_nvimgcodec_decoders: dict[int, object] = {}  # one decoder per GPU: making one takes a while


def nvimgcodec_available() -> bool:
    """Whether nvImageCodec's Python package is installed (checked without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("nvidia.nvimgcodec") is not None
    except ModuleNotFoundError:  # no `nvidia` namespace at all
        return False


def decode_jpegs(datas: list[torch.Tensor], device: str, decoder: str = "nvjpeg") -> list[torch.Tensor | None]:
    """(3, H, W) uint8 images on `device`; None where a file doesn't decode."""
    if decoder == "nvimgcodec":
        return decode_jpegs_nvimgcodec(datas, device)
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


def decode_jpegs_nvimgcodec(datas: list[torch.Tensor], device: str) -> list[torch.Tensor | None]:
    """nvImageCodec's batch decode (hardware decoder first, then CUDA, then CPU), EXIF orientation applied as
    PIL's path does; images reach torch through DLPack, which orders them after the decoder's stream."""
    from nvidia import nvimgcodec

    index = torch.device(device).index or 0
    if index not in _nvimgcodec_decoders:
        _nvimgcodec_decoders[index] = nvimgcodec.Decoder(device_id=index)
    decoder: Any = _nvimgcodec_decoders[index]
    params = nvimgcodec.DecodeParams(color_spec=nvimgcodec.ColorSpec.RGB, apply_exif_orientation=True)
    encoded = [data.numpy().tobytes() for data in datas]
    try:
        decoded = decoder.decode(encoded, params=params)  # None in place of a file it can't decode
    except Exception:  # one bad file failed the batch: decode one by one to find it
        decoded = [_decode_one(decoder, data, params) for data in encoded]
    images: list[torch.Tensor | None] = []
    for image in decoded:
        tensor = torch.from_dlpack(image) if image is not None else None
        usable = tensor is not None and tensor.ndim == 3 and tensor.shape[2] == 3
        images.append(tensor.permute(2, 0, 1) if tensor is not None and usable else None)  # HWC -> CHW view
    return images


def _decode_one(decoder: Any, data: bytes, params: Any) -> Any:
    try:
        return decoder.decode(data, params=params)
    except Exception:
        return None


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
