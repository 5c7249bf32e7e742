"""The kinds of component, declared once: hookspecs, recipe sections, CLI choices and labels derive from here.

Adding a kind means adding its interface (an abstract subclass of Component) and one `Kind` below.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmgenre.components.base import Component
from mmgenre.components.dataset import DatasetSource
from mmgenre.components.encoders import ImageEncoder, TextEncoder
from mmgenre.components.executor import Executor
from mmgenre.components.fusion import FusionHead
from mmgenre.components.loss import Loss
from mmgenre.components.model import PackagedModel
from mmgenre.components.ocr import OcrEngine
from mmgenre.components.store import Store


@dataclass(frozen=True)
class Kind:
    """One kind of component: its interface, its recipe section and how people and plugins name it."""

    key: str  # registry kind and recipe section, e.g. "image_encoder"
    base: type[Component]
    label: str  # "image encoder"
    plural: str  # "image encoders"
    required: bool = False  # every recipe must name one
    in_recipe: bool = True  # a recipe section names one (executors and stores are chosen per command instead)

    def __post_init__(self) -> None:
        self.base.kind, self.base.kind_label = self.key, self.label  # components report their kind

    @property
    def hook(self) -> str:
        """The pluggy hook a plugin implements to register components of this kind."""
        return "register_" + self.plural.replace(" ", "_").lower()

    @property
    def cli_name(self) -> str:
        return self.plural.replace(" ", "-").lower()


KINDS: dict[str, Kind] = {
    kind.key: kind
    for kind in (
        Kind("dataset", DatasetSource, "dataset source", "dataset sources"),
        Kind("ocr", OcrEngine, "OCR engine", "OCR engines"),
        Kind("image_encoder", ImageEncoder, "image encoder", "image encoders"),
        Kind("text_encoder", TextEncoder, "text encoder", "text encoders"),
        Kind("fusion", FusionHead, "fusion head", "fusion heads", required=True),
        Kind("loss", Loss, "loss", "losses", required=True),
        Kind("executor", Executor, "executor", "executors", in_recipe=False),
        Kind("store", Store, "feature store", "feature stores", in_recipe=False),
        Kind("model", PackagedModel, "model", "models", in_recipe=False),
    )
}


def kind_choices() -> dict[str, list[str]]:
    """Names the CLI accepts for kinds: the key, the plural, and a shared last word ('encoders') for a group."""
    choices: dict[str, list[str]] = {}
    for kind in KINDS.values():
        choices.setdefault(kind.key.replace("_", "-"), []).append(kind.key)
        choices.setdefault(kind.cli_name, []).append(kind.key)
    for word in {kind.cli_name.rsplit("-", 1)[-1] for kind in KINDS.values()}:
        group = [kind.key for kind in KINDS.values() if kind.cli_name.rsplit("-", 1)[-1] == word]
        if len(group) > 1:
            choices.setdefault(word, group)
    return {name: sorted(set(keys), key=list(KINDS).index) for name, keys in choices.items()}
