"""RapidOCR: a text detector plus recogniser, good at stylised poster titles, fully offline."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from mmgenre.components import OcrEngine, OcrResult, Params, Word
from mmgenre.data.images import upscale
from mmgenre_rapidocr.glued_words import split_glued_words


class RapidOcrParams(Params):
    min_confidence: float = Field(0.5, ge=0, le=1, description="recognised lines below this score are dropped")
    box_threshold: float = Field(0.5, ge=0, le=1, description="text-detection box score threshold")
    upscale: float = Field(1.0, ge=1, le=4, description="enlarge posters narrower than upscale_below")
    upscale_below: int = Field(600, ge=1)
    split_glued_words: bool = Field(True, description="put back the spaces PP-OCR drops ('BEVERLYHILLS')")
    threads: int = Field(1, ge=1, description="ONNX Runtime threads per worker process")


class RapidOcr(OcrEngine):
    """RapidOCR with bundled PP-OCRv4 ONNX models (offline; line boxes and scores)."""

    name = "rapidocr"
    Params = RapidOcrParams
    cache_exempt = frozenset({"threads"})
    requires_modules = ("rapidocr_onnxruntime", "wordninja")
    install_hint = "pip install rapidocr-onnxruntime wordninja"

    def setup(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        # Global thread settings: RapidOCR copies them over the per-model ones.
        self._engine = RapidOCR(
            det_box_thresh=self.params.box_threshold,
            intra_op_num_threads=self.params.threads,
            inter_op_num_threads=1,
        )

    def read(self, image) -> OcrResult:
        if not hasattr(self, "_engine"):
            self.setup()
        p = self.params
        enlarged = upscale(image, p.upscale, p.upscale_below)
        factor = enlarged.width / image.width
        pixels = np.asarray(enlarged)[:, :, ::-1]  # RapidOCR expects BGR, like OpenCV
        result, _ = self._engine(pixels, text_score=p.min_confidence, box_thresh=p.box_threshold)
        words = []
        for points, text, score in result or []:
            xs, ys = [pt[0] / factor for pt in points], [pt[1] / factor for pt in points]
            box = (round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys)))
            words.append(Word(text.strip(), box, float(score)))
        if p.split_glued_words:
            words = [Word(split_glued_words(w.text), w.box, w.confidence) for w in words]
        words = [w for w in words if w.text]
        return OcrResult(text="\n".join(w.text for w in words), words=words)
