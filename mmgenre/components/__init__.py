"""The interfaces every component implements; concrete components live in plugins."""

from mmgenre.components.base import Component, Params
from mmgenre.components.dataset import DatasetSource
from mmgenre.components.encoders import Encoded, EncoderInfo, ImageEncoder, TextEncoder
from mmgenre.components.executor import Executor
from mmgenre.components.fusion import FeatureDims, FusionContext, FusionHead
from mmgenre.components.kinds import KINDS, Kind, kind_choices
from mmgenre.components.loss import Loss
from mmgenre.components.ocr import OcrEngine, OcrResult, Word
from mmgenre.components.store import Store

__all__ = [
    "KINDS",
    "Component",
    "DatasetSource",
    "Encoded",
    "EncoderInfo",
    "Executor",
    "FeatureDims",
    "FusionContext",
    "FusionHead",
    "ImageEncoder",
    "Kind",
    "Loss",
    "OcrEngine",
    "OcrResult",
    "Params",
    "Store",
    "TextEncoder",
    "Word",
    "kind_choices",
]
