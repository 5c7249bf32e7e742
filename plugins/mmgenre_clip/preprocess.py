"""CLIP's image preprocessing: resize the short side, centre-crop, normalise."""

from __future__ import annotations

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def clip_transform(size: int, mean=OPENAI_MEAN, std=OPENAI_STD):
    from torchvision import transforms as T

    return T.Compose(
        [
            T.Resize(size, interpolation=T.InterpolationMode.BICUBIC, antialias=True),
            T.CenterCrop(size),
            T.ToTensor(),
            T.Normalize(mean, std),
        ]
    )


def clip_preprocessing(size: int, mean=OPENAI_MEAN, std=OPENAI_STD) -> dict:
    return {
        "resolution": size,
        "crop_pct": 1.0,
        "interpolation": "bicubic",
        "mean": tuple(mean),
        "std": tuple(std),
        "resize": "shortest",
    }
