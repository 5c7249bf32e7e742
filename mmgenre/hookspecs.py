"""The hooks a plugin implements: one per component kind, each handed a `register` callback.

A plugin registers component classes, e.g. `register(TesseractOcr)`; the core then knows which
plugin owns each name. Plugins are found through the `mmgenre` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from mmgenre.components import FusionHead, ImageEncoder, Loss, OcrEngine, TextEncoder

hookspec = pluggy.HookspecMarker("mmgenre")
hookimpl = pluggy.HookimplMarker("mmgenre")


@hookspec
def register_ocr_engines(register: Callable[[type[OcrEngine]], None]) -> None:
    """Register OCR engines (subclasses of OcrEngine)."""


@hookspec
def register_image_encoders(register: Callable[[type[ImageEncoder]], None]) -> None:
    """Register image encoders (subclasses of ImageEncoder)."""


@hookspec
def register_text_encoders(register: Callable[[type[TextEncoder]], None]) -> None:
    """Register text encoders (subclasses of TextEncoder)."""


@hookspec
def register_fusion_heads(register: Callable[[type[FusionHead]], None]) -> None:
    """Register fusion heads (subclasses of FusionHead)."""


@hookspec
def register_losses(register: Callable[[type[Loss]], None]) -> None:
    """Register losses (subclasses of Loss)."""


HOOK_KINDS = {
    "register_ocr_engines": "ocr",
    "register_image_encoders": "image_encoder",
    "register_text_encoders": "text_encoder",
    "register_fusion_heads": "fusion",
    "register_losses": "loss",
}
