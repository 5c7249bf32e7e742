"""The interfaces every component implements; concrete components live in plugins."""

from mmgenre.components.base import Component, Params
from mmgenre.components.dataset import DatasetSource
from mmgenre.components.encoders import Encoded, EncoderInfo, ImageEncoder, TextEncoder
from mmgenre.components.executor import Executor
from mmgenre.components.exporting import ExportedPart, export_torch_module
from mmgenre.components.fusion import FeatureDims, FusionContext, FusionHead
from mmgenre.components.kinds import KINDS, Kind, kind_choices
from mmgenre.components.loss import Loss
from mmgenre.components.model import PackagedModel
from mmgenre.components.ocr import OcrEngine, OcrResult, Word
from mmgenre.components.store import Store

__all__ = [
    "KINDS",
    "Component",
    "DatasetSource",
    "Encoded",
    "EncoderInfo",
    "Executor",
    "ExportedPart",
    "FeatureDims",
    "FusionContext",
    "FusionHead",
    "ImageEncoder",
    "Kind",
    "Loss",
    "OcrEngine",
    "OcrResult",
    "PackagedModel",
    "Params",
    "Store",
    "TextEncoder",
    "Word",
    "export_torch_module",
    "kind_choices",
]
