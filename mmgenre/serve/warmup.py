"""Getting a predictor ready before the first request: encoders loaded, OCR workers started."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from mmgenre.data.skips import SkipLog
from mmgenre.errors import MmgenreError

if TYPE_CHECKING:  # or an OnnxPredictor (--runtime onnx)
    from mmgenre.predictor import Predictor


def warm_up(predictor: Predictor) -> float:
    """Predict one drawn poster, so that loading costs the server's start and not its first client; returns the
    seconds it took. A model that cannot predict even that is a user error (a missing OCR engine, say)."""
    import time

    image = Image.new("RGB", (200, 300), (40, 60, 90))
    ImageDraw.Draw(image).text((20, 130), "WARM UP", fill=(250, 250, 250))
    data = io.BytesIO()
    image.save(data, format="PNG")
    started = time.perf_counter()
    skips = SkipLog()
    if not predictor.predict([("warm-up.png", data.getvalue())], skips):
        raise MmgenreError(f"the model cannot predict a test poster: {skips.summary(1)}")
    return time.perf_counter() - started
