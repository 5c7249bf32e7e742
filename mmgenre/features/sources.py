"""The posters a pipeline run reads: each file's (or upload's) content key, and how its image is decoded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmgenre.data.augment import PosterView
from mmgenre.data.images import MAX_FILE_BYTES, BadImage, content_hash, decode_image, read_bytes
from mmgenre.data.skips import SkipLog


@dataclass(frozen=True)
class ImageOptions:
    """How images are read and decoded; `resize_to` (a width) and `view` (an augmented training view) are part
    of every content key they touch."""

    min_side: int = 32
    max_pixels: int = 50_000_000
    resize_to: int | None = None
    max_bytes: int = MAX_FILE_BYTES
    view: PosterView | None = None

    def key_suffix(self) -> str:
        return (f"@w{self.resize_to}" if self.resize_to else "") + (self.view.key_suffix() if self.view else "")

    @property
    def as_stored(self) -> bool:
        """Whether posters are decoded as their files hold them (no resize, no view)."""
        return not self.resize_to and self.view is None

    def decode(self, data: bytes):
        image = decode_image(data, self.min_side, self.max_pixels, self.resize_to)
        return image if self.view is None else self.view.apply(image, content_hash(data))

    def load(self, source: Source):
        return self.decode(source.read(self.max_bytes))


@dataclass(frozen=True)
class Source:
    """One poster, a file or bytes already in memory (an upload), and the cache key of its content."""

    key: str
    path: Path | None = None
    data: bytes | None = None
    name: str = ""  # how the poster is called in messages: its path, or an upload's file name

    def read(self, max_bytes: int = MAX_FILE_BYTES) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return read_bytes(self.path, max_bytes)

    def __str__(self) -> str:
        return self.name or str(self.path)


def poster_source(item: Path | tuple[str, bytes], options: ImageOptions) -> Source:
    """The source of a file path or an upload (name, bytes); raises BadImage when it can't be read."""
    if isinstance(item, tuple):
        name, data = item
        if len(data) > options.max_bytes:
            raise BadImage("file too large", f"{len(data) / 2**20:.1f} MB, limit {options.max_bytes / 2**20:g} MB")
        return Source(content_hash(data) + options.key_suffix(), data=data, name=name)
    data = read_bytes(item, options.max_bytes)
    return Source(content_hash(data) + options.key_suffix(), path=item, name=str(item))


def hash_sources(items: list, options: ImageOptions, skips: SkipLog) -> list[Source | None]:
    """Content keys of the posters (None for those that can't be read, which are logged in `skips`)."""
    sources: list[Source | None] = []
    for item in items:
        try:
            sources.append(poster_source(item, options))
        except BadImage as error:
            skips.skip(item[0] if isinstance(item, tuple) else str(item), error.category, error.detail)
            sources.append(None)
    return sources
