"""Posters -> batches of image embeddings: decoding in data-loader workers (or on the GPU), then the encoder."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from PIL import Image
from torch.utils.data import DataLoader

from mmgenre.components import Encoded, ImageEncoder
from mmgenre.data.images import BadImage, read_bytes
from mmgenre.features.sources import ImageOptions, Source

JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass
class EncodedBatch:
    indices: list[int]  # positions in the source list, aligned with the embeddings
    encoded: Encoded | None
    bad: list[tuple[int, BadImage]]


class _Posters:
    """Map-style dataset run in data-loader workers: a preprocessed tensor, raw JPEG bytes, or BadImage."""

    def __init__(self, sources: list[Source], encoder: ImageEncoder, options: ImageOptions, gpu_decode: bool):
        self.sources, self.encoder, self.options, self.gpu_decode = sources, encoder, options, gpu_decode

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int):
        try:
            data = read_bytes(self.sources[index].path)
            if self.gpu_decode and self._gpu_decodable(data):
                return index, "jpeg", torch.frombuffer(bytearray(data), dtype=torch.uint8)
            return index, "pixels", self.encoder.preprocess(self.options.decode(data))
        except BadImage as error:
            return index, "bad", error

    def _gpu_decodable(self, data: bytes) -> bool:
        """Plain RGB/grey JPEGs that pass the size checks; anything else takes the PIL path."""
        if not data.startswith(JPEG_MAGIC) or self.options.resize_to:
            return False
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                mode = image.mode
        except Exception:
            return False
        o = self.options
        return mode in ("RGB", "L") and min(width, height) >= o.min_side and width * height <= o.max_pixels


def _collate(items: list) -> list:
    return items


def image_batches(
    encoder: ImageEncoder,
    sources: list[Source],
    options: ImageOptions,
    *,
    device: str = "cpu",
    batch_size: int = 64,
    workers: int = 0,
    gpu_decode: bool = False,
    bf16: bool = False,
) -> Iterator[EncodedBatch]:
    """Encode every source (no cache involved); yields batches as they are ready."""
    loader = DataLoader(
        _Posters(sources, encoder, options, gpu_decode),
        batch_size=batch_size,
        num_workers=min(workers, max(1, len(sources) // batch_size)),
        collate_fn=_collate,
        pin_memory=device.startswith("cuda"),
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
    )
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else nullcontext()
    for items in loader:
        bad = [(i, payload) for i, kind, payload in items if kind == "bad"]
        indices, parts = [], []
        jpegs = [(i, payload) for i, kind, payload in items if kind == "jpeg"]
        if jpegs:
            from mmgenre.features.gpu_decode import crop_resize_normalise, decode_jpegs

            decoded = decode_jpegs([data for _, data in jpegs], device)
            good = [(i, image) for (i, _), image in zip(jpegs, decoded) if image is not None]
            for (i, _), image in zip(jpegs, decoded):
                if image is None:  # a corrupt JPEG: PIL names the problem
                    bad.append((i, decode_problem(sources[i], options)))
            if good:
                indices += [i for i, _ in good]
                parts.append(crop_resize_normalise([image for _, image in good], encoder.info().preprocessing))
        pixels = [(i, payload) for i, kind, payload in items if kind == "pixels"]
        if pixels:
            indices += [i for i, _ in pixels]
            parts.append(torch.stack([p for _, p in pixels]).to(device, non_blocking=True))
        encoded = None
        if parts:
            with torch.inference_mode(), autocast:
                encoded = encoder.encode(torch.cat(parts) if len(parts) > 1 else parts[0])
        yield EncodedBatch(indices, encoded, bad)


def decode_problem(source: Source, options: ImageOptions) -> BadImage:
    """Why a JPEG the GPU decoder refused is bad, in PIL's words when PIL refuses it too."""
    try:
        options.load(source.path)
    except BadImage as error:
        return error
    return BadImage("corrupt or truncated image", "the GPU JPEG decoder refused it")
