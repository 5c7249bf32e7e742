"""The dataset-source interface: where posters and their genres come from."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

from mmgenre.components.base import Component

if TYPE_CHECKING:
    from mmgenre.data.dataset import PosterDataset


class DatasetSource(Component):
    """Lists labelled posters. Sources take their location in a `path` param, so `--data NAME:PATH` works."""

    @abstractmethod
    def load(self, labels: list[str]) -> PosterDataset:
        """The posters with their genres in `labels`; unusable rows are skipped (logged), an unusable source raises
        DatasetError."""

    def reference(self) -> dict:
        """How to open this source again from another working directory (stored in run folders)."""
        return {"name": self.name, "params": self.params.model_dump(mode="json")}
