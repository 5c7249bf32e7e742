"""PP-OCR batched over posters, for the GPU: one detector call per canvas shape, one recogniser call per
line width, instead of one call per poster and line.

Per poster the stages are RapidOCR's own (its preprocess, DB post-process, box filter and order, crops, CTC
decoding); only the network inputs differ from the per-poster path: letterboxed canvases (`buckets.place`)
and fixed line widths (`buckets.rec_width`). A poster that fails in any stage fails alone.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from mmgenre_rapidocr.buckets import Placement, det_input, place, rec_input, rec_width
from mmgenre_rapidocr.sessions import model_paths, onnx_session

Line = tuple[np.ndarray, str, float]  # box points in the input image, text, score
STAGES = ("prepare", "det", "post", "crops", "cls", "rec")
REC_PIXELS = 256 * 320  # lines per recogniser call: 256 at width 320, fewer when wider


@dataclass
class _Poster:
    """One poster on its way through the stages."""

    prepared: np.ndarray  # BGR, after RapidOCR's preprocess and letterbox: the image boxes and crops refer to
    record: dict  # RapidOCR's record of those steps, to map boxes back
    raw: tuple[int, int]  # height, width of the input
    min_height: float  # shorter lines are not recognised
    placement: Placement
    resized: np.ndarray  # the detector's view, placement.height x placement.width
    pred: np.ndarray | None = None
    boxes: list[np.ndarray] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)
    texts: list[tuple[str, float] | Exception] = field(default_factory=list)


class BatchedPpOcr:
    """RapidOCR's PP-OCRv4 models in our own ONNX Runtime sessions (created once), read in batches."""

    def __init__(self, params: Any) -> None:
        from mmgenre_rapidocr.stages import rapidocr_stages

        self.params = params
        paths = model_paths()
        self.det = onnx_session(paths["det"], params.device, params.threads)
        self.rec = onnx_session(paths["rec"], params.device, params.threads)
        cls = onnx_session(paths["cls"], params.device, params.threads) if params.angle_classifier else None
        self.stages = rapidocr_stages(params.box_threshold, self.rec, cls)
        self.pool = ThreadPoolExecutor(params.threads) if params.threads > 1 else None
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)  # time per stage, for benchmarks

    def read(self, images: list[np.ndarray], min_heights: list[float]) -> list[list[Line] | Exception]:
        """The lines read on each BGR image (top to bottom), or the exception that stopped that image; lines
        whose crop is shorter than the image's `min_heights` entry are not recognised."""
        posters: list[_Poster | Exception] = self._each("prepare", self._prepare, zip(images, min_heights))
        self._detect([p for p in posters if isinstance(p, _Poster)])
        posters = self._each("post", self._post, posters)
        posters = self._each("crops", self._crop, posters)
        ready = [p for p in posters if isinstance(p, _Poster)]
        if self.params.angle_classifier:
            self._classify(ready)
        texts = self._recognise([crop for poster in ready for crop in poster.crops])
        for poster in ready:
            poster.texts, texts = texts[: len(poster.crops)], texts[len(poster.crops) :]
        return [poster if isinstance(poster, Exception) else self._lines(poster) for poster in posters]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def _each(self, stage: str, function: Callable, items: Iterable) -> list:
        """`function` on each item (in the thread pool), an exception in place of a failed item's result."""

        def guarded(item):
            if isinstance(item, Exception):
                return item
            try:
                return function(item)
            except Exception as error:  # one poster's failure must not stop the others
                return error

        started = time.perf_counter()
        results = list(self.pool.map(guarded, items) if self.pool else map(guarded, items))
        self.seconds[stage] += time.perf_counter() - started
        return results

    def _prepare(self, item: tuple[np.ndarray, float]) -> _Poster:
        """RapidOCR's preprocess and letterbox, then the detector's view of the poster."""
        pixels, min_height = item
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f"expected a 3-channel image, got shape {pixels.shape}")
        tools = self.stages.ocr
        prepared, ratio_h, ratio_w = tools.preprocess(pixels)
        prepared, record = tools.maybe_add_letterbox(prepared, {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}})
        p, (height, width) = self.params, prepared.shape[:2]
        placement = place(height, width, p.det_side, p.det_step, p.det_max_aspect)
        resized = cv2.resize(prepared, (placement.width, placement.height))
        return _Poster(prepared, record, pixels.shape[:2], min_height, placement, resized)

    def _detect(self, posters: list[_Poster]) -> None:
        """One detector call per canvas shape; a failed call is retried poster by poster."""
        started = time.perf_counter()
        groups: dict[tuple[int, int], list[_Poster]] = defaultdict(list)
        for poster in posters:
            groups[poster.placement.canvas].append(poster)
        for canvas, group in groups.items():
            for start in range(0, len(group), self.params.det_batch):
                chunk = group[start : start + self.params.det_batch]
                maps: list[np.ndarray | None]
                try:
                    maps = list(self._run_det([p.resized for p in chunk], canvas))
                except Exception:  # e.g. out of memory: each poster on its own
                    maps = [self._run_det_safely(p.resized, canvas) for p in chunk]
                for poster, pred in zip(chunk, maps):
                    poster.pred = pred
        self.seconds["det"] += time.perf_counter() - started

    def _run_det(self, images: list[np.ndarray], canvas: tuple[int, int]) -> list[np.ndarray]:
        batch = det_input(images, canvas)
        preds = self.det.run(None, {self.det.get_inputs()[0].name: batch})[0]
        return [pred[None, :, : image.shape[0], : image.shape[1]] for pred, image in zip(preds, images)]

    def _run_det_safely(self, image: np.ndarray, canvas: tuple[int, int]) -> np.ndarray | None:
        try:
            return self._run_det([image], canvas)[0]
        except Exception:
            return None

    def _post(self, poster: _Poster) -> _Poster:
        """DB post-process on the poster's own region of the map, boxes in `prepared` pixels, in reading order."""
        if poster.pred is None:
            raise RuntimeError("the text detector failed on this poster")
        stages = self.stages
        boxes, _ = stages.db(np.ascontiguousarray(poster.pred), poster.prepared.shape[:2])
        boxes = stages.detector.filter_tag_det_res(boxes, poster.prepared.shape[:2])
        poster.pred = None  # free the map
        poster.boxes = stages.ocr.sorted_boxes(boxes) if len(boxes) else []
        return poster

    def _crop(self, poster: _Poster) -> _Poster:
        """Line crops, without the lines shorter than min_text_height (scaled like the poster was)."""
        if not poster.boxes:
            return poster
        crops = self.stages.ocr.get_crop_img_list(poster.prepared, poster.boxes)
        tall = [i for i, crop in enumerate(crops) if min(crop.shape[:2]) >= poster.min_height]
        poster.boxes, poster.crops = [poster.boxes[i] for i in tall], [crops[i] for i in tall]
        return poster

    def _classify(self, posters: list[_Poster]) -> None:
        """RapidOCR's angle classifier on every line of the batch (its input shape is fixed already)."""
        started = time.perf_counter()
        crops = [crop for poster in posters for crop in poster.crops]
        if crops:
            turned, _, _ = self.stages.classifier(crops)
            for poster in posters:
                poster.crops, turned = turned[: len(poster.crops)], turned[len(poster.crops) :]
        self.seconds["cls"] += time.perf_counter() - started

    def _recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float] | Exception]:
        """(text, score) of each crop: one recogniser call per width bucket (split when large)."""
        started = time.perf_counter()
        by_width: dict[int, list[int]] = defaultdict(list)
        for index, crop in enumerate(crops):
            by_width[rec_width(crop, tuple(self.params.rec_widths), self.params.rec_min_width)].append(index)
        texts: list[tuple[str, float] | Exception] = [("", 0.0)] * len(crops)
        for width, indices in by_width.items():
            step = max(1, REC_PIXELS // width)
            for start in range(0, len(indices), step):
                chunk = indices[start : start + step]
                for index, text in zip(chunk, self._run_rec([crops[i] for i in chunk], width)):
                    texts[index] = text
        self.seconds["rec"] += time.perf_counter() - started
        return texts

    def _run_rec(self, crops: list[np.ndarray], width: int) -> list[tuple[str, float] | Exception]:
        try:
            preds = self.rec.run(
                None, {self.rec.get_inputs()[0].name: rec_input(crops, width, self.params.rec_min_width)}
            )[0]
            return [(text, float(score)) for text, score in self.stages.ctc(preds)]
        except Exception as error:
            if len(crops) == 1:
                return [error]
            return [result for crop in crops for result in self._run_rec([crop], width)]

    def _lines(self, poster: _Poster) -> list[Line] | Exception:
        """The poster's lines above min_confidence, boxes mapped back to the input image."""
        if not poster.boxes:
            return []
        texts = [text for text in poster.texts if not isinstance(text, Exception)]
        if len(texts) < len(poster.texts):
            return next(text for text in poster.texts if isinstance(text, Exception))
        points = self.stages.ocr._get_origin_points(poster.boxes, poster.record, *poster.raw)
        return [
            (point, text, score) for point, (text, score) in zip(points, texts) if score >= self.params.min_confidence
        ]
