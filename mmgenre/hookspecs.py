"""The hooks a plugin implements: one per kind of component (see `mmgenre.components.kinds`), each handed a
`register` callback.

A plugin registers component classes, e.g. `register(TesseractOcr)`, in the hook of their kind
(`register_ocr_engines`, `register_image_encoders`, `register_text_encoders`, `register_fusion_heads`,
`register_losses`, `register_dataset_sources`); the core then knows which plugin owns each name. Plugins are
found through the `mmgenre` entry-point group.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pluggy

from mmgenre.components import KINDS, Component, Kind

hookspec = pluggy.HookspecMarker("mmgenre")
hookimpl = pluggy.HookimplMarker("mmgenre")


def _hookspec(kind: Kind) -> Callable:
    def hook(register: Callable[[type[Component]], None]) -> None:
        pass

    hook.__name__ = hook.__qualname__ = kind.hook
    hook.__doc__ = f"Register {kind.plural} (subclasses of {kind.base.__name__})."
    return hookspec(hook)


for _kind in KINDS.values():
    globals()[_kind.hook] = _hookspec(_kind)

HOOK_KINDS = {kind.hook: kind.key for kind in KINDS.values()}  # hook name -> kind


@hookspec
def register_recipes(register: Callable[[str | os.PathLike], None]) -> None:
    """Register recipe files (paths to .yaml files) that `mmgenre recipe list` shows and commands accept by name."""
