"""Gemini OCR (the paper's engine) through Google's `google-genai` SDK, as an mmgenre plugin."""

from mmgenre.api import hookimpl
from mmgenre_gemini.engine import GeminiOcr


@hookimpl
def register_ocr_engines(register):
    register(GeminiOcr)
