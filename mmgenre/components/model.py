"""The model interface: a trained model shipped inside a package, usable by name wherever a run folder is.

A model is a run folder (weights, resolved recipe, run.json, thresholds, metrics) plus a model card, kept
inside the package that registers it, so `mmgenre predict poster.jpg` works on a fresh install without
training first.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path
from typing import ClassVar

from mmgenre.components.base import Component

CARD = "MODEL_CARD.md"


class PackagedModel(Component):
    """A trained run folder shipped in a package (subclasses set `name`, `package` and `folder`)."""

    package: ClassVar[str] = ""  # the importable package holding the folder, e.g. "mmgenre_models"
    folder: ClassVar[str] = ""  # the run folder's path inside `package`, e.g. "offline_best"

    @classmethod
    def path(cls) -> Path:
        """The run folder on disk (packages installed as plain folders or wheels are on disk already)."""
        with as_file(files(cls.package) / cls.folder) as path:
            return Path(path)

    @classmethod
    def card(cls) -> str:
        """The model card (Markdown): data, genres, metrics, limits and intended use; empty if there is none."""
        card = cls.path() / CARD
        return card.read_text(encoding="utf-8") if card.is_file() else ""
