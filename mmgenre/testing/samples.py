"""Inputs the checks feed components: a synthetic poster any OCR engine should read, a blank one, a photo-like
scene, poster texts, and tiny labelled datasets written to a folder."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

POSTER_TITLE = "THE GREAT ESCAPE"
POSTER_SIZE = (240, 360)
TEXTS = (
    "THE GREAT ESCAPE",
    "",  # a poster with no text: OCR gives an empty string, which still gets embedded
    "STEVE McQUEEN  JAMES GARNER  RICHARD ATTENBOROUGH\nThe greatest escape ever filmed. In cinemas 4 July 1963",
)


def draw_poster(
    title: str = POSTER_TITLE, size: tuple[int, int] = POSTER_SIZE, background: str = "white"
) -> Image.Image:
    """Large black title text, centred on two lines, on a plain background (Pillow's bundled font)."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    font_size = size[0] // 6
    font = ImageFont.load_default(size=font_size)
    words = title.split()
    lines = [" ".join(words[:-1]), words[-1]] if len(words) > 1 else words
    y = size[1] // 3
    for line in lines:
        left, _, right, _ = draw.textbbox((0, 0), line, font=font)
        draw.text(((size[0] - (right - left)) / 2 - left, y), line, fill="black", font=font)
        y += int(font_size * 1.4)
    return image


def poster() -> Image.Image:
    """The sample poster (`draw_poster()` as shipped, so every machine sees the same pixels): 'THE GREAT
    ESCAPE' in large black letters on white, 240 x 360."""
    with (files("mmgenre.testing") / "data" / "poster.png").open("rb") as handle, Image.open(handle) as image:
        return image.convert("RGB")


def blank_poster() -> Image.Image:
    """A white poster with nothing on it: an OCR engine must read an empty text, not fail."""
    return Image.new("RGB", POSTER_SIZE, "white")


def scene(size: tuple[int, int] = (400, 260)) -> Image.Image:
    """A landscape, photo-like picture (a colour gradient and shapes), unlike the poster in size and content."""
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    width, height = size
    for y in range(height):
        draw.line([(0, y), (width, y)], fill=(40 + 150 * y // height, 90, 200 - 120 * y // height))
    draw.ellipse([width // 5, height // 4, width // 5 + height // 2, height // 4 + height // 2], fill=(250, 200, 40))
    draw.rectangle([width * 3 // 5, height // 2, width - 20, height - 10], fill=(20, 120, 60))
    return image


def title_words(text: str) -> set[str]:
    """The sample poster's title words found in an OCR text (letters compared in capitals, spaces ignored)."""
    letters = "".join(ch for ch in text.upper() if ch.isalpha())
    return {word for word in POSTER_TITLE.split() if len(word) > 3 and word in letters}


@dataclass(frozen=True)
class SamplePoster:
    """One poster of a tiny dataset: its image file, genres and title."""

    path: Path
    genres: tuple[str, ...]
    title: str


SAMPLE_MOVIES = (
    ("THE GREAT ESCAPE", ("Adventure", "Drama")),
    ("NIGHT OF FEAR", ("Horror",)),
    ("LAUGH RIOT", ("Comedy",)),
    ("STAR VOYAGE", ("Sci-Fi", "Adventure")),
    ("LOVE IN PARIS", ("Romance", "Comedy")),
    ("THE HEIST", ("Crime", "Thriller")),
)


def write_posters(folder: Path) -> list[SamplePoster]:
    """Six small JPEG posters with titles and genres (of mmgenre's default label set) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    posters = []
    for index, (title, genres) in enumerate(SAMPLE_MOVIES):
        path = folder / f"poster-{index}.jpg"
        background = ("white", "lightyellow", "lightblue")[index % 3]
        draw_poster(title, (120, 180), background).save(path, quality=90)
        posters.append(SamplePoster(path, genres, title))
    return posters


def write_labels_csv(path: Path, posters: list[SamplePoster], relative_to: Path | None = None) -> Path:
    """A labels csv (columns file, genres, title) listing `posters`, by paths relative to `relative_to` when
    given, else absolute."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "genres", "title"])
        for item in posters:
            file = os.path.relpath(item.path, relative_to) if relative_to else item.path
            writer.writerow([str(file), "|".join(item.genres), item.title])
    return path
