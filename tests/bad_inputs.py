"""Builds a dataset folder full of the bad inputs a real poster folder contains, beside good posters."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from conftest import POSTERS, poster_rows
from PIL import Image

# file -> the skip category the pipeline must report (None: must be processed)
EXPECTED = {
    "good1.jpg": None, "good2.jpg": None, "good3.jpg": None,
    "poster.png": None, "poster.webp": None, "animated.gif": None, "cmyk.jpg": None, "gray.jpg": None,
    "sixteen_bit.png": None, "transparent.png": None, "palette.png": None,
    "zero.jpg": "empty file", "text.jpg": "not an image", "truncated.jpg": "corrupt or truncated image",
    "tiny.jpg": "image too small", "bomb.png": "image too large", "absent.jpg": "missing file",
}  # fmt: skip


def build_bad_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = poster_rows(3)
    sources = [POSTERS / r["file"] for r in rows]
    for i, source in enumerate(sources, 1):
        shutil.copy(source, folder / f"good{i}.jpg")
    image = Image.open(sources[0]).convert("RGB")
    image.save(folder / "poster.png")
    image.save(folder / "poster.webp")
    frames = [image.convert("P"), image.rotate(5).convert("P")]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    image.convert("CMYK").save(folder / "cmyk.jpg")
    image.convert("L").save(folder / "gray.jpg")
    sixteen = (np.asarray(image.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(sixteen).save(folder / "sixteen_bit.png")
    rgba = image.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(folder / "transparent.png")
    image.convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.png", transparency=0)
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not a poster\n")
    data = sources[1].read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    image.resize((12, 18)).save(folder / "tiny.jpg")
    Image.new("1", (12000, 12000)).save(folder / "bomb.png")
    lines = ["\ufefffile,genres,title"]  # a BOM before the header
    lines += [f"{name},Drama|Comedy,Poster {name}" for name in EXPECTED]
    lines += [
        "good1.jpg,Drama,Duplicate of good1",  # duplicate row
        "good2.jpg,Documentary,Only genres outside the label set",  # duplicate too
        "other.jpg,Documentary,Only genres outside the label set",
        ",Drama,No file name",
        "nogenre.jpg,,No genres",
        "typo.jpg,Dramma,A misspelled genre",
    ]
    (folder / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
