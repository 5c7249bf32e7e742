"""Posters -> batches of image embeddings: decoding in data-loader workers (or on the GPU), then the encoder."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from mmgenre.components import Encoded, ImageEncoder
from mmgenre.data.images import BadImage
from mmgenre.features.sources import ImageOptions, Source

JPEG_MAGIC = b"\xff\xd8\xff"
GOLDEN = 0.6180339887


@dataclass
class EncodedBatch:
    indices: list[int]  # positions in the source list, aligned with the embeddings
    encoded: Encoded | None
    bad: list[tuple[int, BadImage]]


class _Posters(Dataset):
    """Map-style dataset run in data-loader workers: a preprocessed tensor, raw JPEG bytes, or BadImage.

    With GPU decoding, a `gpu_share` of the JPEGs goes to the GPU as bytes; the others are decoded here,
    so that CPU cores and the GPU decoder work side by side.
    """

    def __init__(self, sources: list[Source], encoder: ImageEncoder, options: ImageOptions, gpu_share: float):
        self.sources, self.encoder, self.options, self.gpu_share = sources, encoder, options, gpu_share

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int):
        try:
            data = self.sources[index].read(self.options.max_bytes)
            if (index * GOLDEN) % 1 < self.gpu_share and self._gpu_decodable(data):
                return index, "jpeg", data
            return index, "pixels", self.encoder.preprocess(self.options.decode(data))
        except BadImage as error:
            return index, "bad", error

    def _gpu_decodable(self, data: bytes) -> bool:
        """Plain RGB/grey JPEGs that pass the size checks; anything else takes the PIL path."""
        if not data.startswith(JPEG_MAGIC) or not self.options.as_stored:
            return False
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                mode = image.mode
        except Exception:
            return False
        o = self.options
        return mode in ("RGB", "L") and min(width, height) >= o.min_side and width * height <= o.max_pixels


def _collate(items: list) -> dict:
    """One tensor per kind, so a batch crosses from the worker in a few shared-memory blocks, not hundreds."""
    pixels = [(i, x) for i, kind, x in items if kind == "pixels"]
    jpegs = [(i, x) for i, kind, x in items if kind == "jpeg"]
    return {
        "pixel_indices": [i for i, _ in pixels],
        "pixels": torch.stack([x for _, x in pixels]) if pixels else None,
        "jpeg_indices": [i for i, _ in jpegs],
        "jpeg_lengths": [len(x) for _, x in jpegs],
        "jpegs": torch.frombuffer(bytearray(b"".join(x for _, x in jpegs)), dtype=torch.uint8) if jpegs else None,
        "bad": [(i, x) for i, kind, x in items if kind == "bad"],
    }


def image_batches(
    encoder: ImageEncoder,
    sources: list[Source],
    options: ImageOptions,
    *,
    device: str = "cpu",
    batch_size: int = 64,
    workers: int = 0,
    gpu_decode: bool = False,
    gpu_share: float = 1.0,
    bf16: bool = False,
    gpu_decoder: str = "nvjpeg",
) -> Iterator[EncodedBatch]:
    """Encode every source (no cache involved); yields batches as they are ready. `gpu_decoder`: "nvjpeg"
    (torchvision) or "nvimgcodec" (see gpu_decode.py)."""
    loader: DataLoader = DataLoader(
        _Posters(sources, encoder, options, gpu_share if gpu_decode else 0.0),
        batch_size=batch_size,
        num_workers=min(workers, max(1, len(sources) // batch_size)),
        collate_fn=_collate,
        pin_memory=device.startswith("cuda"),
        prefetch_factor=4 if workers else None,
    )
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else nullcontext()
    prepare = partial(_prepare, encoder=encoder, sources=sources, options=options, device=device, decoder=gpu_decoder)
    for indices, pixels, bad in map(prepare, loader):
        encoded = None
        if pixels is not None:
            with torch.inference_mode(), autocast:
                encoded = encoder.encode(pixels)
        yield EncodedBatch(indices, encoded, bad)


def _prepare(
    batch: dict, *, encoder: ImageEncoder, sources: list[Source], options: ImageOptions, device: str, decoder: str
) -> tuple[list[int], torch.Tensor | None, list[tuple[int, BadImage]]]:
    """A collated batch -> (indices, preprocessed pixels on the device, bad images)."""
    bad = list(batch["bad"])
    indices, parts = [], []
    if batch["jpegs"] is not None:
        from mmgenre.features.gpu_decode import crop_resize_normalise, decode_jpegs

        decoded = decode_jpegs(list(batch["jpegs"].split(batch["jpeg_lengths"])), device, decoder)
        good = [(i, image) for i, image in zip(batch["jpeg_indices"], decoded) if image is not None]
        bad += [
            (i, decode_problem(sources[i], options))
            for i, image in zip(batch["jpeg_indices"], decoded)
            if image is None
        ]
        if good:
            indices += [i for i, _ in good]
            parts.append(crop_resize_normalise([image for _, image in good], encoder.info().preprocessing))
    if batch["pixels"] is not None:
        indices += batch["pixel_indices"]
        parts.append(batch["pixels"].to(device, non_blocking=True))
    pixels = (torch.cat(parts) if len(parts) > 1 else parts[0]) if parts else None
    return indices, pixels, bad


def decode_problem(source: Source, options: ImageOptions) -> BadImage:
    """Why a JPEG the GPU decoder refused is bad, in PIL's words when PIL refuses it too."""
    try:
        options.load(source)
    except BadImage as error:
        return error
    return BadImage("corrupt or truncated image", "the GPU JPEG decoder refused it")
