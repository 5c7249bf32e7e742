"""CLIP encoders (open_clip and Hugging Face transformers) as an mmgenre plugin."""

from mmgenre.api import hookimpl
from mmgenre_clip.hf_clip import HfClipImage, HfClipText
from mmgenre_clip.open_clip_encoders import OpenClipImage, OpenClipText


@hookimpl
def register_image_encoders(register):
    register(OpenClipImage)
    register(HfClipImage)


@hookimpl
def register_text_encoders(register):
    register(OpenClipText)
    register(HfClipText)
