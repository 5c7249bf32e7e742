"""Small, real feature makers (an OCR engine, an image and a text encoder) that the executor checks run on any
machine in a second: they compute from pixels and words, deterministically, with no weights to load."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mmgenre.components import Encoded, EncoderInfo, ImageEncoder, OcrEngine, OcrResult, Params
from mmgenre.testing.probe_encoder import ProbeTextEncoder

__all__ = ["ProbeImageEncoder", "ProbeOcr", "ProbeTextEncoder", "probe_posters"]


class ProbeImageParams(Params):
    side: int = Field(8, ge=2, le=64)


class ProbeImageEncoder(ImageEncoder):
    """Each channel's mean over a grid of cells of the poster, shrunk to `side` x `side` pixels."""

    name = "probe-pixels"
    Params = ProbeImageParams
    params: ProbeImageParams

    def load(self, device: str) -> None:
        self._device = device

    def info(self) -> EncoderInfo:
        return EncoderInfo(dim=3 * 4, token_dim=None, preprocessing={"resize": self.params.side})

    def preprocess(self, image):
        import numpy as np
        import torch

        side = self.params.side
        pixels = np.asarray(image.convert("RGB").resize((side, side)), dtype=np.float32) / 255.0
        return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()  # (3, side, side)

    def encode(self, pixels) -> Encoded:
        half = self.params.side // 2
        cells = [
            pixels[:, :, :half, :half],
            pixels[:, :, :half, half:],
            pixels[:, :, half:, :half],
            pixels[:, :, half:, half:],
        ]
        import torch

        pooled = torch.cat([cell.mean(dim=(2, 3)) for cell in cells], dim=1)  # (B, 12)
        return Encoded(pooled=pooled.to(getattr(self, "_device", "cpu")))


class ProbeOcrParams(Params):
    words: int = Field(3, ge=1, le=8)


class ProbeOcr(OcrEngine):
    """'Reads' a poster as words naming its size and the brightness of its rows (no model: a check's stand-in)."""

    name = "probe-ocr"
    Params = ProbeOcrParams
    params: ProbeOcrParams

    def read(self, image) -> OcrResult:
        grey = image.convert("L").resize((1, self.params.words))
        levels = [f"row{n}-{grey.getpixel((0, n)) // 32}" for n in range(self.params.words)]
        return OcrResult(text=" ".join([f"{image.width}x{image.height}", *levels]))


def probe_posters(folder: Path, count: int = 6) -> list[Path]:
    """`count` small posters of different text and colour (two with the same bytes), written to `folder`."""
    from mmgenre.testing.samples import draw_poster

    colours = ["white", "lightyellow", "lightblue", "pink", "lightgreen", "lavender", "beige", "wheat"]
    paths = []
    for n in range(count):
        path = folder / f"poster-{n}.png"
        title = f"FILM {n // 2 * 2}" if n in (0, 1) else f"FILM NUMBER {n}"  # posters 0 and 1: the same bytes
        draw_poster(title, (96, 144), colours[0 if n < 2 else n % len(colours)]).save(path)
        paths.append(path)
    return paths
