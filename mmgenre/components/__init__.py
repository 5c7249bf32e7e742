"""The interfaces every component implements; concrete components live in plugins."""

from mmgenre.components.base import Component, Params
from mmgenre.components.encoders import Encoded, EncoderInfo, ImageEncoder, TextEncoder
from mmgenre.components.fusion import FeatureDims, FusionContext, FusionHead
from mmgenre.components.loss import Loss
from mmgenre.components.ocr import OcrEngine, OcrResult, Word

KINDS: dict[str, type[Component]] = {
    "ocr": OcrEngine,
    "image_encoder": ImageEncoder,
    "text_encoder": TextEncoder,
    "fusion": FusionHead,
    "loss": Loss,
}

__all__ = [
    "KINDS",
    "Component",
    "Encoded",
    "EncoderInfo",
    "FeatureDims",
    "FusionContext",
    "FusionHead",
    "ImageEncoder",
    "Loss",
    "OcrEngine",
    "OcrResult",
    "Params",
    "TextEncoder",
    "Word",
]
