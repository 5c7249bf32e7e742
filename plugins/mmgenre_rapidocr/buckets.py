"""Fixed input shapes for batched PP-OCR: detector canvases by aspect ratio, recogniser widths at height 48.

A GPU runs a network fastest on shapes it has seen before; per-poster shapes make every call a new one.
Posters are sized as the per-poster path sizes them (shorter side `det_side`) and letterboxed (top left)
onto a canvas whose long side is rounded up to a multiple of a step (32: no padding, RapidOCR's own detector
input; larger steps: fewer shapes); text lines are padded to the next of a few widths. Padding changes what
the networks see near it, so a few lines read differently than without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

REC_HEIGHT = 48  # the PP-OCR recogniser's input height


def multiple_of_32(value: float) -> int:
    """Up to a multiple of 32."""
    return max(32, math.ceil(value / 32) * 32)


def nearest_32(value: float) -> int:
    """To the nearest multiple of 32, as RapidOCR's DetPreProcess rounds the detector's input."""
    return max(32, round(value / 32) * 32)


@dataclass(frozen=True)
class Placement:
    """Where a poster goes on a detector canvas: the canvas shape and the poster's size on it."""

    canvas: tuple[int, int]  # (height, width), multiples of 32
    height: int
    width: int


def place(height: int, width: int, det_side: int, step: int, max_aspect: float) -> Placement:
    """The poster sized as RapidOCR's detector sizes it (shorter side at `det_side`, each side rounded to 32;
    larger posters are shrunk to it too) on a canvas whose long side is rounded up to a multiple of `step`;
    posters longer than `max_aspect` x the short side are shrunk to fit that canvas."""
    scale = det_side / min(height, width)
    sized = (nearest_32(int(height * scale)), nearest_32(int(width * scale)))
    short, long_side = min(sized), max(sized)
    longest = max(short, int(short * max_aspect) // 32 * 32)
    canvas_long = min(longest, max(short, math.ceil(long_side / step) * step))
    if long_side > canvas_long:
        shrink = canvas_long / long_side
        sized = (max(1, int(sized[0] * shrink)), max(1, int(sized[1] * shrink)))
    canvas = (canvas_long, short) if height >= width else (short, canvas_long)
    return Placement(canvas, *sized)


def det_input(images: list[np.ndarray], canvas: tuple[int, int]) -> np.ndarray:
    """(N, 3, H, W) float32 detector input: each resized BGR image normalised to [-1, 1] at the top left of
    the canvas, the rest 0 (mid grey), as RapidOCR's DetPreProcess normalises."""
    batch = np.zeros((len(images), 3, *canvas), dtype=np.float32)
    for index, image in enumerate(images):
        height, width = image.shape[:2]
        batch[index, :, :height, :width] = (image.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)
    return batch


def line_width(crop: np.ndarray, min_width: int) -> int:
    """The line's width at height 48, rounded as RapidOCR's TextRecognizer.resize_norm_img rounds it (up when
    it is padded to the minimum width, `rec_min_width`, else down)."""
    width = REC_HEIGHT * crop.shape[1] / crop.shape[0]
    return math.ceil(width) if width <= min_width else int(width)


def rec_width(crop: np.ndarray, widths: tuple[int, ...], min_width: int) -> int:
    """The smallest bucket width that holds the line at height 48, padded to at least `min_width` as the
    per-poster path pads it (the widest bucket squeezes longer ones)."""
    natural = max(line_width(crop, min_width), min_width)
    return next((width for width in sorted(widths) if natural <= width), max(widths))


def rec_input(crops: list[np.ndarray], width: int, min_width: int) -> np.ndarray:
    """(N, 3, 48, width) float32 recogniser input, normalised and right-padded as RapidOCR's
    TextRecognizer.resize_norm_img does, but to a fixed width."""
    batch = np.zeros((len(crops), 3, REC_HEIGHT, width), dtype=np.float32)
    for index, crop in enumerate(crops):
        resized_width = min(width, line_width(crop, min_width))
        resized = cv2.resize(crop, (resized_width, REC_HEIGHT))
        batch[index, :, :, :resized_width] = (resized.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)
    return batch
