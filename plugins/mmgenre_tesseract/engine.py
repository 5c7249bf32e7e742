"""Tesseract: fast and offline, but made for documents; sparse-text mode suits posters better."""

from __future__ import annotations

import os
import shutil
from typing import Literal

from pydantic import Field

from mmgenre.api import ComponentUnavailableError, OcrEngine, OcrResult, Params, Word, upscale

INSTALL = "install it with `apt-get install tesseract-ocr` (Debian/Ubuntu) or `brew install tesseract`"


class TesseractParams(Params):
    languages: str = Field("eng", description="tesseract language codes joined by '+', e.g. eng+fra")
    psm: Literal[3, 4, 6, 11, 12] = Field(11, description="page segmentation mode; 11 = sparse text")
    min_confidence: float = Field(30.0, ge=0, le=100, description="words below this confidence are dropped")
    upscale: float = Field(2.0, ge=1, le=4, description="enlarge posters narrower than upscale_below")
    upscale_below: int = Field(600, ge=1)


class TesseractOcr(OcrEngine):
    """Tesseract 5 via pytesseract (offline; word boxes and confidences)."""

    name = "tesseract"
    Params = TesseractParams
    requires_modules = ("pytesseract",)
    requires_executables = ("tesseract",)
    install_hint = INSTALL

    def setup(self) -> None:
        if shutil.which("tesseract") is None:
            raise ComponentUnavailableError(f"the tesseract binary was not found on PATH: {INSTALL}")

    def configure_process(self) -> None:
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # one thread per worker process

    def read(self, image) -> OcrResult:
        import pytesseract

        p = self.params
        enlarged = upscale(image, p.upscale, p.upscale_below)
        factor = enlarged.width / image.width  # boxes are reported in the original poster's pixels
        data = pytesseract.image_to_data(
            enlarged, lang=p.languages, config=f"--psm {p.psm}", output_type=pytesseract.Output.DICT
        )
        words, lines = [], {}
        for i, text in enumerate(data["text"]):
            text, confidence = text.strip(), float(data["conf"][i])
            if not text or confidence < p.min_confidence:
                continue
            left, top = data["left"][i], data["top"][i]
            box = (left, top, left + data["width"][i], top + data["height"][i])
            words.append(Word(text, tuple(round(v / factor) for v in box), confidence / 100))
            lines.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(text)
        return OcrResult(text="\n".join(" ".join(line) for line in lines.values()), words=words)
