"""RapidOCR (PaddleOCR's PP-OCR models in ONNX, bundled with the package) as an mmgenre plugin."""

from mmgenre.api import hookimpl
from mmgenre_rapidocr.engine import RapidOcr


@hookimpl
def register_ocr_engines(register):
    register(RapidOcr)
