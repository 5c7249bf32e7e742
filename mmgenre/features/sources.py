"""The posters a pipeline run reads: each file's content key, and how its image is decoded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmgenre.data.images import BadImage, content_hash, decode_image, read_bytes
from mmgenre.data.skips import SkipLog


@dataclass(frozen=True)
class ImageOptions:
    """How images are decoded; `resize_to` (a width) is part of every content key it touches."""

    min_side: int = 32
    max_pixels: int = 50_000_000
    resize_to: int | None = None

    def key_suffix(self) -> str:
        return f"@w{self.resize_to}" if self.resize_to else ""

    def decode(self, data: bytes):
        return decode_image(data, self.min_side, self.max_pixels, self.resize_to)

    def load(self, path: Path):
        return self.decode(read_bytes(path))


@dataclass(frozen=True)
class Source:
    """One poster file and the cache key of its (possibly resized) content."""

    path: Path
    key: str


def hash_sources(paths: list[Path], options: ImageOptions, skips: SkipLog) -> list[Source | None]:
    """Content keys of the files (None for files that can't be read, which are logged in `skips`)."""
    sources: list[Source | None] = []
    for path in paths:
        try:
            data = read_bytes(path)
        except BadImage as error:
            skips.skip(str(path), error.category, error.detail)
            sources.append(None)
            continue
        sources.append(Source(path, content_hash(data) + options.key_suffix()))
    return sources
