"""RapidOCR: a text detector plus recogniser, good at stylised poster titles, fully offline.

Tuned for posters (measured by `mmgenre bench ocr --sweep`, see benchmarks/README.md): the detector sees
the poster with its shorter side at `det_side` px instead of RapidOCR's 736 (six times fewer pixels for
a 300 px poster), lines shorter than `min_text_height` (credits in the billing block) are not recognised,
lines are recognised one by one (batches pad every line to the widest) and padded to 128 px wide rather
than 320, the angle classifier is off, and ONNX Runtime keeps its memory arena (RapidOCR turns it off).
RapidOCR's own behaviour is the param set `det_side=736, min_text_height=0, rec_batch=6, rec_min_width=320,
angle_classifier=true`.

With `det_batch` > 1 the engine reads posters in batches with fixed input shapes (`batched.py`), the way a
GPU (`device=cuda`, onnxruntime-gpu) runs fastest; `det_step`, `det_max_aspect` and `rec_widths` set those shapes.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from mmgenre.api import OcrEngine, OcrResult, Params, Word, upscale
from mmgenre_rapidocr.glued_words import split_glued_words

LEGACY = {"det_side": 736, "min_text_height": 0, "rec_batch": 6, "rec_min_width": 320, "angle_classifier": True}
BATCHED_ONLY = frozenset({"det_step", "det_max_aspect", "rec_widths"})  # shape the batched path's inputs only


class RapidOcrParams(Params):
    det_side: int = Field(416, ge=32, le=2048, description="the detector sees the poster's shorter side at this size")
    min_text_height: int = Field(10, ge=0, description="text lines shorter than this (poster pixels) are skipped")
    rec_batch: int = Field(1, ge=1, le=256, description="lines per recogniser call; batches pad lines to the widest")
    rec_min_width: int = Field(
        128, ge=48, le=1920, description="the recogniser sees each line at height 48, padded to at least this width"
    )
    angle_classifier: bool = Field(False, description="turn upside-down lines (RapidOCR's default); rare on posters")
    det_batch: int = Field(1, ge=1, le=1024, description="posters per detector call in read_batch (letterboxed)")
    det_step: int = Field(32, ge=32, multiple_of=32, description="det_batch > 1: canvas long side rounded up to this")
    det_max_aspect: float = Field(3.0, ge=1, le=8, description="det_batch > 1: longer posters are shrunk to fit")
    rec_widths: tuple[Annotated[int, Field(ge=32, le=8192)], ...] = Field(
        (128, 192, 256, 320, 384, 448, 512, 640, 768, 960, 1280, 1600, 1920),
        min_length=1,
        description="det_batch > 1: line widths at height 48 (lines are padded to the next one)",
    )
    device: Literal["cpu", "cuda"] = Field("cpu", description="ONNX Runtime device; 'cuda' needs onnxruntime-gpu")
    min_confidence: float = Field(0.5, ge=0, le=1, description="recognised lines below this score are dropped")
    box_threshold: float = Field(0.5, ge=0, le=1, description="text-detection box score threshold")
    upscale: float = Field(1.0, ge=1, le=4, description="enlarge posters narrower than upscale_below")
    upscale_below: int = Field(600, ge=1)
    split_glued_words: bool = Field(True, description="put back the spaces PP-OCR drops ('BEVERLYHILLS')")
    threads: int = Field(
        1, ge=1, description="ONNX Runtime threads per worker process (det_batch > 1: also for the CPU stages)"
    )


class RapidOcr(OcrEngine):
    """RapidOCR with bundled PP-OCRv4 ONNX models (offline; line boxes and scores)."""

    name = "rapidocr"
    version = "2"
    Params = RapidOcrParams
    params: RapidOcrParams
    cache_exempt = frozenset({"threads"})
    requires_modules = ("rapidocr_onnxruntime", "wordninja")
    install_hint = "pip install rapidocr-onnxruntime wordninja"

    def __getstate__(self) -> dict:
        return {"params": self.params}  # ONNX sessions stay in the process that built them

    @property
    def batch_size(self) -> int:
        return self.params.det_batch

    def identity(self) -> dict:
        """The batched path's shapes are left out when posters are read one by one (they change nothing)."""
        identity = super().identity()
        if self.params.det_batch == 1:
            identity["params"] = {k: v for k, v in identity["params"].items() if k not in BATCHED_ONLY}
        return identity

    def setup(self) -> None:
        if getattr(self, "_engine", None) is not None or getattr(self, "_batched", None) is not None:
            return
        p = self.params
        cuda = p.device == "cuda"
        if p.det_batch > 1:
            from mmgenre_rapidocr.batched import BatchedPpOcr

            self._batched = BatchedPpOcr(p)
            return
        if cuda:
            from mmgenre_rapidocr.sessions import providers

            providers("cuda")  # RapidOCR would fall back to the CPU without a word
        from rapidocr_onnxruntime import RapidOCR

        self._engine = RapidOCR(
            det_limit_side_len=p.det_side,
            det_limit_type="min",
            det_box_thresh=p.box_threshold,
            rec_batch_num=p.rec_batch,  # rec_* keys keep their prefix in RapidOCR's config
            intra_op_num_threads=p.threads,
            inter_op_num_threads=1,
            det_use_cuda=cuda,
            cls_use_cuda=cuda,
            rec_use_cuda=cuda,
        )
        self._engine.text_rec.rec_image_shape = [3, 48, p.rec_min_width]
        if not cuda:
            from mmgenre_rapidocr.sessions import with_memory_arena

            with_memory_arena(self._engine, p.threads)

    def read(self, image) -> OcrResult:
        self.setup()
        if self.params.det_batch > 1:  # the same shapes as in a batch, so the same text
            result = self.read_batch([image])[0]
            if isinstance(result, Exception):
                raise result
            return result
        pixels, factor = self._pixels(image)
        return self._result(self._lines(pixels, self.params.min_text_height * factor), factor)

    def read_batch(self, images: list) -> list[OcrResult | Exception]:
        """Posters read together (det_batch > 1: batched networks; else one by one); failures in place."""
        if self.params.det_batch == 1:
            return super().read_batch(images)
        self.setup()
        prepared: list[tuple[np.ndarray, float] | Exception] = []
        for image in images:
            try:
                prepared.append(self._pixels(image))
            except Exception as error:  # this poster fails alone
                prepared.append(error)
        good = [item for item in prepared if not isinstance(item, Exception)]
        heights = [self.params.min_text_height * factor for _, factor in good]
        read = iter(self._batched.read([pixels for pixels, _ in good], heights))
        results: list[OcrResult | Exception] = []
        for item in prepared:
            if isinstance(item, Exception):
                results.append(item)
                continue
            lines = next(read)
            results.append(lines if isinstance(lines, Exception) else self._result(lines, item[1]))
        return results

    def _pixels(self, image) -> tuple[np.ndarray, float]:
        """The poster as BGR pixels (like OpenCV), enlarged if small, and the enlargement factor."""
        enlarged = upscale(image, self.params.upscale, self.params.upscale_below)
        return np.asarray(enlarged)[:, :, ::-1], enlarged.width / image.width

    def _result(self, lines: list[tuple[np.ndarray, str, float]], factor: float) -> OcrResult:
        words = []
        for points, text, score in lines:
            xs, ys = points[:, 0] / factor, points[:, 1] / factor
            text = split_glued_words(text.strip()) if self.params.split_glued_words else text.strip()
            if text:
                box = (round(xs.min()), round(ys.min()), round(xs.max()), round(ys.max()))
                words.append(Word(text, box, float(score)))
        return OcrResult(text="\n".join(w.text for w in words), words=words)

    def _lines(self, pixels: np.ndarray, min_height: float) -> list[tuple[np.ndarray, str, float]]:
        """(box points in `pixels`, text, score) of each line read, top to bottom (RapidOCR's own stages)."""
        engine = self._engine
        prepared, ratio_h, ratio_w = engine.preprocess(pixels)
        prepared, record = engine.maybe_add_letterbox(
            prepared, {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
        )
        boxes, _ = engine.auto_text_det(prepared)
        if boxes is None:
            return []
        crops = engine.get_crop_img_list(prepared, boxes)
        tall = [i for i, crop in enumerate(crops) if min(crop.shape[:2]) >= min_height]
        if not tall:
            return []
        boxes, crops = [boxes[i] for i in tall], [crops[i] for i in tall]
        if self.params.angle_classifier:
            crops, _, _ = engine.text_cls(crops)
        recognised, _ = engine.text_rec(crops)
        points = engine._get_origin_points(boxes, record, *pixels.shape[:2])
        return [
            (point, text, score)
            for point, (text, score) in zip(points, recognised)
            if float(score) >= self.params.min_confidence
        ]
