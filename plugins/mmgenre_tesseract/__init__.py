"""Tesseract OCR (the Debian `tesseract-ocr` package, through pytesseract) as an mmgenre plugin."""

from mmgenre.api import hookimpl
from mmgenre_tesseract.engine import TesseractOcr


@hookimpl
def register_ocr_engines(register):
    register(TesseractOcr)
