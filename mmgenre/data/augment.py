"""Augmented poster views for training: crop, flip, colour jitter, a TrivialAugmentWide op, a downscale and a JPEG
re-compression, the way posters arrive from other catalogues. Each view is drawn from a seed made of the poster's
content, the view's settings and its copy index, so any process or worker makes the same pixels."""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass

from PIL import Image, ImageEnhance, ImageOps

from mmgenre.data.images import BadImage

VIEW_ALGORITHM = 1  # part of every view's key: raise it when a change to the code changes the pixels of a view
MAGNITUDE_BINS = 31  # TrivialAugmentWide's
BLACK = (0, 0, 0)


@dataclass(frozen=True)
class PosterView:
    """Copy `copy` of a view spec (a recipe's `train.augmented_views` holds the defaults). `crop`: the least share
    of the area a random crop keeps (1: no crop), its shape the poster's own times a factor in `aspect`; `jitter`:
    brightness, contrast and saturation move by up to this share; `width` and `jpeg`: ranges (inclusive) of the
    width it is downscaled to and of the JPEG quality it is saved at again."""

    crop: float
    aspect: tuple[float, float]
    flip: bool
    jitter: float
    trivial: bool
    width: tuple[int, int] | None
    jpeg: tuple[int, int] | None
    copy: int = 1

    def key_suffix(self) -> str:
        """`@v<copy>-<12 hex digits>`: a hash of the settings, the copy and VIEW_ALGORITHM, the same in every
        process (never Python's salted hash()); plain posters and `@w<width>` keys have no `@v` part."""
        settings = {
            **asdict(self),
            "crop": float(self.crop),
            "aspect": [float(a) for a in self.aspect],
            "jitter": float(self.jitter),
            "width": list(self.width) if self.width else None,
            "jpeg": list(self.jpeg) if self.jpeg else None,
            "algorithm": VIEW_ALGORITHM,
        }
        text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        return f"@v{self.copy}-{hashlib.blake2b(text.encode(), digest_size=6).hexdigest()}"

    def apply(self, image: Image.Image, content_key: str) -> Image.Image:
        """The view of a decoded RGB poster whose bytes hash to `content_key`; BadImage when it can't be made."""
        seed = hashlib.blake2b((content_key + self.key_suffix()).encode(), digest_size=8).digest()
        rng = random.Random(int.from_bytes(seed, "big"))
        try:
            if self.crop < 1:
                image = random_resized_crop(image, rng, self.crop, self.aspect)
            if self.flip and rng.random() < 0.5:
                image = ImageOps.mirror(image)
            if self.jitter > 0:
                image = colour_jitter(image, rng, self.jitter)
            if self.trivial:
                image = trivial_augment_wide(image, rng)
            if self.width:
                image = downscale(image, rng.randint(*self.width))
            if self.jpeg:
                image = recompress(image, rng.randint(*self.jpeg))
        except (OSError, ValueError) as error:
            raise BadImage("view failed", f"{type(error).__name__}: {str(error)[:100]}") from None
        return image


def random_resized_crop(
    image: Image.Image, rng: random.Random, min_area: float, aspect: tuple[float, float]
) -> Image.Image:
    """A crop of `min_area` to all of the area, its shape the poster's own times `aspect` (log-uniform);
    ten tries, as torchvision's RandomResizedCrop, then the whole poster. Not resized: `width` does that."""
    width, height = image.size
    low, high = math.log(aspect[0]), math.log(aspect[1])
    for _ in range(10):
        area = width * height * rng.uniform(min_area, 1.0)
        shape = width / height * math.exp(rng.uniform(low, high))
        w, h = round(math.sqrt(area * shape)), round(math.sqrt(area / shape))
        if 0 < w <= width and 0 < h <= height:
            left, top = rng.randint(0, width - w), rng.randint(0, height - h)
            return image.crop((left, top, left + w, top + h))
    return image


def colour_jitter(image: Image.Image, rng: random.Random, amount: float) -> Image.Image:
    """Brightness, contrast and saturation each times a factor in 1 +- amount, in a random order."""
    enhancers = [ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color]
    rng.shuffle(enhancers)
    for enhancer in enhancers:
        image = enhancer(image).enhance(rng.uniform(max(0.0, 1 - amount), 1 + amount))
    return image


def _affine(image: Image.Image, matrix: tuple[float, ...]) -> Image.Image:
    return image.transform(image.size, Image.Transform.AFFINE, matrix, Image.Resampling.NEAREST, fillcolor=BLACK)


# TrivialAugmentWide (Müller and Hutter 2021), as torchvision defines it: op -> (strength at bin b of 0..30, signed)
TRIVIAL_OPS: dict[str, tuple[Callable[[Image.Image, float], Image.Image], Callable[[int], float], bool]] = {
    "identity": (lambda image, m: image, lambda b: 0.0, False),
    "shear_x": (lambda image, m: _affine(image, (1, m, 0, 0, 1, 0)), lambda b: 0.99 * b / 30, True),
    "shear_y": (lambda image, m: _affine(image, (1, 0, 0, m, 1, 0)), lambda b: 0.99 * b / 30, True),
    "translate_x": (lambda image, m: _affine(image, (1, 0, -int(m), 0, 1, 0)), lambda b: 32.0 * b / 30, True),
    "translate_y": (lambda image, m: _affine(image, (1, 0, 0, 0, 1, -int(m))), lambda b: 32.0 * b / 30, True),
    "rotate": (lambda image, m: image.rotate(m, fillcolor=BLACK), lambda b: 135.0 * b / 30, True),
    "brightness": (lambda image, m: ImageEnhance.Brightness(image).enhance(1 + m), lambda b: 0.99 * b / 30, True),
    "color": (lambda image, m: ImageEnhance.Color(image).enhance(1 + m), lambda b: 0.99 * b / 30, True),
    "contrast": (lambda image, m: ImageEnhance.Contrast(image).enhance(1 + m), lambda b: 0.99 * b / 30, True),
    "sharpness": (lambda image, m: ImageEnhance.Sharpness(image).enhance(1 + m), lambda b: 0.99 * b / 30, True),
    "posterize": (lambda image, m: ImageOps.posterize(image, int(m)), lambda b: 8 - round(b / 5), False),
    "solarize": (lambda image, m: ImageOps.solarize(image, int(m)), lambda b: 255.0 * (30 - b) / 30, False),
    "autocontrast": (lambda image, m: ImageOps.autocontrast(image), lambda b: 0.0, False),
    "equalize": (lambda image, m: ImageOps.equalize(image), lambda b: 0.0, False),
}


def trivial_augment_wide(image: Image.Image, rng: random.Random) -> Image.Image:
    """One op drawn at random, at a strength drawn from its 31 bins, its sign at random where it has one."""
    name = rng.choice(list(TRIVIAL_OPS))
    op, strength, signed = TRIVIAL_OPS[name]
    magnitude = strength(rng.randrange(MAGNITUDE_BINS))
    if signed and rng.random() < 0.5:
        magnitude = -magnitude
    return op(image, magnitude)


def downscale(image: Image.Image, width: int) -> Image.Image:
    """To `width` pixels wide, keeping the aspect; a narrower image is left as it is (never enlarged)."""
    if image.width <= width:
        return image
    return image.resize((width, max(1, round(image.height * width / image.width))), Image.Resampling.BICUBIC)


def jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def recompress(image: Image.Image, quality: int) -> Image.Image:
    """The image saved as a JPEG at `quality` and decoded again: the blocks and ringing of a small catalogue's file."""
    with Image.open(io.BytesIO(jpeg_bytes(image, quality))) as decoded:
        return decoded.convert("RGB")
