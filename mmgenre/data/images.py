"""Reading poster images safely: any format PIL knows, any mode, converted to 8-bit RGB, or a clear reason why not."""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError


class BadImage(Exception):
    """An image that cannot be used; `category` is the short reason shown in summaries."""

    def __init__(self, category: str, detail: str = "") -> None:
        super().__init__(f"{category}: {detail}" if detail else category)
        self.category = category
        self.detail = detail


def content_hash(data: bytes) -> str:
    """The key of an image's content in the feature cache."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


MAX_FILE_BYTES = 50 * 2**20  # larger poster files are refused before they are read
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")  # http://, s3://... (a Path keeps one slash of the two)


def file_problem(path: Path | str, max_bytes: int = MAX_FILE_BYTES) -> BadImage | None:
    """Why a poster path can't be read, checked with `stat` before anything is opened; None when it can."""
    if URL.match(str(path)):
        return BadImage("not a local file", "URLs are not supported: download the poster first")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return BadImage("missing file")
    except OSError as error:  # a name too long for the filesystem, a permission denied on a folder above...
        return BadImage("unreadable file", error.strerror or str(error))
    except ValueError:  # a NUL byte in the name
        return BadImage("unreadable file", "the name holds a NUL byte")
    if stat.S_ISDIR(info.st_mode):
        return BadImage("not a file", "a directory")
    if not stat.S_ISREG(info.st_mode):
        return BadImage("not a regular file", "a pipe, socket or device")
    if info.st_size > max_bytes:
        return BadImage("file too large", f"{info.st_size / 2**20:.1f} MB, limit {max_bytes / 2**20:g} MB")
    return None


def read_bytes(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """A regular file's bytes, at most `max_bytes` of them (a file that grows while read is refused too)."""
    problem = file_problem(path, max_bytes)
    if problem is not None:
        raise problem
    from mmgenre.files.reader import ReadError, open_regular

    try:
        with open_regular(path) as handle:  # never blocks: a file swapped for a FIFO since the check is refused
            data = handle.read(max_bytes + 1)
    except ReadError as error:
        raise BadImage("unreadable file", str(error)) from None
    except OSError as error:
        raise BadImage("unreadable file", error.strerror or str(error)) from None
    if len(data) > max_bytes:
        raise BadImage("file too large", f"more than {max_bytes / 2**20:g} MB")
    return data


def decode_image(
    data: bytes, min_side: int = 32, max_pixels: int = 50_000_000, resize_to: int | None = None
) -> Image.Image:
    """Bytes -> an RGB image, checked; `resize_to` downscales to that width (keeping the aspect)."""
    if not data:
        raise BadImage("empty file", "0 bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise BadImage(
                    "image too large", f"{width}x{height} pixels, limit {max_pixels:,}: possible decompression bomb"
                )
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)  # animated GIF/WebP: the first frame
            image.load()
    except BadImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        if isinstance(error, UnidentifiedImageError):  # its text names a memory address, not the file
            raise BadImage("not an image", "not in any image format PIL reads") from None
        raise BadImage("image too large", str(error).split(" - ")[0][:120]) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise BadImage("corrupt or truncated image", str(error)[:120]) from None
    if min(width, height) < min_side:
        raise BadImage("image too small", f"{width}x{height} pixels, minimum side {min_side}")
    image = to_rgb(ImageOps.exif_transpose(image))
    if resize_to and image.width > resize_to:
        image = image.resize(
            (resize_to, max(1, round(image.height * resize_to / image.width))), Image.Resampling.BICUBIC
        )
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB: 16-bit and float scaled down, transparency over white, CMYK converted."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        high = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        if image.mode == "F":
            low, high = float(values.min()), float(values.max())
            values = (values - low) / max(high - low, 1e-12) * 255.0
        else:
            values = values / high * 255.0
        image = Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image if image.mode == "RGB" else image.convert("RGB")


def load_image(
    path: Path, min_side: int = 32, max_pixels: int = 50_000_000, resize_to: int | None = None
) -> Image.Image:
    """Read and decode a poster file; raises BadImage with the reason."""
    return decode_image(read_bytes(path), min_side, max_pixels, resize_to)


def upscale(image: Image.Image, factor: float, below_width: int) -> Image.Image:
    """Enlarge small posters for OCR engines that miss small print."""
    if factor <= 1 or image.width >= below_width:
        return image
    size = (round(image.width * factor), round(image.height * factor))
    return image.resize(size, Image.Resampling.LANCZOS)
